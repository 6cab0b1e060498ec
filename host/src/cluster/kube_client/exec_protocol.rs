//! The exec channel protocol (`v4.channel.k8s.io`, `v5.channel.k8s.io`):
//! binary websocket frames whose first byte is the channel (0 stdin, 1
//! stdout, 2 stderr, 3 status, 4 resize; v5 adds 255 = "close channel N"),
//! and how the `Status` object that ends a session (on channel 3, or on the
//! error stream over SPDY) becomes an exit code. leasebox reads these frames
//! only: a session with stdin runs over SPDY (`super::exec_spdy`).
//!
//! The kubelet sends, on channel 3, `{"status":"Success"}` for exit code 0
//! and, for any other code, a `Failure` with reason `NonZeroExitCode` and a
//! cause `{"reason":"ExitCode","message":"<code>"}`. A command that could
//! not be started at all (no such container, no such executable) ends with a
//! `Failure` without that cause: no exit code, only the message.
//!
//! Signals: the container runtime reports a process killed by signal N as
//! exit code 128+N (the shell convention); the status has no separate signal
//! field. So a code in 129..=192 (signals 1..=64) is reported as signal
//! `code - 128`, keeping the code. A process that itself calls `exit 137`
//! cannot be told apart from one killed by SIGKILL; that is the protocol's
//! limit, not ours.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;

/// Channel of standard output.
pub(crate) const STDOUT: u8 = 1;
/// Channel of standard error.
pub(crate) const STDERR: u8 = 2;
/// Channel of the final status object.
pub(crate) const STATUS: u8 = 3;

/// One frame from the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Frame<'a> {
    /// Standard output bytes.
    Stdout(&'a [u8]),
    /// Standard error bytes.
    Stderr(&'a [u8]),
    /// The status object (JSON).
    Status(&'a [u8]),
    /// Anything else: empty frames (the server sends one per channel on
    /// connect), unknown channels.
    Ignored,
}

/// Splits a binary frame into channel and payload.
pub(crate) fn decode(frame: &[u8]) -> Frame<'_> {
    match frame.split_first() {
        Some((_, [])) | None => Frame::Ignored,
        Some((&STDOUT, rest)) => Frame::Stdout(rest),
        Some((&STDERR, rest)) => Frame::Stderr(rest),
        Some((&STATUS, rest)) => Frame::Status(rest),
        Some(_) => Frame::Ignored,
    }
}

/// Highest signal number reported from a 128+N exit code.
const MAX_SIGNAL: i32 = 64;

/// Exit code, signal and message read from an exec `Status`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Ending {
    /// Exit code; none when the command did not run to an exit.
    pub code: Option<i32>,
    /// Signal number, from a 128+N code.
    pub signal: Option<u32>,
    /// The server's message (empty on success).
    pub message: String,
}

/// Reads the ending of an exec session from its status object.
pub(crate) fn ending_from_status(status: &Status) -> Ending {
    if status.status.as_deref() == Some("Success") {
        return Ending {
            code: Some(0),
            signal: None,
            message: String::new(),
        };
    }
    let message = status.message.clone().unwrap_or_default();
    let code = status
        .details
        .as_ref()
        .and_then(|d| d.causes.as_ref())
        .and_then(|causes| {
            causes
                .iter()
                .find(|c| c.reason.as_deref() == Some("ExitCode"))
        })
        .and_then(|cause| cause.message.as_deref())
        .and_then(|text| text.trim().parse::<i32>().ok());
    // The server's message for an exit code repeats the whole command
    // (leasebox's exec wrapper script included): the code says it all.
    let message = if let Some(code) = code {
        format!("exit code {code}")
    } else if message.is_empty() {
        format!(
            "the exec ended with status {:?} and reason {:?} but no exit code",
            status.status.as_deref().unwrap_or(""),
            status.reason.as_deref().unwrap_or("")
        )
    } else {
        message
    };
    Ending {
        code,
        signal: code.and_then(signal_from_code),
        message,
    }
}

