//! The agent-sandbox `Sandbox` (agents.x-k8s.io), which has no
//! `k8s-openapi` type: small serde structs that follow the CRD schema
//! (`schemas/agent-sandbox/agents.x-k8s.io_sandboxes.yaml`) field for field.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{PersistentVolumeClaimSpec, PodSpec, VolumeResourceRequirements};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, ObjectMeta};
use serde::{Deserialize, Serialize};

use super::context::Context;
use super::object::{meta, quantities};
use super::pod_baseline::{self, WORKSPACE_VOLUME};
use crate::config::{SandboxApiVersion, Workspace};

/// Kind of the resource.
pub const KIND: &str = "Sandbox";
/// `shutdownPolicy`: the controller deletes the Sandbox at `shutdownTime`.
pub const SHUTDOWN_POLICY: &str = "Delete";
/// `operatingMode` (v1beta1 only): the pod runs.
pub const OPERATING_MODE: &str = "Running";

/// An agent-sandbox `Sandbox`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sandbox {
    /// `agents.x-k8s.io/v1beta1` or `agents.x-k8s.io/v1alpha1`.
    pub api_version: String,
    /// Always [`KIND`].
    pub kind: String,
    /// Name, namespace, labels, annotations.
    pub metadata: ObjectMeta,
    /// The spec.
    pub spec: SandboxSpec,
    /// What the controller reports; never part of a manifest leasebox
    /// applies, read from watched and listed Sandboxes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<SandboxStatus>,
}

/// `status` of a Sandbox: the part readiness reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SandboxStatus {
    /// `Ready` (True once the pod is ready and the service exists).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// `spec` of a Sandbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SandboxSpec {
    /// The pod the controller runs.
    pub pod_template: PodTemplate,
    /// PVCs the controller creates (`<name>-<sandbox>`) and mounts as a
    /// volume named `<name>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volume_claim_templates: Vec<ClaimTemplate>,
    /// RFC 3339 time at which the controller applies `shutdownPolicy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shutdown_time: Option<String>,
    /// `Delete` or `Retain`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shutdown_policy: Option<String>,
    /// `Running` or `Suspended`; v1beta1 only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operating_mode: Option<String>,
}

/// `spec.podTemplate`: only labels and annotations are allowed in its
/// metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodTemplate {
    /// Pod labels and annotations.
    #[serde(default)]
    pub metadata: TemplateMetadata,
    /// The pod spec.
    pub spec: PodSpec,
}

/// Metadata of an embedded template (`EmbeddedObjectMetadata`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateMetadata {
    /// Name (claim templates only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// One `spec.volumeClaimTemplates` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimTemplate {
    /// Name (the pod volume's name) and labels.
    pub metadata: TemplateMetadata,
    /// The PVC spec.
    pub spec: PersistentVolumeClaimSpec,
}

/// The lease's Sandbox: named after the lease, pod from the baseline
/// (restartPolicy Always), the PVC workspace as a claim template, and a
/// `shutdownTime` at the lease deadline with `shutdownPolicy: Delete`, so
/// the controller reaps the lease even if no host survives.
pub fn sandbox(ctx: &Context) -> Sandbox {
    let version = ctx.config.sandbox_api_version;
    let mut metadata = meta(&ctx.lease_id, &ctx.namespace, ctx.lease_labels());
    metadata.annotations = Some(pod_baseline::workload_annotations(ctx));

    let volume_claim_templates = match &ctx.config.workspace {
        Workspace::Pvc {
            storage_class,
            size,
        } => vec![ClaimTemplate {
            metadata: TemplateMetadata {
                name: Some(WORKSPACE_VOLUME.to_string()),
                labels: ctx.lease_labels(),
                ..TemplateMetadata::default()
            },
            spec: claim_spec(storage_class.as_deref(), size),
        }],
        Workspace::EmptyDir { .. } => Vec::new(),
    };

    Sandbox {
        api_version: version.api_version().to_string(),
        kind: KIND.to_string(),
        metadata,
        spec: SandboxSpec {
            pod_template: PodTemplate {
                metadata: TemplateMetadata {
                    labels: pod_baseline::pod_labels(ctx),
                    ..TemplateMetadata::default()
                },
                spec: pod_baseline::pod_spec(ctx),
            },
            volume_claim_templates,
            shutdown_time: Some(ctx.expires_at.clone()),
            shutdown_policy: Some(SHUTDOWN_POLICY.to_string()),
            operating_mode: match version {
                SandboxApiVersion::V1beta1 => Some(OPERATING_MODE.to_string()),
                SandboxApiVersion::V1alpha1 => None,
            },
        },
        status: None,
    }
}

