//! The lease lifecycle, written against [`crate::cluster::Cluster`].
//!
//! - [`conditions`]: what "ready" and "failed" mean, as pure predicates over
//!   the objects a watch delivers;
//! - [`exec_wrap`]: how a command, its working directory and its
//!   environment become an argv plus a stdin header (values never in argv);
//! - `recorded`: the lease recorded on a workload ([`from_workload`]);
//! - `tenant`: the tenant's shared objects, converged by acquire when they
//!   changed;
//! - `acquire`, `execute`, `release`, `resume`, `sweep`, `probe`, `renew`,
//!   `list`, `status`: one file per call; `rollback` undoes what a failed
//!   (or cancelled) acquire created.
//!
//! A call the host cancels (a `cancelled` kube error, see `wit/kube.wit`)
//! ends in [`PolicyError::Cancelled`]: acquire rolls back as on a failure,
//! execute and realize-workspace kill the command's process tree first.

pub mod conditions;
pub mod exec_wrap;

mod acquire;
mod execute;
mod list;
mod probe;
mod recorded;
mod release;
mod renew;
mod resume;
mod rollback;
mod status;
mod sweep;
mod tenant;

use k8s_openapi::Resource;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, Secret};

use crate::cluster::{Cluster, DeleteOptions, Propagation};
use crate::error::{Failure, PolicyError};
use crate::hooks::{DefaultHooks, Hooks};
use crate::lease::{
    Backend, ExecRequest, ExecStatus, Lease, LeaseRequest, LeaseStatus, ObjectRef, ProbeCheck,
    ReleaseReport, SweepReport,
};

pub use recorded::{FALLBACK_MAX_AGE_SEC, from_workload};

/// Default directory `realize_workspace` unpacks into.
pub const DEFAULT_WORKSPACE_PATH: &str = "/workspace";

/// Acquires a lease under the default policy ([`acquire_with`] and
/// [`DefaultHooks`]).
pub fn acquire(cluster: &dyn Cluster, request: &LeaseRequest) -> Result<Lease, PolicyError> {
    acquire_with(&DefaultHooks, cluster, request)
}

/// Acquires a lease with the policy's `hooks`: tenant objects (when they
/// changed), workload, its Secret, PVC and egress policy, wait ready by
/// watch; rolls back on failure.
pub fn acquire_with(
    hooks: &'static dyn Hooks,
    cluster: &dyn Cluster,
    request: &LeaseRequest,
) -> Result<Lease, PolicyError> {
    acquire::acquire(hooks, cluster, request)
}

/// Runs a command in a lease (or follows a `job` to its end).
pub fn execute(cluster: &dyn Cluster, request: &ExecRequest) -> Result<ExecStatus, PolicyError> {
    execute::execute(cluster, request)
}

/// Unpacks a tar stream from the caller's stdin into `path`.
pub fn realize_workspace(
    cluster: &dyn Cluster,
    lease: &Lease,
    path: Option<&str>,
) -> Result<ExecStatus, PolicyError> {
    execute::realize_workspace(cluster, lease, path)
}

/// Releases a lease.
pub fn release(cluster: &dyn Cluster, lease: &Lease) -> Result<ReleaseReport, PolicyError> {
    release::release(cluster, lease)
}

/// Finds a lease again from its id.
pub fn resume(
    cluster: &dyn Cluster,
    lease_id: &str,
    namespace: Option<&str>,
) -> Result<Lease, PolicyError> {
    resume::resume(cluster, lease_id, namespace)
}

/// Deletes expired leases.
pub fn sweep(
    cluster: &dyn Cluster,
    now: &str,
    namespace: Option<&str>,
) -> Result<SweepReport, PolicyError> {
    sweep::sweep(cluster, now, namespace)
}

/// Moves a lease's deadline to `now` + `ttl_seconds`.
pub fn renew(
    cluster: &dyn Cluster,
    lease: &Lease,
    now: &str,
    ttl_seconds: u32,
) -> Result<Lease, PolicyError> {
    renew::renew(cluster, lease, now, ttl_seconds)
}

/// Every lease in the cluster (of one company), oldest first.
pub fn list_leases(
    cluster: &dyn Cluster,
    company_id: Option<&str>,
    namespace: Option<&str>,
) -> Result<Vec<Lease>, PolicyError> {
    list::list_leases(cluster, company_id, namespace)
}

