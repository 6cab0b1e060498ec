//! `ensure-pool`: keeps a tenant's warm pool at the size its configuration
//! asks for (`warmPool.size`, at most the host's `max-pods`). Stale pool
//! pods (another module, another pod spec, failed) and pods beyond the
//! size are deleted; missing ones are created under the lowest free index
//! (`pool-<hash>-<index>`), with a plain create, so two callers ensuring
//! at once never make one pod twice: the second gets `conflict` and moves
//! on. Nothing waits for a pod to become ready.

use k8s_openapi::Resource;
use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;

use super::conditions;
use super::step::kube_failure;
use crate::cluster::{Cluster, DeleteOptions, KubeError, Level, Propagation};
use crate::config::Backend;
use crate::error::PolicyError;
use crate::hooks::Hooks;
use crate::lease::{LeaseRequest, ObjectRef, PoolReport, PoolRequest};
use crate::manifests::Context;
use crate::manifests::pool_pod::PoolShape;
use crate::{names, plan, time};
use jiff::Timestamp;

/// The step name of every failure of `ensure-pool`.
const STEP: &str = "ensure-pool";

/// The lease id of a pool's context: it names no lease (pool pods carry no
/// lease label, and nothing of the context's lease id reaches them).
pub(crate) const POOL_CONTEXT_LEASE: &str = "lb-00000000000000000000000000";

/// The run id of a pool's context.
const POOL_CONTEXT_RUN: &str = "pool";

/// How many names past a taken one a create tries before giving up.
const NAME_ATTEMPTS: u32 = 16;

/// The context a pool's pods are built from: the configuration for the
/// company, adapter and image of `request`, and no lease.
pub(crate) fn pool_context(
    hooks: &'static dyn Hooks,
    request: &PoolRequest,
) -> Result<Context, PolicyError> {
    plan::context_with(
        hooks,
        &LeaseRequest {
            config: request.config.clone(),
            company_id: request.company_id.clone(),
            run_id: POOL_CONTEXT_RUN.to_string(),
            lease_id: POOL_CONTEXT_LEASE.to_string(),
            now: request.now.clone(),
            adapter_type: request.adapter_type.clone(),
            image_override: request.image_override.clone(),
            command: None,
        },
    )
}

/// The pool context of a lease's context (the same configuration, company,
/// adapter, image and time, no lease): what [`pool_context`] resolves for
/// the lease's pool, without validating the configuration again.
pub(crate) fn pool_context_of(lease: &Context) -> Context {
    Context {
        lease_id: POOL_CONTEXT_LEASE.to_string(),
        run_id: POOL_CONTEXT_RUN.to_string(),
        command: None,
        ..lease.clone()
    }
}

/// The size a configuration asks for: 0 without `warmPool` or for a
/// backend pools do not serve.
pub(crate) fn configured_size(ctx: &Context) -> u32 {
    match ctx.config.backend {
        Backend::Pod => ctx.config.warm_pool.map_or(0, |w| w.size),
        Backend::SandboxCr | Backend::Job => 0,
    }
}

/// A pool pod as listed.
pub(crate) struct PoolPod {
    pub(crate) object: Value,
    pub(crate) pod: Pod,
}

impl PoolPod {
    pub(crate) fn name(&self) -> &str {
        self.pod.metadata.name.as_deref().unwrap_or("")
    }

