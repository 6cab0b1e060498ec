//! The ServiceAccount agent pods run as: no API token mounted.

use k8s_openapi::api::core::v1::ServiceAccount;

use super::context::Context;
use super::object::meta;
use crate::names;

/// The tenant ServiceAccount, with the configured annotations (workload
/// identity and the like) and token automount off.
pub fn service_account(ctx: &Context) -> ServiceAccount {
    let mut metadata = meta(
        names::SERVICE_ACCOUNT,
        &ctx.namespace,
        names::tenant_labels(&ctx.company_id),
    );
    let annotations = &ctx.config.service_account_annotations;
    if !annotations.is_empty() {
        metadata.annotations = Some(annotations.clone());
    }
    ServiceAccount {
        metadata,
        automount_service_account_token: Some(false),
        ..ServiceAccount::default()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::manifests::fixture;

    #[test]
    fn service_account_does_not_automount_a_token() {
        let ctx = fixture::context(json!({}));
        let sa = service_account(&ctx);
        assert_eq!(sa.automount_service_account_token, Some(false));
        assert_eq!(sa.metadata.name.as_deref(), Some(names::SERVICE_ACCOUNT));
        assert_eq!(
            sa.metadata.namespace.as_deref(),
            Some(ctx.namespace.as_str())
        );
    }

    #[test]
    fn service_account_carries_configured_annotations() {
        let ctx = fixture::context(json!({
            "serviceAccountAnnotations": { "iam.gke.io/gcp-service-account": "agent@p.iam.gserviceaccount.com" }
        }));
        let annotations = service_account(&ctx)
            .metadata
            .annotations
            .unwrap_or_default();
        assert_eq!(
            annotations
                .get("iam.gke.io/gcp-service-account")
                .map(String::as_str),
            Some("agent@p.iam.gserviceaccount.com")
        );
    }

    #[test]
    fn service_account_without_annotations_sends_none() {
        let ctx = fixture::context(json!({}));
        assert_eq!(service_account(&ctx).metadata.annotations, None);
    }
}
