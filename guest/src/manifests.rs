//! Every Kubernetes object a lease needs, one typed builder per file.
//!
//! Each builder returns a typed `k8s-openapi` object (or, for the
//! agent-sandbox `Sandbox`, a typed struct of its own); the functions here
//! turn them into JSON in the order acquire applies them. Builders only set
//! fields that Kubernetes 1.20 knows: server-side apply there rejects
//! undeclared fields.

pub mod cilium_policy;
pub mod egress_policy;
pub mod job;
pub mod limit_range;
pub mod namespace;
pub mod network_policy;
pub mod pod;
pub mod pod_baseline;
pub mod resource_quota;
pub mod role;
pub mod role_binding;
pub mod sandbox_cr;
pub mod secret;
pub mod service_account;
pub mod workspace_claim;

use std::collections::BTreeMap;

use k8s_openapi::Resource;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use serde::Serialize;
use serde_json::Value;

use crate::adapters::{self, Adapter};
use crate::cluster::HostSecretRequest;
use crate::config::{Backend, Config};
use crate::egress::EgressPlan;
use crate::error::PolicyError;
use crate::hooks::{DefaultHooks, Hooks};
use crate::lease::{Command, LeaseRequest, ObjectRef};
use crate::{image, names, time};

/// Everything resolved for one lease: the inputs of every builder, and the
/// policy's [`Hooks`] for the decisions taken after resolution (the pod
/// spec's last edit, readiness).
#[derive(Debug, Clone)]
pub struct Context {
    /// The policy's hooks, which resolved this context.
    pub hooks: &'static dyn Hooks,
    /// Normalized configuration.
    pub config: Config,
    /// Company id (raw).
    pub company_id: String,
    /// Run id (raw).
    pub run_id: String,
    /// Lease id.
    pub lease_id: String,
    /// RFC 3339 creation time.
    pub now: String,
    /// RFC 3339 deadline (`now + leaseMaxAgeSec`).
    pub expires_at: String,
    /// Tenant namespace.
    pub namespace: String,
    /// Adapter in effect.
    pub adapter: Adapter,
    /// Agent image.
    pub image: String,
    /// Egress plan.
    pub egress: EgressPlan,
    /// Command of a `job` backend.
    pub command: Option<Command>,
}

impl Context {
    /// Resolves a lease request against a normalized configuration under
    /// the default policy ([`Context::with_hooks`] with [`DefaultHooks`]).
    pub fn new(config: Config, request: &LeaseRequest) -> Result<Context, PolicyError> {
        Context::with_hooks(&DefaultHooks, config, request)
    }

    /// Resolves a lease request against a normalized configuration: the
    /// image (admitted by [`Hooks::image_policy`]), the tenant namespace
    /// ([`Hooks::tenant_namespace`]) and the egress plan ([`Hooks::egress`])
    /// come from `hooks`, which the context keeps for the builders.
    ///
    /// `now` is normalized to UTC with second precision, so the annotations
    /// and `shutdownTime` of every object carry the same spelling.
    pub fn with_hooks(
        hooks: &'static dyn Hooks,
        config: Config,
        request: &LeaseRequest,
    ) -> Result<Context, PolicyError> {
        names::check_lease_id(&request.lease_id)
            .map_err(|e| PolicyError::BadRequest(format!("lease id: {e}")))?;
        if request.company_id.trim().is_empty() {
            return Err(PolicyError::BadRequest(
                "company id is empty; pass the id of the tenant the lease is for".into(),
            ));
        }
        if request.run_id.trim().is_empty() {
            return Err(PolicyError::BadRequest(
                "run id is empty; pass the id of the run the lease is for".into(),
            ));
        }
        let now =
            time::parse(&request.now).map_err(|e| PolicyError::BadRequest(format!("now: {e}")))?;
        let expires_at = time::add_seconds(now, u64::from(config.lease_max_age_sec))
            .map_err(|e| PolicyError::BadRequest(format!("leaseMaxAgeSec: {e}")))?;

        let adapter_type = request
            .adapter_type
            .clone()
            .unwrap_or_else(|| config.adapter_type.clone());
        let adapter = adapters::find(&config, &adapter_type).ok_or_else(|| {
            let known: Vec<String> = adapters::registry(&config)
                .into_iter()
                .map(|a| a.adapter_type)
                .collect();
            PolicyError::NotAllowed(format!(
                "adapter `{adapter_type}` is not in the registry; use one of: {}, or declare it \
                 under `adapters`",
                known.join(", ")
            ))
        })?;

        let command = match config.backend {
            Backend::Job => Some(job_command(request.command.as_ref())?),
            Backend::SandboxCr | Backend::Pod => None,
        };

        let image =
            image::resolve_with(hooks, &config, &adapter, request.image_override.as_deref())?;
        let namespace = hooks.tenant_namespace(&config, &request.company_id);
        let egress = hooks.egress(&config, &adapter);

        Ok(Context {
            hooks,
            company_id: request.company_id.clone(),
            run_id: request.run_id.clone(),
            lease_id: request.lease_id.clone(),
            now: time::format(now),
            expires_at,
            namespace,
            adapter,
            image,
            egress,
            command,
            config,
        })
    }

