//! The lease records of `wit/types.wit`, as generated, and the one place a
//! [`Lease`] is built: [`from_workload`], which reads everything from the
//! workload object (its labels and annotations). Acquire, resume, renew,
//! list and status all go through it, so a new field of the WIT `lease`
//! record is filled here and nowhere else.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;
use serde_json::Value;

use crate::cluster::{Cluster, Level};
use crate::error::PolicyError;
use crate::{names, time};

pub use crate::bindings::exports::leasebox::provider::provider::{
    ProbeCheck, ProbeReport, ReleaseReport, SweepReport,
};
pub use crate::bindings::leasebox::provider::types::{
    Backend, Command, EnvVar, ExecRequest, ExecStatus, Lease, LeasePhase, LeaseRequest,
    LeaseStatus, ObjectRef,
};

impl ObjectRef {
    /// Reads the reference out of a Kubernetes object (JSON).
    pub fn of(object: &Value) -> Option<ObjectRef> {
        let meta = object.get("metadata")?;
        Some(ObjectRef {
            api_version: object.get("apiVersion")?.as_str()?.to_string(),
            kind: object.get("kind")?.as_str()?.to_string(),
            namespace: meta
                .get("namespace")
                .and_then(|n| n.as_str())
                .map(str::to_string),
            name: meta.get("name")?.as_str()?.to_string(),
            uid: meta.get("uid").and_then(|n| n.as_str()).map(str::to_string),
        })
    }

    /// `Kind/namespace/name`, for messages.
    pub fn display(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{}/{}", self.kind, ns, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }
}

impl From<crate::config::Backend> for Backend {
    fn from(b: crate::config::Backend) -> Backend {
        match b {
            crate::config::Backend::SandboxCr => Backend::SandboxCr,
            crate::config::Backend::Job => Backend::Job,
            crate::config::Backend::Pod => Backend::Pod,
        }
    }
}

impl ExecStatus {
    /// No exit code, no signal, nothing cut, no message: the base that a
    /// result is built on with `..ExecStatus::empty()`.
    pub const fn empty() -> ExecStatus {
        ExecStatus {
            exit_code: None,
            signal: None,
            timed_out: false,
            stdout_truncated: false,
            stderr_truncated: false,
            message: String::new(),
        }
    }
}

impl ReleaseReport {
    /// Nothing deleted yet.
    pub const fn empty() -> ReleaseReport {
        ReleaseReport {
            deleted: Vec::new(),
            already_gone: false,
        }
    }
}

impl SweepReport {
    /// Nothing swept yet.
    pub const fn empty() -> SweepReport {
        SweepReport {
            expired: Vec::new(),
            kept: 0,
        }
    }
}

/// Deadline assumed for a workload whose `expires-at` annotation is
/// missing or unreadable: the default `leaseMaxAgeSec`.
pub const FALLBACK_MAX_AGE_SEC: u64 = 86_400;

/// The typed `metadata` of an object (JSON); an error message when it does
/// not read as `ObjectMeta`.
pub(crate) fn metadata(object: &Value) -> Result<ObjectMeta, String> {
    let display = ObjectRef::of(object)
        .map(|r| r.display())
        .unwrap_or_else(|| "an object".into());
    ObjectMeta::deserialize(object.get("metadata").unwrap_or(&Value::Null))
        .map_err(|e| format!("the metadata of {display} does not read as ObjectMeta: {e}"))
}

/// A non-empty annotation.
pub(crate) fn annotation<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations
        .as_ref()?
        .get(key)
        .map(String::as_str)
        .filter(|s| !s.is_empty())
}

/// A non-empty label.
pub(crate) fn label<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.labels
        .as_ref()?
        .get(key)
        .map(String::as_str)
        .filter(|s| !s.is_empty())
}

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

/// A lease for tests: the `pod` backend, every text field filled from the
/// id, `module-sha256` empty.
#[cfg(any(test, feature = "fake-cluster"))]
pub fn for_tests(id: &str, backend: Backend, workload: ObjectRef, pod: &str) -> Lease {
    Lease {
        id: id.to_string(),
        namespace: workload.namespace.clone().unwrap_or_default(),
        backend,
        workload,
        pod: pod.to_string(),
        container: names::AGENT_CONTAINER.to_string(),
        secret: names::secret_name(id),
        company_id: "acme".into(),
        run_id: "run-1".into(),
        adapter_type: "claude-code".into(),
        image: "ghcr.io/acme/agent:1".into(),
        created_at: "2026-11-23T10:00:00Z".into(),
        expires_at: "2026-11-24T10:00:00Z".into(),
        module_sha256: String::new(),
    }
}
