//! acquire: tenant objects when they changed (`tenant.rs`), the Secret,
//! the workload, then the workload's ownership of the Secret, its PVC and
//! egress policy, then wait by watch until the sandbox is ready or fails
//! with a named reason. Any failure after the first lease object rolls
//! back what this call created.
//!
//! The pod's start is most of an acquire, so the workload comes as early
//! as it can: on a warm tenant after one read (the tenant's record) and
//! the Secret. The Secret must come first: a container that starts before
//! its Secret exists fails and waits out the kubelet's back-off (10 s and
//! more). The objects the workload owns need its uid and so follow it;
//! the pod runs under the tenant's deny-all until its own egress policy
//! lands, which fails closed.

use k8s_openapi::Resource;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use super::conditions::{self, Readiness};
use super::rollback::Created;
use super::step::{apply_step, invalid_object, kube_failure};
use crate::cluster::{Cluster, EventType, Level, Watch, WatchRequest};
use crate::config::Backend;
use crate::error::PolicyError;
use crate::hooks::Hooks;
use crate::lease::{self, Lease, LeaseRequest, ObjectRef};
use crate::manifests::sandbox_cr::Sandbox;
use crate::manifests::{self, Context};
use crate::{names, plan};

/// Longest single wait on one watch while two are followed at once
/// (Sandbox and its pods): the latency of noticing a pod failure.
pub(crate) const WATCH_SLICE_MS: u64 = 1_000;

/// The step name of the readiness wait.
pub(crate) const STEP_WAIT_READY: &str = "wait-ready";

/// The step of writing the lease's Secret before the workload.
pub(crate) const STEP_APPLY_SECRET: &str = "apply-secret";

/// The step of writing it again with the workload as its owner.
pub(crate) const STEP_OWN_SECRET: &str = "own-secret";

/// See [`super::acquire`].
pub(crate) fn acquire(
    hooks: &'static dyn Hooks,
    cluster: &dyn Cluster,
    request: &LeaseRequest,
) -> Result<Lease, PolicyError> {
    let ctx = plan::context_with(hooks, request)?;
    cluster.log(
        Level::Info,
        "acquire",
        &format!(
            "lease {} for company {} in {} ({} backend, image {})",
            ctx.lease_id,
            ctx.company_id,
            ctx.namespace,
            ctx.config.backend.as_str(),
            ctx.image
        ),
    );
    let mut created = Created::default();
    match run(hooks, cluster, &ctx, &mut created) {
        Ok(lease) => {
            cluster.log(
                Level::Info,
                "acquire",
                &format!("lease {} ready in pod {}", lease.id, lease.pod),
            );
            Ok(lease)
        }
        Err(error) => {
            cluster.log(
                Level::Error,
                "acquire",
                &format!("{}; rolling back", error.describe()),
            );
            Err(created.roll_back(cluster, error))
        }
    }
}

fn run(
    hooks: &dyn Hooks,
    cluster: &dyn Cluster,
    ctx: &Context,
    created: &mut Created,
) -> Result<Lease, PolicyError> {
    super::tenant::ensure(cluster, ctx)?;
    apply_secret(cluster, ctx, created, None)?;

    let manifest = manifests::workload(hooks, ctx);
    let step = apply_step(&manifest);
    created.workload(ctx.workload_ref());
    let applied = cluster.apply(&manifest).map_err(|e| {
        kube_failure(
            &step,
            &format!("applying {}", ctx.workload_ref().display()),
            &e,
        )
    })?;
    let workload = ObjectRef::of(&applied)
        .filter(|w| w.uid.as_deref().is_some_and(|u| !u.is_empty()))
        .ok_or_else(|| {
            PolicyError::step(
                &step,
                "NoUid",
                format!(
                    "the server's answer for {} has no metadata.uid, so nothing can be owned by it",
                    ctx.workload_ref().display()
                ),
            )
        })?;
    created.workload(workload.clone());
    cluster.log(
        Level::Info,
        "acquire",
        &format!(
            "applied {} (uid {})",
            workload.display(),
            workload.uid.as_deref().unwrap_or("")
        ),
    );

    apply_secret(cluster, ctx, created, Some(&workload))?;
    if let Some(claim) = manifests::workspace_claim(ctx, Some(&workload)) {
        apply_lease_object(cluster, created, &claim)?;
    }
    apply_lease_object(
        cluster,
        created,
        &manifests::egress_policy(ctx, Some(&workload)),
    )?;

    let pod = wait_ready(hooks, cluster, ctx, &workload)?;

    super::recorded::from_workload(cluster, &step, ctx.config.backend.into(), &applied, pod)
}

