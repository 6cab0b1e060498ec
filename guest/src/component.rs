//! The `provider` export: glue from the WIT world to the plain-Rust policy.
//! Each call converts its arguments, runs the domain code against the
//! `kube` imports, and converts the result back; nothing here decides
//! anything.

use crate::bindings::exports::leasebox::provider::provider::{
    Guest, ProbeCheck, ProbeReport, ReleaseReport, SweepReport,
};
use crate::bindings::leasebox::provider::types;
use crate::cluster_wasm::WasmCluster;
use crate::convert;

/// The exported component.
struct Component;

impl Guest for Component {
    fn validate_config(config: String) -> types::ValidationReport {
        convert::validation_report(crate::config::validate(&config))
    }

    fn config_schema() -> String {
        crate::config::json_schema()
    }

    fn probe(config: String, company_id: String) -> Result<ProbeReport, types::PolicyError> {
        let checks = crate::lifecycle::probe(&WasmCluster, &config, &company_id)
            .map_err(convert::policy_error)?;
        Ok(ProbeReport {
            ok: checks.iter().all(|c| c.ok),
            checks: checks
                .into_iter()
                .map(|c| ProbeCheck {
                    name: c.name,
                    ok: c.ok,
                    detail: c.detail,
                })
                .collect(),
        })
    }

    fn plan(request: types::LeaseRequest) -> Result<Vec<String>, types::PolicyError> {
        let manifests =
            crate::plan::plan(&convert::lease_request(request)).map_err(convert::policy_error)?;
        Ok(manifests.iter().map(|m| m.to_string()).collect())
    }

    fn acquire_lease(request: types::LeaseRequest) -> Result<types::Lease, types::PolicyError> {
        crate::lifecycle::acquire(&WasmCluster, &convert::lease_request(request))
            .map(convert::lease_to_wit)
            .map_err(convert::policy_error)
    }

    fn realize_workspace(
        lease: types::Lease,
        path: Option<String>,
    ) -> Result<types::ExecResult, types::PolicyError> {
        let lease = convert::lease_from_wit(lease).map_err(convert::policy_error)?;
        crate::lifecycle::realize_workspace(&WasmCluster, &lease, path.as_deref())
            .map(convert::exec_result)
            .map_err(convert::policy_error)
    }

    fn execute(request: types::ExecRequest) -> Result<types::ExecResult, types::PolicyError> {
        let request = convert::exec_request(request).map_err(convert::policy_error)?;
        crate::lifecycle::execute(&WasmCluster, &request)
            .map(convert::exec_result)
            .map_err(convert::policy_error)
    }

    fn release_lease(lease: types::Lease) -> Result<ReleaseReport, types::PolicyError> {
        let lease = convert::lease_from_wit(lease).map_err(convert::policy_error)?;
        let report =
            crate::lifecycle::release(&WasmCluster, &lease).map_err(convert::policy_error)?;
        Ok(ReleaseReport {
            deleted: report
                .deleted
                .into_iter()
                .map(convert::object_ref_to_wit)
                .collect(),
            already_gone: report.already_gone,
        })
    }

    fn resume_lease(
        lease_id: String,
        namespace: Option<String>,
    ) -> Result<types::Lease, types::PolicyError> {
        crate::lifecycle::resume(&WasmCluster, &lease_id, namespace.as_deref())
            .map(convert::lease_to_wit)
            .map_err(convert::policy_error)
    }

    fn sweep(now: String, namespace: Option<String>) -> Result<SweepReport, types::PolicyError> {
        let report = crate::lifecycle::sweep(&WasmCluster, &now, namespace.as_deref())
            .map_err(convert::policy_error)?;
        Ok(SweepReport {
            expired: report
                .expired
                .into_iter()
                .map(convert::object_ref_to_wit)
                .collect(),
            kept: report.kept,
        })
    }
}

crate::bindings::export_policy_module!(Component with_types_in crate::bindings);
