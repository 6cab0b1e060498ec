//! `leasebox run --config FILE -- CMD...`: acquire, execute, release; the
//! lease is released on every path, Ctrl-C and SIGTERM included (the first
//! cancels the call in flight, then the lease is released and the run exits
//! 130; a second one releases at once).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::acquire::{Acquired, acquire};
use super::cluster::{ClusterArgs, Session, failed};
use super::exec::{ExecArgs, exit_code};
use super::exit::{CliError, Outcome};
use super::interrupt;
use super::lease_args::LeaseArgs;
use super::module::read_config;
use super::release::{release, release_leftovers, report_release};
use super::validate::write_json;
use crate::contract::Lease;
use crate::lifecycle::mint_lease_id;
use crate::locks::lock;

/// Flags of `run`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The configuration file (JSON).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// What the lease is for.
    #[command(flatten)]
    pub lease: LeaseArgs,
    /// The cluster and the policy module.
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// The command (also a `job` backend's command) and how it runs.
    #[command(flatten)]
    pub exec: ExecArgs,
}

/// What must be released, shared with the signal handler.
#[derive(Default)]
struct Cleanup {
    /// The lease, once acquired.
    lease: Option<Lease>,
    /// Set by whoever releases first.
    done: bool,
}

type Shared = Arc<Mutex<Cleanup>>;

/// Runs the command in a fresh lease; returns its exit code.
pub fn run(args: &Args) -> Result<u8, CliError> {
    let command = args.exec.spec()?;
    let config = read_config(&args.config)?;
    let session = Session::open(&args.cluster)?;
    let id = mint_lease_id().map_err(failed)?;
    let shared: Shared = Arc::default();
    let (cancel, cleanup, leftover_id, leftover) = (
        session.cancel.clone(),
        session.clone(),
        id.clone(),
        shared.clone(),
    );
    interrupt::watch(
        "an interrupted run leaves its lease behind until `leasebox sweep`",
        move || cancel.cancel(),
        move || release_by_id(&cleanup, &leftover_id, &leftover),
    );

    let argv = match &command.command {
        crate::contract::Command::Argv(argv) => argv.clone(),
        crate::contract::Command::Shell(script) => {
            vec!["sh".into(), "-lc".into(), script.clone()]
        }
    };
    let spec = args.lease.spec(config, &argv);
    let lease = match acquire(&session, &spec, &id) {
        Ok(Acquired::Lease(acquired)) => acquired.lease,
        Ok(Acquired::Invalid(report)) => {
            write_json(&mut std::io::stdout().lock(), &report)?;
            return Ok(Outcome::Rejected.code());
        }
        Err(error) => {
            // A policy refusal or a cancellation was rolled back by the
            // module; after a trap, anything it created is found by id and
            // released.
            if matches!(error.outcome, Outcome::Unusable | Outcome::Interrupted) {
                release_by_id(&session, &id, &shared);
            }
            return Err(error);
        }
    };
    eprintln!(
        "leasebox: lease {} in namespace {}",
        lease.id, lease.namespace
    );
    lock(&shared).lease = Some(lease.clone());

    let executed = session
        .lifecycle()
        .exec(&session.context(), lease.clone(), &command)
        .map_err(failed);

    release_once(&session, &lease, &shared);
    executed.map(|result| exit_code(&result))
}

/// Releases `lease` unless the signal handler already did (or is doing:
/// then it ends the process while this thread waits for the lock).
fn release_once(session: &Session, lease: &Lease, shared: &Shared) {
    let mut cleanup = lock(shared);
    if cleanup.done {
        return;
    }
    cleanup.done = true;
    report_release(lease, release(session, lease));
}

/// Releases whatever exists of lease `id` (found by its labels).
fn release_by_id(session: &Session, id: &str, shared: &Shared) {
    let mut cleanup = lock(shared);
    if cleanup.done {
        return;
    }
    cleanup.done = true;
    match cleanup.lease.clone() {
        Some(lease) => report_release(&lease, release(session, &lease)),
        None => release_leftovers(session, id),
    }
}
