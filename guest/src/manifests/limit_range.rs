//! The tenant LimitRange: per-container bounds and defaults.

use k8s_openapi::api::core::v1::{LimitRange, LimitRangeItem, LimitRangeSpec};

use super::context::Context;
use super::object::{meta, quantities};
use crate::names;

/// The tenant LimitRange (`type: Container`): max, min, default limit and
/// default request of CPU and memory, from `quota`.
pub fn limit_range(ctx: &Context) -> LimitRange {
    let q = &ctx.config.quota;
    LimitRange {
        metadata: meta(
            names::LIMIT_RANGE,
            &ctx.namespace,
            names::tenant_labels(&ctx.company_id),
        ),
        spec: Some(LimitRangeSpec {
            limits: vec![LimitRangeItem {
                type_: "Container".to_string(),
                max: Some(quantities(&[
                    ("cpu", &q.max_cpu),
                    ("memory", &q.max_memory),
                ])),
                min: Some(quantities(&[
                    ("cpu", &q.min_cpu),
                    ("memory", &q.min_memory),
                ])),
                default: Some(quantities(&[
                    ("cpu", &q.default_cpu),
                    ("memory", &q.default_memory),
                ])),
                default_request: Some(quantities(&[
                    ("cpu", &q.default_request_cpu),
                    ("memory", &q.default_request_memory),
                ])),
                ..LimitRangeItem::default()
            }],
        }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::manifests::{fixture, to_value};

    #[test]
    fn default_limit_range_matches_the_spec() {
        let ctx = fixture::context(json!({}));
        let value = to_value(&limit_range(&ctx));
        assert_eq!(
            value["spec"]["limits"],
            json!([{
                "default": { "cpu": "1", "memory": "2Gi" },
                "defaultRequest": { "cpu": "250m", "memory": "512Mi" },
                "max": { "cpu": "4", "memory": "8Gi" },
                "min": { "cpu": "100m", "memory": "128Mi" },
                "type": "Container"
            }])
        );
    }

    #[test]
    fn limit_range_follows_configuration() {
        let ctx = fixture::context(json!({ "quota": { "maxCpu": "8", "minMemory": "64Mi" } }));
        let value = to_value(&limit_range(&ctx));
        assert_eq!(value["spec"]["limits"][0]["max"]["cpu"], "8");
        assert_eq!(value["spec"]["limits"][0]["min"]["memory"], "64Mi");
        assert_eq!(value["metadata"]["name"], names::LIMIT_RANGE);
    }
}
