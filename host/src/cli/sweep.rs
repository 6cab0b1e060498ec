//! `leasebox sweep`: releases every lease past its expiry.

use std::io::Write;
use std::time::Duration;

use super::cluster::{ClusterArgs, Session, refused, runtime_failed};
use super::exit::{CliError, Outcome};
use super::lease_args::now_rfc3339;
use super::validate::write_json;

/// Guest budget of a sweep (it deletes many objects).
const SWEEP_BUDGET: Duration = Duration::from_secs(600);

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
    let now = args.now.clone().unwrap_or_else(now_rfc3339);
    let report = session
        .policy
        .sweep(&session.env(SWEEP_BUDGET), &now, args.namespace.as_deref())
        .map_err(runtime_failed)?
        .map_err(refused)?;
    write_json(out, &crate::render::sweep_report(&report))?;
    Ok(Outcome::Success.code())
}
