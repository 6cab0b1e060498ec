//! `leasebox status --lease ID`: where one lease is in its life.

use std::io::Write;
use std::time::Duration;

use serde_json::json;

use super::cluster::{LeaseTarget, Session, lease_json, refused, runtime_failed};
use super::exit::{CliError, Outcome};
use super::validate::write_json;
use crate::runtime::types::{LeasePhase, LeaseStatus};

/// Time a status read may take, host I/O included.
const STATUS_BUDGET: Duration = Duration::from_secs(60);

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
        .policy
        .lease_status(
            &session.env(STATUS_BUDGET),
            &args.target.lease,
            args.target.namespace.as_deref(),
        )
        .map_err(runtime_failed)?
        .map_err(refused)?;
    write_json(out, &status_json(&status))?;
    Ok(Outcome::Success.code())
}

/// `pending`, `ready`, `finished`, `failed` or `terminating`.
pub fn phase_name(phase: LeasePhase) -> &'static str {
    match phase {
        LeasePhase::Pending => "pending",
        LeasePhase::Ready => "ready",
        LeasePhase::Finished => "finished",
        LeasePhase::Failed => "failed",
        LeasePhase::Terminating => "terminating",
    }
}

fn status_json(status: &LeaseStatus) -> serde_json::Value {
    json!({
        "phase": phase_name(status.phase),
        "ready": status.ready,
        "message": status.message,
        "lease": lease_json(&status.lease),
    })
}
