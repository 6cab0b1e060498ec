//! Where the contract-0.3 calls exec: the lease's own pod and agent
//! container, as `execute` does. A `job` lease has a sandbox only while
//! its Job's pod runs: terminals, detached processes and files exec into
//! that pod then, and fail with a clear `NotRunning` once its command has
//! ended (`execute` follows the Job's log instead, and needs no pod).

use k8s_openapi::Resource;
use k8s_openapi::api::core::v1::Pod;

use super::conditions;
use super::execute::check_lease;
use super::step::{invalid_object, kube_failure};
use crate::cluster::Cluster;
use crate::error::PolicyError;
use crate::lease::{Backend, Lease, ObjectRef};

/// Checks the lease names a pod and container and, for a `job` lease,
/// that its pod runs.
pub(crate) fn ensure_exec_target(
    cluster: &dyn Cluster,
    lease: &Lease,
    step: &str,
) -> Result<(), PolicyError> {
    check_lease(lease)?;
    if lease.backend != Backend::Job {
        return Ok(());
    }
    let pod_ref = ObjectRef {
        api_version: Pod::API_VERSION.into(),
        kind: Pod::KIND.into(),
        namespace: Some(lease.namespace.clone()),
        name: lease.pod.clone(),
        uid: None,
    };
    let pod = cluster
        .get(&pod_ref)
        .map_err(|e| kube_failure(step, &format!("reading pod {}", lease.pod), &e))?
        .ok_or_else(|| {
            PolicyError::step(
                step,
                "PodGone",
                format!(
                    "lease {}: the pod {} of its Job is gone, so there is nothing to exec into",
                    lease.id, lease.pod
                ),
            )
        })?;
    let pod = conditions::read::<Pod>(pod).map_err(|m| invalid_object(step, m))?;
    let phase = conditions::pod_phase(&pod);
    if phase != "Running" {
        return Err(PolicyError::step(
            step,
            "NotRunning",
            format!(
                "lease {}: the pod {} of its Job is {phase}, not Running: a job lease can be \
                 reached only while its command runs; use the sandbox-cr or pod backend for a \
                 sandbox that stays",
                lease.id, lease.pod
            ),
        ));
    }
    Ok(())
}
