//! A warm-pool pod: the `pod` backend's pod of a configuration, made before
//! any lease, holding nothing of any lease. It carries no lease label (so no
//! lease's egress policy selects it: the tenant's deny-all alone applies),
//! references no Secret (the agent container's `envFrom` of the lease's
//! Secret is left out), and mounts a small memory-backed `emptyDir` where a
//! claim hands the lease's Secret over (`kube.hand-over-secret`), read by
//! every command of the lease (`lifecycle::exec_wrap`).
//!
//! Its annotation [`names::ANNOTATION_POOL_SPEC`] is the hash of the pod as
//! built here: a pod of another configuration (image, resources, hooks) is
//! stale and never handed out.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{EmptyDirVolumeSource, Pod, PodSpec, Volume, VolumeMount};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::context::Context;
use super::object::{meta, to_value};
use super::pod_baseline;
use crate::hooks::Hooks;
use crate::names;

/// The volume the lease's Secret is handed over into.
pub const LEASE_ENV_VOLUME: &str = "leasebox-lease-env";

/// Where it is mounted in the agent container.
pub const LEASE_ENV_DIR: &str = "/run/leasebox";

/// The file a claim writes the lease's Secret to, as `export` lines.
pub const LEASE_ENV_FILE: &str = "/run/leasebox/lease.env";

/// Its size cap (a Secret holds at most 1 MiB).
const LEASE_ENV_SIZE: &str = "2Mi";

/// The pool pods of a configuration, and their shape.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolShape {
    /// The pool's name (label [`names::LABEL_POOL`]).
    pub pool: String,
    /// Hash of the pod spec and labels (annotation
    /// [`names::ANNOTATION_POOL_SPEC`]).
    pub spec_hash: String,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    spec: PodSpec,
}

impl PoolShape {
    /// The pool pod of `ctx` (a context made for the pool, whose lease id
    /// names nothing), shaped by the module's `shape_pod` hook like a
    /// lease's pod.
    pub fn of(hooks: &dyn Hooks, ctx: &Context) -> PoolShape {
        let pool = names::pool_name(&ctx.adapter.adapter_type, &ctx.image);
        let mut spec = pod_baseline::pod_spec(ctx);
        hooks.shape_pod(ctx, &mut spec);
        let lease_secret = names::secret_name(&ctx.lease_id);
        for container in &mut spec.containers {
            if let Some(from) = container.env_from.as_mut() {
                from.retain(|f| f.secret_ref.as_ref().is_none_or(|s| s.name != lease_secret));
            }
            if container.env_from.as_ref().is_some_and(Vec::is_empty) {
                container.env_from = None;
            }
            if container.name == names::AGENT_CONTAINER {
                container
                    .volume_mounts
                    .get_or_insert_with(Vec::new)
                    .push(VolumeMount {
                        name: LEASE_ENV_VOLUME.to_string(),
                        mount_path: LEASE_ENV_DIR.to_string(),
                        ..VolumeMount::default()
                    });
            }
        }
        spec.volumes.get_or_insert_with(Vec::new).push(Volume {
            name: LEASE_ENV_VOLUME.to_string(),
            empty_dir: Some(EmptyDirVolumeSource {
                medium: Some("Memory".to_string()),
                size_limit: Some(Quantity(LEASE_ENV_SIZE.to_string())),
            }),
            ..Volume::default()
        });
        let labels = BTreeMap::from([
            (
                names::LABEL_MANAGED_BY.to_string(),
                names::MANAGED_BY.to_string(),
            ),
            (
                names::LABEL_COMPANY_ID.to_string(),
                names::label_value(&ctx.company_id),
            ),
            (
                names::LABEL_ADAPTER.to_string(),
                names::label_value(&ctx.adapter.adapter_type),
            ),
            (names::LABEL_POOL.to_string(), pool.clone()),
            (names::LABEL_ROLE.to_string(), names::ROLE_POOL.to_string()),
        ]);
        let hashed = serde_json::json!({ "labels": labels, "spec": spec });
        let digest = Sha256::digest(hashed.to_string().as_bytes());
        let spec_hash: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        let annotations = BTreeMap::from([
            (
                names::ANNOTATION_COMPANY_ID.to_string(),
                ctx.company_id.clone(),
            ),
            (names::ANNOTATION_IMAGE.to_string(), ctx.image.clone()),
            (names::ANNOTATION_POOL_SPEC.to_string(), spec_hash.clone()),
        ]);
        PoolShape {
            pool,
            spec_hash,
            labels,
            annotations,
            spec,
        }
    }

