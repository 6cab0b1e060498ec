//! The tenant Namespace, under Pod Security `restricted`.

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::context::Context;
use crate::names;

/// The Pod Security admission modes, each set to [`POD_SECURITY_LEVEL`].
pub const POD_SECURITY_MODES: [&str; 3] = [
    "pod-security.kubernetes.io/enforce",
    "pod-security.kubernetes.io/audit",
    "pod-security.kubernetes.io/warn",
];
/// Pod Security level of tenant namespaces.
pub const POD_SECURITY_LEVEL: &str = "restricted";

/// The tenant Namespace: tenant labels plus Pod Security `restricted` in
/// enforce, audit and warn mode.
pub fn namespace(ctx: &Context) -> Namespace {
    let mut labels = names::tenant_labels(&ctx.company_id);
    for mode in POD_SECURITY_MODES {
        labels.insert(mode.to_string(), POD_SECURITY_LEVEL.to_string());
    }
    Namespace {
        metadata: ObjectMeta {
            name: Some(ctx.namespace.clone()),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::manifests::{fixture, to_value};

    #[test]
    fn namespace_enforces_restricted_pod_security_in_every_mode() {
        let ctx = fixture::context(json!({}));
        let labels = namespace(&ctx).metadata.labels.unwrap_or_default();
        for mode in POD_SECURITY_MODES {
            assert_eq!(
                labels.get(mode).map(String::as_str),
                Some("restricted"),
                "{mode}"
            );
        }
    }

    #[test]
    fn namespace_carries_tenant_labels_and_name() {
        let ctx = fixture::context(json!({}));
        let ns = namespace(&ctx);
        assert_eq!(ns.metadata.name.as_deref(), Some(ctx.namespace.as_str()));
        let labels = ns.metadata.labels.unwrap_or_default();
        for (k, v) in names::tenant_labels(&ctx.company_id) {
            assert_eq!(labels.get(&k), Some(&v), "{k}");
        }
    }

    #[test]
    fn namespace_json_has_kind_and_no_namespace_field() {
        let ctx = fixture::context(json!({}));
        let value = to_value(&namespace(&ctx));
        assert_eq!(value["apiVersion"], "v1");
        assert_eq!(value["kind"], "Namespace");
        assert!(value["metadata"].get("namespace").is_none());
        assert!(value.get("spec").is_none());
    }
}
