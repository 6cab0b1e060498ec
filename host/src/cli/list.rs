//! `leasebox list`: the leases found in the cluster.

use std::io::Write;
use std::time::Duration;

use serde_json::Value;

use super::cluster::{ClusterArgs, Session, lease_json, refused, runtime_failed};
use super::exit::{CliError, Outcome};
use super::validate::write_json;

/// Time a list may take (one list per workload kind), host I/O included.
const LIST_BUDGET: Duration = Duration::from_secs(60);

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
        .policy
        .list_leases(
            &session.env(LIST_BUDGET),
            args.company_id.as_deref(),
            args.namespace.as_deref(),
        )
        .map_err(runtime_failed)?
        .map_err(refused)?;
    write_json(out, &Value::Array(leases.iter().map(lease_json).collect()))?;
    Ok(Outcome::Success.code())
}
