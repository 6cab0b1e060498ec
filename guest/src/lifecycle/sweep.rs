//! sweep: deletes every leasebox workload past its deadline (annotation
//! `leasebox.dev/expires-at`), with its Secret and workspace PVC, so a
//! missed release never leaks a sandbox for ever. Every delete is tried
//! even after one failed; the error names, as `left_behind`, each object
//! that is left.

use super::delete::{delete_lease_objects, lease_dependents};
use super::recorded::expires_at;
use super::resume::list_workloads;
use crate::cluster::{Cluster, KubeError, Level};
use crate::error::{Failure, PolicyError};
use crate::lease::{ObjectRef, SweepReport, label};
use crate::{names, time};

/// See [`super::sweep`].
pub(crate) fn sweep(
    cluster: &dyn Cluster,
    now: &str,
    namespace: Option<&str>,
) -> Result<SweepReport, PolicyError> {
    let now = time::parse(now).map_err(|e| PolicyError::BadRequest(format!("now: {e}")))?;
    let selector = format!(
        "{}={},{}",
        names::LABEL_MANAGED_BY,
        names::MANAGED_BY,
        names::LABEL_LEASE
    );
    let mut report = SweepReport::empty();
    let mut failed: Vec<(ObjectRef, KubeError)> = Vec::new();
    let mut owned_left: Vec<String> = Vec::new();
    for found in list_workloads(cluster, namespace, &selector, "sweep")? {
        let Some(workload) = ObjectRef::of(&found.object) else {
            continue;
        };
        let Some(deadline) = expires_at(cluster, &workload.display(), &found.metadata) else {
            report.kept += 1;
            continue;
        };
        if deadline > now {
            report.kept += 1;
            continue;
        }
        let lease_id = label(&found.metadata, names::LABEL_LEASE)
            .unwrap_or("")
            .to_string();
        // A lease id that is not one names no dependents: only the
        // workload is deleted.
        let dependents = match names::check_lease_id(&lease_id) {
            Ok(()) => lease_dependents(
                workload.namespace.clone(),
                &lease_id,
                names::secret_name(&lease_id),
                found.backend,
            ),
            Err(_) => Vec::new(),
        };
        // A workload listed a moment ago that is not found now is gone, as
        // is one that another object of its name has replaced.
        let left: Vec<(ObjectRef, KubeError)> =
            delete_lease_objects(cluster, &workload, dependents)
                .failed
                .into_iter()
                .map(|f| (f.object, f.error))
                .collect();
        if left.is_empty() {
            cluster.log(
                Level::Info,
                "sweep",
                &format!(
                    "deleted lease {lease_id} ({}), expired at {}",
                    workload.display(),
                    time::format(deadline)
                ),
            );
            report.expired.push(workload);
            continue;
        }
        for (object, e) in &left {
            cluster.log(
                Level::Error,
                "sweep",
                &format!(
                    "could not delete {} of expired lease {lease_id}: {}",
                    object.display(),
                    e.describe()
                ),
            );
        }
        if left.iter().any(|(object, _)| *object == workload) && !lease_id.is_empty() {
            owned_left.push(format!(
                "{} stays with what it owns (its egress policy {})",
                workload.display(),
                names::egress_policy_name(&lease_id)
            ));
        }
        failed.extend(left);
    }
    report
        .expired
        .extend(super::pool::sweep_idle(cluster, now, namespace)?);
    if failed.is_empty() {
        return Ok(report);
    }
    let reason = failed
        .first()
        .map(|(_, e)| e.reason())
        .unwrap_or("Failed")
        .to_string();
    let details: Vec<String> = failed
        .iter()
        .map(|(w, e)| format!("{} ({})", w.display(), e.describe()))
        .collect();
    Err(PolicyError::Failed(Failure {
        step: "sweep-delete".into(),
        reason,
        message: format!(
            "deleted {} expired lease(s), kept {}, could not delete {}{}; run sweep again",
            report.expired.len(),
            report.kept,
            details.join(", "),
            owned_left
                .iter()
                .map(|o| format!("; {o}"))
                .collect::<String>()
        ),
        rolled_back: Vec::new(),
        left_behind: failed.into_iter().map(|(w, _)| w).collect(),
    }))
}
