//! The lease lifecycle, written against [`crate::cluster::Cluster`].
//!
//! - [`conditions`]: what "ready" and "failed" mean, as pure predicates over
//!   the objects a watch delivers;
//! - [`exec_wrap`]: how a command, its working directory and its
//!   environment become an argv plus a stdin header (values never in argv);
//! - `recorded`: the lease recorded on a workload ([`from_workload`]);
//! - `delete`: deleting a lease's objects, for release and sweep;
//! - `step`: how a step names itself and its failures;
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
mod delete;
mod execute;
mod list;
mod probe;
mod recorded;
mod release;
mod renew;
mod resume;
mod rollback;
mod status;
mod step;
mod sweep;
mod tenant;

use crate::cluster::Cluster;
use crate::error::PolicyError;
use crate::hooks::{DefaultHooks, Hooks};
use crate::lease::{
    ExecRequest, ExecStatus, Lease, LeaseRequest, LeaseStatus, ProbeCheck, ReleaseReport,
    SweepReport,
};

pub use execute::DEFAULT_WORKSPACE_PATH;
pub use recorded::{FALLBACK_MAX_AGE_SEC, from_workload};

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
