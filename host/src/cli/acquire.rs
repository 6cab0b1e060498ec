//! `leasebox acquire --config FILE`: creates a lease on the cluster and
//! prints it (JSON).

use std::io::Write;
use std::path::PathBuf;

use serde_json::Value;

use super::cluster::{ClusterArgs, Session, failed, refused};
use super::exit::{CliError, Outcome};
use super::interrupt;
use super::lease_args::LeaseArgs;
use super::module::read_config;
use super::release::release_leftovers;
use super::validate::{invalid_report, write_json};
use crate::contract::PolicyError;
use crate::lifecycle::{Acquisition, LeaseSpec, LifecycleError, mint_lease_id};

/// Flags of `acquire`.
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
    /// The command a `job` backend runs (after `--`).
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// How an acquire ended without a runtime failure.
pub(super) enum Acquired {
    /// The lease, and whether it came from the warm pool.
    Lease(Box<Acquisition>),
    /// The configuration is invalid: the validate-style report.
    Invalid(Value),
}

/// Prints the lease; exit 1 with the validation report when the
/// configuration is invalid, 1 when the policy refused, 2 when it could not
/// run, 130 after Ctrl-C (the module rolled back). After a runtime failure
/// (a trap, the call's timeout, a cancelled call past its grace period) the
/// module had no chance to roll back: whatever exists of the lease is
/// released.
pub fn run(args: &Args, out: &mut dyn Write) -> Result<u8, CliError> {
    let config = read_config(&args.config)?;
    let session = Session::open(&args.cluster)?;
    let id = mint_lease_id().map_err(failed)?;
    let (cancel, cleanup, leftover_id) = (session.cancel.clone(), session.clone(), id.clone());
    interrupt::watch(
        "an interrupted acquire is rolled back only by `leasebox sweep`",
        move || cancel.cancel(),
        move || release_leftovers(&cleanup, &leftover_id),
    );
    let spec = args.lease.spec(config, &args.command);
    let acquired = acquire(&session, &spec, &id);
    if let Err(error) = &acquired
        && matches!(error.outcome, Outcome::Unusable | Outcome::Interrupted)
    {
        release_leftovers(&session, &id);
    }
    match acquired? {
        Acquired::Lease(acquired) => {
            write_json(out, &acquired.to_json())?;
            out.flush().ok();
            refill(&session, &spec);
            Ok(Outcome::Success.code())
        }
        Acquired::Invalid(report) => {
            write_json(out, &report)?;
            Ok(Outcome::Rejected.code())
        }
    }
}

/// Calls `acquire-lease` for lease `id`. A configuration the module calls
/// invalid is answered with its validation report (errors and warnings),
/// as `validate` prints it.
pub(super) fn acquire(session: &Session, spec: &LeaseSpec, id: &str) -> Result<Acquired, CliError> {
    match session.lifecycle().acquire(&session.context(), spec, id) {
        Ok(acquired) => Ok(Acquired::Lease(Box::new(acquired))),
        Err(LifecycleError::Policy(refusal)) => match *refusal {
            PolicyError::InvalidConfig(errors) => Ok(Acquired::Invalid(invalid_report(
                session,
                &spec.config,
                &errors,
            )?)),
            other => Err(refused(other)),
        },
        Err(other) => Err(failed(other)),
    }
}

/// With pools on, brings the pool of `spec` back to its size after the
/// lease is printed (an acquire from the pool took a pod of it; a cold one
/// found it short). A failure is reported, never the acquire's.
fn refill(session: &Session, spec: &LeaseSpec) {
    let lifecycle = session.lifecycle();
    if !lifecycle.pools_on() {
        return;
    }
    if let Err(error) = lifecycle.ensure_pool(&session.context(), spec) {
        eprintln!("leasebox: the warm pool was not refilled: {error}");
    }
}
