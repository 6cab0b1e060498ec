//! `leasebox probe --config FILE`: can the cluster serve leases for this
//! configuration.

use super::cluster::{ClusterArgs, Session, failed};
use super::exit::{CliError, Outcome};
use super::module::read_config;
use super::validate::write_json;
use std::io::Write;
use std::path::PathBuf;

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
        .lifecycle()
        .probe(&session.context(), &config, &args.company_id)
        .map_err(failed)?;
    write_json(out, &crate::render::probe_report(&report))?;
    Ok(if report.ok {
        Outcome::Success
    } else {
        Outcome::Rejected
    }
    .code())
}
