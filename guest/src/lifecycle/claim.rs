//! `claim-lease`: the lease from the tenant's warm pool.
//!
//! 1. The pool's ready, unclaimed pods made by this module from the current
//!    pod spec are listed; each claimer starts at another one (by its lease
//!    id), so claimers at once rarely meet.
//! 2. **Bind**: one server-side apply of the pod's metadata alone, carrying
//!    the `resourceVersion` it was listed at: the API server refuses it
//!    (`conflict`) when anyone wrote the pod since, so two claimers (two
//!    hosts, say) never bind one pod; the loser tries the next pod. The
//!    write gives the pod the lease's labels (from then on the lease's
//!    egress policy selects it, and exec reaches it) and its annotations
//!    (expiry, run, image, what the lease allows).
//! 3. The lease's Secret (host-filled, owned by the pod), its egress policy
//!    (owned by the pod), then the Secret handed over to the running pod
//!    (`kube.hand-over-secret`): the host writes the values into the pod's
//!    memory-backed lease-env file, read by every command of the lease.
//!
//! A failure after the bind deletes what was written and the pod (bound,
//! it is no longer fit for the pool). An empty pool is `None`: the host
//! acquires cold.

use k8s_openapi::Resource;
use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};

use super::acquire::{apply_lease_object, apply_secret};
use super::conditions;
use super::pool::{self, PoolPod};
use super::rollback::Created;
use super::step::kube_failure;
use crate::cluster::{Cluster, HandOverRequest, KubeError, Level};
use crate::config::Backend;
use crate::error::PolicyError;
use crate::hooks::Hooks;
use crate::lease::{Lease, LeaseRequest, ObjectRef};
use crate::manifests::pod_baseline::{pod_labels, workload_annotations};
use crate::manifests::pool_pod::{LEASE_ENV_FILE, PoolShape};
use crate::manifests::{self, Context};
use crate::{names, plan, time};

/// The step name of the bind write.
pub(crate) const STEP_BIND: &str = "bind-pool-pod";

/// The step name of the hand-over.
pub(crate) const STEP_HAND_OVER: &str = "hand-over-secret";

/// How many pods a claim tries before it gives up and goes cold.
const MAX_ATTEMPTS: usize = 8;

/// See the module documentation.
pub(crate) fn claim(
    hooks: &'static dyn Hooks,
    cluster: &dyn Cluster,
    request: &LeaseRequest,
    module_sha256: &str,
) -> Result<Option<Lease>, PolicyError> {
    let ctx = plan::context_with(hooks, request)?;
    let pool_ctx = pool::pool_context_of(&ctx);
    if ctx.config.backend != Backend::Pod || pool::configured_size(&pool_ctx) == 0 {
        return Ok(None);
    }
    let shape = PoolShape::of(hooks, &pool_ctx);
    let now =
        time::parse(&request.now).map_err(|e| PolicyError::BadRequest(format!("now: {e}")))?;
    let pods = pool::list_pool(cluster, STEP_BIND, &ctx.namespace, &shape)?;
    let ready: Vec<&PoolPod> = pods
        .iter()
        .filter(|p| {
            !p.claimed()
                && !p.terminating()
                && p.fresh(&shape, module_sha256, now)
                && conditions::pod_ready(&p.pod)
        })
        .collect();
    if ready.is_empty() {
        cluster.log(
            Level::Info,
            "claim",
            &format!("pool {} in {} has no ready pod", shape.pool, ctx.namespace),
        );
        return Ok(None);
    }
    let start = names::short_hash(&ctx.lease_id)
        .bytes()
        .fold(0usize, |n, b| {
            n.wrapping_mul(31).wrapping_add(usize::from(b))
        })
        % ready.len();
    for pod in ready
        .iter()
        .cycle()
        .skip(start)
        .take(ready.len().min(MAX_ATTEMPTS))
    {
        let bound = match cluster.apply(&bind_manifest(&ctx, &shape, pod)) {
            Ok(bound) => bound,
            // Written (claimed, deleted) since the list: the next one.
            Err(KubeError::Conflict(_) | KubeError::NotFound(_)) => continue,
            Err(e) => {
                return Err(kube_failure(
                    STEP_BIND,
                    &format!("binding pool pod {} to lease {}", pod.name(), ctx.lease_id),
                    &e,
                ));
            }
        };
        return finish(cluster, &ctx, pod.name(), &bound).map(Some);
    }
    cluster.log(
        Level::Info,
        "claim",
        &format!(
            "every ready pod of pool {} was claimed by another caller first",
            shape.pool
        ),
    );
    Ok(None)
}

/// The bind write: the pod's metadata alone, conditional on the version
/// listed.
fn bind_manifest(ctx: &Context, shape: &PoolShape, pod: &PoolPod) -> Value {
    let mut labels = pod_labels(ctx);
    labels.insert(names::LABEL_POOL.to_string(), shape.pool.clone());
    let mut annotations = workload_annotations(ctx);
    annotations.insert(
        names::ANNOTATION_POOL_SPEC.to_string(),
        shape.spec_hash.clone(),
    );
    json!({
        "apiVersion": Pod::API_VERSION,
        "kind": Pod::KIND,
        "metadata": {
            "name": pod.name(),
            "namespace": ctx.namespace,
            "resourceVersion": pod.pod.metadata.resource_version,
            "labels": labels,
            "annotations": annotations,
        },
    })
}

/// After the bind: the Secret, the egress policy, the hand-over; on
/// failure all of it and the pod are deleted.
fn finish(
    cluster: &dyn Cluster,
    ctx: &Context,
    pod: &str,
    bound: &Value,
) -> Result<Lease, PolicyError> {
    let mut created = Created::default();
    let workload = ObjectRef::of(bound).filter(|w| w.uid.as_deref().is_some_and(|u| !u.is_empty()));
    let Some(workload) = workload else {
        return Err(PolicyError::step(
            STEP_BIND,
            "NoUid",
            format!("the server's answer for pool pod {pod} has no metadata.uid"),
        ));
    };
    created.workload(workload.clone());
    let result = (|| {
        apply_secret(cluster, ctx, &mut created, Some(&workload))?;
        apply_lease_object(
            cluster,
            &mut created,
            &manifests::egress_policy(ctx, Some(&workload)),
        )?;
        let request = HandOverRequest {
            namespace: ctx.namespace.clone(),
            secret: names::secret_name(&ctx.lease_id),
            pod: pod.to_string(),
            container: names::AGENT_CONTAINER.to_string(),
            path: LEASE_ENV_FILE.to_string(),
        };
        cluster.hand_over_secret(&request).map_err(|e| {
            kube_failure(
                STEP_HAND_OVER,
                &format!("handing Secret {} over to pod {pod}", request.secret),
                &e,
            )
        })?;
        super::recorded::from_workload(
            cluster,
            STEP_BIND,
            Backend::Pod.into(),
            bound,
            pod.to_string(),
        )
    })();
    match result {
        Ok(lease) => {
            cluster.log(
                Level::Info,
                "claim",
                &format!("lease {} bound to pool pod {pod}", lease.id),
            );
            Ok(lease)
        }
        Err(error) => {
            cluster.log(
                Level::Error,
                "claim",
                &format!(
                    "{}; deleting pool pod {pod} and the lease's objects",
                    error.describe()
                ),
            );
            Err(created.roll_back(cluster, error))
        }
    }
}
