//! `leasebox pool ensure --config FILE`: brings a tenant's warm pool to the
//! size its configuration asks for (`warmPool.size`, capped by the host
//! settings `pools`), ahead of the acquires that take from it.

use std::io::Write;
use std::path::PathBuf;

use super::cluster::{ClusterArgs, Session, failed};
use super::exit::{CliError, Outcome};
use super::module::read_config;
use super::validate::write_json;
use crate::lifecycle::LeaseSpec;

/// What `pool` does.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum PoolCommand {
    /// Delete stale pool pods and start the missing ones; print what the
    /// pool holds (JSON). Waits for no pod to become ready.
    Ensure(EnsureArgs),
}

/// Flags of `pool ensure`.
#[derive(Debug, Clone, clap::Args)]
pub struct EnsureArgs {
    /// The configuration file (JSON); its `warmPool.size` sizes the pool.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Tenant identifier; selects the tenant namespace.
    #[arg(long, value_name = "ID", default_value = "default")]
    pub company_id: String,
    /// The pool's adapter, overriding `adapterType`.
    #[arg(long, value_name = "TYPE")]
    pub adapter_type: Option<String>,
    /// The pool's image; must match `imageAllowList`.
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
    /// The cluster and the policy module.
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// Runs `pool <command>`.
pub fn run(command: &PoolCommand, out: &mut dyn Write) -> Result<u8, CliError> {
    match command {
        PoolCommand::Ensure(args) => ensure(args, out),
    }
}

/// Prints `{"namespace","pool","size","ready","starting","created",
/// "replaced"}`; exit 0.
fn ensure(args: &EnsureArgs, out: &mut dyn Write) -> Result<u8, CliError> {
    let config = read_config(&args.config)?;
    let session = Session::open(&args.cluster)?;
    let spec = LeaseSpec {
        config,
        company_id: args.company_id.clone(),
        adapter_type: args.adapter_type.clone(),
        image: args.image.clone(),
        ..LeaseSpec::default()
    };
    let report = session
        .lifecycle()
        .ensure_pool(&session.context(), &spec)
        .map_err(failed)?;
    write_json(out, &crate::render::pool_report(&report))?;
    Ok(Outcome::Success.code())
}
