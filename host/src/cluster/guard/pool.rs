//! Warm pools through the guard: who may make, claim and delete a pool pod.
//!
//! - **Create** (`ensure-pool` only, a call for a company and no lease):
//!   a Pod carrying the pool label ([`POOL_LABEL`]) and no lease label,
//!   inside the pod profile with no Secret reference at all (a pool pod
//!   belongs to no lease, so no Secret is its own), stamped with the
//!   company and module marks, and only while the tenant holds fewer
//!   unclaimed pool pods than the operator's cap (`pools`, passed in the
//!   call's scope).
//! - **Claim** (`claim-lease`, a call for a company about a lease): one
//!   server-side apply of the pod's metadata alone, conditional on its
//!   `resourceVersion`, of an unclaimed pool pod of the call's company made
//!   by the calling module. The host stamps the lease mark: from then on
//!   the pod is that lease's, and nothing else's.
//! - **Delete** of a pod in a pool call: unclaimed pool pods only.
//!
//! An unclaimed pool pod carries no lease label, so exec and logs into it
//! are refused like any pod that is not a lease's (`exec-target`).

use serde_json::Value;

use super::marks::{self, Marks};
use super::rule::Rule;
use super::{GuardedCluster, MODULE_ANNOTATION, has_owner_label, lease_of, str_at, target_of};
use crate::cluster::grants::{LEASE_LABEL, POOL_LABEL};
use crate::cluster::manifest::Manifest;
use crate::contract::{KubeError, ObjectRef};

/// The fields a claim may write: the pod's identity, the version it was
/// read at, labels and annotations.
const CLAIM_METADATA: [&str; 5] = [
    "name",
    "namespace",
    "resourceVersion",
    "labels",
    "annotations",
];

/// The pool an object belongs to (its pool label), if any.
pub(super) fn pool_of(object: &Value) -> Option<&str> {
    object
        .pointer("/metadata/labels")
        .and_then(|labels| labels.get(POOL_LABEL))
        .and_then(Value::as_str)
        .filter(|pool| !pool.is_empty())
}

/// True for a pod write that is a claim: a Pod manifest with no `spec`.
pub(super) fn is_claim(kind: &str, manifest: &Value) -> bool {
    kind == "Pod" && manifest.get("spec").is_none()
}

/// The label selector of a namespace's unclaimed pool pods.
fn unclaimed_selector() -> String {
    format!("{POOL_LABEL},!{LEASE_LABEL}")
}

impl GuardedCluster {
    /// A pool pod made by `ensure-pool`; see the module documentation.
    pub(super) fn create_pool_pod(&self, mut manifest: Manifest) -> Result<String, KubeError> {
        let value = &manifest.value;
        let name = str_at(value, "/metadata/name").unwrap_or("");
        let what = format!("create of {} `{name}`", manifest.kind);
        let Some(max) = self.scope.pool_max else {
            return self.deny(
                Rule::PoolCap,
                format!(
                    "{what}: a workload is created only as a warm-pool pod, by ensure-pool; a \
                     lease's workload is applied by the call about its lease"
                ),
            );
        };
        if manifest.kind != "Pod" || pool_of(value).is_none() {
            return self.deny(
                Rule::PoolCap,
                format!("{what}: ensure-pool creates Pods carrying the label {POOL_LABEL} only"),
            );
        }
        let namespace = str_at(value, "/metadata/namespace");
        let facts = self.check_write(&what, namespace)?;
        self.check_lease_write(&what, &target_of(value))?;
        self.check_manifest(value, None)?;
        let marks = self.marks_for(&manifest.kind, &facts, None);
        if let Err((rule, message)) = marks::check(value, &manifest.kind, &marks) {
            return self.deny(rule, format!("{what}: {message}"));
        }
        self.check_service_account(&what, &manifest.kind, value)?;
        let ns = namespace.unwrap_or("");
        let held = self
            .inner
            .list("v1", "Pod", Some(ns), &unclaimed_selector())?
            .iter()
            .filter_map(|text| serde_json::from_str::<Value>(text).ok())
            .filter(|pod| pod.pointer("/metadata/deletionTimestamp").is_none())
            .count();
        if held >= max as usize {
            return self.deny(
                Rule::PoolCap,
                format!(
                    "{what}: namespace `{ns}` holds {held} unclaimed pool pod(s), and the operator \
                     allows this tenant {max} now (host settings pools.maxPerTenant and \
                     pools.maxTotal)"
                ),
            );
        }
        marks::stamp(&mut manifest.value, &manifest.kind, &marks);
        self.inner.create(manifest)
    }

