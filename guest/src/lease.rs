//! Domain types of the lease lifecycle, mirroring `wit/types.wit` without
//! depending on the generated bindings (so native tests can use them).

use crate::config::Backend;

/// Identifies one Kubernetes object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectRef {
    /// `v1`, `batch/v1`, ...
    pub api_version: String,
    /// `Pod`, `Job`, ...
    pub kind: String,
    /// Namespace; none for cluster-scoped kinds.
    pub namespace: Option<String>,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.uid` when known.
    pub uid: Option<String>,
}

impl ObjectRef {
    /// Reads the reference out of a Kubernetes object (JSON).
    pub fn of(object: &serde_json::Value) -> Option<ObjectRef> {
        let meta = object.get("metadata")?;
        Some(ObjectRef {
            api_version: object.get("apiVersion")?.as_str()?.to_string(),
            kind: object.get("kind")?.as_str()?.to_string(),
            namespace: meta
                .get("namespace")
                .and_then(|n| n.as_str())
                .map(str::to_string),
            name: meta.get("name")?.as_str()?.to_string(),
            uid: meta.get("uid").and_then(|n| n.as_str()).map(str::to_string),
        })
    }

    /// `Kind/namespace/name`, for messages.
    pub fn display(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{}/{}", self.kind, ns, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }
}

/// A command to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run this argv directly.
    Argv(Vec<String>),
    /// Run this string with `sh -lc`.
    Shell(String),
}

/// One environment variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVar {
    /// Name (a shell identifier).
    pub name: String,
    /// Value.
    pub value: String,
}

/// Everything needed to plan or acquire one lease.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaseRequest {
    /// The configuration document (JSON text).
    pub config: String,
    /// Tenant id.
    pub company_id: String,
    /// Run id.
    pub run_id: String,
    /// `lb-` + 26-char ULID.
    pub lease_id: String,
    /// RFC 3339 time.
    pub now: String,
    /// Per-run adapter.
    pub adapter_type: Option<String>,
    /// Per-run image override.
    pub image_override: Option<String>,
    /// Command of a `job` backend.
    pub command: Option<Command>,
}

/// A held sandbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Lease {
    /// Lease id.
    pub id: String,
    /// Tenant namespace.
    pub namespace: String,
    /// Workload kind.
    pub backend: Backend,
    /// The workload object, with its uid.
    pub workload: ObjectRef,
    /// Pod running the agent container.
    pub pod: String,
    /// Agent container name.
    pub container: String,
    /// Per-run Secret name.
    pub secret: String,
    /// Company id.
    pub company_id: String,
    /// Run id.
    pub run_id: String,
    /// Adapter in effect.
    pub adapter_type: String,
    /// Agent image.
    pub image: String,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 deadline.
    pub expires_at: String,
}

/// A command to run in a lease.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecRequest {
    /// The lease.
    pub lease: Lease,
    /// What to run.
    pub command: Command,
    /// Working directory.
    pub cwd: Option<String>,
    /// Environment, passed over stdin.
    pub env: Vec<EnvVar>,
    /// Stream the caller's stdin.
    pub forward_stdin: bool,
    /// Timeout in milliseconds.
    pub timeout_ms: Option<u64>,
    /// Stdout byte cap.
    pub max_stdout_bytes: Option<u64>,
    /// Stderr byte cap.
    pub max_stderr_bytes: Option<u64>,
}

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecResult {
    /// Exit code (128+N for signal N); none on timeout.
    pub exit_code: Option<i32>,
    /// Killing signal.
    pub signal: Option<u32>,
    /// Killed by the timeout.
    pub timed_out: bool,
    /// Stdout was cut.
    pub stdout_truncated: bool,
    /// Stderr was cut.
    pub stderr_truncated: bool,
    /// Server status message.
    pub message: String,
}

/// One check of a probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeCheck {
    /// What was checked.
    pub name: String,
    /// Passed.
    pub ok: bool,
    /// What was found.
    pub detail: String,
}

/// What `release` did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReleaseReport {
    /// Objects deleted.
    pub deleted: Vec<ObjectRef>,
    /// The workload was already gone.
    pub already_gone: bool,
}

/// What `sweep` did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SweepReport {
    /// Expired leases deleted.
    pub expired: Vec<ObjectRef>,
    /// Leases kept.
    pub kept: u32,
}
