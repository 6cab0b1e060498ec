//! `leasebox shell --lease ID [--cwd D] [--env K=V]... [-- CMD...]`: a
//! terminal in a lease's sandbox (default: the image's login shell), wired
//! to this process's terminal in raw mode; exits with the remote exit
//! status.

use std::io::IsTerminal;
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};

use anyhow::anyhow;

use super::cluster::{LeaseTarget, failed};
use super::exec::{exit_code, parse_env};
use super::exit::CliError;
use super::interrupt;
use super::terminal::{RawMode, window_changes, window_size};
use crate::cluster::io::CallerIo;
use crate::contract::{Command, WindowSize};
use crate::lifecycle::TerminalSpec;

/// The size assumed when the terminal reports none.
const FALLBACK_SIZE: WindowSize = WindowSize { rows: 24, cols: 80 };

/// Flags of `shell`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The lease.
    #[command(flatten)]
    pub target: LeaseTarget,
    /// Working directory of the shell.
    #[arg(long, value_name = "D")]
    pub cwd: Option<String>,
    /// Environment variable of the shell (repeatable).
    #[arg(long = "env", value_name = "K=V", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
    /// What to run instead of the login shell, as argv (after `--`).
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// Opens the terminal and runs it to its end; returns the remote exit code.
pub fn run(args: &Args) -> Result<u8, CliError> {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    if !stdin.is_terminal() {
        return Err(CliError::unusable(anyhow!(
            "leasebox shell needs a terminal, and stdin is not one; to run a command without \
             a terminal, use `leasebox exec --lease {} -- CMD ARGS...` (it streams stdin and \
             output as they are)",
            args.target.lease
        )));
    }
    let size = window_size(&stdout)
        .or_else(|| window_size(&stdin))
        .unwrap_or(FALLBACK_SIZE);
    let spec = TerminalSpec {
        command: (!args.command.is_empty()).then(|| Command::Argv(args.command.clone())),
        cwd: args.cwd.clone(),
        env: args.env.clone(),
        size,
        term: std::env::var("TERM").unwrap_or_default(),
    };
    let (session, lease) = args.target.resume()?;
    let lease = lease.map_err(failed)?;
    let changes = window_changes(stdout.as_raw_fd(), size)
        .map_err(|e| CliError::unusable(anyhow!("cannot watch the terminal's size: {e}")))?;
    let mut ctx = session.context();
    ctx.caller = CallerIo {
        window_sizes: Arc::new(Mutex::new(Some(changes))),
        ..CallerIo::process()
    };
    let raw = RawMode::enable(&stdin)
        .map_err(|e| CliError::unusable(anyhow!("cannot put the terminal in raw mode: {e}")))?;
    let cancel = session.cancel.clone();
    // In raw mode Ctrl-C is a byte for the remote terminal; a SIGTERM (or
    // SIGINT from elsewhere) still ends the session, and a second one ends
    // this process with the terminal's mode restored.
    interrupt::watch(
        "a signal ends this process, not the session in the sandbox",
        move || cancel.cancel(),
        raw.restorer(),
    );
    let result = session.lifecycle().terminal(&ctx, lease, &spec);
    drop(raw);
    Ok(exit_code(&result.map_err(failed)?))
}
