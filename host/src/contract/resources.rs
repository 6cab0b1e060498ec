//! The resources of the `kube` interface (`wit/kube.wit`: `watch`,
//! `exec-session`, `log-stream`) as Rust: a trait each, which the cluster
//! implements, and the [`Handle`] the runtime keeps one in while a module
//! holds it (the bindings of every version map the resources to it).

use std::time::Duration;

use super::{ExecStatus, KubeError, OutputStream, WatchEvent};

/// A running watch.
pub trait WatchStream: Send {
    /// Next event; none after `timeout` without one.
    fn next(&mut self, timeout: Duration) -> Result<Option<WatchEvent>, KubeError>;
}

/// A running command.
pub trait ExecStream: Send {
    /// Writes to stdin.
    fn write_stdin(&mut self, data: &[u8]) -> Result<(), KubeError>;
    /// Ends stdin, or starts forwarding the caller's stdin.
    fn close_stdin(&mut self) -> Result<(), KubeError>;
    /// Next output chunk (when not forwarded); none when nothing came
    /// within `timeout` or the output is over ([`ExecStream::output_ended`]
    /// tells which).
    fn read(&mut self, timeout: Duration) -> Result<Option<(OutputStream, Vec<u8>)>, KubeError>;
    /// True once `read` has nothing more to give: both output streams have
    /// ended and everything was read (or the output is forwarded). A stream
    /// that cannot tell answers false, and a read then waits out its
    /// timeout at the end.
    fn output_ended(&self) -> bool {
        false
    }
    /// Waits for the end; none while running.
    fn wait(&mut self, timeout: Duration) -> Result<Option<ExecStatus>, KubeError>;
    /// Kills the command.
    fn kill(&mut self) -> Result<(), KubeError>;
}

/// A log being read.
pub trait LogFollow: Send {
    /// Next chunk (when not forwarded).
    fn read(&mut self, timeout: Duration) -> Result<Option<Vec<u8>>, KubeError>;
    /// Waits for the end; true when ended.
    fn wait_end(&mut self, timeout: Duration) -> Result<bool, KubeError>;
}

/// A stream held for a module, and whether it was opened after the call
/// was cancelled (such a stream keeps working through the grace period).
pub struct Handle<S: ?Sized> {
    pub(crate) stream: Box<S>,
    pub(crate) opened_after_cancel: bool,
}

/// A watch held for a module.
pub type WatchHandle = Handle<dyn WatchStream>;

/// An exec session held for a module.
pub type ExecHandle = Handle<dyn ExecStream>;

/// A log stream held for a module.
pub type LogHandle = Handle<dyn LogFollow>;
