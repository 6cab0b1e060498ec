//! The decisions a custom policy may take over: [`Hooks`], one method per
//! decision, each with a default that is the default module's own rule,
//! and [`DefaultHooks`], which keeps every default.
//!
//! A policy crate implements `Hooks` on a type of its own, overrides the
//! methods it cares about and exports the component with
//! [`export_policy!`](crate::export_policy). The hooks reach the policy
//! explicitly: every call that consults them takes them as a parameter
//! (`plan::plan_with`, `plan::context_with`, `manifests::workload`,
//! `lifecycle::acquire_with`, `lifecycle::probe_with`,
//! `lifecycle::lease_status_with`). The default of each hook is a plain rule
//! of a module below this one, which imports no hook back.
//!
//! Which call consults which hook:
//!
//! | hook | consulted by |
//! |---|---|
//! | [`Hooks::image_policy`] | `plan`, `acquire-lease` |
//! | [`Hooks::egress`] | `plan`, `acquire-lease` |
//! | [`Hooks::shape_pod`] | `plan`, `acquire-lease` (every backend) |
//! | [`Hooks::tenant_namespace`] | `plan`, `acquire-lease`, `probe` |
//! | [`Hooks::pod_readiness`], [`Hooks::sandbox_readiness`] | `acquire-lease`, `get-lease-status` |
//!
//! `validate-config` and `config-schema` describe the configuration, which
//! the hooks do not change; their warnings (the egress fallback, for one)
//! speak of the default rules.

use std::fmt;

use k8s_openapi::api::core::v1::{Pod, PodSpec};

use crate::adapters::Adapter;
use crate::config::Config;
use crate::egress::{self, EgressPlan};
use crate::error::PolicyError;
use crate::image::{self, ImageCandidate};
use crate::lease::Backend;
use crate::lifecycle::conditions::{self, Readiness};
use crate::manifests::context::Context;
use crate::manifests::sandbox_cr::Sandbox;
use crate::names;

/// The policy's decisions. Every method has a default, the default
/// module's rule; a policy overrides only what it changes.
///
/// Implementations are shared by every call of the component (one value,
/// `'static`), so they hold no per-call state.
pub trait Hooks: Send + Sync {
    /// Whether the lease may run `candidate.image`, the image resolved
    /// from the request's override or the adapter (already parsed, and
    /// rewritten to `imageRegistry` when it is the adapter's).
    ///
    /// Default: [`image::check_allow_list`], an override must match a
    /// pattern of `imageAllowList`; the adapter's image is trusted.
    /// Refuse with [`PolicyError::NotAllowed`] and a message that names
    /// the image and the fix.
    fn image_policy(&self, candidate: &ImageCandidate<'_>) -> Result<(), PolicyError> {
        image::check_allow_list(candidate)
    }

    /// What the lease's egress policy allows besides DNS.
    ///
    /// Default: [`egress::plan`], the adapter's and the configured names
    /// and CIDRs in the configured mode.
    fn egress(&self, config: &Config, adapter: &Adapter) -> EgressPlan {
        egress::plan(config, adapter)
    }

    /// A last edit of the workload's pod spec (the Pod's, the Job's pod
    /// template's or the Sandbox's `podTemplate`), after every default
    /// rule has been applied.
    ///
    /// Default: no change. Kubernetes 1.20 rejects fields it does not know
    /// on server-side apply; add only fields it has.
    fn shape_pod(&self, ctx: &Context, spec: &mut PodSpec) {
        let _ = (ctx, spec);
    }

    /// The tenant namespace of `company_id`, where its leases live.
    ///
    /// Default: [`names::tenant_namespace`], `namespacePrefix` plus a slug
    /// of the company id, cut with a hash to fit a DNS label. Return a
    /// valid DNS-1123 label: the cluster refuses anything else.
    fn tenant_namespace(&self, config: &Config, company_id: &str) -> String {
        names::tenant_namespace(config, company_id)
    }