/// The signal behind an exit code, by the 128+N convention.
pub(crate) fn signal_from_code(code: i32) -> Option<u32> {
    let n = code - 128;
    if (1..=MAX_SIGNAL).contains(&n) {
        u32::try_from(n).ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// Reads a status frame's payload (the bytes after the channel byte 3).
    fn ending_from_frame(payload: &[u8]) -> Result<Ending, String> {
        serde_json::from_slice::<Status>(payload)
            .map(|s| ending_from_status(&s))
            .map_err(|e| format!("the exec status frame is not a Status object: {e}"))
    }

    /// Status frames as a v1.20 kubelet sends them (channel byte removed).
    const SUCCESS: &str = r#"{"metadata":{},"status":"Success"}"#;
    const EXIT_42: &str = r#"{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: error executing command [sh -c exit 42], exit code 42","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"42"}]}}"#;
    const KILLED: &str = r#"{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: error executing command [sh -c kill -9 $$], exit code 137","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"137"}]}}"#;
    const NOT_STARTED: &str = r#"{"metadata":{},"status":"Failure","message":"Internal error occurred: error executing command in container: failed to exec in container: starting container process caused: exec: \"nope\": executable file not found in $PATH: unknown","reason":"InternalError","details":{"causes":[{"message":"error executing command in container: exec: \"nope\": executable file not found"}]},"code":500}"#;

    #[test]
    fn success_status_is_exit_zero() {
        assert_eq!(
            ending_from_frame(SUCCESS.as_bytes()),
            Ok(Ending {
                code: Some(0),
                signal: None,
                message: String::new()
            })
        );
    }

    #[test]
    fn exit_code_cause_gives_the_code() {
        let ending = ending_from_frame(EXIT_42.as_bytes());
        assert_eq!(
            ending.as_ref().map(|e| (e.code, e.signal)),
            Ok((Some(42), None))
        );
        assert!(ending.is_ok_and(|e| e.message.contains("exit code 42")));
    }

    #[test]
    fn sigkill_death_reports_signal_nine_and_code_137() {
        let ending = ending_from_frame(KILLED.as_bytes());
        assert_eq!(ending.map(|e| (e.code, e.signal)), Ok((Some(137), Some(9))));
    }

    #[test]
    fn command_that_never_started_has_no_code_but_a_message() {
        let ending = ending_from_frame(NOT_STARTED.as_bytes());
        assert_eq!(
            ending.as_ref().map(|e| (e.code, e.signal)),
            Ok((None, None))
        );
        assert!(ending.is_ok_and(|e| e.message.contains("executable file not found")));
    }

    #[test]
    fn failure_without_message_or_code_says_so() {
        let ending = ending_from_frame(br#"{"status":"Failure","reason":"Weird"}"#);
        assert!(ending.is_ok_and(|e| e.code.is_none() && e.message.contains("no exit code")));
    }

    #[test]
    fn garbage_frame_is_an_error() {
        assert!(ending_from_frame(b"not json").is_err());
    }

    #[rstest]
    #[case::stdout(b"\x01hello", Frame::Stdout(b"hello"))]
    #[case::stderr(b"\x02oops", Frame::Stderr(b"oops"))]
    #[case::status(b"\x03{}", Frame::Status(b"{}"))]
    #[case::empty_channel_announcement(b"\x01", Frame::Ignored)]
    #[case::empty(b"", Frame::Ignored)]
    #[case::resize_channel(b"\x04{}", Frame::Ignored)]
    fn frames_are_split_by_channel(#[case] frame: &[u8], #[case] expected: Frame<'_>) {
        assert_eq!(decode(frame), expected);
    }

    #[rstest]
    #[case::plain_failure(1, None)]
    #[case::shell_not_found(127, None)]
    #[case::exactly_128(128, None)]
    #[case::sighup(129, Some(1))]
    #[case::sigterm(143, Some(15))]
    #[case::last_realtime(192, Some(64))]
    #[case::above_signals(193, None)]
    fn signal_is_read_from_128_plus_n(#[case] code: i32, #[case] signal: Option<u32>) {
        assert_eq!(signal_from_code(code), signal);
    }
}
