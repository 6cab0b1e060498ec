//! `leasebox upload`: unpack a tar stream from stdin into a lease's sandbox
//! (`realize-workspace`), streamed over exec stdin: no base64, no argv, no
//! size limit but the caller's. The way back is `exec -- tar -c -C DIR .`.

use super::cluster::{LeaseTarget, failed};
use super::exec::exit_code;
use super::exit::CliError;

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
    let lease = lease.map_err(failed)?;
    let result = session
        .lifecycle()
        .upload(&session.context(), &lease, Some(&args.path))
        .map_err(failed)?;
    Ok(exit_code(&result))
}
