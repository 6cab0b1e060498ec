//! The lease records of `wit/types.wit`, as generated, and the plain
//! readers of an object's metadata that building a [`Lease`] from its
//! workload takes ([`crate::lifecycle::from_workload`], the one place a
//! lease is built).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;
use serde_json::Value;

use crate::config::document;
#[cfg(any(test, feature = "fake-cluster"))]
use crate::names;

pub use crate::bindings::exports::leasebox::provider::provider::{
    ProbeCheck, ProbeReport, ReleaseReport, SweepReport,
};
pub use crate::bindings::leasebox::provider::types::{
    AttachRequest, Backend, Command, EnvVar, ExecRequest, ExecStatus, FileEntry, FileType,
    FilesInRequest, FilesOutRequest, Lease, LeasePhase, LeaseRequest, LeaseStatus, ObjectRef,
    PoolReport, PoolRequest, ProcessInfo, TerminalRequest, WindowSize,
};

impl ObjectRef {
    /// Reads the reference out of a Kubernetes object (JSON).
    pub fn of(object: &Value) -> Option<ObjectRef> {
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

impl From<document::Backend> for Backend {
    fn from(b: document::Backend) -> Backend {
        match b {
            document::Backend::SandboxCr => Backend::SandboxCr,
            document::Backend::Job => Backend::Job,
            document::Backend::Pod => Backend::Pod,
        }
    }
}

impl ExecStatus {
    /// No exit code, no signal, nothing cut, no message: the base that a
    /// result is built on with `..ExecStatus::empty()`.
    pub const fn empty() -> ExecStatus {
        ExecStatus {
            exit_code: None,
            signal: None,
            timed_out: false,
            stdout_truncated: false,
            stderr_truncated: false,
            message: String::new(),
        }
    }
}

impl ReleaseReport {
    /// Nothing deleted yet.
    pub const fn empty() -> ReleaseReport {
        ReleaseReport {
            deleted: Vec::new(),
            already_gone: false,
        }
    }
}

impl SweepReport {
    /// Nothing swept yet.
    pub const fn empty() -> SweepReport {
        SweepReport {
            expired: Vec::new(),
            kept: 0,
        }
    }
}

/// The typed `metadata` of an object (JSON); an error message when it does
/// not read as `ObjectMeta`.
pub(crate) fn metadata(object: &Value) -> Result<ObjectMeta, String> {
    let display = ObjectRef::of(object)
        .map(|r| r.display())
        .unwrap_or_else(|| "an object".into());
    ObjectMeta::deserialize(object.get("metadata").unwrap_or(&Value::Null))
        .map_err(|e| format!("the metadata of {display} does not read as ObjectMeta: {e}"))
}

/// A non-empty annotation.
pub(crate) fn annotation<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations
        .as_ref()?
        .get(key)
        .map(String::as_str)
        .filter(|s| !s.is_empty())
}

/// A non-empty label.
pub(crate) fn label<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.labels
        .as_ref()?
        .get(key)
        .map(String::as_str)
        .filter(|s| !s.is_empty())
}

/// A lease for tests: the `pod` backend, every text field filled from the
/// id, `module-sha256` empty.
#[cfg(any(test, feature = "fake-cluster"))]
pub fn for_tests(id: &str, backend: Backend, workload: ObjectRef, pod: &str) -> Lease {
    Lease {
        id: id.to_string(),
        namespace: workload.namespace.clone().unwrap_or_default(),
        backend,
        workload,
        pod: pod.to_string(),
        container: names::AGENT_CONTAINER.to_string(),
        secret: names::secret_name(id),
        company_id: "acme".into(),
        run_id: "run-1".into(),
        adapter_type: "claude-code".into(),
        image: "ghcr.io/acme/agent:1".into(),
        created_at: "2026-11-23T10:00:00Z".into(),
        expires_at: "2026-11-24T10:00:00Z".into(),
        module_sha256: String::new(),
    }
}
