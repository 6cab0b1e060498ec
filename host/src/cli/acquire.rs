//! `leasebox acquire --config FILE`: creates a lease on the cluster and
//! prints it (JSON).

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use super::cluster::{ClusterArgs, Session, lease_json, refused, runtime_failed};
use super::exit::{CliError, Outcome};
use super::lease_args::{LeaseArgs, now_rfc3339};
use super::module::read_config;
use super::validate::{issues_json, report_json, write_json};
use crate::lease_id;
use crate::runtime::types::{Lease, PolicyError};

/// Pod-ready timeout assumed when the normalized configuration has none.
const DEFAULT_POD_READY_TIMEOUT_SEC: u64 = 300;

/// Slack added to the pod-ready timeout for the rest of acquire.
const ACQUIRE_SLACK: Duration = Duration::from_secs(60);

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
/// run.
pub fn run(args: &Args, out: &mut dyn Write) -> Result<u8, CliError> {
    let config = read_config(&args.config)?;
    let session = Session::open(&args.cluster, Some(&config))?;
    let id = lease_id::mint().map_err(CliError::unusable)?;
    match acquire(&session, &config, &args.lease, &id, &args.command)? {
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

/// Validates `config`, then calls `acquire-lease` for lease `id` with a
/// guest budget of the pod-ready timeout plus a minute.
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
    let timeout = report
        .normalized_config
        .as_deref()
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
        .and_then(|c| c.get("podReadyTimeoutSec").and_then(Value::as_u64))
        .unwrap_or(DEFAULT_POD_READY_TIMEOUT_SEC);
    let request = lease.request(config.to_string(), id, now_rfc3339(), command);
    let env = session.env(Duration::from_secs(timeout) + ACQUIRE_SLACK);
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