    fn annotation(&self, key: &str) -> Option<&str> {
        self.pod
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(key))
            .map(String::as_str)
    }

    /// Bound to a lease (it carries a lease label).
    pub(crate) fn claimed(&self) -> bool {
        self.pod
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(names::LABEL_LEASE))
            .is_some_and(|l| !l.is_empty())
    }

    pub(crate) fn terminating(&self) -> bool {
        self.pod.metadata.deletion_timestamp.is_some()
    }

    /// Past its idle deadline (annotation `leasebox.dev/expires-at`) at
    /// `now`; a pod without a readable one is.
    pub(crate) fn expired(&self, now: Timestamp) -> bool {
        self.annotation(names::ANNOTATION_EXPIRES_AT)
            .and_then(|t| time::parse(t).ok())
            .is_none_or(|deadline| deadline <= now)
    }

    /// Built from `shape` by module `module_sha256`, not failed and not
    /// idle past its deadline at `now`.
    pub(crate) fn fresh(&self, shape: &PoolShape, module_sha256: &str, now: Timestamp) -> bool {
        !self.expired(now)
            && self.annotation(names::ANNOTATION_POOL_SPEC) == Some(shape.spec_hash.as_str())
            && self.annotation(names::ANNOTATION_MODULE_SHA256) == Some(module_sha256)
            && conditions::pod_failure(&self.pod).is_none()
            && !matches!(conditions::pod_phase(&self.pod), "Failed" | "Succeeded")
    }

    pub(crate) fn reference(&self) -> ObjectRef {
        ObjectRef::of(&self.object).unwrap_or_else(|| ObjectRef {
            api_version: Pod::API_VERSION.into(),
            kind: Pod::KIND.into(),
            namespace: self.pod.metadata.namespace.clone(),
            name: self.name().to_string(),
            uid: self.pod.metadata.uid.clone(),
        })
    }
}

/// Every pod of `shape`'s pool in `namespace`, claimed or not, by name.
pub(crate) fn list_pool(
    cluster: &dyn Cluster,
    step: &str,
    namespace: &str,
    shape: &PoolShape,
) -> Result<Vec<PoolPod>, PolicyError> {
    let listed = cluster
        .list(
            Pod::API_VERSION,
            Pod::KIND,
            Some(namespace),
            &shape.selector(),
        )
        .map_err(|e| {
            kube_failure(
                step,
                &format!("listing the pods of pool {}", shape.pool),
                &e,
            )
        })?;
    let mut pods: Vec<PoolPod> = listed
        .into_iter()
        .filter_map(|object| {
            let pod = conditions::read::<Pod>(object.clone()).ok()?;
            Some(PoolPod { object, pod })
        })
        .collect();
    pods.sort_by(|a, b| a.name().cmp(b.name()));
    Ok(pods)
}

/// See the module documentation.
pub(crate) fn ensure(
    hooks: &'static dyn Hooks,
    cluster: &dyn Cluster,
    request: &PoolRequest,
) -> Result<PoolReport, PolicyError> {
    let ctx = pool_context(hooks, request)?;
    let mut report = PoolReport {
        namespace: ctx.namespace.clone(),
        pool: String::new(),
        size: 0,
        ready: 0,
        starting: 0,
        created: Vec::new(),
        replaced: Vec::new(),
    };
    // No `warmPool` at all: this configuration has no pool, and leaves
    // alone the pool another configuration of the same adapter and image
    // keeps (`warmPool.size` 0 empties it).
    if ctx.config.backend != Backend::Pod || ctx.config.warm_pool.is_none() {
        return Ok(report);
    }
    let shape = PoolShape::of(hooks, &ctx);
    let now =
        time::parse(&request.now).map_err(|e| PolicyError::BadRequest(format!("now: {e}")))?;
    let size = configured_size(&ctx).min(request.max_pods);
    report.pool = shape.pool.clone();
    report.size = size;
    if size > 0 {
        super::tenant::ensure(cluster, &ctx)?;
    }
    let pods = list_pool(cluster, STEP, &ctx.namespace, &shape)?;
    let taken: Vec<String> = pods.iter().map(|p| p.name().to_string()).collect();
    let mut kept = Vec::new();
    for pod in pods.iter().filter(|p| !p.claimed() && !p.terminating()) {
        if pod.fresh(&shape, &request.module_sha256, now) {
            kept.push(pod);
        } else {
            delete_pool_pod(cluster, pod, "stale")?;
            report.replaced.push(pod.reference());
        }
    }
    // Beyond the size: the newest go first (the oldest are likelier ready).
    while kept.len() > size as usize {
        let Some(extra) = kept.pop() else { break };
        delete_pool_pod(cluster, extra, "beyond the pool's size")?;
        report.replaced.push(extra.reference());
    }
    report.ready = kept
        .iter()
        .filter(|p| conditions::pod_ready(&p.pod))
        .count() as u32;
    report.starting = kept.len() as u32 - report.ready;

    let mut missing = size.saturating_sub(kept.len() as u32);
    let mut index = 0u32;
    let mut conflicts = 0u32;
    while missing > 0 && conflicts < NAME_ATTEMPTS {
        let name = names::pool_pod_name(&shape.pool, index);
        index += 1;
        if taken.contains(&name) {
            continue;
        }
        match cluster.create(&shape.pod(&ctx.namespace, index - 1, &ctx.expires_at)) {
            Ok(stored) => {
                if let Some(made) = ObjectRef::of(&stored) {
                    report.created.push(made);
                }
                report.starting += 1;
                missing -= 1;
            }
            // Made by another caller since the list: that caller fills it.
            Err(KubeError::Conflict(_)) => {
                conflicts += 1;
                missing -= 1;
            }
            Err(KubeError::Denied(denial)) if denial.rule == "pool-cap" => {
                cluster.log(
                    Level::Info,
                    STEP,
                    &format!(
                        "pool {} stops at the host's cap: {}",
                        shape.pool, denial.message
                    ),
                );
                break;
            }
            Err(e) => {
                return Err(kube_failure(STEP, &format!("creating pool pod {name}"), &e));
            }
        }
    }
    cluster.log(
        Level::Info,
        STEP,
        &format!(
            "pool {} in {}: size {}, {} ready, {} starting, {} made, {} replaced",
            report.pool,
            report.namespace,
            report.size,
            report.ready,
            report.starting,
            report.created.len(),
            report.replaced.len()
        ),
    );
    Ok(report)
}

