//! The tenant's shared objects on acquire (Namespace, ServiceAccount, RBAC,
//! quota, limits, deny-all policy; and removal of the 0.1 tenant-wide
//! egress policies).
//!
//! Applying them on every acquire costs about ten sequential API calls
//! before the workload can start. Instead, once they are converged the
//! Namespace carries [`names::ANNOTATION_TENANT_APPLIED`]: the SHA-256 of
//! the objects as rendered and the time of that convergence. An acquire
//! reads the Namespace (one call) and converges only when the objects it
//! renders differ from the recorded ones (a configuration or module
//! change), when the record is older than [`RECONVERGE_AFTER_SEC`] (so an
//! object deleted or edited by hand comes back within that time), or when
//! there is no record. The record is written last: a convergence that
//! fails halfway leaves no record of itself, and its first write (the
//! Namespace, applied without the record) removes the previous one.
//!
//! Tenant objects are shared by the tenant's leases and never rolled back.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::step::{apply_step, kube_failure};
use crate::cluster::{Cluster, DeleteOptions, KubeError, Level, Propagation};
use crate::error::PolicyError;
use crate::lease::ObjectRef;
use crate::manifests::{self, Context, cilium_policy};
use crate::{names, time};

/// The step name of deleting the 0.1 tenant-wide egress policies.
pub(crate) const STEP_DELETE_LEGACY_EGRESS: &str = "delete-legacy-egress-policy";

/// The step name of writing the convergence record on the Namespace.
pub(crate) const STEP_RECORD: &str = "record-tenant";

/// Age after which a recorded convergence is done again.
pub(crate) const RECONVERGE_AFTER_SEC: i64 = 600;

/// Makes sure the tenant objects of `ctx` are in place: nothing to do when
/// the Namespace records a recent convergence of the same objects,
/// otherwise every object is applied, the legacy policies are deleted and
/// the record is written.
pub(crate) fn ensure(cluster: &dyn Cluster, ctx: &Context) -> Result<(), PolicyError> {
    let objects = manifests::tenant_objects(ctx);
    let digest = fingerprint(&objects);
    match recorded(cluster, &ctx.namespace) {
        Some(record) if record.is_current(&digest, &ctx.now) => {
            cluster.log(
                Level::Debug,
                "acquire",
                &format!(
                    "tenant objects of {} unchanged since {}; not applied again",
                    ctx.namespace, record.at
                ),
            );
            return Ok(());
        }
        Some(record) if record.digest != digest => cluster.log(
            Level::Info,
            "acquire",
            &format!(
                "tenant objects of {} changed since {}; applying them",
                ctx.namespace, record.at
            ),
        ),
        _ => {}
    }
    for object in &objects {
        apply(cluster, object)?;
    }
    delete_legacy_egress_policies(cluster, ctx)?;
    let Some(mut namespace) = objects
        .iter()
        .find(|o| o.get("kind").and_then(Value::as_str) == Some("Namespace"))
        .cloned()
    else {
        return Ok(());
    };
    set_record(&mut namespace, &format!("{digest} {}", ctx.now));
    cluster.apply(&namespace).map_err(|e| {
        kube_failure(
            STEP_RECORD,
            &format!(
                "recording the converged tenant objects on Namespace {}",
                ctx.namespace
            ),
            &e,
        )
    })?;
    Ok(())
}

/// The SHA-256 (hex) of the tenant objects as rendered.
pub(crate) fn fingerprint(objects: &[Value]) -> String {
    let mut hasher = Sha256::new();
    for object in objects {
        hasher.update(object.to_string().as_bytes());
        hasher.update(b"\n");
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A convergence recorded on the Namespace.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Record {
    digest: String,
    at: String,
}

impl Record {
    /// Parses the annotation's value (`<sha256> <RFC 3339 time>`).
    fn parse(value: &str) -> Option<Record> {
        let (digest, at) = value.split_once(' ')?;
        (digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit())).then(|| Record {
            digest: digest.to_string(),
            at: at.trim().to_string(),
        })
    }

    /// Whether this record is of `digest` and younger than
    /// [`RECONVERGE_AFTER_SEC`] at `now` (a time in the future, from
    /// another host's clock, counts as its distance from `now`).
    fn is_current(&self, digest: &str, now: &str) -> bool {
        let (Ok(at), Ok(now)) = (time::parse(&self.at), time::parse(now)) else {
            return false;
        };
        let age = now.as_second().saturating_sub(at.as_second()).abs();
        self.digest == digest && age < RECONVERGE_AFTER_SEC
    }
}

/// The record on Namespace `namespace`; none when the Namespace does not
/// exist, has no (readable) record, or cannot be read (then converging
/// reports the failure with its own step).
fn recorded(cluster: &dyn Cluster, namespace: &str) -> Option<Record> {
    let target = ObjectRef {
        api_version: "v1".into(),
        kind: "Namespace".into(),
        namespace: None,
        name: namespace.to_string(),
        uid: None,
    };
    match cluster.get(&target) {
        Ok(found) => found.as_ref().and_then(record_of),
        Err(e) => {
            cluster.log(
                Level::Debug,
                "acquire",
                &format!(
                    "could not read Namespace {namespace} ({}); applying the tenant objects",
                    e.describe()
                ),
            );
            None
        }
    }
}

fn record_of(namespace: &Value) -> Option<Record> {
    namespace
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(names::ANNOTATION_TENANT_APPLIED))
        .and_then(Value::as_str)
        .and_then(Record::parse)
}

