//! The small Kubernetes trait the lifecycle is written against.
//!
//! The wasm build implements it with the `kube` imports
//! (`cluster_wasm.rs`); native tests implement it in memory. Lifecycle code
//! never calls the imports directly: a wit-bindgen import stub aborts a
//! native test binary.

use serde_json::Value;

use crate::lease::{EnvVar, ObjectRef};

/// Why a Kubernetes call failed (mirrors `kube-error`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KubeError {
    /// The host has no cluster.
    #[error("no cluster: {0}")]
    NoCluster(String),
    /// Refused by the host's capability guard.
    #[error("denied by the host: {0}")]
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
    /// Connection or 5xx.
    #[error("transport: {0}")]
    Transport(String),
    /// Unparseable argument.
    #[error("bad argument: {0}")]
    BadArgument(String),
}

impl KubeError {
    /// A short reason word for a [`crate::error::Failure`].
    pub fn reason(&self) -> &'static str {
        match self {
            KubeError::NoCluster(_) => "NoCluster",
            KubeError::Denied(_) => "Denied",
            KubeError::NotFound(_) => "NotFound",
            KubeError::Conflict(_) => "Conflict",
            KubeError::Forbidden(_) => "Forbidden",
            KubeError::Invalid(_) => "Invalid",
            KubeError::Gone(_) => "Gone",
            KubeError::TimedOut(_) => "TimedOut",
            KubeError::Transport(_) => "Transport",
            KubeError::BadArgument(_) => "BadArgument",
        }
    }
}

/// Propagation policy of a delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    /// Dependents first.
    Foreground,
    /// Owner first, dependents by the garbage collector.
    Background,
    /// Dependents stay.
    Orphan,
}

/// Options of a delete.
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
    /// Appeared or listed.
    Added,
    /// Changed.
    Modified,
    /// Deleted.
    Deleted,
}

/// One watch event.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchEvent {
    /// What happened.
    pub event_type: EventType,
    /// The object after the change.
    pub object: Value,
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
    /// Label selector; empty for all.
    pub label_selector: String,
    /// Field selector; empty for all.
    pub field_selector: String,
}

/// A running watch.
pub trait Watch {
    /// The next event, or none after `timeout_ms` without one.
    fn next(&mut self, timeout_ms: u64) -> Result<Option<WatchEvent>, KubeError>;
}

/// A command to start in a container.
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
    /// Output straight to the host's caller.
    pub forward_output: bool,
    /// After `write_stdin`, stream the caller's stdin.
    pub forward_stdin: bool,
    /// Send the caller's stdin as length-prefixed frames ending with `0\n`
    /// (see `frame-stdin` in `wit/kube.wit`).
    pub frame_stdin: bool,
    /// Stdout cap.
    pub max_stdout_bytes: Option<u64>,
    /// Stderr cap.
    pub max_stderr_bytes: Option<u64>,
}

/// Which stream a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// stdout.
    Stdout,
    /// stderr.
    Stderr,
}

/// How an exec session ended.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExitStatus {
    /// Exit code (128+N for a signal).
    pub code: Option<i32>,
    /// Signal number.
    pub signal: Option<u32>,
    /// Stdout was cut.
    pub stdout_truncated: bool,
    /// Stderr was cut.
    pub stderr_truncated: bool,
    /// Server message.
    pub message: String,
}

/// A running command.
pub trait ExecSession {
    /// Writes to stdin.
    fn write_stdin(&mut self, data: &[u8]) -> Result<(), KubeError>;
    /// Ends stdin (or starts forwarding the caller's stdin).
    fn close_stdin(&mut self) -> Result<(), KubeError>;
    /// Next output chunk (when not forwarded).
    fn read(&mut self, timeout_ms: u64) -> Result<Option<(Stream, Vec<u8>)>, KubeError>;
    /// Waits for the end; none while still running.
    fn wait(&mut self, timeout_ms: u64) -> Result<Option<ExitStatus>, KubeError>;
    /// Kills the command.
    fn kill(&mut self) -> Result<(), KubeError>;
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
    /// Follow until the container ends.
    pub follow: bool,
    /// Straight to the host's caller.
    pub forward_output: bool,
    /// Byte cap.
    pub max_bytes: Option<u64>,
}

/// A log being read.
pub trait LogStream {
    /// Next chunk (when not forwarded).
    fn read(&mut self, timeout_ms: u64) -> Result<Option<Vec<u8>>, KubeError>;
    /// Waits for the end of the log; true when ended.
    fn wait_end(&mut self, timeout_ms: u64) -> Result<bool, KubeError>;
}

/// A Secret whose values the host fills.
#[derive(Debug, Clone, PartialEq)]
pub struct HostSecretRequest {
    /// Manifest without data.
    pub manifest: Value,
    /// Keys set to random hex by the host.
    pub random_keys: Vec<String>,
    /// Keys copied from the host's environment.
    pub host_keys: Vec<String>,
    /// Non-secret values.
    pub literal: Vec<EnvVar>,
}

/// Severity of a log message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Debug.
    Debug,
    /// Info.
    Info,
    /// Warning.
    Warn,
    /// Error.
    Error,
}

/// The Kubernetes I/O the lifecycle needs.
pub trait Cluster {
    /// Server-side apply; returns the stored object.
    fn apply(&self, manifest: &Value) -> Result<Value, KubeError>;
    /// Plain create (for review objects); returns the server's answer.
    fn create(&self, manifest: &Value) -> Result<Value, KubeError>;
    /// The server's `gitVersion`.
    fn server_version(&self) -> Result<String, KubeError>;
    /// Milliseconds on a monotonic clock.
    fn monotonic_ms(&self) -> u64;
    /// Reads one object.
    fn get(&self, target: &ObjectRef) -> Result<Option<Value>, KubeError>;
    /// Lists objects.
    fn list(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        label_selector: &str,
    ) -> Result<Vec<Value>, KubeError>;
    /// Deletes; false when already gone.
    fn delete(&self, target: &ObjectRef, options: &DeleteOptions) -> Result<bool, KubeError>;
    /// Starts a watch.
    fn watch(&self, request: &WatchRequest) -> Result<Box<dyn Watch>, KubeError>;
    /// Starts a command.
    fn exec(&self, spec: &ExecSpec) -> Result<Box<dyn ExecSession>, KubeError>;
    /// Opens a log.
    fn logs(&self, request: &LogsRequest) -> Result<Box<dyn LogStream>, KubeError>;
    /// Applies a host-filled Secret; returns the stored object (no values)
    /// and the keys filled.
    fn apply_host_secret(
        &self,
        request: &HostSecretRequest,
    ) -> Result<(Value, Vec<String>), KubeError>;
    /// Progress and diagnostics.
    fn log(&self, level: Level, context: &str, message: &str);
}