/// Applies the lease's host-filled Secret, tracking it for rollback first:
/// before the workload without an owner (then warns about host keys the
/// host had no value for), and again once the workload exists with it as
/// the owner (the host keeps the random values of a Secret it writes
/// again, `wit/kube.wit`).
pub(super) fn apply_secret(
    cluster: &dyn Cluster,
    ctx: &Context,
    created: &mut Created,
    owner: Option<&ObjectRef>,
) -> Result<(), PolicyError> {
    let secret = manifests::secret(ctx, owner);
    let secret_name = secret
        .manifest
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| names::secret_name(&ctx.lease_id));
    if let Some(planned) = ObjectRef::of(&secret.manifest) {
        created.other(planned);
    }
    let (step, what) = match owner {
        None => (STEP_APPLY_SECRET, format!("applying Secret {secret_name}")),
        Some(owner) => (
            STEP_OWN_SECRET,
            format!(
                "making {} the owner of Secret {secret_name}",
                owner.display()
            ),
        ),
    };
    let (stored, filled) = cluster
        .apply_host_secret(&secret)
        .map_err(|e| kube_failure(step, &what, &e))?;
    if let Some(stored) = ObjectRef::of(&stored) {
        created.other(stored);
    }
    if owner.is_some() {
        return Ok(());
    }
    let missing: Vec<&str> = secret
        .host_keys
        .iter()
        .filter(|k| !filled.contains(k))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        cluster.log(
            Level::Warn,
            "acquire",
            &format!(
                "the host has no value for {}; the agent may fail to authenticate (set them in \
                 the host's environment or secret store)",
                missing.join(", ")
            ),
        );
    }
    Ok(())
}

/// Applies a lease object other than the workload (the egress policy, the
/// PVC), tracking it for rollback first.
pub(super) fn apply_lease_object(
    cluster: &dyn Cluster,
    created: &mut Created,
    object: &Value,
) -> Result<(), PolicyError> {
    let step = apply_step(object);
    let planned = ObjectRef::of(object);
    if let Some(planned) = &planned {
        created.other(planned.clone());
    }
    let what = planned
        .map(|p| p.display())
        .unwrap_or_else(|| "a lease object".into());
    let stored = cluster
        .apply(object)
        .map_err(|e| kube_failure(&step, &format!("applying {what}"), &e))?;
    if let Some(stored) = ObjectRef::of(&stored) {
        created.other(stored);
    }
    Ok(())
}

/// The readiness budget, on the host's monotonic clock.
struct Budget {
    deadline_ms: u64,
    seconds: u32,
}

impl Budget {
    fn start(cluster: &dyn Cluster, seconds: u32) -> Budget {
        Budget {
            deadline_ms: cluster
                .monotonic_ms()
                .saturating_add(u64::from(seconds) * 1000),
            seconds,
        }
    }

    fn remaining(&self, cluster: &dyn Cluster) -> u64 {
        self.deadline_ms.saturating_sub(cluster.monotonic_ms())
    }

    fn timeout(&self, what: &str, last: &str) -> PolicyError {
        PolicyError::step(
            STEP_WAIT_READY,
            "ReadyTimeout",
            format!(
                "{what} did not become ready within {}s (podReadyTimeoutSec); last seen: {last}; \
                 raise podReadyTimeoutSec if the cluster adds nodes on demand",
                self.seconds
            ),
        )
    }
}

