//! How a command, its working directory and its environment become an argv
//! plus a stdin header.
//!
//! Environment values are secrets often enough that they must never appear
//! in argv (visible in every process list of the pod). With env or cwd, the
//! command runs under a small POSIX `sh` script that first reads a header
//! from stdin: one line `NAME=<value>` per variable, the value spelled as
//! `printf %b` octal escapes (`\0NNN`) so that any byte (newline, quote,
//! UTF-8) survives, ended by an empty line. The shell's `read` builtin reads
//! a pipe one byte at a time, so whatever follows the header (the caller's
//! stdin) reaches the command untouched.
//!
//! The caller's stdin itself travels in frames (`<length>\n<bytes>`, ended
//! by `0\n`; the host writes them, see `frame-stdin` in `wit/kube.wit`):
//! exec protocol `v4.channel.k8s.io`, all that Kubernetes < 1.29 speaks,
//! cannot end stdin without losing the exit status. A feeder in the wrapper
//! decodes the frames with `dd iflag=fullblock` (exact reads; `head -c` of
//! busybox reads ahead) into a FIFO the command reads, so the command sees a
//! real end of input, and the wrapper waits only for the command. A
//! forwarded stdin therefore needs `sh`, `dd` and `mkfifo` in the image; a
//! command without forwarded stdin reads `/dev/null`. A frame is copied in
//! blocks of 64 KiB (a pipe's size) and then its rest, not as one block:
//! the command reads the start of a large frame while the rest still
//! comes, and `dd` holds no more than a block.

//!
//! `scripts` holds the two shell scripts, `header` the header's spelling
//! and the stdin frames; here a command becomes its [`Wrapped`] argv.

mod header;
mod scripts;

use crate::error::PolicyError;
use crate::lease::{Command, EnvVar};

pub use header::{check_env, encode_header, encode_value, frame, is_shell_identifier};
pub use scripts::{
    KILL_SCRIPT, KILLER_NAME, RESERVED_PREFIX, SCRIPT, STDIN_FRAMED, STDIN_NONE, WRAPPER_NAME,
    is_kill_token, kill_argv,
};

/// The argv to run and the bytes to write to stdin before anything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wrapped {
    /// Argv of the exec.
    pub argv: Vec<String>,
    /// Header to write first; `None` when the command runs unwrapped.
    pub header: Option<Vec<u8>>,
    /// The caller's stdin must be sent in frames.
    pub frame_stdin: bool,
}

/// The plain argv of a command: an argv as is, a shell string as
/// `sh -lc <string>`.
pub fn command_argv(command: &Command) -> Result<Vec<String>, PolicyError> {
    match command {
        Command::Argv(argv) => {
            if argv.first().is_none_or(|a| a.is_empty()) {
                return Err(PolicyError::BadRequest(
                    "command: the argv is empty or starts with an empty program; pass the \
                     program to run first"
                        .into(),
                ));
            }
            Ok(argv.clone())
        }
        Command::Shell(line) => {
            if line.trim().is_empty() {
                return Err(PolicyError::BadRequest(
                    "command: the shell string is empty; pass the command line to run".into(),
                ));
            }
            Ok(vec!["sh".into(), "-lc".into(), line.clone()])
        }
    }
}

/// The argv and header of a command with its cwd and env, with the
/// caller's stdin forwarded or not, and (with a `kill_token`) killable
/// later by [`kill_argv`]. Without any of these the command runs as is (no
/// shell, no header, no stdin).
pub fn wrap(
    command: &Command,
    cwd: Option<&str>,
    env: &[EnvVar],
    forward_stdin: bool,
    kill_token: Option<&str>,
) -> Result<Wrapped, PolicyError> {
    let argv = command_argv(command)?;
    check_env(env)?;
    let cwd = cwd.unwrap_or("");
    if cwd.contains('\0') {
        return Err(PolicyError::BadRequest(
            "cwd: contains a NUL byte; pass a plain directory path".into(),
        ));
    }
    if let Some(token) = kill_token.filter(|t| !is_kill_token(t)) {
        return Err(PolicyError::BadRequest(format!(
            "kill token `{token}`: use 1-64 letters, digits and `-`"
        )));
    }
    if env.is_empty() && cwd.is_empty() && !forward_stdin && kill_token.is_none() {
        return Ok(Wrapped {
            argv,
            header: None,
            frame_stdin: false,
        });
    }
    let mode = if forward_stdin {
        STDIN_FRAMED
    } else {
        STDIN_NONE
    };
    let mut wrapped = vec![
        "sh".to_string(),
        "-c".to_string(),
        SCRIPT.to_string(),
        WRAPPER_NAME.to_string(),
        cwd.to_string(),
        mode.to_string(),
        kill_token.unwrap_or("").to_string(),
    ];
    wrapped.extend(argv);
    Ok(Wrapped {
        argv: wrapped,
        header: Some(encode_header(env)),
        frame_stdin: forward_stdin,
    })
}

#[cfg(test)]
mod tests;
