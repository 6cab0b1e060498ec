//! The `provider` export: glue from the WIT world to the plain-Rust policy.
//! The policy works on the generated types themselves, so each call only
//! runs the domain code, with the policy's hooks, against the `kube`
//! imports; nothing here decides anything.
//!
//! [`export_policy!`](crate::export_policy) exports [`Component`] for the
//! hooks a policy crate names; the default module is
//! `export_policy!(DefaultHooks)` (feature `default-module`).

use std::marker::PhantomData;

use crate::bindings::exports::leasebox::provider::provider::{Guest, ProbeReport};
use crate::cluster_wasm::WasmCluster;
use crate::error::PolicyError;
use crate::hooks::Hooks;
use crate::lease::{
    AttachRequest, ExecRequest, ExecStatus, FileEntry, FilesInRequest, FilesOutRequest, Lease,
    LeaseRequest, LeaseStatus, PoolReport, PoolRequest, ProcessInfo, ReleaseReport, SweepReport,
    TerminalRequest,
};

/// The hooks a component is exported with: [`export_policy!`]
/// implements it on a type of its own for the value it is given.
///
/// [`export_policy!`]: crate::export_policy
pub trait ExportedHooks {
    /// The policy's hooks, shared by every call.
    fn hooks() -> &'static dyn Hooks;
}

/// The exported component of the policy whose hooks `H` names.
pub struct Component<H>(PhantomData<H>);

/// A lease handed back by the host; its id is checked, since the host may
/// have read it from anywhere.
fn checked(lease: &Lease) -> Result<(), PolicyError> {
    crate::names::check_lease_id(&lease.id).map_err(PolicyError::BadRequest)
}

impl<H: ExportedHooks> Guest for Component<H> {
    fn validate_config(config: String) -> crate::config::ValidationReport {
        crate::config::validate(&config).report()
    }

    fn config_schema() -> String {
        crate::config::json_schema()
    }

    fn probe(config: String, company_id: String) -> Result<ProbeReport, PolicyError> {
        let checks = crate::lifecycle::probe_with(H::hooks(), &WasmCluster, &config, &company_id)?;
        Ok(ProbeReport {
            ok: checks.iter().all(|c| c.ok),
            checks,
        })
    }

    fn plan(request: LeaseRequest) -> Result<Vec<String>, PolicyError> {
        crate::plan::plan_text_with(H::hooks(), &request)
    }

    fn acquire_lease(request: LeaseRequest) -> Result<Lease, PolicyError> {
        crate::lifecycle::acquire_with(H::hooks(), &WasmCluster, &request)
    }

    fn ensure_pool(request: PoolRequest) -> Result<PoolReport, PolicyError> {
        crate::lifecycle::ensure_pool_with(H::hooks(), &WasmCluster, &request)
    }

    fn claim_lease(
        request: LeaseRequest,
        module_sha256: String,
    ) -> Result<Option<Lease>, PolicyError> {
        crate::lifecycle::claim_lease_with(H::hooks(), &WasmCluster, &request, &module_sha256)
    }

    fn realize_workspace(lease: Lease, path: Option<String>) -> Result<ExecStatus, PolicyError> {
        checked(&lease)?;
        crate::lifecycle::realize_workspace(&WasmCluster, &lease, path.as_deref())
    }

    fn execute(request: ExecRequest) -> Result<ExecStatus, PolicyError> {
        checked(&request.lease)?;
        crate::lifecycle::execute(&WasmCluster, &request)
    }

    fn release_lease(lease: Lease) -> Result<ReleaseReport, PolicyError> {
        checked(&lease)?;
        crate::lifecycle::release(&WasmCluster, &lease)
    }

    fn resume_lease(lease_id: String, namespace: Option<String>) -> Result<Lease, PolicyError> {
        crate::lifecycle::resume(&WasmCluster, &lease_id, namespace.as_deref())
    }

    fn sweep(now: String, namespace: Option<String>) -> Result<SweepReport, PolicyError> {
        crate::lifecycle::sweep(&WasmCluster, &now, namespace.as_deref())
    }

    fn renew_lease(lease: Lease, now: String, ttl_seconds: u32) -> Result<Lease, PolicyError> {
        checked(&lease)?;
        crate::lifecycle::renew(&WasmCluster, &lease, &now, ttl_seconds)
    }

    fn list_leases(
        company_id: Option<String>,
        namespace: Option<String>,
    ) -> Result<Vec<Lease>, PolicyError> {
        crate::lifecycle::list_leases(&WasmCluster, company_id.as_deref(), namespace.as_deref())
    }

    fn get_lease_status(
        lease_id: String,
        namespace: Option<String>,
    ) -> Result<LeaseStatus, PolicyError> {
        crate::lifecycle::lease_status_with(
            H::hooks(),
            &WasmCluster,
            &lease_id,
            namespace.as_deref(),
        )
    }

    fn open_terminal(request: TerminalRequest) -> Result<ExecStatus, PolicyError> {
        checked(&request.lease)?;
        crate::lifecycle::open_terminal(&WasmCluster, &request)
    }

    fn start_process(request: ExecRequest) -> Result<ProcessInfo, PolicyError> {
        checked(&request.lease)?;
        crate::lifecycle::start_process(&WasmCluster, &request)
    }

    fn list_processes(lease: Lease) -> Result<Vec<ProcessInfo>, PolicyError> {
        checked(&lease)?;
        crate::lifecycle::list_processes(&WasmCluster, &lease)
    }

    fn attach_process(request: AttachRequest) -> Result<ExecStatus, PolicyError> {
        checked(&request.lease)?;
        crate::lifecycle::attach_process(&WasmCluster, &request)
    }

    fn kill_process(
        lease: Lease,
        process: String,
        signal: u32,
    ) -> Result<ProcessInfo, PolicyError> {
        checked(&lease)?;
        crate::lifecycle::kill_process(&WasmCluster, &lease, &process, signal)
    }

    fn write_files(request: FilesInRequest) -> Result<(), PolicyError> {
        checked(&request.lease)?;
        crate::lifecycle::write_files(&WasmCluster, &request)
    }

    fn read_files(request: FilesOutRequest) -> Result<(), PolicyError> {
        checked(&request.lease)?;
        crate::lifecycle::read_files(&WasmCluster, &request)
    }

    fn stat_path(lease: Lease, path: String) -> Result<Option<FileEntry>, PolicyError> {
        checked(&lease)?;
        crate::lifecycle::stat_path(&WasmCluster, &lease, &path)
    }

    fn list_directory(lease: Lease, path: String) -> Result<Vec<FileEntry>, PolicyError> {
        checked(&lease)?;
        crate::lifecycle::list_directory(&WasmCluster, &lease, &path)
    }

    fn remove_path(lease: Lease, path: String, recursive: bool) -> Result<bool, PolicyError> {
        checked(&lease)?;
        crate::lifecycle::remove_path(&WasmCluster, &lease, &path, recursive)
    }
}
