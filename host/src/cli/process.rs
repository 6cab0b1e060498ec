//! Detached processes: `leasebox exec --detach` starts one (`exec.rs`),
//! `leasebox ps --lease ID` lists them, `leasebox attach --lease ID PROC`
//! streams one's output to its end and exits with its status, and
//! `leasebox kill --lease ID PROC [--signal S]` ends its process tree.

use std::io::Write;

use super::cluster::{LeaseTarget, failed};
use super::exec::exit_code;
use super::exit::{CliError, Outcome};
use super::interrupt;
use super::validate::write_json;
use crate::lifecycle::AttachFrom;

/// Flags of `ps`.
#[derive(Debug, Clone, clap::Args)]
pub struct PsArgs {
    /// The lease.
    #[command(flatten)]
    pub target: LeaseTarget,
}

/// Prints the lease's detached processes (JSON array, oldest first).
pub fn ps(args: &PsArgs, out: &mut dyn Write) -> Result<u8, CliError> {
    let (session, lease) = args.target.resume()?;
    let lease = lease.map_err(failed)?;
    let processes = session
        .lifecycle()
        .processes(&session.context(), &lease)
        .map_err(failed)?;
    let list: Vec<_> = processes.iter().map(crate::render::process_info).collect();
    write_json(out, &serde_json::Value::Array(list))?;
    Ok(Outcome::Success.code())
}

/// Flags of `attach`.
#[derive(Debug, Clone, clap::Args)]
pub struct AttachArgs {
    /// The lease.
    #[command(flatten)]
    pub target: LeaseTarget,
    /// The process id `exec --detach` printed.
    #[arg(value_name = "PROC")]
    pub process: String,
    /// Skip this many bytes of the kept stdout.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub stdout_offset: u64,
    /// Skip this many bytes of the kept stderr.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub stderr_offset: u64,
    /// Send what is kept so far and return, instead of following the
    /// process to its end (exit 0 while it still runs).
    #[arg(long)]
    pub no_follow: bool,
}

/// Streams the process's output; exits with its exit code.
pub fn attach(args: &AttachArgs) -> Result<u8, CliError> {
    let (session, lease) = args.target.resume()?;
    let lease = lease.map_err(failed)?;
    let cancel = session.cancel.clone();
    interrupt::watch(
        "Ctrl-C ends this attach, not the process in the sandbox",
        move || cancel.cancel(),
        || {},
    );
    let from = AttachFrom {
        stdout_offset: args.stdout_offset,
        stderr_offset: args.stderr_offset,
        follow: !args.no_follow,
    };
    let status = session
        .lifecycle()
        .attach(&session.context(), lease, &args.process, from)
        .map_err(failed)?;
    if args.no_follow && status.exit_code.is_none() && !status.timed_out {
        // Still running: what is kept so far was sent.
        return Ok(Outcome::Success.code());
    }
    Ok(exit_code(&status))
}

/// Flags of `kill`.
#[derive(Debug, Clone, clap::Args)]
pub struct KillArgs {
    /// The lease.
    #[command(flatten)]
    pub target: LeaseTarget,
    /// The process id `exec --detach` printed.
    #[arg(value_name = "PROC")]
    pub process: String,
    /// The signal sent first, by name (`TERM`, `INT`, `KILL`, `HUP`, with or
    /// without `SIG`) or number; what is left after the module's grace
    /// period gets SIGKILL.
    #[arg(long, value_name = "S", value_parser = parse_signal)]
    pub signal: Option<u32>,
}

/// Ends the process's tree; prints the process as it ended (JSON).
pub fn kill(args: &KillArgs, out: &mut dyn Write) -> Result<u8, CliError> {
    let (session, lease) = args.target.resume()?;
    let lease = lease.map_err(failed)?;
    let process = session
        .lifecycle()
        .kill(&session.context(), &lease, &args.process, args.signal)
        .map_err(failed)?;
    write_json(out, &crate::render::process_info(&process))?;
    Ok(Outcome::Success.code())
}

/// The signals `--signal` takes by name, with their numbers on Linux.
const SIGNALS: [(&str, u32); 8] = [
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("KILL", 9),
    ("USR1", 10),
    ("USR2", 12),
    ("TERM", 15),
    ("CONT", 18),
];

/// A signal by name or number (1-64).
pub(super) fn parse_signal(text: &str) -> Result<u32, String> {
    if let Ok(number) = text.parse::<u32>() {
        return if (1..=64).contains(&number) {
            Ok(number)
        } else {
            Err(format!("signal {number} is not 1-64"))
        };
    }
    let name = text.to_ascii_uppercase();
    let name = name.strip_prefix("SIG").unwrap_or(&name);
    SIGNALS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, number)| *number)
        .ok_or_else(|| {
            let known: Vec<&str> = SIGNALS.iter().map(|(n, _)| *n).collect();
            format!(
                "unknown signal {text:?}: give a number or one of {}",
                known.join(", ")
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::number("9", Ok(9))]
    #[case::name("TERM", Ok(15))]
    #[case::prefixed_lowercase("sigint", Ok(2))]
    #[case::zero("0", Err(()))]
    #[case::unknown("FOO", Err(()))]
    fn signals_are_read_by_name_or_number(#[case] text: &str, #[case] expected: Result<u32, ()>) {
        assert_eq!(parse_signal(text).map_err(drop), expected);
    }
}
