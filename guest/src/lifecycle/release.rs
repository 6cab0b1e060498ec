//! release: the workload (uid precondition; a Pod with Background
//! propagation, a Sandbox or Job with Foreground), its Secret and,
//! for `pod`/`job`, its workspace PVC. Releasing a lease that is gone is
//! success. Every delete is tried even after one failed; the error then
//! names, as `left_behind`, each object that is left.

use super::delete::{WorkloadDelete, delete_lease_objects, lease_dependents};
use super::step::kube_failure;
use crate::cluster::{Cluster, Level};
use crate::error::PolicyError;
use crate::lease::{Lease, ObjectRef, ReleaseReport};
use crate::names;

/// See [`super::release`].
pub(crate) fn release(cluster: &dyn Cluster, lease: &Lease) -> Result<ReleaseReport, PolicyError> {
    names::check_lease_id(&lease.id)
        .map_err(|e| PolicyError::BadRequest(format!("lease id: {e}")))?;
    let mut report = ReleaseReport::empty();

    let workload = ObjectRef {
        namespace: lease
            .workload
            .namespace
            .clone()
            .or_else(|| Some(lease.namespace.clone())),
        ..lease.workload.clone()
    };
    let secret = if lease.secret.is_empty() {
        names::secret_name(&lease.id)
    } else {
        lease.secret.clone()
    };
    let dependents = lease_dependents(
        Some(lease.namespace.clone()),
        &lease.id,
        secret,
        lease.backend,
    );
    let deletion = delete_lease_objects(cluster, &workload, dependents);
    report.deleted = deletion.deleted;
    let mut failed = deletion.failed;
    match deletion.workload {
        WorkloadDelete::Deleted | WorkloadDelete::Failed => {}
        WorkloadDelete::AlreadyGone => report.already_gone = true,
        WorkloadDelete::OtherUid(message) => {
            cluster.log(
                Level::Warn,
                "release",
                &format!(
                    "{} has another uid than the lease's ({message}); the lease's workload is \
                     gone, the other object is left alone",
                    workload.display()
                ),
            );
            report.already_gone = true;
        }
        // The lease names its workload: a "not found" error is no proof
        // that it is gone.
        WorkloadDelete::NotFound(not_found) => failed.insert(0, not_found),
    }
    let failures: Vec<(ObjectRef, PolicyError)> = failed
        .into_iter()
        .map(|f| {
            let what = format!("deleting {}", f.object.display());
            let error = kube_failure(&f.step, &what, &f.error);
            (f.object, error)
        })
        .collect();
    if !failures.is_empty() {
        return Err(release_failed(lease, &workload, &report, failures));
    }
    let deleted: Vec<String> = report.deleted.iter().map(ObjectRef::display).collect();
    cluster.log(
        Level::Info,
        "release",
        &format!(
            "lease {}: deleted {}{}",
            lease.id,
            if deleted.is_empty() {
                "nothing".to_string()
            } else {
                deleted.join(", ")
            },
            if report.already_gone {
                " (the workload was already gone)"
            } else {
                ""
            }
        ),
    );
    Ok(report)
}

/// The error of a release whose deletes failed: the first failure's step
/// and reason, every failure in the message, and as `left_behind` each
/// object whose delete failed. A workload that stays keeps what it owns
/// (its egress policy), which the message names too.
fn release_failed(
    lease: &Lease,
    workload: &ObjectRef,
    report: &ReleaseReport,
    failures: Vec<(ObjectRef, PolicyError)>,
) -> PolicyError {
    let mut parts = Vec::new();
    let mut left_behind = Vec::new();
    let mut first: Option<PolicyError> = None;
    for (object, error) in failures {
        // The first failure's step and reason head the error; the others
        // follow in its message.
        parts.push(match (&error, first.is_none()) {
            (PolicyError::Failed(f) | PolicyError::Cancelled(f), true) => f.message.clone(),
            (PolicyError::Failed(f) | PolicyError::Cancelled(f), false) => {
                format!("also {} failed ({}): {}", f.step, f.reason, f.message)
            }
            (other, _) => other.describe(),
        });
        left_behind.push(object);
        first.get_or_insert(error);
    }
    let mut message = parts.join("; ");
    if left_behind.iter().any(|o| o == workload) {
        message.push_str(&format!(
            "; {} stays with what it owns (its egress policy {})",
            workload.display(),
            names::egress_policy_name(&lease.id)
        ));
    }
    if !report.deleted.is_empty() {
        let deleted: Vec<String> = report.deleted.iter().map(ObjectRef::display).collect();
        message.push_str(&format!("; deleted {}", deleted.join(", ")));
    }
    message.push_str(&format!(
        "; run `leasebox release --lease {}` again",
        lease.id
    ));
    let wrap = |mut failure: crate::error::Failure| {
        failure.message = message.clone();
        failure.left_behind = left_behind.clone();
        failure
    };
    match first {
        Some(PolicyError::Cancelled(f)) => PolicyError::Cancelled(wrap(f)),
        Some(PolicyError::Failed(f)) => PolicyError::Failed(wrap(f)),
        _ => PolicyError::Failed(wrap(crate::error::Failure::new(
            "release",
            "Failed",
            String::new(),
        ))),
    }
}
