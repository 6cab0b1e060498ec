//! renew-lease: moves a lease's deadline to `now` + ttl. The workload is
//! read, only its expiry annotation (and, for `sandbox-cr`, the Sandbox's
//! `spec.shutdownTime`) is changed, and the whole object is applied again:
//! the host's apply is server-side apply with force, so a partial manifest
//! would drop every field the same field manager owns.

use serde_json::Value;

use super::step::kube_failure;
use crate::cluster::{Cluster, DeleteOptions, Level, Propagation};
use crate::error::PolicyError;
use crate::lease::{Backend, Lease, ObjectRef};
use crate::{names, time};

/// The step name of every failure of renew.
pub(crate) const STEP_RENEW: &str = "renew-lease";

/// Metadata the server owns, left out of the re-applied object.
const SERVER_METADATA: [&str; 5] = [
    "managedFields",
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "generation",
];

fn uid_of(object: &Value) -> Option<&str> {
    object["metadata"]["uid"].as_str().filter(|u| !u.is_empty())
}

/// `object` as a manifest to apply again: no `status`, no server-owned
/// metadata.
pub(crate) fn reapplicable(mut object: Value) -> Value {
    if let Some(map) = object.as_object_mut() {
        map.remove("status");
    }
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in SERVER_METADATA {
            meta.remove(field);
        }
    }
    object
}

fn not_found(lease: &Lease, workload: &ObjectRef, why: &str) -> PolicyError {
    PolicyError::LeaseNotFound(format!(
        "lease {}: {} {why}; it was released or swept, acquire a new lease",
        lease.id,
        workload.display()
    ))
}

/// See [`super::renew`].
pub(crate) fn renew(
    cluster: &dyn Cluster,
    lease: &Lease,
    now: &str,
    ttl_seconds: u32,
) -> Result<Lease, PolicyError> {
    names::check_lease_id(&lease.id)
        .map_err(|e| PolicyError::BadRequest(format!("lease id: {e}")))?;
    let now = time::parse(now).map_err(|e| PolicyError::BadRequest(format!("now: {e}")))?;
    let expires_at = time::add_seconds(now, u64::from(ttl_seconds))
        .map_err(|e| PolicyError::BadRequest(format!("ttl-seconds: {e}")))?;
    let workload = ObjectRef {
        namespace: lease
            .workload
            .namespace
            .clone()
            .or_else(|| Some(lease.namespace.clone())),
        ..lease.workload.clone()
    };
    let object = cluster
        .get(&workload)
        .map_err(|e| kube_failure(STEP_RENEW, &format!("reading {}", workload.display()), &e))?
        .ok_or_else(|| not_found(lease, &workload, "does not exist"))?;
    let uid = uid_of(&object).unwrap_or_default().to_string();
    if let Some(want) = workload.uid.as_deref()
        && want != uid
    {
        return Err(not_found(
            lease,
            &workload,
            &format!("has uid {uid}, not the lease's {want}"),
        ));
    }
    if object["metadata"]["deletionTimestamp"].is_string() {
        return Err(not_found(lease, &workload, "is being deleted"));
    }

    let mut manifest = reapplicable(object);
    manifest["metadata"]["annotations"][names::ANNOTATION_EXPIRES_AT] =
        Value::String(expires_at.clone());
    if lease.backend == Backend::SandboxCr {
        manifest["spec"]["shutdownTime"] = Value::String(expires_at.clone());
    }
    let applied = cluster
        .apply(&manifest)
        .map_err(|e| kube_failure(STEP_RENEW, &format!("applying {}", workload.display()), &e))?;
    let applied_uid = uid_of(&applied).unwrap_or_default();
    if applied_uid != uid {
        // Deleted between the read and the apply: the apply made a new
        // object, which is not the lease's and goes again.
        let created = ObjectRef {
            uid: Some(applied_uid.to_string()),
            ..workload.clone()
        };
        let options = DeleteOptions {
            propagation: Propagation::Foreground,
            precondition_uid: created.uid.clone(),
            grace_period_seconds: Some(0),
        };
        if let Err(e) = cluster.delete(&created, &options) {
            cluster.log(
                Level::Error,
                STEP_RENEW,
                &format!(
                    "could not delete {} (uid {applied_uid}), which renew created by accident: \
                     {}; delete it by hand or run sweep",
                    created.display(),
                    e.describe()
                ),
            );
        }
        return Err(not_found(lease, &workload, "was deleted while renew ran"));
    }
    let renewed = super::recorded::from_workload(
        cluster,
        STEP_RENEW,
        lease.backend,
        &applied,
        lease.pod.clone(),
    )?;
    cluster.log(
        Level::Info,
        STEP_RENEW,
        &format!("lease {} now expires at {}", renewed.id, renewed.expires_at),
    );
    Ok(renewed)
}
