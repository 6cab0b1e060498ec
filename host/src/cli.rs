//! The `leasebox` command line: one file per command in `cli/`.
//!
//! Exit codes: 0 success; 1 the configuration is invalid or the policy
//! refused the request; 2 the command could not run (unreadable or non-JSON
//! input, a bad flag, an unusable policy module, or a module that trapped).

mod exit;
mod module;
mod plan;
mod schema;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use exit::{CliError, Outcome};

/// Leases isolated sandbox pods on Kubernetes; the policy (what a valid
/// configuration is, how every object looks) is a WebAssembly module.
#[derive(Debug, Parser)]
#[command(name = "leasebox", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a configuration file and print every problem, with defaults
    /// filled in (JSON).
    Validate(validate::Args),
    /// Print every manifest acquire would apply, without a cluster.
    Plan(plan::Args),
    /// Print the JSON Schema of the configuration.
    Schema(schema::Args),
}

/// Runs the command line of this process and returns its exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = run(cli);
    match outcome {
        Ok(outcome) => outcome.exit_code(),
        // The reader went away (`leasebox plan | head`): nothing to report.
        Err(error) if is_broken_pipe(&error.error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {:#}", error.error);
            error.outcome.exit_code()
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Runs one parsed command, printing its output on stdout.
pub fn run(cli: Cli) -> Result<Outcome, CliError> {
    let mut stdout = std::io::stdout().lock();
    match cli.command {
        Command::Validate(args) => validate::run(&args, &mut stdout),
        Command::Plan(args) => plan::run(&args, &mut stdout),
        Command::Schema(args) => schema::run(&args, &mut stdout),
    }
}
