//! list-leases: every workload carrying the lease labels (across the three
//! backends, as resume and sweep find them), of one company or all, oldest
//! first.

use super::resume::{Found, lease_of, list_workloads};
use crate::cluster::{Cluster, Level};
use crate::error::PolicyError;
use crate::lease::{Lease, annotation, label};
use crate::{names, time};

/// The step name of list-leases.
pub(crate) const STEP_LIST: &str = "list-leases";

/// True when the workload belongs to `company_id`: its raw company id
/// annotation, or (without one) its company label.
fn of_company(found: &Found, company_id: &str) -> bool {
    match annotation(&found.metadata, names::ANNOTATION_COMPANY_ID) {
        Some(raw) => raw == company_id,
        None => label(&found.metadata, names::LABEL_COMPANY_ID)
            .is_some_and(|l| l == names::label_value(company_id)),
    }
}

/// See [`super::list_leases`].
pub(crate) fn list_leases(
    cluster: &dyn Cluster,
    company_id: Option<&str>,
    namespace: Option<&str>,
) -> Result<Vec<Lease>, PolicyError> {
    let selector = format!(
        "{}={},{}",
        names::LABEL_MANAGED_BY,
        names::MANAGED_BY,
        names::LABEL_LEASE
    );
    let mut leases = Vec::new();
    for found in list_workloads(cluster, namespace, &selector, STEP_LIST)? {
        if company_id.is_some_and(|c| !of_company(&found, c)) {
            continue;
        }
        match lease_of(cluster, STEP_LIST, &found) {
            Ok(lease) => leases.push(lease),
            Err(PolicyError::Failed(f)) if f.reason == "Invalid" => cluster.log(
                Level::Warn,
                STEP_LIST,
                &format!(
                    "skipped a workload that is not a readable lease: {}",
                    f.message
                ),
            ),
            Err(e) => return Err(e),
        }
    }
    leases.sort_by(|a, b| {
        // Unreadable creation times last.
        let key = |l: &Lease| {
            let created = time::parse(&l.created_at).ok();
            (created.is_none(), created)
        };
        key(a).cmp(&key(b)).then_with(|| a.id.cmp(&b.id))
    });
    Ok(leases)
}