fn set_record(namespace: &mut Value, value: &str) {
    let Some(metadata) = namespace.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let annotations = metadata.entry("annotations").or_insert_with(|| json!({}));
    if let Some(annotations) = annotations.as_object_mut() {
        annotations.insert(
            names::ANNOTATION_TENANT_APPLIED.into(),
            Value::String(value.into()),
        );
    }
}

fn apply(cluster: &dyn Cluster, object: &Value) -> Result<(), PolicyError> {
    let step = apply_step(object);
    let what = ObjectRef::of(object)
        .map(|r| r.display())
        .unwrap_or_else(|| "a tenant object".into());
    cluster
        .apply(object)
        .map(|_| ())
        .map_err(|e| kube_failure(&step, &format!("applying {what}"), &e))
}

/// Deletes the tenant-wide egress policies of 0.1 (both modes): allows
/// are a union, so a broad policy selecting every agent pod of the tenant
/// must not survive next to the per-lease ones.
fn delete_legacy_egress_policies(cluster: &dyn Cluster, ctx: &Context) -> Result<(), PolicyError> {
    let options = DeleteOptions {
        propagation: Propagation::Background,
        precondition_uid: None,
        grace_period_seconds: None,
    };
    for legacy in manifests::legacy_egress_policies(ctx) {
        match cluster.delete(&legacy, &options) {
            Ok(true) => cluster.log(
                Level::Info,
                "acquire",
                &format!(
                    "deleted the tenant-wide egress policy {} (egress is per lease since 0.2)",
                    legacy.display()
                ),
            ),
            Ok(false) | Err(KubeError::NotFound(_)) => {}
            // A cluster without Cilium does not serve the kind, and a host
            // that may not touch it cannot have created one.
            Err(e @ (KubeError::Forbidden(_) | KubeError::Denied(_)))
                if legacy.kind == cilium_policy::KIND =>
            {
                let message = e.describe();
                cluster.log(
                    Level::Warn,
                    "acquire",
                    &format!(
                        "could not check for a tenant-wide {} ({message}); grant delete on it if \
                         Cilium was ever used here",
                        legacy.display()
                    ),
                );
            }
            Err(e) => {
                return Err(kube_failure(
                    STEP_DELETE_LEGACY_EGRESS,
                    &format!("deleting {}", legacy.display()),
                    &e,
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn a_record_is_a_digest_and_a_time() {
        let record = Record::parse(&format!("{DIGEST} 2026-11-30T10:00:00Z")).expect("parses");
        assert_eq!(record.digest, DIGEST);
        assert_eq!(record.at, "2026-11-30T10:00:00Z");
        assert_eq!(Record::parse("not-a-digest 2026-11-30T10:00:00Z"), None);
        assert_eq!(Record::parse(DIGEST), None);
    }

    #[test]
    fn a_record_is_current_for_the_same_objects_within_the_age_limit() {
        let record = Record::parse(&format!("{DIGEST} 2026-11-30T10:00:00Z")).expect("parses");
        assert!(record.is_current(DIGEST, "2026-11-30T10:09:59Z"));
        assert!(
            !record.is_current(DIGEST, "2026-11-30T10:10:00Z"),
            "too old"
        );
        assert!(
            !record.is_current(&DIGEST.replace('0', "f"), "2026-11-30T10:00:01Z"),
            "other objects"
        );
        assert!(
            record.is_current(DIGEST, "2026-11-30T09:59:00Z"),
            "a clock a minute behind"
        );
        assert!(
            !record.is_current(DIGEST, "2026-11-30T09:40:00Z"),
            "a record far in the future is not trusted"
        );
    }

    #[test]
    fn a_record_with_an_unreadable_time_is_never_current() {
        let record = Record::parse(&format!("{DIGEST} yesterday")).expect("parses");
        assert!(!record.is_current(DIGEST, "2026-11-30T10:00:00Z"));
    }
}
