//! The `pod` backend: a bare Pod, for clusters without the agent-sandbox
//! controller.

use k8s_openapi::api::core::v1::Pod;

use super::context::Context;
use super::object::meta;
use super::pod_baseline;

/// The lease's Pod: named after the lease, the baseline pod spec
/// (restartPolicy Never, shared process namespace), pod labels and the
/// workload annotations.
pub fn pod(ctx: &Context) -> Pod {
    let mut metadata = meta(&ctx.lease_id, &ctx.namespace, pod_baseline::pod_labels(ctx));
    metadata.annotations = Some(pod_baseline::workload_annotations(ctx));
    Pod {
        metadata,
        spec: Some(pod_baseline::pod_spec(ctx)),
        ..Pod::default()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::manifests::{fixture, to_value};
    use crate::names;

    #[test]
    fn pod_is_named_after_the_lease_and_never_restarts() {
        let ctx = fixture::context(json!({ "backend": "pod" }));
        let value = to_value(&pod(&ctx));
        assert_eq!(value["apiVersion"], "v1");
        assert_eq!(value["kind"], "Pod");
        assert_eq!(value["metadata"]["name"], ctx.lease_id.as_str());
        assert_eq!(value["metadata"]["namespace"], ctx.namespace.as_str());
        assert_eq!(value["spec"]["restartPolicy"], "Never");
        assert_eq!(value["spec"]["shareProcessNamespace"], true);
        assert!(value.get("status").is_none());
    }

    #[test]
    fn pod_is_selected_by_the_egress_policies() {
        let ctx = fixture::context(json!({ "backend": "pod" }));
        let labels = pod(&ctx).metadata.labels.unwrap_or_default();
        assert_eq!(
            labels.get(names::LABEL_ROLE).map(String::as_str),
            Some("agent")
        );
        assert_eq!(
            labels.get(names::LABEL_LEASE).map(String::as_str),
            Some(ctx.lease_id.as_str())
        );
    }

    #[test]
    fn pod_carries_the_workload_annotations() {
        let ctx = fixture::context(json!({ "backend": "pod" }));
        let annotations = pod(&ctx).metadata.annotations.unwrap_or_default();
        assert_eq!(annotations, pod_baseline::workload_annotations(&ctx));
    }
}