/// Where a lease is in its life, under the default policy
/// ([`lease_status_with`] and [`DefaultHooks`]).
pub fn lease_status(
    cluster: &dyn Cluster,
    lease_id: &str,
    namespace: Option<&str>,
) -> Result<LeaseStatus, PolicyError> {
    lease_status_with(&DefaultHooks, cluster, lease_id, namespace)
}

/// Where a lease is in its life, its pod judged by the policy's readiness
/// hook.
pub fn lease_status_with(
    hooks: &dyn Hooks,
    cluster: &dyn Cluster,
    lease_id: &str,
    namespace: Option<&str>,
) -> Result<LeaseStatus, PolicyError> {
    status::lease_status(hooks, cluster, lease_id, namespace)
}

/// Checks the cluster for a configuration, under the default policy
/// ([`probe_with`] and [`DefaultHooks`]).
pub fn probe(
    cluster: &dyn Cluster,
    config: &str,
    company_id: &str,
) -> Result<Vec<ProbeCheck>, PolicyError> {
    probe_with(&DefaultHooks, cluster, config, company_id)
}

/// Checks the cluster for a configuration, in the tenant namespace the
/// policy's naming hook gives the company.
pub fn probe_with(
    hooks: &dyn Hooks,
    cluster: &dyn Cluster,
    config: &str,
    company_id: &str,
) -> Result<Vec<ProbeCheck>, PolicyError> {
    probe::probe(hooks, cluster, config, company_id)
}

/// The objects a lease owns besides its workload, which release and sweep
/// delete after it: the Secret `secret` and, for `pod`/`job`, the PVC
/// `<lease>-workspace` (sandbox-cr claims belong to the Sandbox).
pub(crate) fn lease_dependents(
    namespace: Option<String>,
    lease_id: &str,
    secret: String,
    backend: Backend,
) -> Vec<ObjectRef> {
    let object = |api_version: &str, kind: &str, name: String| ObjectRef {
        api_version: api_version.into(),
        kind: kind.into(),
        namespace: namespace.clone(),
        name,
        uid: None,
    };
    let mut dependents = vec![object(Secret::API_VERSION, Secret::KIND, secret)];
    if matches!(backend, Backend::Pod | Backend::Job) {
        dependents.push(object(
            PersistentVolumeClaim::API_VERSION,
            PersistentVolumeClaim::KIND,
            crate::names::workspace_claim_name(lease_id),
        ));
    }
    dependents
}

/// How release and sweep delete a lease's workload: with its uid as the
/// precondition, a Pod with Background propagation, a Sandbox or Job with
/// Foreground.
///
/// A Pod owns the lease's egress policy. Foreground would have the garbage
/// collector delete that policy at once, while the kubelet still stops the
/// container (up to its grace period), and keep the Pod object until the
/// collector is done; Background leaves the policy in force until the Pod is
/// gone, and the Pod's removal waits only on the kubelet. A Sandbox or Job
/// does not run the agent itself: Foreground keeps it until its pod is gone,
/// so that a lease's workload outlives its processes.
pub(crate) fn workload_delete(workload: &ObjectRef) -> DeleteOptions {
    let propagation = if workload.kind == Pod::KIND {
        Propagation::Background
    } else {
        Propagation::Foreground
    };
    DeleteOptions {
        propagation,
        precondition_uid: workload.uid.clone(),
        grace_period_seconds: None,
    }
}

/// How release and sweep delete a lease's dependents.
pub(crate) const DEPENDENT_DELETE: DeleteOptions = DeleteOptions {
    propagation: Propagation::Background,
    precondition_uid: None,
    grace_period_seconds: None,
};

/// A failed Kubernetes call as a failed lifecycle step; a call the host
/// cancelled makes the step [`PolicyError::Cancelled`].
pub(crate) fn kube_failure(
    step: &str,
    what: &str,
    error: &crate::cluster::KubeError,
) -> PolicyError {
    let failure = Failure::new(
        step,
        error.reason(),
        format!("{what}: {}", error.describe()),
    );
    if error.is_cancelled() {
        PolicyError::Cancelled(failure)
    } else {
        PolicyError::Failed(failure)
    }
}

/// A watched or listed object that does not read as its kind (the message
/// of [`conditions::read`]), as a failed step.
pub(crate) fn invalid_object(step: &str, message: String) -> PolicyError {
    PolicyError::step(step, "Invalid", message)
}

/// `apply-<kind-lowercase>`, the step name of applying an object.
pub(crate) fn apply_step(object: &serde_json::Value) -> String {
    let kind = object
        .get("kind")
        .and_then(|k| k.as_str())
        .unwrap_or("object");
    format!("apply-{}", kind.to_ascii_lowercase())
}
