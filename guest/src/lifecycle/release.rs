//! release: the workload (Foreground, uid precondition), its Secret and,
//! for `pod`/`job`, its workspace PVC. Releasing a lease that is gone is
//! success.

use super::kube_failure;
use crate::cluster::{Cluster, DeleteOptions, KubeError, Level, Propagation};
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
    let options = DeleteOptions {
        propagation: Propagation::Foreground,
        precondition_uid: workload.uid.clone(),
        grace_period_seconds: None,
    };
    match cluster.delete(&workload, &options) {
        Ok(true) => report.deleted.push(workload.clone()),
        Ok(false) => report.already_gone = true,
        // The uid precondition failed: the object by that name is not this
        // lease's workload, which is therefore gone.
        Err(KubeError::Conflict(message)) => {
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
        Err(e) => {
            return Err(kube_failure(
                &format!("delete-{}", workload.kind.to_ascii_lowercase()),
                &format!("deleting {}", workload.display()),
                &e,
            ));
        }
    }

    let secret = if lease.secret.is_empty() {
        names::secret_name(&lease.id)
    } else {
        lease.secret.clone()
    };
    let dependents = super::lease_dependents(
        Some(lease.namespace.clone()),
        &lease.id,
        secret,
        lease.backend,
    );
    for dependent in dependents {
        match cluster.delete(&dependent, &super::DEPENDENT_DELETE) {
            Ok(true) => report.deleted.push(dependent),
            Ok(false) | Err(KubeError::NotFound(_)) => {}
            Err(e) => {
                return Err(kube_failure(
                    &format!("delete-{}", dependent.kind.to_ascii_lowercase()),
                    &format!("deleting {}", dependent.display()),
                    &e,
                ));
            }
        }
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
