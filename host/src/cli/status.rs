//! `leasebox status --lease ID`: where one lease is in its life.

use std::io::Write;
use std::time::Duration;

use super::cluster::{LeaseTarget, Session, refused, runtime_failed};
use super::exit::{CliError, Outcome};
use super::validate::write_json;

/// Time a status read may take, host I/O included.
const STATUS_BUDGET: Duration = Duration::from_secs(60);

/// Flags of `status`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The lease.
    #[command(flatten)]
    pub target: LeaseTarget,
}

/// Prints `{"phase","ready","message","lease"}` (JSON); exit 1 when the
/// lease does not exist.
pub fn run(args: &Args, out: &mut dyn Write) -> Result<u8, CliError> {
    let session = Session::open(&args.target.cluster)?;
    let status = session
        .policy
        .lease_status(
            &session.env(STATUS_BUDGET),
            &args.target.lease,
            args.target.namespace.as_deref(),
        )
        .map_err(runtime_failed)?
        .map_err(refused)?;
    write_json(out, &crate::render::lease_status(&status))?;
    Ok(Outcome::Success.code())
}
