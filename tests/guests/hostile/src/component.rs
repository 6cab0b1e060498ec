//! The `provider` export: `probe` and `plan` run the attack their
//! configuration names; `validate-config` accepts anything, so the host
//! gets as far as calling them.

use crate::attack::{Order, Verdict};
use crate::bindings::exports::leasebox::provider::provider::{
    Guest, ProbeCheck, ProbeReport, ReleaseReport, SweepReport,
};
use crate::bindings::leasebox::provider::types::{
    ExecRequest, ExecStatus, Lease, LeaseRequest, LeaseStatus, PolicyError, ValidationReport,
};

/// The exported component.
struct Component;

fn not_implemented<T>() -> Result<T, PolicyError> {
    Err(PolicyError::BadRequest(
        "hostile guest: not implemented".to_string(),
    ))
}

/// Runs the attack of `config` and reports it as one check.
fn attack(config: &str) -> Result<ProbeReport, PolicyError> {
    let order = Order::parse(config).map_err(PolicyError::BadRequest)?;
    let verdict: Verdict = order.run();
    let ok = verdict.denied();
    Ok(ProbeReport {
        ok,
        checks: vec![ProbeCheck {
            name: order.attack,
            ok,
            detail: verdict.detail(),
        }],
    })
}

impl Guest for Component {
    fn validate_config(config: String) -> ValidationReport {
        ValidationReport {
            ok: true,
            errors: Vec::new(),
            warnings: Vec::new(),
            normalized_config: Some(config),
        }
    }

    fn config_schema() -> String {
        "{}".to_string()
    }

    fn probe(config: String, _company_id: String) -> Result<ProbeReport, PolicyError> {
        attack(&config)
    }

    fn plan(request: LeaseRequest) -> Result<Vec<String>, PolicyError> {
        let report = attack(&request.config)?;
        let checks = report
            .checks
            .iter()
            .map(|c| serde_json::json!({ "name": c.name, "ok": c.ok, "detail": c.detail }))
            .collect::<Vec<_>>();
        Ok(vec![
            serde_json::json!({ "ok": report.ok, "checks": checks }).to_string(),
        ])
    }

    fn acquire_lease(_request: LeaseRequest) -> Result<Lease, PolicyError> {
        not_implemented()
    }

    fn realize_workspace(_lease: Lease, _path: Option<String>) -> Result<ExecStatus, PolicyError> {
        not_implemented()
    }

    fn execute(_request: ExecRequest) -> Result<ExecStatus, PolicyError> {
        not_implemented()
    }

    fn release_lease(_lease: Lease) -> Result<ReleaseReport, PolicyError> {
        not_implemented()
    }

    fn resume_lease(_lease_id: String, _namespace: Option<String>) -> Result<Lease, PolicyError> {
        not_implemented()
    }

    fn sweep(_now: String, _namespace: Option<String>) -> Result<SweepReport, PolicyError> {
        not_implemented()
    }

    fn renew_lease(_lease: Lease, _now: String, _ttl_seconds: u32) -> Result<Lease, PolicyError> {
        not_implemented()
    }

    fn list_leases(
        _company_id: Option<String>,
        _namespace: Option<String>,
    ) -> Result<Vec<Lease>, PolicyError> {
        not_implemented()
    }

    fn get_lease_status(
        _lease_id: String,
        _namespace: Option<String>,
    ) -> Result<LeaseStatus, PolicyError> {
        not_implemented()
    }
}

crate::bindings::export_policy_module!(Component with_types_in crate::bindings);
