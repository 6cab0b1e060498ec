//! Binds the tenant Role to the agent ServiceAccount.

use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef, Subject};

use super::context::Context;
use super::object::meta;
use crate::names;

/// The RoleBinding of [`names::ROLE`] to [`names::SERVICE_ACCOUNT`] in the
/// tenant namespace.
pub fn role_binding(ctx: &Context) -> RoleBinding {
    RoleBinding {
        metadata: meta(
            names::ROLE_BINDING,
            &ctx.namespace,
            names::tenant_labels(&ctx.company_id),
        ),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_string(),
            kind: "Role".to_string(),
            name: names::ROLE.to_string(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".to_string(),
            name: names::SERVICE_ACCOUNT.to_string(),
            namespace: Some(ctx.namespace.clone()),
            ..Subject::default()
        }]),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::manifests::fixture;

    #[test]
    fn role_binding_binds_the_role_to_the_agent_service_account() {
        let ctx = fixture::context(json!({}));
        let binding = role_binding(&ctx);
        assert_eq!(binding.role_ref.kind, "Role");
        assert_eq!(binding.role_ref.name, names::ROLE);
        let subjects = binding.subjects.unwrap_or_default();
        assert_eq!(subjects.len(), 1);
        assert_eq!(subjects[0].kind, "ServiceAccount");
        assert_eq!(subjects[0].name, names::SERVICE_ACCOUNT);
        assert_eq!(
            subjects[0].namespace.as_deref(),
            Some(ctx.namespace.as_str())
        );
    }
}
