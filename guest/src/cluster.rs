//! The small Kubernetes trait the lifecycle is written against.
//!
//! The wasm build implements it with the `kube` imports
//! (`cluster_wasm.rs`); native tests implement it in memory. Lifecycle code
//! never calls the imports directly: a wit-bindgen import stub aborts a
//! native test binary.

use serde_json::Value;

use crate::lease::{EnvVar, ObjectRef};

pub use crate::bindings::leasebox::provider::kube::{
    DeleteOptions, Denial, EventType, ExecSpec, HandOverRequest, KubeError, LogsRequest,
    OutputStream, Propagation, WatchRequest,
};
pub use crate::bindings::leasebox::provider::logging::Level;
pub use crate::lease::ExecStatus;

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
            KubeError::Cancelled(_) => "Cancelled",
        }
    }

    /// True when the host cancelled the call (see "Cancellation" in
    /// `wit/kube.wit`).
    pub fn is_cancelled(&self) -> bool {
        matches!(self, KubeError::Cancelled(_))
    }

    /// The error for a person (the generated `Display` is `Debug`).
    pub fn describe(&self) -> String {
        match self {
            KubeError::NoCluster(m) => format!("no cluster: {m}"),
            KubeError::Denied(d) => format!("denied by the host ({}): {}", d.rule, d.message),
            KubeError::NotFound(m) => format!("not found: {m}"),
            KubeError::Conflict(m) => format!("conflict: {m}"),
            KubeError::Forbidden(m) => format!("forbidden: {m}"),
            KubeError::Invalid(m) => format!("invalid: {m}"),
            KubeError::Gone(m) => format!("gone: {m}"),
            KubeError::TimedOut(m) => format!("timed out: {m}"),
            KubeError::Transport(m) => format!("transport: {m}"),
            KubeError::BadArgument(m) => format!("bad argument: {m}"),
            KubeError::Cancelled(m) => format!("cancelled by the host: {m}"),
        }
    }
}

/// One watch event.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchEvent {
    /// What happened.
    pub event_type: EventType,
    /// The object after the change.
    pub object: Value,
}

/// A running watch.
pub trait Watch {
    /// The next event, or none after `timeout_ms` without one.
    fn next(&mut self, timeout_ms: u64) -> Result<Option<WatchEvent>, KubeError>;
}

/// A running command.
pub trait ExecSession {
    /// Writes to stdin.
    fn write_stdin(&mut self, data: &[u8]) -> Result<(), KubeError>;
    /// Ends stdin (or starts forwarding the caller's stdin).
    fn close_stdin(&mut self) -> Result<(), KubeError>;
    /// Next output chunk (when not forwarded).
    fn read(&mut self, timeout_ms: u64) -> Result<Option<(OutputStream, Vec<u8>)>, KubeError>;
    /// Waits for the end; none while still running.
    fn wait(&mut self, timeout_ms: u64) -> Result<Option<ExecStatus>, KubeError>;
    /// Kills the command.
    fn kill(&mut self) -> Result<(), KubeError>;
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
    /// Writes a lease's Secret into a file of its running pod (the host
    /// reads the values; they never reach the module).
    fn hand_over_secret(&self, request: &HandOverRequest) -> Result<(), KubeError>;
    /// Progress and diagnostics.
    fn log(&self, level: Level, context: &str, message: &str);
}
