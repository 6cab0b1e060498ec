//! resume: finds a lease again from its id alone (labels and annotations
//! on its workload), after a host restart. Also home of the workload
//! listing that `sweep` shares.

use k8s_openapi::Resource;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use super::conditions;
use super::step::{invalid_object, kube_failure};
use crate::cluster::{Cluster, KubeError, Level};
use crate::config::SandboxApiVersion;
use crate::error::PolicyError;
use crate::lease::{Backend, Lease, ObjectRef, metadata};
use crate::names;

/// A leasebox workload found in the cluster.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    /// Its backend.
    pub backend: Backend,
    /// The object.
    pub object: Value,
    /// Its metadata, typed.
    pub metadata: ObjectMeta,
}

pub(crate) fn being_deleted(found: &Found) -> bool {
    found.metadata.deletion_timestamp.is_some()
}

/// True for a pod owned by a Job or a Sandbox (found through its owner).
fn owned_by_workload(pod: &Found) -> bool {
    pod.metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.kind == Job::KIND || o.kind == crate::manifests::sandbox_cr::KIND)
}

/// Reads the metadata of each listed object; one that does not read is
/// left out with a warning (the API server never sends one).
fn found(
    cluster: &dyn Cluster,
    step: &str,
    backend: Backend,
    objects: Vec<Value>,
) -> impl Iterator<Item = Found> {
    objects
        .into_iter()
        .filter_map(move |object| match metadata(&object) {
            Ok(metadata) => Some(Found {
                backend,
                object,
                metadata,
            }),
            Err(message) => {
                cluster.log(Level::Warn, step, &format!("{message}; skipped"));
                None
            }
        })
}

/// Lists leasebox workloads matching `selector` in `namespace` (none: all)
/// across kinds: Sandboxes (v1beta1, or v1alpha1 when v1beta1 is not
/// served), Jobs, and Pods that are not owned by either. Objects being
/// deleted are left out.
pub(crate) fn list_workloads(
    cluster: &dyn Cluster,
    namespace: Option<&str>,
    selector: &str,
    step: &str,
) -> Result<Vec<Found>, PolicyError> {
    let mut found = list_all_workloads(cluster, namespace, selector, step)?;
    found.retain(|f| !being_deleted(f));
    Ok(found)
}

/// [`list_workloads`], objects being deleted included.
pub(crate) fn list_all_workloads(
    cluster: &dyn Cluster,
    namespace: Option<&str>,
    selector: &str,
    step: &str,
) -> Result<Vec<Found>, PolicyError> {
    let mut found = Vec::new();
    let kind = crate::manifests::sandbox_cr::KIND;
    let sandboxes = [SandboxApiVersion::V1beta1, SandboxApiVersion::V1alpha1]
        .into_iter()
        .find_map(
            |version| match cluster.list(version.api_version(), kind, namespace, selector) {
                Err(KubeError::NotFound(_)) => None,
                other => Some(other),
            },
        );
    match sandboxes {
        Some(Ok(list)) => found.extend(self::found(cluster, step, Backend::SandboxCr, list)),
        Some(Err(e)) => return Err(kube_failure(step, "listing Sandboxes", &e)),
        None => cluster.log(
            Level::Debug,
            step,
            "agent-sandbox is not installed (no Sandbox resource); skipping Sandboxes",
        ),
    }
    let jobs = cluster
        .list(Job::API_VERSION, Job::KIND, namespace, selector)
        .map_err(|e| kube_failure(step, "listing Jobs", &e))?;
    found.extend(self::found(cluster, step, Backend::Job, jobs));
    let pods = cluster
        .list(Pod::API_VERSION, Pod::KIND, namespace, selector)
        .map_err(|e| kube_failure(step, "listing Pods", &e))?;
    found.extend(self::found(cluster, step, Backend::Pod, pods).filter(|p| !owned_by_workload(p)));
    Ok(found)
}

