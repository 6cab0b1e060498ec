//! `leasebox upload`: unpack a tar stream from stdin into a lease's sandbox
//! (`realize-workspace`), streamed over exec stdin: no base64, no argv, no
//! size limit but the caller's. The way back is `exec -- tar -c -C DIR .`.

use std::time::Duration;

use super::cluster::{LeaseTarget, refused, runtime_failed};
use super::exec::exit_code;
use super::exit::CliError;

/// Time an upload may take, host I/O included.
const UPLOAD_BUDGET: Duration = Duration::from_secs(24 * 3600);

/// Flags of `upload`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The lease.
    #[command(flatten)]
    pub target: LeaseTarget,
    /// Directory in the sandbox to unpack into (absolute).
    #[arg(long, value_name = "DIR", default_value = "/workspace")]
    pub path: String,
}

/// Resumes the lease and unpacks stdin; returns `tar`'s exit code.
pub fn run(args: &Args) -> Result<u8, CliError> {
    let (session, lease) = args.target.resume()?;
    let lease = lease.map_err(refused)?;
    let result = session
        .policy
        .realize_workspace(&session.exec_env(UPLOAD_BUDGET), &lease, Some(&args.path))
        .map_err(runtime_failed)?
        .map_err(refused)?;
    Ok(exit_code(&result))
}
