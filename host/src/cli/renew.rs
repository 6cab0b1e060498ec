//! `leasebox renew --lease ID --ttl SECONDS`: moves a lease's deadline.

use std::io::Write;
use std::time::Duration;

use super::cluster::{LeaseTarget, lease_json, refused, runtime_failed};
use super::exit::{CliError, Outcome};
use super::lease_args::now_rfc3339;
use super::validate::write_json;

/// Time a renew may take (a read and an apply), host I/O included.
const RENEW_BUDGET: Duration = Duration::from_secs(60);

/// Flags of `renew`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Seconds from now until the new deadline (> 0).
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u32).range(1..))]
    pub ttl: u32,
    /// Current time (RFC 3339, UTC); default: now.
    #[arg(long, value_name = "RFC3339")]
    pub now: Option<String>,
    /// The lease.
    #[command(flatten)]
    pub target: LeaseTarget,
}

/// Prints the lease with its new `expiresAt` (JSON).
pub fn run(args: &Args, out: &mut dyn Write) -> Result<u8, CliError> {
    let (session, lease) = args.target.resume()?;
    let lease = lease.map_err(refused)?;
    let now = args.now.clone().unwrap_or_else(now_rfc3339);
    let renewed = session
        .policy
        .renew_lease(&session.env(RENEW_BUDGET), &lease, &now, args.ttl)
        .map_err(runtime_failed)?
        .map_err(refused)?;
    write_json(out, &lease_json(&renewed))?;
    Ok(Outcome::Success.code())
}
