//! The `leasebox` command line: one file per command in `cli/`.
//!
//! Exit codes: 0 success; 1 the configuration is invalid or the policy
//! refused the request; 2 the command could not run (unreadable or non-JSON
//! input, a bad flag, an unusable policy module, no cluster, or a module
//! that trapped). `exec` and `run` exit with the command's exit code (124
//! when it timed out, 130 after Ctrl-C).

mod acquire;
mod cluster;
mod cp;
mod exec;
mod exit;
mod interrupt;
mod lease_args;
mod list;
mod module;
mod plan;
mod policy;
mod pool;
mod probe;
mod process;
mod rbac;
mod release;
mod renew;
mod run;
mod schema;
mod serve;
mod shell;
mod status;
mod sweep;
#[cfg(unix)]
mod terminal;
mod upload;
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
    /// Create a lease on the cluster and print it (JSON).
    Acquire(acquire::Args),
    /// Run a command in a lease's sandbox; exit with its exit code.
    Exec(exec::Args),
    /// Unpack a tar stream from stdin into a lease's sandbox.
    Upload(upload::Args),
    /// Copy files and trees between this machine and a lease (LEASE:PATH on
    /// one side); print what was copied (JSON).
    Cp(cp::Args),
    /// List a lease's detached processes (JSON).
    Ps(process::PsArgs),
    /// Stream a detached process's output to its end; exit with its exit
    /// code.
    Attach(process::AttachArgs),
    /// End a detached process and its process tree; print it (JSON).
    Kill(process::KillArgs),
    /// Open a terminal in a lease's sandbox (default: the login shell);
    /// exit with its exit code.
    Shell(shell::Args),
    /// Delete a lease's objects and print what was deleted (JSON).
    Release(release::Args),
    /// Acquire a lease, run a command in it, release it (always).
    Run(run::Args),
    /// Move a lease's deadline to now + --ttl seconds and print the lease
    /// (JSON).
    Renew(renew::Args),
    /// List the leases in the cluster, oldest first (JSON).
    List(list::Args),
    /// Print where a lease is in its life: phase, readiness, the lease
    /// (JSON).
    Status(status::Args),
    /// Release every expired lease and print them (JSON).
    Sweep(sweep::Args),
    /// Check that the cluster can serve leases for a configuration (JSON).
    Probe(probe::Args),
    /// Keep a tenant's warm pool of ready pods (`warmPool` in the
    /// configuration, `pools` in the host settings).
    #[command(subcommand)]
    Pool(pool::PoolCommand),
    /// Serve the lifecycle to a platform: JSON-RPC 2.0 on stdio or a Unix
    /// socket, with the policy module swapped live (docs/serve.md).
    Serve(serve::Args),
    /// Inspect a policy module: contract version, size, SHA-256, whether it
    /// loads.
    Policy(policy::Args),
    /// Print the RBAC the host's service account needs (YAML), derived from
    /// the grants table its capability guard enforces.
    Rbac(rbac::Args),
}

/// Runs the command line of this process and returns its exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
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

/// Runs one parsed command, printing its output on stdout; returns the
/// exit code.
pub fn run(cli: Cli) -> Result<u8, CliError> {
    let stdout = || std::io::stdout().lock();
    match cli.command {
        Command::Validate(args) => validate::run(&args, &mut stdout()).map(Outcome::code),
        Command::Plan(args) => plan::run(&args, &mut stdout()).map(Outcome::code),
        Command::Schema(args) => schema::run(&args, &mut stdout()).map(Outcome::code),
        Command::Acquire(args) => acquire::run(&args, &mut std::io::stdout()),
        // The command's output goes to stdout while it runs: no lock held.
        Command::Exec(args) => exec::run(&args),
        Command::Upload(args) => upload::run(&args),
        Command::Shell(args) => shell::run(&args),
        Command::Cp(args) => cp::run(&args, &mut std::io::stdout()),
        Command::Ps(args) => process::ps(&args, &mut std::io::stdout()),
        Command::Attach(args) => process::attach(&args),
        Command::Kill(args) => process::kill(&args, &mut std::io::stdout()),
        Command::Release(args) => release::run(&args, &mut std::io::stdout()),
        Command::Run(args) => run::run(&args),
        Command::Renew(args) => renew::run(&args, &mut std::io::stdout()),
        Command::List(args) => list::run(&args, &mut std::io::stdout()),
        Command::Status(args) => status::run(&args, &mut std::io::stdout()),
        Command::Sweep(args) => sweep::run(&args, &mut std::io::stdout()),
        Command::Probe(args) => probe::run(&args, &mut std::io::stdout()),
        Command::Pool(command) => pool::run(&command, &mut std::io::stdout()),
        Command::Serve(args) => serve::run(&args),
        Command::Policy(args) => policy::run(&args, &mut stdout()),
        Command::Rbac(args) => rbac::run(&args, &mut stdout()),
    }
}

#[cfg(test)]
mod deploy_tests {
    //! `deploy/platform-example.yaml` runs `leasebox serve` as a sidecar: its
    //! command line must be one this parser accepts.

    use super::*;

    const PLATFORM_EXAMPLE: &str = include_str!("../../deploy/platform-example.yaml");

    /// `command` then `args` of the example Deployment's `leasebox`
    /// container.
    fn sidecar_argv() -> Vec<String> {
        for doc in serde_yaml::Deserializer::from_str(PLATFORM_EXAMPLE) {
            let value: serde_yaml::Value = serde::Deserialize::deserialize(doc)
                .unwrap_or_else(|e| panic!("deploy/platform-example.yaml does not parse: {e}"));
            if value["kind"].as_str() != Some("Deployment") {
                continue;
            }
            let containers = value["spec"]["template"]["spec"]["containers"]
                .as_sequence()
                .cloned()
                .unwrap_or_default();
            let sidecar = containers
                .iter()
                .find(|c| c["name"].as_str() == Some("leasebox"))
                .expect("the Deployment has a container named leasebox");
            let strings = |key: &str| -> Vec<String> {
                sidecar[key]
                    .as_sequence()
                    .map(|items| {
                        items
                            .iter()
                            .map(|v| v.as_str().expect("a string argument").to_string())
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let mut argv = strings("command");
            argv.extend(strings("args"));
            return argv;
        }
        panic!("deploy/platform-example.yaml has no Deployment");
    }

    #[test]
    fn platform_example_sidecar_runs_serve_on_the_shared_socket() {
        let argv = sidecar_argv();
        assert_eq!(
            argv.first().map(String::as_str),
            Some("leasebox"),
            "{argv:?}"
        );
        let cli = Cli::try_parse_from(argv.clone()).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
        let Command::Serve(args) = cli.command else {
            panic!("{argv:?} is not `leasebox serve`");
        };
        assert_eq!(
            args.listen.as_deref(),
            Some("unix:/run/leasebox/serve.sock")
        );
        assert_eq!(
            args.host.settings.as_deref(),
            Some(std::path::Path::new("/etc/leasebox/settings.yaml"))
        );
    }
}
