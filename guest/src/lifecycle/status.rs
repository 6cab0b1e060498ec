//! get-lease-status: where a lease is in its life, read from the cluster
//! with the policy's readiness hook ([`Hooks::pod_readiness`], by default
//! the typed predicates of [`super::conditions`]): a
//! workload being deleted is `terminating`, a Job that ended `finished`, a
//! pod with a fail-fast reason `failed`, a ready agent `ready`, anything
//! else `pending`.

use k8s_openapi::Resource;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;

use super::conditions::{self, JobOutcome, Readiness};
use super::resume::{Found, being_deleted, lease_of, list_all_workloads};
use super::step::{invalid_object, kube_failure};
use crate::cluster::{Cluster, Level};
use crate::error::PolicyError;
use crate::hooks::Hooks;
use crate::lease::{Backend, Lease, LeasePhase, LeaseStatus, ObjectRef};
use crate::{names, time};

/// The step name of get-lease-status.
pub(crate) const STEP_STATUS: &str = "lease-status";

/// See [`super::lease_status`].
pub(crate) fn lease_status(
    hooks: &dyn Hooks,
    cluster: &dyn Cluster,
    lease_id: &str,
    namespace: Option<&str>,
) -> Result<LeaseStatus, PolicyError> {
    names::check_lease_id(lease_id)
        .map_err(|e| PolicyError::BadRequest(format!("lease id: {e}")))?;
    let selector = format!("{}={lease_id}", names::LABEL_LEASE);
    let found = list_all_workloads(cluster, namespace, &selector, STEP_STATUS)?;
    // A live workload wins over one on its way out.
    let Some(first) = found
        .iter()
        .find(|f| !being_deleted(f))
        .or_else(|| found.first())
    else {
        return Err(PolicyError::LeaseNotFound(format!(
            "no workload labelled {selector} in {}; it was released, swept, or never acquired",
            namespace.map_or("any namespace".to_string(), |ns| format!("namespace {ns}"))
        )));
    };
    let lease = lease_of(cluster, STEP_STATUS, first)?;
    let (phase, message) = phase(hooks, cluster, &lease, first)?;
    cluster.log(
        Level::Debug,
        STEP_STATUS,
        &format!("lease {lease_id}: {phase:?} {message}"),
    );
    Ok(LeaseStatus {
        ready: phase == LeasePhase::Ready,
        phase,
        message,
        lease,
    })
}

fn phase(
    hooks: &dyn Hooks,
    cluster: &dyn Cluster,
    lease: &Lease,
    found: &Found,
) -> Result<(LeasePhase, String), PolicyError> {
    if let Some(at) = &found.metadata.deletion_timestamp {
        return Ok((
            LeasePhase::Terminating,
            format!(
                "{} is being deleted (since {})",
                lease.workload.display(),
                time::format(at.0)
            ),
        ));
    }
    if lease.backend == Backend::Job {
        let job = conditions::read::<Job>(found.object.clone())
            .map_err(|m| invalid_object(STEP_STATUS, m))?;
        match conditions::job_finished(&job) {
            Some(JobOutcome::Complete) => {
                return Ok((LeasePhase::Finished, "Job Complete".to_string()));
            }
            Some(JobOutcome::Failed { reason, message }) => {
                return Ok((
                    LeasePhase::Finished,
                    format!("Job Failed: {reason}: {message}")
                        .trim_end_matches([' ', ':'])
                        .to_string(),
                ));
            }
            None => {}
        }
    }
    let Some(pod) = read_pod(cluster, lease)? else {
        return Ok((
            LeasePhase::Pending,
            if lease.pod.is_empty() {
                "no pod yet".to_string()
            } else {
                format!("pod {} does not exist (yet)", lease.pod)
            },
        ));
    };
    let readiness = hooks.pod_readiness(lease.backend, &pod);
    Ok(match readiness {
        Readiness::Ready => (LeasePhase::Ready, String::new()),
        Readiness::Failed { reason, message } => {
            (LeasePhase::Failed, format!("{reason}: {message}"))
        }
        Readiness::Pending => (
            LeasePhase::Pending,
            format!("pod {}: {}", lease.pod, conditions::pod_summary(&pod)),
        ),
    })
}

/// The lease's pod, none when it has none or the pod is gone.
fn read_pod(cluster: &dyn Cluster, lease: &Lease) -> Result<Option<Pod>, PolicyError> {
    if lease.pod.is_empty() {
        return Ok(None);
    }
    let target = ObjectRef {
        api_version: Pod::API_VERSION.into(),
        kind: Pod::KIND.into(),
        namespace: Some(lease.namespace.clone()),
        name: lease.pod.clone(),
        uid: None,
    };
    cluster
        .get(&target)
        .map_err(|e| kube_failure(STEP_STATUS, &format!("reading pod {}", lease.pod), &e))?
        .map(conditions::read::<Pod>)
        .transpose()
        .map_err(|m| invalid_object(STEP_STATUS, m))
}
