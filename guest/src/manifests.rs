//! Every Kubernetes object a lease needs, one typed builder per file.
//!
//! Each builder returns a typed `k8s-openapi` object (or, for the
//! agent-sandbox `Sandbox`, a typed struct of its own) from the lease's
//! [`Context`]; the functions here turn them into JSON in the order acquire
//! applies them, and give the workload's pod spec to the policy's
//! [`Hooks::shape_pod`] last. Builders only set fields that Kubernetes 1.20
//! knows: server-side apply there rejects undeclared fields.

pub mod cilium_policy;
pub(crate) mod context;
pub mod egress_policy;
pub mod job;
pub mod limit_range;
pub mod namespace;
pub mod network_policy;
mod object;
pub mod pod;
pub mod pod_baseline;
pub mod pool_pod;
pub mod resource_quota;
pub mod role;
pub mod role_binding;
pub mod sandbox_cr;
pub mod secret;
pub mod service_account;
pub mod workspace_claim;

use k8s_openapi::Resource;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, PodSpec};
use serde_json::Value;

use crate::cluster::HostSecretRequest;
use crate::config::Backend;
use crate::hooks::Hooks;
use crate::lease::ObjectRef;
use crate::names;

pub use context::Context;
use object::to_value;

impl Context {
    /// Reference to the workload this context plans (without uid).
    pub fn workload_ref(&self) -> ObjectRef {
        let (api_version, kind) = match self.config.backend {
            Backend::SandboxCr => (
                self.config.sandbox_api_version.api_version().to_string(),
                sandbox_cr::KIND.to_string(),
            ),
            Backend::Job => (Job::API_VERSION.to_string(), Job::KIND.to_string()),
            Backend::Pod => (Pod::API_VERSION.to_string(), Pod::KIND.to_string()),
        };
        ObjectRef {
            api_version,
            kind,
            namespace: Some(self.namespace.clone()),
            name: self.lease_id.clone(),
            uid: None,
        }
    }
}

/// Tenant objects in apply order (Namespace first, the deny-all
/// NetworkPolicy last). They hold no egress allow: that is per lease
/// ([`egress_policy`]).
pub fn tenant_objects(ctx: &Context) -> Vec<Value> {
    let labels = names::tenant_labels(&ctx.company_id);
    vec![
        to_value(&namespace::namespace(ctx)),
        to_value(&service_account::service_account(ctx)),
        to_value(&role::role(ctx)),
        to_value(&role_binding::role_binding(ctx)),
        to_value(&resource_quota::resource_quota(ctx)),
        to_value(&limit_range::limit_range(ctx)),
        to_value(&network_policy::deny_all(&ctx.namespace, &labels)),
    ]
}

/// The tenant-wide egress allow policies of 0.1 (both modes), which
/// acquire deletes: a stale broad policy must not survive next to the
/// per-lease ones.
pub fn legacy_egress_policies(ctx: &Context) -> Vec<ObjectRef> {
    egress_policy::legacy_egress_policies(&ctx.namespace)
}

/// The lease's egress allow policy (`<lease>-egress`, of the configured
/// mode), selecting only its pod, owned by the workload when `owner` is
/// given.
pub fn egress_policy(ctx: &Context, owner: Option<&ObjectRef>) -> Value {
    egress_policy::egress_policy(ctx, owner)
}

/// The workload (Sandbox, Job or Pod), its pod spec given its last edit by
/// the policy's [`Hooks::shape_pod`] once every default rule is applied.
pub fn workload(hooks: &dyn Hooks, ctx: &Context) -> Value {
    let shape = |spec: &mut PodSpec| hooks.shape_pod(ctx, spec);
    match ctx.config.backend {
        Backend::SandboxCr => {
            let mut sandbox = sandbox_cr::sandbox(ctx);
            shape(&mut sandbox.spec.pod_template.spec);
            to_value(&sandbox)
        }
        Backend::Job => {
            let mut job = job::job(ctx);
            if let Some(spec) = job.spec.as_mut().and_then(|s| s.template.spec.as_mut()) {
                shape(spec);
            }
            to_value(&job)
        }
        Backend::Pod => {
            let mut pod = pod::pod(ctx);
            if let Some(spec) = pod.spec.as_mut() {
                shape(spec);
            }
            to_value(&pod)
        }
    }
}

