//! `leasebox run --config FILE -- CMD...`: acquire, execute, release; the
//! lease is released on every path, Ctrl-C and SIGTERM included.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use super::acquire::{Acquired, acquire};
use super::cluster::{ClusterArgs, Session, refused, runtime_failed};
use super::exec::{ExecArgs, exit_code};
use super::exit::{CliError, Outcome};
use super::lease_args::LeaseArgs;
use super::module::read_config;
use super::release::{release, release_leftovers, report_release};
use super::validate::write_json;
use crate::lease_id;
use crate::runtime::types::Lease;

/// Exit code after Ctrl-C or SIGTERM (128 + SIGINT, as shells report it).
const INTERRUPTED_CODE: i32 = 130;

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
    let command = args.exec.command()?;
    let config = read_config(&args.config)?;
    let session = Session::open(&args.cluster)?;
    let id = lease_id::mint().map_err(CliError::unusable)?;
    let shared: Shared = Arc::default();
    watch_signals(session.clone(), id.clone(), shared.clone());

    let argv = match &command {
        crate::runtime::types::Command::Argv(argv) => argv.clone(),
        crate::runtime::types::Command::Shell(script) => {
            vec!["sh".into(), "-lc".into(), script.clone()]
        }
    };
    let lease = match acquire(&session, &config, &args.lease, &id, &argv) {
        Ok(Acquired::Lease(lease)) => *lease,
        Ok(Acquired::Invalid(report)) => {
            write_json(&mut std::io::stdout().lock(), &report)?;
            return Ok(Outcome::Rejected.code());
        }
        Err(error) => {
            // A policy refusal was rolled back by the module; after a trap,
            // anything it created is found by id and released.
            if error.outcome == Outcome::Unusable {
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

    let request = args.exec.request(lease.clone(), command);
    let scoped = session.scoped_to_lease(&lease.id);
    let executed = scoped
        .policy
        .execute(&scoped.exec_env(args.exec.budget()), &request)
        .map_err(runtime_failed)
        .and_then(|result| result.map_err(refused));

    release_once(&session, &lease, &shared);
    executed.map(|result| exit_code(&result))
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Cleanup> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
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

/// On SIGINT or SIGTERM: release the lease (or whatever exists of it) and
/// exit 130. Runs on its own thread with its own small runtime.
fn watch_signals(session: Session, id: String, shared: Shared) {
    let spawned = std::thread::Builder::new()
        .name("leasebox-signals".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    eprintln!(
                        "warning: cannot watch for Ctrl-C ({error}); an interrupted run leaves \
                         lease {id} behind until `leasebox sweep`"
                    );
                    return;
                }
            };
            let signal = runtime.block_on(wait_for_signal());
            if let Err(error) = signal {
                eprintln!(
                    "warning: cannot watch for Ctrl-C ({error}); an interrupted run leaves \
                     lease {id} behind until `leasebox sweep`"
                );
                return;
            }
            eprintln!("leasebox: interrupted; releasing lease {id}");
            release_by_id(&session, &id, &shared);
            std::process::exit(INTERRUPTED_CODE);
        });
    if let Err(error) = spawned {
        eprintln!("warning: cannot watch for Ctrl-C: {error}");
    }
}

/// Waits for SIGINT or SIGTERM.
#[cfg(unix)]
async fn wait_for_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result,
        _ = terminate.recv() => Ok(()),
    }
}

/// Waits for Ctrl-C.
#[cfg(not(unix))]
async fn wait_for_signal() -> std::io::Result<()> {
    tokio::signal::ctrl_c().await
}
