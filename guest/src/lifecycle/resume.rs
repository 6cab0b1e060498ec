//! resume: finds a lease again from its id alone (labels and annotations
//! on its workload), after a host restart. Also home of the workload
//! listing that `sweep` shares.

use k8s_openapi::Resource;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;

use super::conditions;
use super::{invalid_object, kube_failure};
use crate::cluster::{Cluster, KubeError, Level};
use crate::config::{Backend, SandboxApiVersion};
use crate::error::PolicyError;
use crate::lease::{Lease, ObjectRef};
use crate::{names, time};

/// Deadline assumed for a workload whose `expires-at` annotation is
/// missing or unreadable: the default `leaseMaxAgeSec`.
pub(crate) const FALLBACK_MAX_AGE_SEC: u64 = 86_400;

/// A leasebox workload found in the cluster.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    /// Its backend.
    pub backend: Backend,
    /// The object.
    pub object: Value,
}

fn annotation<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object["metadata"]["annotations"][key]
        .as_str()
        .filter(|s| !s.is_empty())
}

fn label<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object["metadata"]["labels"][key]
        .as_str()
        .filter(|s| !s.is_empty())
}

fn being_deleted(object: &Value) -> bool {
    object["metadata"]["deletionTimestamp"].is_string()
}

/// True for a pod owned by a Job or a Sandbox (found through its owner).
fn owned_by_workload(pod: &Value) -> bool {
    pod["metadata"]["ownerReferences"]
        .as_array()
        .is_some_and(|owners| {
            owners.iter().any(|o| {
                matches!(
                    o["kind"].as_str(),
                    Some(Job::KIND) | Some(crate::manifests::sandbox_cr::KIND)
                )
            })
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
        Some(Ok(list)) => found.extend(list.into_iter().map(|object| Found {
            backend: Backend::SandboxCr,
            object,
        })),
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
    found.extend(jobs.into_iter().map(|object| Found {
        backend: Backend::Job,
        object,
    }));
    let pods = cluster
        .list(Pod::API_VERSION, Pod::KIND, namespace, selector)
        .map_err(|e| kube_failure(step, "listing Pods", &e))?;
    found.extend(
        pods.into_iter()
            .filter(|p| !owned_by_workload(p))
            .map(|object| Found {
                backend: Backend::Pod,
                object,
            }),
    );
    found.retain(|f| !being_deleted(&f.object));
    Ok(found)
}

/// The deadline of a workload: its `expires-at` annotation, else its
/// creation time plus [`FALLBACK_MAX_AGE_SEC`] (with a warning).
pub(crate) fn expires_at(cluster: &dyn Cluster, object: &Value) -> Option<jiff::Timestamp> {
    let display = ObjectRef::of(object)
        .map(|r| r.display())
        .unwrap_or_else(|| "a workload".into());
    let annotated = annotation(object, names::ANNOTATION_EXPIRES_AT);
    if let Some(text) = annotated
        && let Ok(t) = time::parse(text)
    {
        return Some(t);
    }
    let created = object["metadata"]["creationTimestamp"]
        .as_str()
        .and_then(|c| time::parse(c).ok());
    let fallback = created.and_then(|c| {
        c.checked_add(jiff::SignedDuration::from_secs(FALLBACK_MAX_AGE_SEC as i64))
            .ok()
    });
    cluster.log(
        Level::Warn,
        "lease-deadline",
        &format!(
            "{display}: annotation {} is {}; {}",
            names::ANNOTATION_EXPIRES_AT,
            match annotated {
                Some(text) => format!("`{text}`, not an RFC 3339 time"),
                None => "missing".to_string(),
            },
            match fallback {
                Some(t) => format!(
                    "assuming creationTimestamp + {FALLBACK_MAX_AGE_SEC}s = {}",
                    time::format(t)
                ),
                None => "and it has no readable creationTimestamp either".to_string(),
            }
        ),
    );
    fallback
}

/// The agent container's image in a workload's pod spec.
fn agent_image(found: &Found) -> Option<String> {
    let spec = match found.backend {
        Backend::Pod => &found.object["spec"],
        Backend::Job => &found.object["spec"]["template"]["spec"],
        Backend::SandboxCr => &found.object["spec"]["podTemplate"]["spec"],
    };
    spec["containers"].as_array()?.iter().find_map(|c| {
        (c["name"].as_str() == Some(names::AGENT_CONTAINER))
            .then(|| c["image"].as_str().map(str::to_string))
            .flatten()
    })
}

/// The pod of a Job: the (newest) pod labelled `job-name=<job>`.
fn job_pod(cluster: &dyn Cluster, namespace: &str, job: &str) -> Result<String, PolicyError> {
    let mut pods = cluster
        .list(
            Pod::API_VERSION,
            Pod::KIND,
            Some(namespace),
            &format!("job-name={job}"),
        )
        .map_err(|e| kube_failure("resume", &format!("listing the pods of Job {job}"), &e))?
        .into_iter()
        .map(conditions::read::<Pod>)
        .collect::<Result<Vec<Pod>, String>>()
        .map_err(|m| invalid_object("resume", m))?;
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
                "resume",
                &format!("Job {job} has no pod (yet, or any more); execute will fail until it has"),
            );
            Ok(String::new())
        }
    }
}