/// The PVC of a `pod`/`job` lease with a `pvc` workspace (sandbox-cr uses
/// `volumeClaimTemplates`), owned by the workload when `owner` is given.
pub fn workspace_claim(ctx: &Context, owner: Option<&ObjectRef>) -> Option<Value> {
    workspace_claim::workspace_claim(ctx, owner).map(|claim| to_value(&claim))
}

/// The per-run Secret request, owned by the workload when `owner` is given.
pub fn secret(ctx: &Context, owner: Option<&ObjectRef>) -> HostSecretRequest {
    secret::secret(ctx, owner)
}

#[cfg(test)]
pub(crate) mod fixture {
    //! A lease context for builder tests.

    use serde_json::{Value, json};

    use super::Context;
    use crate::config::Config;
    use crate::hooks::DefaultHooks;
    use crate::lease::{Command, LeaseRequest};

    /// Lease id used by the tests.
    pub const LEASE: &str = "lb-01jd8x7k2m3n4p5q6r7s8t9v0w";
    /// `now` used by the tests.
    pub const NOW: &str = "2026-11-23T10:00:00Z";

    /// A request with the given configuration document.
    pub fn request(config: &Value) -> LeaseRequest {
        LeaseRequest {
            config: config.to_string(),
            company_id: "Acme Corp".into(),
            run_id: "run-42".into(),
            lease_id: LEASE.into(),
            now: NOW.into(),
            adapter_type: None,
            image_override: None,
            command: Some(Command::Argv(vec!["echo".into(), "hi".into()])),
        }
    }

    /// The context of [`request`] under `overrides` merged into a minimal
    /// configuration.
    pub fn context(overrides: Value) -> Context {
        let mut config = json!({ "inCluster": true });
        if let (Some(base), Some(extra)) = (config.as_object_mut(), overrides.as_object()) {
            for (k, v) in extra {
                base.insert(k.clone(), v.clone());
            }
        }
        let parsed: Config = serde_json::from_value(config.clone()).expect("config parses");
        crate::plan::resolve::context(&DefaultHooks, parsed, &request(&config))
            .expect("context resolves")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::fixture;
    use super::*;
    use crate::hooks::DefaultHooks;

    #[rstest::rstest]
    #[case::standard("standard")]
    #[case::cilium("cilium")]
    fn tenant_objects_come_in_apply_order_without_an_egress_allow(#[case] mode: &str) {
        let ctx = fixture::context(json!({ "egressMode": mode }));
        let objects = tenant_objects(&ctx);
        let kinds: Vec<&str> = objects
            .iter()
            .map(|o| o["kind"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(
            kinds,
            [
                "Namespace",
                "ServiceAccount",
                "Role",
                "RoleBinding",
                "ResourceQuota",
                "LimitRange",
                "NetworkPolicy"
            ]
        );
        assert_eq!(objects[6]["metadata"]["name"], names::DENY_ALL_POLICY);
    }

    #[test]
    fn legacy_policies_are_in_the_tenant_namespace() {
        let ctx = fixture::context(json!({}));
        let legacy = legacy_egress_policies(&ctx);
        assert_eq!(legacy.len(), 2);
        for policy in legacy {
            assert_eq!(policy.namespace.as_deref(), Some(ctx.namespace.as_str()));
        }
    }

    #[test]
    fn workload_ref_matches_the_workload() {
        for backend in ["sandbox-cr", "job", "pod"] {
            let ctx = fixture::context(json!({ "backend": backend }));
            let built = ObjectRef::of(&workload(&DefaultHooks, &ctx)).expect("object ref");
            assert_eq!(built, ctx.workload_ref(), "{backend}");
        }
    }
}