/// A ReadWriteOnce claim of `size` in `storage_class` (the cluster default
/// when none), shared by the claim template and the `pod`/`job` PVC.
pub fn claim_spec(storage_class: Option<&str>, size: &str) -> PersistentVolumeClaimSpec {
    PersistentVolumeClaimSpec {
        access_modes: Some(vec!["ReadWriteOnce".to_string()]),
        resources: Some(VolumeResourceRequirements {
            requests: Some(quantities(&[("storage", size)])),
            ..VolumeResourceRequirements::default()
        }),
        storage_class_name: storage_class.map(str::to_string),
        ..PersistentVolumeClaimSpec::default()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::manifests::{fixture, to_value};
    use crate::names;

    fn value(config: Value) -> Value {
        to_value(&sandbox(&fixture::context(config)))
    }

    #[test]
    fn sandbox_is_v1beta1_named_after_the_lease() {
        let ctx = fixture::context(json!({}));
        let value = to_value(&sandbox(&ctx));
        assert_eq!(value["apiVersion"], "agents.x-k8s.io/v1beta1");
        assert_eq!(value["kind"], "Sandbox");
        assert_eq!(value["metadata"]["name"], ctx.lease_id.as_str());
        assert_eq!(value["metadata"]["namespace"], ctx.namespace.as_str());
        assert_eq!(value["spec"]["operatingMode"], "Running");
    }

    #[test]
    fn v1alpha1_sandbox_omits_operating_mode() {
        let value = value(json!({ "sandboxApiVersion": "v1alpha1" }));
        assert_eq!(value["apiVersion"], "agents.x-k8s.io/v1alpha1");
        assert!(value["spec"].get("operatingMode").is_none());
        assert!(value["spec"].get("replicas").is_none());
    }

    #[test]
    fn sandbox_shuts_down_and_deletes_at_the_deadline() {
        let ctx = fixture::context(json!({ "leaseMaxAgeSec": 7200 }));
        let value = to_value(&sandbox(&ctx));
        assert_eq!(value["spec"]["shutdownTime"], "2026-11-23T12:00:00Z");
        assert_eq!(value["spec"]["shutdownTime"], ctx.expires_at.as_str());
        assert_eq!(value["spec"]["shutdownPolicy"], "Delete");
    }

    #[test]
    fn sandbox_pod_restarts_always_and_carries_the_role_label() {
        let value = value(json!({}));
        let template = &value["spec"]["podTemplate"];
        assert_eq!(template["spec"]["restartPolicy"], "Always");
        assert_eq!(template["spec"]["shareProcessNamespace"], true);
        assert_eq!(template["metadata"]["labels"][names::LABEL_ROLE], "agent");
        let keys: Vec<&String> = template["metadata"]
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        assert_eq!(
            keys,
            ["labels"],
            "the CRD allows only labels and annotations"
        );
    }

    #[test]
    fn sandbox_metadata_carries_lease_labels_and_annotations() {
        let ctx = fixture::context(json!({}));
        let value = to_value(&sandbox(&ctx));
        assert_eq!(value["metadata"]["labels"], to_value(&ctx.lease_labels()));
        assert_eq!(
            value["metadata"]["annotations"][names::ANNOTATION_EXPIRES_AT],
            ctx.expires_at.as_str()
        );
    }

    #[test]
    fn empty_dir_workspace_has_no_claim_templates() {
        let value = value(json!({}));
        assert!(value["spec"].get("volumeClaimTemplates").is_none());
    }

    #[test]
    fn pvc_workspace_becomes_a_claim_template_named_workspace() {
        let value = value(json!({
            "workspace": { "type": "pvc", "storageClass": "fast-ssd", "size": "50Gi" }
        }));
        let templates = &value["spec"]["volumeClaimTemplates"];
        assert_eq!(templates.as_array().map(Vec::len), Some(1));
        assert_eq!(templates[0]["metadata"]["name"], "workspace");
        assert_eq!(
            templates[0]["spec"],
            json!({
                "accessModes": ["ReadWriteOnce"],
                "resources": { "requests": { "storage": "50Gi" } },
                "storageClassName": "fast-ssd"
            })
        );
    }

    #[test]
    fn pvc_workspace_without_storage_class_uses_the_cluster_default() {
        let value = value(json!({ "workspace": { "type": "pvc" } }));
        let spec = &value["spec"]["volumeClaimTemplates"][0]["spec"];
        assert!(spec.get("storageClassName").is_none());
        assert_eq!(spec["resources"]["requests"]["storage"], "20Gi");
    }

    #[test]
    fn sandbox_round_trips_through_its_own_type() {
        let built = sandbox(&fixture::context(json!({ "workspace": { "type": "pvc" } })));
        let parsed: Sandbox = serde_json::from_value(to_value(&built)).expect("parses back");
        assert_eq!(parsed, built);
    }
}