/// Deletes every unclaimed pool pod past its idle deadline at `now`, in
/// `namespace` (none: every namespace): the pools whose configuration no
/// acquire or `ensure-pool` has asked for within its `leaseMaxAgeSec`.
/// Returns what was deleted; a pod that could not be is logged and left
/// for the next sweep.
pub(crate) fn sweep_idle(
    cluster: &dyn Cluster,
    now: Timestamp,
    namespace: Option<&str>,
) -> Result<Vec<ObjectRef>, PolicyError> {
    let selector = format!(
        "{}={},{},!{}",
        names::LABEL_MANAGED_BY,
        names::MANAGED_BY,
        names::LABEL_POOL,
        names::LABEL_LEASE
    );
    let listed = cluster
        .list(Pod::API_VERSION, Pod::KIND, namespace, &selector)
        .map_err(|e| kube_failure("sweep", "listing unclaimed pool pods", &e))?;
    let mut deleted = Vec::new();
    for object in listed {
        let Ok(pod) = conditions::read::<Pod>(object.clone()) else {
            continue;
        };
        let pod = PoolPod { object, pod };
        if pod.claimed() || pod.terminating() || !pod.expired(now) {
            continue;
        }
        match delete_pool_pod(cluster, &pod, "idle past its deadline") {
            Ok(()) => deleted.push(pod.reference()),
            Err(error) => cluster.log(Level::Warn, "sweep", &error.describe()),
        }
    }
    Ok(deleted)
}

/// Deletes an unclaimed pool pod (its uid as precondition, no grace: it
/// holds nothing of anyone).
pub(crate) fn delete_pool_pod(
    cluster: &dyn Cluster,
    pod: &PoolPod,
    why: &str,
) -> Result<(), PolicyError> {
    let target = pod.reference();
    let options = DeleteOptions {
        propagation: Propagation::Background,
        precondition_uid: target.uid.clone(),
        grace_period_seconds: Some(0),
    };
    match cluster.delete(&target, &options) {
        Ok(_) | Err(KubeError::NotFound(_)) | Err(KubeError::Conflict(_)) => {
            cluster.log(
                Level::Info,
                STEP,
                &format!("deleted pool pod {} ({why})", target.name),
            );
            Ok(())
        }
        Err(e) => Err(kube_failure(
            STEP,
            &format!("deleting pool pod {} ({why})", target.name),
            &e,
        )),
    }
}

#[cfg(test)]
mod tests;
