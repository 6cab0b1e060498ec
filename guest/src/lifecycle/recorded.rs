//! The lease recorded on a workload: [`from_workload`], the one place a
//! [`Lease`] is built, reads every field from the workload object (its
//! labels and annotations), and [`expires_at`] its deadline. Acquire,
//! resume, renew, list and status all go through it, so a new field of the
//! WIT `lease` record is filled here and nowhere else.
//!
//! It is the lifecycle's, not the records' (`lease.rs`): a missing or
//! unreadable deadline is logged through the [`Cluster`].

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use crate::cluster::{Cluster, Level};
use crate::error::PolicyError;
use crate::lease::{Backend, Lease, ObjectRef, annotation, label, metadata};
use crate::{names, time};

/// Deadline assumed for a workload whose `expires-at` annotation is
/// missing or unreadable: the default `leaseMaxAgeSec`.
pub const FALLBACK_MAX_AGE_SEC: u64 = 86_400;

/// The deadline of a workload: its `expires-at` annotation, else its
/// creation time plus [`FALLBACK_MAX_AGE_SEC`] (with a warning).
/// `display` names the workload in the warning.
pub(crate) fn expires_at(
    cluster: &dyn Cluster,
    display: &str,
    meta: &ObjectMeta,
) -> Option<jiff::Timestamp> {
    let annotated = annotation(meta, names::ANNOTATION_EXPIRES_AT);
    if let Some(text) = annotated
        && let Ok(t) = time::parse(text)
    {
        return Some(t);
    }
    let created = meta.creation_timestamp.as_ref().map(|t| t.0);
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
fn agent_image(backend: Backend, object: &Value) -> Option<String> {
    let spec = match backend {
        Backend::Pod => &object["spec"],
        Backend::Job => &object["spec"]["template"]["spec"],
        Backend::SandboxCr => &object["spec"]["podTemplate"]["spec"],
    };
    spec["containers"].as_array()?.iter().find_map(|c| {
        (c["name"].as_str() == Some(names::AGENT_CONTAINER))
            .then(|| c["image"].as_str().map(str::to_string))
            .flatten()
    })
}

/// The lease recorded on a workload object (as stored: with its uid),
/// whose agent runs in `pod`. The one constructor of [`Lease`]: every field
/// is read from the object's labels and annotations (`step` names the
/// lifecycle step in errors).
pub fn from_workload(
    cluster: &dyn Cluster,
    step: &str,
    backend: Backend,
    object: &Value,
    pod: String,
) -> Result<Lease, PolicyError> {
    let meta = metadata(object).map_err(|m| PolicyError::step(step, "Invalid", m))?;
    let id = label(&meta, names::LABEL_LEASE).unwrap_or("").to_string();
    let workload = ObjectRef::of(object).ok_or_else(|| {
        PolicyError::step(
            step,
            "Invalid",
            format!("the workload of lease {id} has no apiVersion, kind or name"),
        )
    })?;
    names::check_lease_id(&id).map_err(|e| {
        PolicyError::step(
            step,
            "Invalid",
            format!(
                "{} has no valid {} label ({e})",
                workload.display(),
                names::LABEL_LEASE
            ),
        )
    })?;
    let created_at = annotation(&meta, names::ANNOTATION_CREATED_AT)
        .map(str::to_string)
        .or_else(|| meta.creation_timestamp.as_ref().map(|t| time::format(t.0)))
        .unwrap_or_default();
    let expires_at = expires_at(cluster, &workload.display(), &meta)
        .map(time::format)
        .unwrap_or_default();
    let text = |annotation_key: &str, label_key: &str| {
        annotation(&meta, annotation_key)
            .or_else(|| label(&meta, label_key))
            .unwrap_or("")
            .to_string()
    };
    Ok(Lease {
        namespace: workload.namespace.clone().unwrap_or_default(),
        backend,
        pod,
        container: names::AGENT_CONTAINER.to_string(),
        secret: names::secret_name(&id),
        company_id: text(names::ANNOTATION_COMPANY_ID, names::LABEL_COMPANY_ID),
        run_id: text(names::ANNOTATION_RUN_ID, names::LABEL_RUN_ID),
        adapter_type: label(&meta, names::LABEL_ADAPTER).unwrap_or("").to_string(),
        image: annotation(&meta, names::ANNOTATION_IMAGE)
            .map(str::to_string)
            .or_else(|| agent_image(backend, object))
            .unwrap_or_default(),
        created_at,
        expires_at,
        module_sha256: annotation(&meta, names::ANNOTATION_MODULE_SHA256)
            .unwrap_or("")
            .to_string(),
        workload,
        id,
    })
}