    /// Labels of the lease's objects (workload, Secret, PVC).
    pub fn lease_labels(&self) -> BTreeMap<String, String> {
        names::lease_labels(
            &self.lease_id,
            &self.run_id,
            &self.company_id,
            &self.adapter.adapter_type,
        )
    }

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

/// The command a `job` lease runs: required, and not empty.
fn job_command(command: Option<&Command>) -> Result<Command, PolicyError> {
    match command {
        None => Err(PolicyError::BadRequest(
            "command: the job backend runs one command to completion; pass `command` (an argv \
             or a shell string)"
                .into(),
        )),
        Some(Command::Argv(argv)) if argv.first().is_none_or(|a| a.is_empty()) => {
            Err(PolicyError::BadRequest(
                "command: the argv is empty or starts with an empty program; pass the program \
                 to run first"
                    .into(),
            ))
        }
        Some(Command::Shell(s)) if s.trim().is_empty() => Err(PolicyError::BadRequest(
            "command: the shell string is empty; pass the command line to run".into(),
        )),
        Some(c) => Ok(c.clone()),
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

/// The workload (Sandbox, Job or Pod).
pub fn workload(ctx: &Context) -> Value {
    match ctx.config.backend {
        Backend::SandboxCr => to_value(&sandbox_cr::sandbox(ctx)),
        Backend::Job => to_value(&job::job(ctx)),
        Backend::Pod => to_value(&pod::pod(ctx)),
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

/// Serialises a typed object.
///
/// `serde_json::to_value` fails only for maps with non-string keys or a
/// failing `Serialize` impl, which none of our types have; should it ever
/// fail, the result is an object without `apiVersion`/`kind`, which the
/// host refuses to apply, rather than a panic across the wasm boundary.
pub(crate) fn to_value<T: Serialize>(object: &T) -> Value {
    serde_json::to_value(object).unwrap_or_else(
        |e| serde_json::json!({ "error": format!("failed to serialise a manifest: {e}") }),
    )
}

/// Metadata of a namespaced object.
pub(crate) fn meta(name: &str, namespace: &str, labels: BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: Some(namespace.to_string()),
        labels: Some(labels),
        ..ObjectMeta::default()
    }
}

/// A resource list (`cpu`, `memory`, ...) from name/quantity pairs.
pub(crate) fn quantities(pairs: &[(&str, &str)]) -> BTreeMap<String, Quantity> {
    pairs
        .iter()
        .map(|(name, value)| (name.to_string(), Quantity(value.to_string())))
        .collect()
}

/// The controller ownerReference to `owner`, so that deleting the owner
/// deletes the dependent. An owner without uid yields an empty uid, which
/// the API server rejects loudly instead of leaving an orphan behind.
pub(crate) fn controller_reference(owner: &ObjectRef) -> OwnerReference {
    OwnerReference {
        api_version: owner.api_version.clone(),
        kind: owner.kind.clone(),
        name: owner.name.clone(),
        uid: owner.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

#[cfg(test)]
pub(crate) mod fixture {
    //! A lease context for builder tests.

    use serde_json::{Value, json};

    use super::Context;
    use crate::config::Config;
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
        Context::new(parsed, &request(&config)).expect("context resolves")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::fixture::{self, LEASE};
    use super::*;

    fn config(overrides: Value) -> Config {
        let mut base = json!({ "inCluster": true });
        if let (Some(b), Some(o)) = (base.as_object_mut(), overrides.as_object()) {
            b.extend(o.clone());
        }
        serde_json::from_value(base).expect("config parses")
    }

    #[test]
    fn context_carries_deadline_and_normalized_now() {
        let mut request = fixture::request(&json!({}));
        request.now = "2026-11-23T12:00:00+02:00".into();
        let ctx = Context::new(config(json!({ "leaseMaxAgeSec": 3600 })), &request)
            .expect("context resolves");
        assert_eq!(ctx.now, "2026-11-23T10:00:00Z");
        assert_eq!(ctx.expires_at, "2026-11-23T11:00:00Z");
        assert_eq!(ctx.lease_id, LEASE);
        assert!(ctx.namespace.starts_with("leasebox-"), "{}", ctx.namespace);
    }

    #[test]
    fn bad_lease_id_is_a_bad_request_naming_it() {
        let mut request = fixture::request(&json!({}));
        request.lease_id = "pod-1".into();
        let err = Context::new(config(json!({})), &request).expect_err("bad id");
        assert!(
            matches!(&err, PolicyError::BadRequest(m) if m.starts_with("lease id:")),
            "{err}"
        );
    }

    #[test]
    fn empty_company_id_is_a_bad_request() {
        let mut request = fixture::request(&json!({}));
        request.company_id = "  ".into();
        let err = Context::new(config(json!({})), &request).expect_err("empty company");
        assert!(
            matches!(&err, PolicyError::BadRequest(m) if m.contains("company id")),
            "{err}"
        );
    }

    #[test]
    fn empty_run_id_is_a_bad_request() {
        let mut request = fixture::request(&json!({}));
        request.run_id = String::new();
        let err = Context::new(config(json!({})), &request).expect_err("empty run");
        assert!(
            matches!(&err, PolicyError::BadRequest(m) if m.contains("run id")),
            "{err}"
        );
    }

    #[test]
    fn unparseable_now_is_a_bad_request() {
        let mut request = fixture::request(&json!({}));
        request.now = "tomorrow".into();
        let err = Context::new(config(json!({})), &request).expect_err("bad now");
        assert!(
            matches!(&err, PolicyError::BadRequest(m) if m.starts_with("now:")),
            "{err}"
        );
    }

    #[test]
    fn unknown_adapter_is_not_allowed_and_lists_the_known_ones() {
        let mut request = fixture::request(&json!({}));
        request.adapter_type = Some("no_such_agent".into());
        let err = Context::new(config(json!({})), &request).expect_err("unknown adapter");
        match err {
            PolicyError::NotAllowed(m) => {
                assert!(m.contains("no_such_agent"), "{m}");
                assert!(m.contains("claude_local"), "{m}");
            }
            other => panic!("expected NotAllowed, got {other:?}"),
        }
    }

    #[test]
    fn per_run_adapter_overrides_the_configured_one() {
        let declared = json!({ "adapters": [{ "adapterType": "my_agent", "image": "ghcr.io/acme/agent:1.2.3" }] });
        let mut request = fixture::request(&json!({}));
        request.adapter_type = Some("my_agent".into());
        let ctx = Context::new(config(declared), &request).expect("context resolves");
        assert_eq!(ctx.adapter.adapter_type, "my_agent");
        assert_eq!(ctx.image, "ghcr.io/acme/agent:1.2.3");
    }

    #[test]
    fn job_backend_without_command_is_a_bad_request_naming_command() {
        let mut request = fixture::request(&json!({}));
        request.command = None;
        let err = Context::new(config(json!({ "backend": "job" })), &request)
            .expect_err("job needs a command");
        assert!(
            matches!(&err, PolicyError::BadRequest(m) if m.starts_with("command:")),
            "{err}"
        );
    }

    #[test]
    fn job_backend_with_empty_argv_is_a_bad_request() {
        let mut request = fixture::request(&json!({}));
        request.command = Some(Command::Argv(vec![]));
        let err =
            Context::new(config(json!({ "backend": "job" })), &request).expect_err("empty argv");
        assert!(matches!(err, PolicyError::BadRequest(_)), "{err}");
    }

    #[test]
    fn sandbox_backends_ignore_the_command() {
        let ctx = fixture::context(json!({ "backend": "pod" }));
        assert_eq!(ctx.command, None);
    }

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
            let built = ObjectRef::of(&workload(&ctx)).expect("object ref");
            assert_eq!(built, ctx.workload_ref(), "{backend}");
        }
    }

    #[test]
    fn controller_reference_blocks_owner_deletion() {
        let owner = ObjectRef {
            api_version: "batch/v1".into(),
            kind: "Job".into(),
            namespace: Some("ns".into()),
            name: LEASE.into(),
            uid: Some("u-1".into()),
        };
        let reference = controller_reference(&owner);
        assert_eq!(reference.uid, "u-1");
        assert_eq!(reference.controller, Some(true));
        assert_eq!(reference.block_owner_deletion, Some(true));
    }
}