    /// Pool pod `index` in `namespace`, as a manifest, idle until
    /// `expires_at` (RFC 3339): an unclaimed pool pod past it is stale, and
    /// `sweep` deletes it, so a pool nobody asks for any more goes away.
    pub fn pod(&self, namespace: &str, index: u32, expires_at: &str) -> Value {
        let name = names::pool_pod_name(&self.pool, index);
        let mut metadata = meta(&name, namespace, self.labels.clone());
        let mut annotations = self.annotations.clone();
        annotations.insert(
            names::ANNOTATION_EXPIRES_AT.to_string(),
            expires_at.to_string(),
        );
        metadata.annotations = Some(annotations);
        to_value(&Pod {
            metadata,
            spec: Some(self.spec.clone()),
            ..Pod::default()
        })
    }

    /// The label selector of this pool's pods, claimed or not.
    pub fn selector(&self) -> String {
        format!("{}={}", names::LABEL_POOL, self.pool)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::hooks::DefaultHooks;
    use crate::manifests::fixture;

    fn shape(config: serde_json::Value) -> PoolShape {
        PoolShape::of(&DefaultHooks, &fixture::context(config))
    }

    #[test]
    fn a_pool_pod_references_no_secret_and_carries_no_lease_label() {
        let pod =
            shape(json!({ "backend": "pod" })).pod("leasebox-acme", 3, "2026-12-08T10:00:00Z");
        let text = pod.to_string();
        assert!(
            !text.contains("secretRef") && !text.contains("secretKeyRef"),
            "{text}"
        );
        let labels = pod["metadata"]["labels"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        assert!(!labels.contains_key(names::LABEL_LEASE), "{labels:?}");
        assert!(!labels.contains_key(names::LABEL_RUN_ID), "{labels:?}");
        assert_eq!(labels[names::LABEL_ROLE], names::ROLE_POOL);
        assert!(
            pod["metadata"]["name"]
                .as_str()
                .is_some_and(names::is_pool_pod_name)
        );
    }

    #[test]
    fn the_lease_env_directory_is_a_memory_backed_volume_of_the_agent() {
        let pod =
            shape(json!({ "backend": "pod" })).pod("leasebox-acme", 0, "2026-12-08T10:00:00Z");
        let volume = pod["spec"]["volumes"]
            .as_array()
            .and_then(|v| v.iter().find(|v| v["name"] == LEASE_ENV_VOLUME))
            .cloned()
            .unwrap_or_default();
        assert_eq!(volume["emptyDir"]["medium"], "Memory");
        let agent = pod["spec"]["containers"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["name"] == names::AGENT_CONTAINER))
            .cloned()
            .unwrap_or_default();
        let mount = agent["volumeMounts"]
            .as_array()
            .and_then(|m| m.iter().find(|m| m["name"] == LEASE_ENV_VOLUME))
            .cloned()
            .unwrap_or_default();
        assert_eq!(mount["mountPath"], LEASE_ENV_DIR);
        assert!(LEASE_ENV_FILE.starts_with(&format!("{LEASE_ENV_DIR}/")));
    }

    #[test]
    fn every_command_wrapper_reads_the_handed_over_secret_first() {
        let line = format!("[ -r {LEASE_ENV_FILE} ] && . {LEASE_ENV_FILE}\n");
        let wrapper = crate::lifecycle::exec_wrap::SCRIPT;
        assert!(wrapper.starts_with(&line), "{wrapper}");
        let terminal = crate::lifecycle::terminal_script();
        let first_env = terminal.find("__l").unwrap_or(0);
        assert!(
            terminal.find(&line).is_some_and(|at| at < first_env),
            "{terminal}"
        );
    }

    #[test]
    fn another_image_is_another_pool_and_another_spec() {
        let a = shape(json!({ "backend": "pod" }));
        let b = shape(
            json!({ "backend": "pod", "defaultResources": {"limits": {"cpu": "3", "memory": "4Gi"}} }),
        );
        assert_eq!(a.pool, b.pool, "same adapter and image: same pool");
        assert_ne!(a.spec_hash, b.spec_hash, "another pod spec: another hash");
        let again = shape(json!({ "backend": "pod" }));
        assert_eq!(a, again, "the shape is a function of the configuration");
    }
}
