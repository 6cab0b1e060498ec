//! `leasebox status --lease ID`: where one lease is in its life.

use super::cluster::{LeaseTarget, Session, failed};
use super::exit::{CliError, Outcome};
use super::validate::write_json;
use std::io::Write;

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
        .lifecycle()
        .status(&session.context(), &args.target.target())
        .map_err(failed)?;
    write_json(out, &crate::render::lease_status(&status))?;
    Ok(Outcome::Success.code())
}
