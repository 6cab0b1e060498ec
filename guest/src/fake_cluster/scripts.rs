//! What a test scripts for the fake's sessions (how an exec ends and what
//! it prints, what a log holds), what the fake records of an exec, and the
//! caller's streams a forwarding session writes to.

use crate::cluster::{ExecSpec, ExecStatus, KubeError, OutputStream};

/// What an exec does, scripted by a test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecScript {
    /// How it ends.
    pub status: ExecStatus,
    /// Fake milliseconds it runs; `None` runs until killed.
    pub runs_ms: Option<u64>,
    /// Its output: returned by `read`, or sent to the caller when the
    /// session forwards output.
    pub output: Vec<(OutputStream, Vec<u8>)>,
}

impl ExecScript {
    /// Ends at once with `code`.
    pub fn exits(code: i32) -> ExecScript {
        ExecScript {
            status: ExecStatus {
                exit_code: Some(code),
                ..ExecStatus::empty()
            },
            runs_ms: Some(0),
            output: Vec::new(),
        }
    }

    /// Never ends on its own: `wait` answers "still running" until the
    /// session is killed.
    pub fn hangs() -> ExecScript {
        ExecScript {
            status: ExecStatus::empty(),
            runs_ms: None,
            output: Vec::new(),
        }
    }
}

/// One exec the fake ran, with what was written to its stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecRecord {
    /// The request.
    pub spec: ExecSpec,
    /// Bytes written with `write_stdin`, then the caller's forwarded stdin
    /// (framed when the spec asks).
    pub stdin: Vec<u8>,
    /// `close_stdin` was called.
    pub stdin_closed: bool,
    /// `kill` was called.
    pub killed: bool,
}

/// A log stream, scripted by a test.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogScript {
    /// Chunks returned by `read`, or sent to the caller when the stream
    /// forwards output.
    pub chunks: Vec<Vec<u8>>,
    /// The log ends (the container stopped); false: `wait_end` never ends.
    pub ends: bool,
}

/// The host caller's streams, as a session that forwards them sees them
/// (a host adapter wires its caller's stdout, stderr and stdin here).
pub trait CallerStreams: Send {
    /// Passes forwarded output on.
    fn output(&mut self, stream: OutputStream, data: &[u8]) -> Result<(), KubeError>;
    /// The caller's whole stdin; none when another session took it.
    fn take_stdin(&mut self) -> Result<Option<Vec<u8>>, KubeError>;
}
