//! The tenant ResourceQuota.

use k8s_openapi::api::core::v1::{ResourceQuota, ResourceQuotaSpec};

use super::context::Context;
use super::object::{meta, quantities};
use crate::names;

/// The tenant ResourceQuota: pod count and the sums of CPU and memory
/// requests and limits, from `quota`.
pub fn resource_quota(ctx: &Context) -> ResourceQuota {
    let quota = &ctx.config.quota;
    let pods = quota.pods.to_string();
    ResourceQuota {
        metadata: meta(
            names::RESOURCE_QUOTA,
            &ctx.namespace,
            names::tenant_labels(&ctx.company_id),
        ),
        spec: Some(ResourceQuotaSpec {
            hard: Some(quantities(&[
                ("pods", &pods),
                ("requests.cpu", &quota.requests_cpu),
                ("requests.memory", &quota.requests_memory),
                ("limits.cpu", &quota.limits_cpu),
                ("limits.memory", &quota.limits_memory),
            ])),
            ..ResourceQuotaSpec::default()
        }),
        ..ResourceQuota::default()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::manifests::{fixture, to_value};

    #[test]
    fn default_quota_matches_the_spec() {
        let ctx = fixture::context(json!({}));
        let value = to_value(&resource_quota(&ctx));
        assert_eq!(
            value["spec"]["hard"],
            json!({
                "limits.cpu": "20",
                "limits.memory": "40Gi",
                "pods": "20",
                "requests.cpu": "10",
                "requests.memory": "20Gi"
            })
        );
    }

    #[test]
    fn quota_follows_configuration() {
        let ctx = fixture::context(json!({ "quota": { "pods": 3, "limitsMemory": "12Gi" } }));
        let value = to_value(&resource_quota(&ctx));
        assert_eq!(value["spec"]["hard"]["pods"], "3");
        assert_eq!(value["spec"]["hard"]["limits.memory"], "12Gi");
        assert_eq!(value["metadata"]["name"], names::RESOURCE_QUOTA);
    }
}
