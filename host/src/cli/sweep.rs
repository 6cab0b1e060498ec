//! `leasebox sweep`: releases every lease past its expiry.

use super::cluster::{ClusterArgs, Session, failed};
use super::exit::{CliError, Outcome};
use super::validate::write_json;
use std::io::Write;

/// Flags of `sweep`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Current time (RFC 3339, UTC); default: now.
    #[arg(long, value_name = "RFC3339")]
    pub now: Option<String>,
    /// Sweep only this namespace; default: every leasebox namespace.
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
    /// The cluster and the policy module.
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// Prints `{"expired":[objects],"kept":N}`.
pub fn run(args: &Args, out: &mut dyn Write) -> Result<u8, CliError> {
    let session = Session::open(&args.cluster)?;
    let report = session
        .lifecycle()
        .sweep(
            &session.context(),
            args.now.as_deref(),
            args.namespace.as_deref(),
        )
        .map_err(failed)?;
    write_json(out, &crate::render::sweep_report(&report))?;
    Ok(Outcome::Success.code())
}