    /// Whether a lease's pod counts as ready, still pending, or failed for
    /// good (acquire stops at once on a failure, with its reason).
    ///
    /// Default: [`conditions::job_pod_readiness`] for the `job` backend
    /// (ready once the pod runs, or when its command already ran),
    /// [`conditions::pod_readiness`] otherwise (the `Ready` condition, and
    /// every fail-fast reason). For `sandbox-cr` a `Failed` answer stops
    /// acquire while the Sandbox is not ready yet.
    fn pod_readiness(&self, backend: Backend, pod: &Pod) -> Readiness {
        match backend {
            Backend::Job => conditions::job_pod_readiness(pod),
            Backend::SandboxCr | Backend::Pod => conditions::pod_readiness(pod),
        }
    }

    /// Whether an agent-sandbox `Sandbox` counts as ready.
    ///
    /// Default: [`conditions::sandbox_readiness`], its `Ready` condition is
    /// True. Failures show on its pod ([`Hooks::pod_readiness`]).
    fn sandbox_readiness(&self, sandbox: &Sandbox) -> Readiness {
        conditions::sandbox_readiness(sandbox)
    }
}

/// Every hook at its default: the default module's policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefaultHooks;

impl Hooks for DefaultHooks {}

/// Hooks show as `dyn Hooks` in the debug output of what holds them: an
/// implementation need not be `Debug`.
impl fmt::Debug for dyn Hooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("dyn Hooks")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::lease::LeaseRequest;
    use crate::manifests::fixture;

    /// Pins a toleration on every pod, to see the hook reach each backend.
    struct Tolerating;

    impl Hooks for Tolerating {
        fn shape_pod(&self, _ctx: &Context, spec: &mut PodSpec) {
            spec.priority_class_name = Some("leasebox-agents".into());
        }
    }

    /// Puts every tenant in one namespace.
    struct OneNamespace;

    impl Hooks for OneNamespace {
        fn tenant_namespace(&self, _config: &Config, _company_id: &str) -> String {
            "shared-agents".into()
        }
    }

    fn request(backend: &str) -> LeaseRequest {
        fixture::request(&json!({ "inCluster": true, "backend": backend }))
    }

    #[test]
    fn hooks_are_object_safe_and_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync + ?Sized>() {}
        assert_send_sync::<dyn Hooks>();
        let hooks: &'static dyn Hooks = &DefaultHooks;
        assert_eq!(format!("{hooks:?}"), "dyn Hooks");
    }

    #[rstest::rstest]
    #[case::sandbox_cr("sandbox-cr", "/spec/podTemplate/spec")]
    #[case::job("job", "/spec/template/spec")]
    #[case::pod("pod", "/spec")]
    fn shape_pod_edits_the_pod_spec_of_every_backend(#[case] backend: &str, #[case] at: &str) {
        let ctx = crate::plan::context_with(&Tolerating, &request(backend)).expect("context");
        let workload = crate::manifests::workload(&Tolerating, &ctx);
        let spec = workload.pointer(at).expect("pod spec");
        assert_eq!(spec["priorityClassName"], "leasebox-agents", "{backend}");
        let default = crate::manifests::workload(
            &DefaultHooks,
            &crate::plan::context(&request(backend)).expect("context"),
        );
        assert!(
            default
                .pointer(at)
                .expect("pod spec")
                .get("priorityClassName")
                .is_none()
        );
    }

    #[test]
    fn tenant_namespace_hook_places_every_tenant_object_and_the_workload() {
        let objects = crate::plan::plan_with(&OneNamespace, &request("pod")).expect("plan");
        assert_eq!(objects[0]["metadata"]["name"], "shared-agents");
        for object in &objects[1..] {
            assert_eq!(object["metadata"]["namespace"], "shared-agents", "{object}");
        }
    }

    #[test]
    fn default_hooks_plan_exactly_what_plan_does() {
        for backend in ["sandbox-cr", "job", "pod"] {
            let request = request(backend);
            assert_eq!(
                crate::plan::plan_with(&DefaultHooks, &request),
                crate::plan::plan(&request),
                "{backend}"
            );
        }
    }
}