/// Waits until the workload is ready by the policy's readiness hooks;
/// returns the name of the pod running the agent container.
fn wait_ready(
    hooks: &dyn Hooks,
    cluster: &dyn Cluster,
    ctx: &Context,
    workload: &ObjectRef,
) -> Result<String, PolicyError> {
    let budget = Budget::start(cluster, ctx.config.pod_ready_timeout_sec);
    let namespace = ctx.namespace.as_str();
    let backend = lease::Backend::from(ctx.config.backend);
    let readiness = |pod: &Pod| hooks.pod_readiness(backend, pod);
    match ctx.config.backend {
        Backend::Pod => {
            let request = pod_by_name(namespace, &workload.name);
            let pod = wait_pod(cluster, &budget, &request, &readiness)?;
            Ok(conditions::name_of(&pod.metadata).to_string())
        }
        Backend::Job => {
            let request = WatchRequest {
                api_version: Pod::API_VERSION.into(),
                kind: Pod::KIND.into(),
                namespace: namespace.to_string(),
                label_selector: format!("job-name={}", workload.name),
                field_selector: String::new(),
            };
            let pod = wait_pod(cluster, &budget, &request, &readiness)?;
            Ok(conditions::name_of(&pod.metadata).to_string())
        }
        Backend::SandboxCr => {
            let pod_name = wait_sandbox(hooks, cluster, &budget, ctx, workload)?;
            let request = pod_by_name(namespace, &pod_name);
            wait_pod(cluster, &budget, &request, &readiness)?;
            Ok(pod_name)
        }
    }
}

fn pod_by_name(namespace: &str, name: &str) -> WatchRequest {
    WatchRequest {
        api_version: Pod::API_VERSION.into(),
        kind: Pod::KIND.into(),
        namespace: namespace.to_string(),
        label_selector: String::new(),
        field_selector: format!("metadata.name={name}"),
    }
}

fn describe(request: &WatchRequest) -> String {
    let selector = if request.field_selector.is_empty() {
        &request.label_selector
    } else {
        &request.field_selector
    };
    format!("{} in {} ({selector})", request.kind, request.namespace)
}

fn open(cluster: &dyn Cluster, request: &WatchRequest) -> Result<Box<dyn Watch>, PolicyError> {
    cluster.watch(request).map_err(|e| {
        kube_failure(
            STEP_WAIT_READY,
            &format!("watching {}", describe(request)),
            &e,
        )
    })
}

fn next(
    watch: &mut dyn Watch,
    request: &WatchRequest,
    timeout_ms: u64,
) -> Result<Option<crate::cluster::WatchEvent>, PolicyError> {
    watch.next(timeout_ms).map_err(|e| {
        kube_failure(
            STEP_WAIT_READY,
            &format!("watching {}", describe(request)),
            &e,
        )
    })
}

fn deleted(kind: &str, metadata: &ObjectMeta) -> PolicyError {
    PolicyError::step(
        STEP_WAIT_READY,
        "Deleted",
        format!(
            "{kind} {} was deleted while acquire waited for it (evicted, or deleted by someone \
             else)",
            conditions::name_of(metadata)
        ),
    )
}

/// The Pod a watch event carries; an object of another kind fails the step.
fn read_pod(object: Value) -> Result<Pod, PolicyError> {
    conditions::read::<Pod>(object).map_err(|m| invalid_object(STEP_WAIT_READY, m))
}

fn fail(reason: String, message: String) -> PolicyError {
    PolicyError::step(STEP_WAIT_READY, &reason, message)
}

