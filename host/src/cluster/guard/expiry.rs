//! What a sweep may delete: the objects of leases past their deadline. The
//! deadline is the workload's `leasebox.dev/expires-at` annotation (set at
//! acquire, moved by renew); a sweep's `now` is the host's.

use jiff::Timestamp;
use serde_json::Value;

use super::{GuardedCluster, lease_of, str_at};
use crate::cluster::grants::LEASE_LABEL;
use crate::contract::KubeError;
use crate::locks::lock;

/// The annotation holding a lease's deadline (RFC 3339) on its workload.
pub const EXPIRES_AT_ANNOTATION: &str = "leasebox.dev/expires-at";

/// The workload kinds a lease's label may sit on, with the apiVersions
/// they are served at (a Sandbox's version the cluster does not serve is
/// skipped).
const WORKLOADS: [(&str, &str); 4] = [
    ("v1", "Pod"),
    ("batch/v1", "Job"),
    ("agents.x-k8s.io/v1beta1", "Sandbox"),
    ("agents.x-k8s.io/v1alpha1", "Sandbox"),
];

/// True when a workload is past its deadline by `now`, or already being
/// deleted. A workload without a readable deadline has not expired.
pub fn workload_expired(object: &Value, now: Timestamp) -> bool {
    if object.pointer("/metadata/deletionTimestamp").is_some() {
        return true;
    }
    object
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(EXPIRES_AT_ANNOTATION))
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<Timestamp>().ok())
        .is_some_and(|deadline| deadline <= now)
}

/// True for a pod a Job or a Sandbox runs (its owner carries the deadline).
fn run_by_a_workload(pod: &Value) -> bool {
    pod.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|owners| {
            owners
                .iter()
                .any(|o| matches!(str_at(o, "/kind"), Some("Job" | "Sandbox")))
        })
}

impl GuardedCluster {
    /// True when lease `lease` in `namespace` has expired by `now`: every
    /// workload carrying its label is past its deadline, being deleted, or
    /// gone. Read once per lease and call.
    pub(super) fn lease_expired(
        &self,
        namespace: &str,
        lease: &str,
        now: Timestamp,
    ) -> Result<bool, KubeError> {
        let key = (namespace.to_string(), lease.to_string());
        if let Some(known) = lock(&self.expired).get(&key) {
            return Ok(*known);
        }
        let selector = format!("{LEASE_LABEL}={lease}");
        let mut expired = true;
        for (api_version, kind) in WORKLOADS {
            let items = match self
                .inner
                .list(api_version, kind, Some(namespace), &selector)
            {
                Ok(items) => items,
                Err(KubeError::NotFound(_)) => continue,
                Err(other) => return Err(other),
            };
            for item in items {
                let Ok(object) = serde_json::from_str::<Value>(&item) else {
                    continue;
                };
                if lease_of(&object) != Some(lease) || (kind == "Pod" && run_by_a_workload(&object))
                {
                    continue;
                }
                expired &= workload_expired(&object, now);
            }
        }
        lock(&self.expired).insert(key, expired);
        Ok(expired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_workload_expires_at_its_deadline_or_when_it_is_being_deleted() {
        let now: Timestamp = "2026-12-07T10:00:00Z".parse().expect("time");
        let at = |t: &str| json!({"metadata":{"annotations":{EXPIRES_AT_ANNOTATION: t}}});
        assert!(workload_expired(&at("2026-12-07T09:59:59Z"), now));
        assert!(!workload_expired(&at("2026-12-07T10:00:01Z"), now));
        assert!(!workload_expired(&json!({"metadata":{}}), now));
        assert!(workload_expired(
            &json!({"metadata":{"deletionTimestamp":"2026-12-07T09:00:00Z"}}),
            now
        ));
    }
}
