//! `leasebox release --lease ID`: deletes a lease's objects.

use std::io::Write;

use serde_json::json;

use super::cluster::{LeaseTarget, Session, failed, object_name};
use super::exit::{CliError, Outcome};
use super::validate::write_json;
use crate::contract::{Lease, ReleaseReport};
use crate::lifecycle::{LifecycleError, Target};

/// Flags of `release`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The lease.
    #[command(flatten)]
    pub target: LeaseTarget,
}

/// Prints `{"deleted","alreadyGone"}`, or `{"released":false,
/// "alreadyGone":true}` when the lease does not exist; exit 0 either way.
pub fn run(args: &Args, out: &mut dyn Write) -> Result<u8, CliError> {
    let (session, lease) = args.target.resume()?;
    let lease = match lease {
        Ok(lease) => lease,
        Err(error) if error.is_lease_not_found() => {
            write_json(out, &json!({"released": false, "alreadyGone": true}))?;
            return Ok(Outcome::Success.code());
        }
        Err(other) => return Err(failed(other)),
    };
    let report = release(&session, &lease)?;
    write_json(out, &report_json(&report))?;
    Ok(Outcome::Success.code())
}

/// Calls `release-lease`, never cancelled: it is what runs after a
/// cancellation.
pub(super) fn release(session: &Session, lease: &Lease) -> Result<ReleaseReport, CliError> {
    let session = session.uncancelled();
    session
        .lifecycle()
        .release(&session.context(), lease)
        .map_err(failed)
}

pub(super) use crate::render::release_report as report_json;

/// Releases whatever exists of lease `id`, found again by its labels: after
/// an acquire that ended without the module's own rollback (a trap, the
/// call's timeout, Ctrl-C). One line on stderr either way.
pub(super) fn release_leftovers(session: &Session, id: &str) {
    let session = &session.uncancelled();
    let target = Target {
        lease_id: id.to_string(),
        namespace: None,
    };
    let lease = match session.lifecycle().resume(&session.context(), &target) {
        Ok(lease) => lease,
        Err(error) if error.is_lease_not_found() => return,
        Err(LifecycleError::Policy(error)) => {
            eprintln!(
                "error: cannot find lease {id} to release it: {:#}; run `leasebox sweep` or \
                 `leasebox release --lease {id}`",
                super::cluster::refused(*error).error
            );
            return;
        }
        Err(error) => {
            eprintln!(
                "error: cannot find lease {id} to release it: {error}; run `leasebox release \
                 --lease {id}`"
            );
            return;
        }
    };
    report_release(&lease, release(session, &lease));
}

/// One line on stderr about the release.
pub(super) fn report_release(lease: &Lease, result: Result<ReleaseReport, CliError>) {
    match result {
        Ok(report) => {
            let names = report.deleted.iter().map(object_name).collect::<Vec<_>>();
            eprintln!(
                "leasebox: released lease {} ({})",
                lease.id,
                if names.is_empty() {
                    report_json(&report)["alreadyGone"].to_string()
                } else {
                    names.join(", ")
                }
            );
        }
        Err(error) => eprintln!(
            "error: failed to release lease {}: {:#}; run `leasebox release --lease {} \
             --namespace {}`",
            lease.id, error.error, lease.id, lease.namespace
        ),
    }
}
