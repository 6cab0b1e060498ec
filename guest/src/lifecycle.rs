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
//!   (or cancelled) acquire created;
//! - contract 0.3: `terminal` (open-terminal), `processes` (detached
//!   processes: start, list, attach, kill), `files` (write, read, stat,
//!   list, remove), sharing `exec_target` (the lease's pod, and a `job`
//!   lease's only while it runs), `lease_access` (what the workload records
//!   the configuration allows: terminals, file roots) and `pod_script`
//!   (the module's shell scripts run through the exec wrapper, read or
//!   forwarded).
//!
//! A call the host cancels (a `cancelled` kube error, see `wit/kube.wit`)
//! ends in [`PolicyError::Cancelled`]: acquire rolls back as on a failure,
//! execute, realize-workspace and the 0.3 calls kill the command's process
//! tree first, and a cancelled start-process removes the process it began.

pub mod conditions;
pub mod exec_wrap;

mod acquire;
mod claim;
mod delete;
mod exec_target;
mod execute;
mod files;
mod lease_access;
mod list;
#[cfg(test)]
mod pod_lease_fixture;
mod pod_script;
mod pool;
mod probe;
mod processes;
mod recorded;
mod release;
mod renew;
mod resume;
mod rollback;
mod status;
mod step;
mod sweep;
mod tenant;
mod terminal;

use crate::cluster::Cluster;
use crate::error::PolicyError;
use crate::hooks::{DefaultHooks, Hooks};
use crate::lease::{
    AttachRequest, ExecRequest, ExecStatus, FileEntry, FilesInRequest, FilesOutRequest, Lease,
    LeaseRequest, LeaseStatus, PoolReport, PoolRequest, ProbeCheck, ProcessInfo, ReleaseReport,
    SweepReport, TerminalRequest,
};

pub use execute::DEFAULT_WORKSPACE_PATH;

/// The terminal's wrapper script, for tests outside the lifecycle.
#[cfg(test)]
pub(crate) fn terminal_script() -> &'static str {
    terminal::TTY_SCRIPT
}
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

/// `ensure-pool`: the tenant's warm pool brought to its size
/// (`pool.rs`).
pub fn ensure_pool_with(
    hooks: &'static dyn Hooks,
    cluster: &dyn Cluster,
    request: &PoolRequest,
) -> Result<PoolReport, PolicyError> {
    pool::ensure(hooks, cluster, request)
}

/// `claim-lease`: the lease from a ready pool pod made by module
/// `module_sha256`, or none (`claim.rs`).
pub fn claim_lease_with(
    hooks: &'static dyn Hooks,
    cluster: &dyn Cluster,
    request: &LeaseRequest,
    module_sha256: &str,
) -> Result<Option<Lease>, PolicyError> {
    claim::claim(hooks, cluster, request, module_sha256)
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

/// Runs a command on a terminal in a lease until it ends.
pub fn open_terminal(
    cluster: &dyn Cluster,
    request: &TerminalRequest,
) -> Result<ExecStatus, PolicyError> {
    terminal::open_terminal(cluster, request)
}

/// Starts a detached process in a lease and returns at once.
pub fn start_process(
    cluster: &dyn Cluster,
    request: &ExecRequest,
) -> Result<ProcessInfo, PolicyError> {
    processes::start(cluster, request)
}

/// The detached processes of a lease, oldest first.
pub fn list_processes(
    cluster: &dyn Cluster,
    lease: &Lease,
) -> Result<Vec<ProcessInfo>, PolicyError> {
    processes::list(cluster, lease)
}

/// Sends a detached process's kept output to the caller, following it to
/// its end when asked.
pub fn attach_process(
    cluster: &dyn Cluster,
    request: &AttachRequest,
) -> Result<ExecStatus, PolicyError> {
    processes::attach(cluster, request)
}

/// Signals a detached process and its tree, then kills what is left.
pub fn kill_process(
    cluster: &dyn Cluster,
    lease: &Lease,
    process: &str,
    signal: u32,
) -> Result<ProcessInfo, PolicyError> {
    processes::kill(cluster, lease, process, signal)
}

/// Unpacks the caller's tar stream under a target path.
pub fn write_files(cluster: &dyn Cluster, request: &FilesInRequest) -> Result<(), PolicyError> {
    files::write_files(cluster, request)
}

/// Sends a tar stream of a path to the caller.
pub fn read_files(cluster: &dyn Cluster, request: &FilesOutRequest) -> Result<(), PolicyError> {
    files::read_files(cluster, request)
}

/// One path in a lease; none when it does not exist.
pub fn stat_path(
    cluster: &dyn Cluster,
    lease: &Lease,
    path: &str,
) -> Result<Option<FileEntry>, PolicyError> {
    files::stat_path(cluster, lease, path)
}

/// The entries of a directory in a lease, by name.
pub fn list_directory(
    cluster: &dyn Cluster,
    lease: &Lease,
    path: &str,
) -> Result<Vec<FileEntry>, PolicyError> {
    files::list_directory(cluster, lease, path)
}

/// Removes a path in a lease; false when it did not exist.
pub fn remove_path(
    cluster: &dyn Cluster,
    lease: &Lease,
    path: &str,
    recursive: bool,
) -> Result<bool, PolicyError> {
    files::remove_path(cluster, lease, path, recursive)
}
