//! The host side of the `kube` interface, as plain Rust.
//!
//! The wasm import glue (`runtime/imports/kube.rs`) converts WIT values and
//! calls a [`ClusterIo`]; implementations are the real kube-rs client
//! (`kube_client/`), the "no cluster" stand-in used by `plan`/`validate`, and
//! in-memory clusters in tests. Calls are blocking: the guest runs on a
//! blocking thread, and async implementations block on their runtime.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Why a cluster call failed (mirrors `kube-error`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IoError {
    /// No cluster configured.
    #[error("no cluster: {0}")]
    NoCluster(String),
    /// Refused by the capability guard.
    #[error("denied: {0}")]
    Denied(String),
    /// HTTP 404.
    #[error("not found: {0}")]
    NotFound(String),
    /// HTTP 409.
    #[error("conflict: {0}")]
    Conflict(String),
    /// HTTP 403.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// HTTP 400/422.
    #[error("invalid: {0}")]
    Invalid(String),
    /// HTTP 410.
    #[error("gone: {0}")]
    Gone(String),
    /// Timed out.
    #[error("timed out: {0}")]
    TimedOut(String),
    /// Connection failure or 5xx after retries.
    #[error("transport: {0}")]
    Transport(String),
    /// Unparseable argument.
    #[error("bad argument: {0}")]
    BadArgument(String),
}

/// Identifies one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    /// apiVersion.
    pub api_version: String,
    /// Kind.
    pub kind: String,
    /// Namespace (none: cluster-scoped).
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// uid, when known.
    pub uid: Option<String>,
}

/// Propagation policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    /// Dependents first.
    Foreground,
    /// Owner first.
    Background,
    /// Dependents stay.
    Orphan,
}

/// Delete options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteOptions {
    /// Propagation.
    pub propagation: Propagation,
    /// uid precondition.
    pub precondition_uid: Option<String>,
    /// Grace period override.
    pub grace_period_seconds: Option<u32>,
}

/// Kind of a watch event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// Added (or listed).
    Added,
    /// Modified.
    Modified,
    /// Deleted.
    Deleted,
}

/// One watch event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchEvent {
    /// What happened.
    pub event_type: EventType,
    /// The object (JSON).
    pub object: String,
}

/// What to watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchRequest {
    /// apiVersion.
    pub api_version: String,
    /// Kind.
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Label selector.
    pub label_selector: String,
    /// Field selector.
    pub field_selector: String,
}

/// A running watch.
pub trait WatchStream: Send {
    /// Next event; none after `timeout` without one.
    fn next(&mut self, timeout: Duration) -> Result<Option<WatchEvent>, IoError>;
}

/// A command to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecSpec {
    /// Namespace.
    pub namespace: String,
    /// Pod.
    pub pod: String,
    /// Container.
    pub container: String,
    /// Argv.
    pub argv: Vec<String>,
    /// Open stdin.
    pub stdin: bool,
    /// Output to the caller's streams.
    pub forward_output: bool,
    /// After guest writes, stream the caller's stdin.
    pub forward_stdin: bool,
    /// Send the caller's stdin as frames `<length>\n<bytes>`, ended by
    /// `0\n` (see `frame-stdin` in `wit/kube.wit`).
    pub frame_stdin: bool,
    /// Stdout cap.
    pub max_stdout_bytes: Option<u64>,
    /// Stderr cap.
    pub max_stderr_bytes: Option<u64>,
}

/// Which stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// stdout.
    Stdout,
    /// stderr.
    Stderr,
}

/// How an exec ended.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExitStatus {
    /// Exit code (128+N for signal N).
    pub code: Option<i32>,
    /// Signal.
    pub signal: Option<u32>,
    /// Stdout cut.
    pub stdout_truncated: bool,
    /// Stderr cut.
    pub stderr_truncated: bool,
    /// Server message.
    pub message: String,
}

/// A running command.
pub trait ExecStream: Send {
    /// Writes to stdin.
    fn write_stdin(&mut self, data: &[u8]) -> Result<(), IoError>;
    /// Ends stdin, or starts forwarding the caller's stdin.
    fn close_stdin(&mut self) -> Result<(), IoError>;
    /// Next output chunk (when not forwarded).
    fn read(&mut self, timeout: Duration) -> Result<Option<(StreamKind, Vec<u8>)>, IoError>;
    /// Waits for the end; none while running.
    fn wait(&mut self, timeout: Duration) -> Result<Option<ExitStatus>, IoError>;
    /// Kills the command.
    fn kill(&mut self) -> Result<(), IoError>;
}

/// What log to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogsRequest {
    /// Namespace.
    pub namespace: String,
    /// Pod.
    pub pod: String,
    /// Container.
    pub container: String,
    /// Follow.
    pub follow: bool,
    /// To the caller's stdout.
    pub forward_output: bool,
    /// Byte cap.
    pub max_bytes: Option<u64>,
}