/// Follows pods matching `request` until one is ready by `readiness`
/// (returned) or fails; within the budget.
fn wait_pod(
    cluster: &dyn Cluster,
    budget: &Budget,
    request: &WatchRequest,
    readiness: &dyn Fn(&Pod) -> Readiness,
) -> Result<Pod, PolicyError> {
    let mut watch = open(cluster, request)?;
    let mut last = String::from("no pod yet");
    loop {
        let remaining = budget.remaining(cluster);
        if remaining == 0 {
            return Err(budget.timeout(&format!("the pod ({})", describe(request)), &last));
        }
        let Some(event) = next(watch.as_mut(), request, remaining)? else {
            continue;
        };
        let pod = read_pod(event.object)?;
        if event.event_type == EventType::Deleted {
            return Err(deleted("pod", &pod.metadata));
        }
        match readiness(&pod) {
            Readiness::Ready => return Ok(pod),
            Readiness::Failed { reason, message } => return Err(fail(reason, message)),
            Readiness::Pending => {
                let summary = format!(
                    "pod {}: {}",
                    conditions::name_of(&pod.metadata),
                    conditions::pod_summary(&pod)
                );
                if summary != last {
                    cluster.log(Level::Info, "acquire", &summary);
                    last = summary;
                }
            }
        }
    }
}

/// Follows the Sandbox until it is ready ([`Hooks::sandbox_readiness`]),
/// and its pods (by lease label) for a failure ([`Hooks::pod_readiness`])
/// meanwhile; returns the pod name.
fn wait_sandbox(
    hooks: &dyn Hooks,
    cluster: &dyn Cluster,
    budget: &Budget,
    ctx: &Context,
    workload: &ObjectRef,
) -> Result<String, PolicyError> {
    let sandbox_request = WatchRequest {
        api_version: workload.api_version.clone(),
        kind: workload.kind.clone(),
        namespace: ctx.namespace.clone(),
        label_selector: String::new(),
        field_selector: format!("metadata.name={}", workload.name),
    };
    let pods_request = WatchRequest {
        api_version: Pod::API_VERSION.into(),
        kind: Pod::KIND.into(),
        namespace: ctx.namespace.clone(),
        label_selector: format!("{}={}", names::LABEL_LEASE, ctx.lease_id),
        field_selector: String::new(),
    };
    let mut sandboxes = open(cluster, &sandbox_request)?;
    let mut pods = open(cluster, &pods_request)?;
    let mut last = String::from("no status yet");
    loop {
        let remaining = budget.remaining(cluster);
        if remaining == 0 {
            return Err(budget.timeout(&format!("Sandbox {}", workload.name), &last));
        }
        if let Some(event) = next(
            sandboxes.as_mut(),
            &sandbox_request,
            remaining.min(WATCH_SLICE_MS),
        )? {
            let sandbox = conditions::read_sandbox(event.object)
                .map_err(|m| invalid_object(STEP_WAIT_READY, m))?;
            if event.event_type == EventType::Deleted {
                return Err(deleted("Sandbox", &sandbox.metadata));
            }
            if hooks.sandbox_readiness(&sandbox) == Readiness::Ready {
                return Ok(conditions::sandbox_pod_name(&sandbox.metadata));
            }
            let summary = sandbox_summary(&sandbox);
            if summary != last {
                cluster.log(Level::Info, "acquire", &summary);
                last = summary;
            }
        }
        while let Some(event) = next(pods.as_mut(), &pods_request, 0)? {
            if event.event_type == EventType::Deleted {
                continue;
            }
            let pod = read_pod(event.object)?;
            if let Readiness::Failed { reason, message } =
                hooks.pod_readiness(lease::Backend::SandboxCr, &pod)
            {
                return Err(fail(reason, message));
            }
            let summary = format!(
                "pod {}: {}",
                conditions::name_of(&pod.metadata),
                conditions::pod_summary(&pod)
            );
            if summary != last {
                cluster.log(Level::Info, "acquire", &summary);
                last = summary;
            }
        }
    }
}

fn sandbox_summary(sandbox: &Sandbox) -> String {
    let name = conditions::name_of(&sandbox.metadata);
    match conditions::sandbox_condition(sandbox, "Ready") {
        Some(cond) => format!(
            "Sandbox {name}: Ready={} {} {}",
            if cond.status.is_empty() {
                "Unknown"
            } else {
                &cond.status
            },
            cond.reason,
            cond.message
        )
        .trim_end()
        .to_string(),
        None => format!("Sandbox {name}: no Ready condition yet"),
    }
}
