//! The tenant Role: reading pod logs, nothing else.

use k8s_openapi::api::rbac::v1::{PolicyRule, Role};

use super::context::Context;
use super::object::meta;
use crate::names;

/// The Role bound to the agent ServiceAccount: `get` on `pods/log` in the
/// tenant namespace, and nothing more.
pub fn role(ctx: &Context) -> Role {
    Role {
        metadata: meta(
            names::ROLE,
            &ctx.namespace,
            names::tenant_labels(&ctx.company_id),
        ),
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec![String::new()]),
            resources: Some(vec!["pods/log".to_string()]),
            verbs: vec!["get".to_string()],
            ..PolicyRule::default()
        }]),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::manifests::{fixture, to_value};

    #[test]
    fn role_grants_only_get_on_pod_logs() {
        let ctx = fixture::context(json!({}));
        let value = to_value(&role(&ctx));
        assert_eq!(
            value["rules"],
            json!([{ "apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"] }])
        );
        assert_eq!(value["apiVersion"], "rbac.authorization.k8s.io/v1");
        assert_eq!(value["metadata"]["name"], names::ROLE);
    }
}