/// Rebuilds a lease from its workload.
fn lease_of(cluster: &dyn Cluster, lease_id: &str, found: &Found) -> Result<Lease, PolicyError> {
    let object = &found.object;
    let workload = ObjectRef::of(object).ok_or_else(|| {
        PolicyError::step(
            "resume",
            "Invalid",
            format!("the workload of lease {lease_id} has no apiVersion, kind or name"),
        )
    })?;
    let namespace = workload.namespace.clone().unwrap_or_default();
    let pod = match found.backend {
        Backend::Pod => workload.name.clone(),
        Backend::SandboxCr => {
            let sandbox = conditions::read_sandbox(object.clone())
                .map_err(|m| invalid_object("resume", m))?;
            conditions::sandbox_pod_name(&sandbox.metadata)
        }
        Backend::Job => job_pod(cluster, &namespace, &workload.name)?,
    };
    let created_at = annotation(object, names::ANNOTATION_CREATED_AT)
        .or_else(|| object["metadata"]["creationTimestamp"].as_str())
        .unwrap_or("")
        .to_string();
    let expires_at = expires_at(cluster, object)
        .map(time::format)
        .unwrap_or_default();
    let text = |annotation_key: &str, label_key: &str| {
        annotation(object, annotation_key)
            .or_else(|| label(object, label_key))
            .unwrap_or("")
            .to_string()
    };
    Ok(Lease {
        id: lease_id.to_string(),
        namespace,
        backend: found.backend,
        pod,
        container: names::AGENT_CONTAINER.to_string(),
        secret: names::secret_name(lease_id),
        company_id: text(names::ANNOTATION_COMPANY_ID, names::LABEL_COMPANY_ID),
        run_id: text(names::ANNOTATION_RUN_ID, names::LABEL_RUN_ID),
        adapter_type: label(object, names::LABEL_ADAPTER)
            .unwrap_or("")
            .to_string(),
        image: annotation(object, names::ANNOTATION_IMAGE)
            .map(str::to_string)
            .or_else(|| agent_image(found))
            .unwrap_or_default(),
        created_at,
        expires_at,
        workload,
    })
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
        let all: Vec<String> = found
            .iter()
            .filter_map(|f| ObjectRef::of(&f.object).map(|r| r.display()))
            .collect();
        cluster.log(
            Level::Warn,
            "resume",
            &format!(
                "lease {lease_id} labels several workloads ({}); using the first",
                all.join(", ")
            ),
        );
    }
    let lease = lease_of(cluster, lease_id, first)?;
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
