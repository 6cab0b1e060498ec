//! `leasebox list`: the leases found in the cluster.

use serde_json::Value;
use std::io::Write;

use super::cluster::{ClusterArgs, Session, failed, lease_json};
use super::exit::{CliError, Outcome};
use super::validate::write_json;

/// Flags of `list`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Only this company's leases; default: every company's.
    #[arg(long, value_name = "ID")]
    pub company_id: Option<String>,
    /// Only this namespace; default: every namespace.
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
    /// The cluster and the policy module.
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// Prints a JSON array of leases, oldest first.
pub fn run(args: &Args, out: &mut dyn Write) -> Result<u8, CliError> {
    let session = Session::open(&args.cluster)?;
    let leases = session
        .lifecycle()
        .list(
            &session.context(),
            args.company_id.as_deref(),
            args.namespace.as_deref(),
        )
        .map_err(failed)?;
    write_json(out, &Value::Array(leases.iter().map(lease_json).collect()))?;
    Ok(Outcome::Success.code())
}
