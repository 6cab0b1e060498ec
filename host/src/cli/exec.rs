//! `leasebox exec --lease ID -- CMD...`: runs a command in a lease's
//! sandbox and exits with its exit code; with `--detach`, starts it as a
//! detached process (`process.rs`) and prints its id at once.

use std::time::Duration;

use anyhow::anyhow;

use super::cluster::{LeaseTarget, failed};
use super::exit::CliError;
use super::interrupt;
use crate::contract::{Command, ExecStatus};
use crate::lifecycle::CommandSpec;

/// Exit code of a command that ran out of time (as `timeout(1)`).
pub(super) const TIMED_OUT_CODE: u8 = 124;

/// Exit code when the command ended without one (lost stream, signal
/// without a code).
const NO_CODE: u8 = 2;

/// How a command runs: directory, environment, limits, stdin, and the
/// command itself.
#[derive(Debug, Clone, clap::Args)]
pub struct ExecArgs {
    /// Working directory of the command.
    #[arg(long, value_name = "D")]
    pub cwd: Option<String>,
    /// Environment variable of the command (repeatable).
    #[arg(long = "env", value_name = "K=V", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
    /// Stop the command after this many seconds (exit 124).
    #[arg(long, value_name = "N")]
    pub timeout_sec: Option<u64>,
    /// Keep at most this many bytes of stdout.
    #[arg(long, value_name = "N")]
    pub max_stdout_bytes: Option<u64>,
    /// Keep at most this many bytes of stderr.
    #[arg(long, value_name = "N")]
    pub max_stderr_bytes: Option<u64>,
    /// Do not forward this process's stdin to the command.
    #[arg(long)]
    pub no_stdin: bool,
    /// Run this string with `sh -lc` instead of an argv after `--`.
    #[arg(long, value_name = "STRING", conflicts_with = "command")]
    pub shell: Option<String>,
    /// The command, as argv (after `--`).
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

impl ExecArgs {
    /// The command of the flags: `--shell` or the argv.
    pub(super) fn command(&self) -> Result<Command, CliError> {
        match &self.shell {
            Some(script) => Ok(Command::Shell(script.clone())),
            None if self.command.is_empty() => Err(CliError::unusable(anyhow!(
                "no command: give one after `--` (leasebox exec --lease ID -- CMD ARGS...) or \
                 pass --shell \"STRING\""
            ))),
            None => Ok(Command::Argv(self.command.clone())),
        }
    }

    /// The execute request for `lease`.
    /// The command and how it runs, for the lifecycle.
    pub(super) fn spec(&self) -> Result<CommandSpec, CliError> {
        Ok(CommandSpec {
            command: self.command()?,
            cwd: self.cwd.clone(),
            env: self.env.clone(),
            timeout: self.timeout_sec.map(Duration::from_secs),
            forward_stdin: !self.no_stdin,
            max_stdout_bytes: self.max_stdout_bytes,
            max_stderr_bytes: self.max_stderr_bytes,
        })
    }
}

/// Flags of `exec`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The lease.
    #[command(flatten)]
    pub target: LeaseTarget,
    /// The command and how it runs.
    #[command(flatten)]
    pub exec: ExecArgs,
    /// Start the command as a detached process that keeps running when
    /// this process, its caller or serve goes away; print its id and exit.
    /// It reads no stdin; `ps`, `attach` and `kill` use the id.
    #[arg(long)]
    pub detach: bool,
}

/// Resumes the lease and runs the command; returns its exit code.
pub fn run(args: &Args) -> Result<u8, CliError> {
    let mut spec = args.exec.spec()?;
    let (session, lease) = args.target.resume()?;
    let lease = lease.map_err(failed)?;
    if args.detach {
        spec.forward_stdin = false;
        let process = session
            .lifecycle()
            .start_process(&session.context(), lease, &spec)
            .map_err(failed)?;
        println!("{}", process.id);
        return Ok(0);
    }
    let cancel = session.cancel.clone();
    interrupt::watch(
        "Ctrl-C ends this process, not the command in the sandbox",
        move || cancel.cancel(),
        || {},
    );
    let result = session
        .lifecycle()
        .exec(&session.context(), lease, &spec)
        .map_err(failed)?;
    Ok(exit_code(&result))
}

/// The exit code of a finished command; explains a timeout or a missing
/// code on stderr.
pub(super) fn exit_code(result: &ExecStatus) -> u8 {
    if result.timed_out {
        eprintln!("error: the command timed out: {}", result.message);
        return TIMED_OUT_CODE;
    }
    match result.exit_code {
        // Exit statuses are 0-255; anything else wraps like a shell's `$?`.
        Some(code) => u8::try_from(code.rem_euclid(256)).unwrap_or(NO_CODE),
        None => {
            eprintln!(
                "error: the command ended without an exit code{}: {}",
                result
                    .signal
                    .map(|s| format!(" (signal {s})"))
                    .unwrap_or_default(),
                result.message
            );
            NO_CODE
        }
    }
}

/// `K=V` of `--env`.
pub(super) fn parse_env(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_string(), value.to_string())),
        _ => Err(format!("expected NAME=VALUE, got {text:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(exit_code: Option<i32>, timed_out: bool) -> ExecStatus {
        ExecStatus {
            exit_code,
            signal: None,
            timed_out,
            stdout_truncated: false,
            stderr_truncated: false,
            message: String::new(),
        }
    }

    #[test]
    fn exit_code_passes_through() {
        assert_eq!(exit_code(&result(Some(3), false)), 3);
    }

    #[test]
    fn timed_out_command_exits_124() {
        assert_eq!(exit_code(&result(Some(0), true)), 124);
    }

    #[test]
    fn missing_exit_code_exits_2() {
        assert_eq!(exit_code(&result(None, false)), 2);
    }

    #[test]
    fn env_flag_keeps_equals_signs_in_the_value() {
        assert_eq!(parse_env("A=b=c"), Ok(("A".into(), "b=c".into())));
        assert!(parse_env("=x").is_err());
        assert!(parse_env("novalue").is_err());
    }
}
