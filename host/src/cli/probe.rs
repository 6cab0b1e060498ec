//! `leasebox probe --config FILE`: can the cluster serve leases for this
//! configuration.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use super::cluster::{ClusterArgs, Session, refused, runtime_failed};
use super::exit::{CliError, Outcome};
use super::module::read_config;
use super::validate::write_json;

/// Guest budget of a probe.
const PROBE_BUDGET: Duration = Duration::from_secs(120);

/// Flags of `probe`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The configuration file (JSON).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Tenant identifier; selects the tenant namespace.
    #[arg(long, value_name = "ID", default_value = "default")]
    pub company_id: String,
    /// The cluster and the policy module.
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// Prints `{"ok","checks":[{"name","ok","detail"}]}`; exit 0 when ok, 1
/// when not.
pub fn run(args: &Args, out: &mut dyn Write) -> Result<u8, CliError> {
    let config = read_config(&args.config)?;
    let session = Session::open(&args.cluster)?;
    let report = session
        .policy
        .probe(&session.env(PROBE_BUDGET), &config, &args.company_id)
        .map_err(runtime_failed)?
        .map_err(refused)?;
    write_json(out, &crate::render::probe_report(&report))?;
    Ok(if report.ok {
        Outcome::Success
    } else {
        Outcome::Rejected
    }
    .code())
}