    /// A claim of a pool pod by the call about a lease; see the module
    /// documentation.
    pub(super) fn apply_claim(&self, mut manifest: Manifest) -> Result<String, KubeError> {
        let value = &manifest.value;
        let name = str_at(value, "/metadata/name").unwrap_or("").to_string();
        let what = format!("claim of pool pod `{name}`");
        let namespace = str_at(value, "/metadata/namespace").map(str::to_string);
        let facts = self.check_write(&what, namespace.as_deref())?;
        let extra_top = value
            .as_object()
            .into_iter()
            .flat_map(|m| m.keys())
            .find(|k| !matches!(k.as_str(), "apiVersion" | "kind" | "metadata"));
        let extra_meta = value
            .get("metadata")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|m| m.keys())
            .find(|k| !CLAIM_METADATA.contains(&k.as_str()));
        if let Some(field) = extra_top.or(extra_meta) {
            return self.deny(
                Rule::PoolClaim,
                format!(
                    "{what}: a claim writes the pod's labels and annotations only, and `{field}` \
                     is more"
                ),
            );
        }
        if str_at(value, "/metadata/resourceVersion").is_none_or(str::is_empty) {
            return self.deny(
                Rule::PoolClaim,
                format!(
                    "{what}: a claim carries the metadata.resourceVersion it read, so that two \
                     claimers never bind one pod"
                ),
            );
        }
        let target = ObjectRef {
            api_version: "v1".into(),
            kind: "Pod".into(),
            namespace: namespace.clone(),
            name: name.clone(),
            uid: None,
        };
        let Some(live) = self.read(&target)? else {
            return Err(KubeError::NotFound(format!(
                "{what}: pod `{name}` does not exist"
            )));
        };
        // Written since the claimer read it (claimed by another caller,
        // most likely): the API server's own answer to a stale version, so
        // the claimer moves on to the next pod. No refusal: nothing was
        // attempted beyond the claimer's rights.
        let read_at = str_at(value, "/metadata/resourceVersion");
        if str_at(&live, "/metadata/resourceVersion") != read_at {
            return Err(KubeError::Conflict(format!(
                "{what}: the pod was written since it was read (resourceVersion {}), so another \
                 claimer may hold it",
                read_at.unwrap_or("")
            )));
        }
        let module = self.audit.module_sha256.as_str();
        let refusal = if !has_owner_label(&live) || pool_of(&live).is_none() {
            Some(format!("pod `{name}` is not a leasebox warm-pool pod"))
        } else if let Some(lease) = lease_of(&live) {
            Some(format!("pod `{name}` is bound to lease `{lease}` already"))
        } else if live.pointer("/metadata/deletionTimestamp").is_some() {
            Some(format!("pod `{name}` is being deleted"))
        } else if str_at(
            &live,
            &format!("/metadata/annotations/{}", escape(MODULE_ANNOTATION)),
        ) != Some(module)
        {
            Some(format!(
                "pod `{name}` was made by another policy module, and a module claims only its \
                 own pool pods (`{module}`)"
            ))
        } else {
            None
        };
        if let Some(refusal) = refusal {
            return self.deny(Rule::PoolClaim, format!("{what}: {refusal}"));
        }
        let marks = Marks {
            lease: self.scope.lease.as_deref(),
            company: facts.company.as_deref(),
            module: Some(module),
        };
        if let Err((rule, message)) = marks::check(value, "Pod", &marks) {
            return self.deny(rule, format!("{what}: {message}"));
        }
        marks::stamp(&mut manifest.value, "Pod", &marks);
        self.inner.apply(manifest)
    }

    /// A pod delete by `ensure-pool`: unclaimed pool pods only (a lease's
    /// pod is its lease's to delete). Other kinds follow the rules of any
    /// call for the company (the tenant's own objects).
    pub(super) fn check_pool_delete(
        &self,
        what: &str,
        target: &ObjectRef,
    ) -> Result<(), KubeError> {
        if target.kind != "Pod" {
            return Ok(());
        }
        let Some(live) = self.read(target)? else {
            return Ok(());
        };
        if has_owner_label(&live) && pool_of(&live).is_some() && lease_of(&live).is_none() {
            return Ok(());
        }
        self.deny(
            Rule::PoolClaim,
            format!(
                "{what}: ensure-pool deletes unclaimed pool pods only (label {POOL_LABEL}, no \
                 {LEASE_LABEL})"
            ),
        )
    }
}

/// JSON-pointer escaping of a key (`/` is `~1`).
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

impl GuardedCluster {
    /// How many unclaimed pool pods `company` may hold now under `pools`:
    /// its own cap, and what the total cap leaves after every other
    /// company's unclaimed pool pods (read by the host itself, across the
    /// cluster, by the company mark it stamped on each). Two tenants
    /// refilling at the same moment may pass the total by the pods they
    /// make in that moment; each tenant's own cap is exact (the guard
    /// counts before each create).
    pub fn pool_budget(
        &self,
        company: &str,
        pools: &crate::settings::PoolSettings,
    ) -> Result<u32, KubeError> {
        if !pools.enabled() {
            return Ok(0);
        }
        let company = self.grants.company(company);
        let unclaimed: Vec<Value> = self
            .inner
            .list("v1", "Pod", None, &unclaimed_selector())?
            .iter()
            .filter_map(|text| serde_json::from_str::<Value>(text).ok())
            .filter(|pod| {
                has_owner_label(pod) && pod.pointer("/metadata/deletionTimestamp").is_none()
            })
            .collect();
        let theirs = unclaimed
            .iter()
            .filter(|pod| {
                str_at(
                    pod,
                    &format!(
                        "/metadata/annotations/{}",
                        escape(super::COMPANY_ANNOTATION)
                    ),
                ) != Some(company)
            })
            .count();
        let left = (pools.max_total as usize).saturating_sub(theirs);
        Ok(pools
            .max_per_tenant
            .min(u32::try_from(left).unwrap_or(u32::MAX)))
    }
}