/// The pod of a Job: the (newest) pod labelled `job-name=<job>`.
fn job_pod(
    cluster: &dyn Cluster,
    step: &str,
    namespace: &str,
    job: &str,
) -> Result<String, PolicyError> {
    let mut pods = cluster
        .list(
            Pod::API_VERSION,
            Pod::KIND,
            Some(namespace),
            &format!("job-name={job}"),
        )
        .map_err(|e| kube_failure(step, &format!("listing the pods of Job {job}"), &e))?
        .into_iter()
        .map(conditions::read::<Pod>)
        .collect::<Result<Vec<Pod>, String>>()
        .map_err(|m| invalid_object(step, m))?;
    pods.sort_by(|a, b| {
        a.metadata
            .creation_timestamp
            .cmp(&b.metadata.creation_timestamp)
    });
    match pods.last() {
        Some(pod) => Ok(conditions::name_of(&pod.metadata).to_string()),
        None => {
            cluster.log(
                Level::Warn,
                step,
                &format!("Job {job} has no pod (yet, or any more); execute will fail until it has"),
            );
            Ok(String::new())
        }
    }
}

/// Rebuilds a lease from its workload: finds the agent's pod (for a Job,
/// its newest pod) and reads the rest from the object.
pub(crate) fn lease_of(
    cluster: &dyn Cluster,
    step: &str,
    found: &Found,
) -> Result<Lease, PolicyError> {
    let object = &found.object;
    let workload = ObjectRef::of(object).ok_or_else(|| {
        PolicyError::step(
            step,
            "Invalid",
            "a workload has no apiVersion, kind or name".to_string(),
        )
    })?;
    let namespace = workload.namespace.clone().unwrap_or_default();
    let pod = match found.backend {
        Backend::Pod => workload.name.clone(),
        Backend::SandboxCr => {
            let sandbox =
                conditions::read_sandbox(object.clone()).map_err(|m| invalid_object(step, m))?;
            conditions::sandbox_pod_name(&sandbox.metadata)
        }
        Backend::Job => job_pod(cluster, step, &namespace, &workload.name)?,
    };
    super::recorded::from_workload(cluster, step, found.backend, object, pod)
}

/// See [`super::resume`].
pub(crate) fn resume(
    cluster: &dyn Cluster,
    lease_id: &str,
    namespace: Option<&str>,
) -> Result<Lease, PolicyError> {
    names::check_lease_id(lease_id)
        .map_err(|e| PolicyError::BadRequest(format!("lease id: {e}")))?;
    let selector = format!("{}={lease_id}", names::LABEL_LEASE);
    let found = list_workloads(cluster, namespace, &selector, "resume")?;
    let Some(first) = found.first() else {
        return Err(PolicyError::LeaseNotFound(format!(
            "no workload labelled {selector} in {}; it was released, swept, or never acquired",
            namespace.map_or("any namespace".to_string(), |ns| format!("namespace {ns}"))
        )));
    };
    if found.len() > 1 {
        // Two workloads claim one lease: one of them is not the lease the
        // host made. Acting on either (an exec with the caller's env, a
        // release) could reach the wrong one, so nothing is done.
        let all: Vec<String> = found
            .iter()
            .filter_map(|f| ObjectRef::of(&f.object).map(|r| r.display()))
            .collect();
        return Err(PolicyError::step(
            "resume",
            "Ambiguous",
            format!(
                "lease {lease_id} is claimed by {} workloads ({}): a lease id names exactly one \
                 workload, so nothing was done; an operator deletes the one that is not the \
                 lease's (its {} annotation names the module that made the real one)",
                found.len(),
                all.join(", "),
                "leasebox.dev/module-sha256"
            ),
        ));
    }
    let lease = lease_of(cluster, "resume", first)?;
    cluster.log(
        Level::Info,
        "resume",
        &format!(
            "lease {lease_id}: {} with pod {}",
            lease.workload.display(),
            lease.pod
        ),
    );
    Ok(lease)
}
