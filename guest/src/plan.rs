//! `plan`: every manifest acquire would apply, in order, with no I/O.
//!
//! The lease id and `now` are inputs, and nothing here reads a clock or a
//! random source, so the same request gives byte-identical JSON.
//! [`resolve`] turns the request into the lease's [`Context`], with the
//! policy's hooks deciding image, namespace and egress.

pub mod resolve;

use serde_json::Value;

use crate::config::{self, Issue};
use crate::error::PolicyError;
use crate::hooks::{DefaultHooks, Hooks};
use crate::json_text::json_text;
use crate::lease::LeaseRequest;
use crate::manifests::{self, Context};

/// Validates the request's configuration and resolves the lease context
/// under the default policy ([`context_with`] and [`DefaultHooks`]).
pub fn context(request: &LeaseRequest) -> Result<Context, PolicyError> {
    context_with(&DefaultHooks, request)
}

/// Validates the request's configuration and resolves the lease context
/// with the policy's `hooks` ([`resolve::context`]).
pub fn context_with(
    hooks: &'static dyn Hooks,
    request: &LeaseRequest,
) -> Result<Context, PolicyError> {
    let validated = config::validate(&request.config);
    match validated.config {
        Some(config) if validated.errors.is_empty() => resolve::context(hooks, config, request),
        _ if !validated.errors.is_empty() => Err(PolicyError::InvalidConfig(validated.errors)),
        _ => Err(PolicyError::InvalidConfig(vec![Issue::new(
            "",
            "the configuration could not be normalized although no error was reported; \
             run validate-config on it and report this",
        )])),
    }
}

/// Every manifest acquire would apply under the default policy
/// ([`plan_with`] and [`DefaultHooks`]).
pub fn plan(request: &LeaseRequest) -> Result<Vec<Value>, PolicyError> {
    plan_with(&DefaultHooks, request)
}

/// Every manifest acquire would apply with the policy's `hooks`, in apply
/// order: the tenant objects, the per-run Secret, the workload, the
/// workspace PVC (if any) and the lease's egress policy (the lease objects
/// without owner: the workload has no uid yet; the Secret annotated with
/// the keys the host fills).
pub fn plan_with(
    hooks: &'static dyn Hooks,
    request: &LeaseRequest,
) -> Result<Vec<Value>, PolicyError> {
    let ctx = context_with(hooks, request)?;
    let mut objects = manifests::tenant_objects(&ctx);
    objects.push(manifests::secret(&ctx, None).manifest);
    objects.push(manifests::workload(hooks, &ctx));
    objects.extend(manifests::workspace_claim(&ctx, None));
    objects.push(manifests::egress_policy(&ctx, None));
    Ok(objects)
}

/// The JSON text of every manifest of [`plan_with`], as the `plan` export
/// returns it.
pub fn plan_text_with(
    hooks: &'static dyn Hooks,
    request: &LeaseRequest,
) -> Result<Vec<String>, PolicyError> {
    Ok(plan_with(hooks, request)?.iter().map(json_text).collect())
}

/// [`plan_text_with`] under the default policy.
pub fn plan_text(request: &LeaseRequest) -> Result<Vec<String>, PolicyError> {
    plan_text_with(&DefaultHooks, request)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::lease::Command;

    fn request(config: serde_json::Value) -> LeaseRequest {
        LeaseRequest {
            config: config.to_string(),
            company_id: "acme".into(),
            run_id: "run-1".into(),
            lease_id: "lb-01jd8x7k2m3n4p5q6r7s8t9v0w".into(),
            now: "2026-11-23T10:00:00Z".into(),
            adapter_type: None,
            image_override: None,
            command: Some(Command::Shell("true".into())),
        }
    }

    #[test]
    fn invalid_configuration_is_reported_with_every_issue() {
        let err = plan(&request(
            json!({ "inCluster": true, "backend": "vm", "gpu": -1 }),
        ))
        .expect_err("invalid config");
        match err {
            PolicyError::InvalidConfig(issues) => {
                assert!(issues.len() >= 2, "{issues:?}");
                assert!(
                    issues.iter().any(|i| i.path.contains("backend")),
                    "{issues:?}"
                );
            }
            other => panic!("expected InvalidConfig, got {other:?}"),
        }
    }

    #[test]
    fn bad_request_is_reported_after_a_valid_configuration() {
        let mut bad = request(json!({ "inCluster": true }));
        bad.run_id = String::new();
        assert!(matches!(plan(&bad), Err(PolicyError::BadRequest(_))));
    }

    #[test]
    fn plan_ends_with_secret_workload_then_egress_policy() {
        let objects = plan(&request(json!({ "inCluster": true }))).expect("plan");
        let kinds: Vec<&str> = objects
            .iter()
            .map(|o| o["kind"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(kinds[0], "Namespace");
        assert_eq!(
            &kinds[kinds.len() - 3..],
            ["Secret", "Sandbox", "NetworkPolicy"]
        );
        let policy = &objects[kinds.len() - 1];
        assert_eq!(
            policy["metadata"]["name"],
            "lb-01jd8x7k2m3n4p5q6r7s8t9v0w-egress"
        );
        assert!(policy["metadata"].get("ownerReferences").is_none());
    }
}
