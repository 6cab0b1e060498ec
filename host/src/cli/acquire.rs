//! `leasebox acquire --config FILE`: creates a lease on the cluster and
//! prints it (JSON).

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use super::cluster::{ClusterArgs, Session, lease_json, refused, runtime_failed};
use super::exit::{CliError, Outcome};
use super::interrupt;
use super::lease_args::{LeaseArgs, now_rfc3339};
use super::module::read_config;
use super::release::release_leftovers;
use super::validate::{issues_json, report_json, write_json};
use crate::lease_id;
use crate::runtime::types::{Lease, PolicyError};

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
    /// The lease.
    Lease(Box<Lease>),
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
    let id = lease_id::mint().map_err(CliError::unusable)?;
    let (cancel, cleanup, leftover_id) = (session.cancel.clone(), session.clone(), id.clone());
    interrupt::watch(
        "an interrupted acquire is rolled back only by `leasebox sweep`",
        move || cancel.cancel(),
        move || release_leftovers(&cleanup, &leftover_id),
    );
    let acquired = acquire(&session, &config, &args.lease, &id, &args.command);
    if let Err(error) = &acquired
        && matches!(error.outcome, Outcome::Unusable | Outcome::Interrupted)
    {
        release_leftovers(&session, &id);
    }
    match acquired? {
        Acquired::Lease(lease) => {
            write_json(out, &lease_json(&lease))?;
            Ok(Outcome::Success.code())
        }
        Acquired::Invalid(report) => {
            write_json(out, &report)?;
            Ok(Outcome::Rejected.code())
        }
    }
}

/// Validates `config`, then calls `acquire-lease` for lease `id` within the
/// operator's call timeout (the module's own readiness budget,
/// `podReadyTimeoutSec`, may only be shorter).
pub(super) fn acquire(
    session: &Session,
    config: &str,
    lease: &LeaseArgs,
    id: &str,
    command: &[String],
) -> Result<Acquired, CliError> {
    let check_env = session.env(Duration::ZERO);
    let report = session
        .policy
        .validate_config(&check_env, config)
        .map_err(runtime_failed)?;
    if !report.ok {
        return Ok(Acquired::Invalid(report_json(&report)?));
    }
    let request = lease.request(config.to_string(), id, now_rfc3339(), command);
    let env = session.env(session.settings.guest.call_timeout);
    match session
        .policy
        .acquire_lease(&env, &request)
        .map_err(runtime_failed)?
    {
        Ok(lease) => Ok(Acquired::Lease(Box::new(lease))),
        Err(PolicyError::InvalidConfig(errors)) => Ok(Acquired::Invalid(serde_json::json!({
            "ok": false,
            "errors": issues_json(&errors),
            "warnings": [],
            "normalizedConfig": null,
        }))),
        Err(other) => Err(refused(other)),
    }
}
