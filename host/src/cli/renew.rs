//! `leasebox renew --lease ID --ttl SECONDS`: moves a lease's deadline.

use std::io::Write;
use std::num::NonZeroU32;

use anyhow::anyhow;

use super::cluster::{LeaseTarget, failed, lease_json};
use super::exit::{CliError, Outcome};
use super::validate::write_json;

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
    let ttl = NonZeroU32::new(args.ttl)
        .ok_or_else(|| CliError::unusable(anyhow!("--ttl must be at least 1 second")))?;
    let (session, lease) = args.target.resume()?;
    let lease = lease.map_err(failed)?;
    let renewed = session
        .lifecycle()
        .renew(&session.context(), &lease, ttl, args.now.as_deref())
        .map_err(failed)?;
    write_json(out, &lease_json(&renewed))?;
    Ok(Outcome::Success.code())
}