/// A log being read.
pub trait LogFollow: Send {
    /// Next chunk (when not forwarded).
    fn read(&mut self, timeout: Duration) -> Result<Option<Vec<u8>>, IoError>;
    /// Waits for the end; true when ended.
    fn wait_end(&mut self, timeout: Duration) -> Result<bool, IoError>;
}

/// A host-filled Secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSecretRequest {
    /// Manifest without values (JSON).
    pub manifest: String,
    /// Keys set to 32 random bytes, hex.
    pub random_keys: Vec<String>,
    /// Keys copied from the host's environment.
    pub host_keys: Vec<String>,
    /// Literal values.
    pub literal: Vec<(String, String)>,
}

/// The caller's streams, where forwarded output goes and forwarded stdin
/// comes from.
#[derive(Clone)]
pub struct CallerIo {
    /// Caller's stdout.
    pub stdout: Arc<Mutex<dyn Write + Send>>,
    /// Caller's stderr.
    pub stderr: Arc<Mutex<dyn Write + Send>>,
    /// Caller's stdin (taken by the first exec that forwards it).
    pub stdin: Arc<Mutex<Option<Box<dyn Read + Send>>>>,
}

impl CallerIo {
    /// The process's own stdout, stderr and stdin.
    pub fn process() -> CallerIo {
        CallerIo {
            stdout: Arc::new(Mutex::new(std::io::stdout())),
            stderr: Arc::new(Mutex::new(std::io::stderr())),
            stdin: Arc::new(Mutex::new(Some(Box::new(std::io::stdin())))),
        }
    }
}

impl std::fmt::Debug for CallerIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CallerIo")
    }
}

/// Kubernetes I/O performed for a policy module.
pub trait ClusterIo: Send + Sync {
    /// Server-side apply; returns the stored object.
    fn apply(&self, manifest: &str) -> Result<String, IoError>;
    /// Plain create (review objects); returns the answer.
    fn create(&self, manifest: &str) -> Result<String, IoError>;
    /// Server `gitVersion`.
    fn server_version(&self) -> Result<String, IoError>;
    /// Reads one object.
    fn get(&self, target: &ObjectRef) -> Result<Option<String>, IoError>;
    /// Lists objects.
    fn list(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        label_selector: &str,
    ) -> Result<Vec<String>, IoError>;
    /// Deletes; false when already gone.
    fn delete(&self, target: &ObjectRef, options: &DeleteOptions) -> Result<bool, IoError>;
    /// Starts a watch.
    fn watch(&self, request: &WatchRequest) -> Result<Box<dyn WatchStream>, IoError>;
    /// Starts a command; forwarded streams use `caller`.
    fn exec(&self, spec: &ExecSpec, caller: &CallerIo) -> Result<Box<dyn ExecStream>, IoError>;
    /// Opens a container log; forwarded output uses `caller`.
    fn logs(&self, request: &LogsRequest, caller: &CallerIo)
    -> Result<Box<dyn LogFollow>, IoError>;
    /// Applies a host-filled Secret; returns the stored object without
    /// values and the keys filled.
    fn apply_host_secret(
        &self,
        request: &HostSecretRequest,
    ) -> Result<(String, Vec<String>), IoError>;
}

/// The stand-in used when no cluster is configured: every call fails with
/// [`IoError::NoCluster`], naming what would have been needed.
#[derive(Debug, Clone, Default)]
pub struct NoCluster;

impl NoCluster {
    fn err<T>(what: &str) -> Result<T, IoError> {
        Err(IoError::NoCluster(format!(
            "{what} needs a cluster: set KUBECONFIG, pass --kubeconfig, or run in a pod"
        )))
    }
}

impl ClusterIo for NoCluster {
    fn apply(&self, _: &str) -> Result<String, IoError> {
        Self::err("apply")
    }
    fn create(&self, _: &str) -> Result<String, IoError> {
        Self::err("create")
    }
    fn server_version(&self) -> Result<String, IoError> {
        Self::err("server version")
    }
    fn get(&self, _: &ObjectRef) -> Result<Option<String>, IoError> {
        Self::err("get")
    }
    fn list(&self, _: &str, _: &str, _: Option<&str>, _: &str) -> Result<Vec<String>, IoError> {
        Self::err("list")
    }
    fn delete(&self, _: &ObjectRef, _: &DeleteOptions) -> Result<bool, IoError> {
        Self::err("delete")
    }
    fn watch(&self, _: &WatchRequest) -> Result<Box<dyn WatchStream>, IoError> {
        Self::err("watch")
    }
    fn exec(&self, _: &ExecSpec, _: &CallerIo) -> Result<Box<dyn ExecStream>, IoError> {
        Self::err("exec")
    }
    fn logs(&self, _: &LogsRequest, _: &CallerIo) -> Result<Box<dyn LogFollow>, IoError> {
        Self::err("logs")
    }
    fn apply_host_secret(&self, _: &HostSecretRequest) -> Result<(String, Vec<String>), IoError> {
        Self::err("secret")
    }
}
