//! The `provider` export: `probe`, `plan` and `acquire-lease` run the
//! attack their configuration names; `validate-config` accepts anything,
//! so the host gets as far as calling them.
//!
//! `acquire-lease` attacks from the strongest position, a call for a
//! company and a lease (where the host allows workloads to be applied),
//! and always fails: `failed` with step [`ACQUIRE_STEP`], reason
//! `held` or `got-through`, and the probe report as JSON for message.
//! `validate-config` runs it when the configuration says
//! `"during": "validate"` (the host validates before an acquire, in a
//! call for no company and no lease) and answers one issue, at path
//! [`ACQUIRE_STEP`], whose message is the report.
//! `sweep` does the same with its `namespace` argument for the
//! configuration (a call for no company and no lease).
//! `execute` does the same from a call about a lease only (the company
//! unknown to the host), with the configuration document as the command
//! (its first argv, or the shell line); `resume-lease` answers any lease
//! id, so that `leasebox exec --lease` gets that far. `open-terminal` and
//! `start-process` (contract 0.3.0) attack like `execute`, from their
//! command; the other calls of 0.3.0 answer `bad-request`.
//! `ensure-pool` (contract 0.4.0) attacks from a call for a company and no
//! lease, with the host's pool cap; `claim-lease` from a call for a
//! company and a lease, as `acquire-lease` does; both fail like it.

use crate::attack::{Order, Position, Verdict};
use crate::bindings::exports::leasebox::provider::provider::{
    Guest, ProbeCheck, ProbeReport, ReleaseReport, SweepReport,
};
use crate::bindings::leasebox::provider::types::{
    AttachRequest, Backend, Command, ExecRequest, ExecStatus, Failure, FileEntry, FilesInRequest,
    FilesOutRequest, Issue, Lease, LeaseRequest, LeaseStatus, ObjectRef, PolicyError, PoolReport,
    PoolRequest, ProcessInfo, TerminalRequest, ValidationReport,
};

/// The step of the `failed` error an attacking `acquire-lease` returns
/// (and the path of the issue an attacking `validate-config` reports).
const ACQUIRE_STEP: &str = "hostile-attack";

/// The `during` of a configuration whose attack `validate-config` runs.
const VALIDATE: &str = "validate";

/// The exported component.
struct Component;

fn not_implemented<T>() -> Result<T, PolicyError> {
    Err(PolicyError::BadRequest(
        "hostile guest: not implemented".to_string(),
    ))
}

/// Runs the attack of `config` from `position` and reports it as one
/// check.
fn attack(config: &str, position: Position) -> Result<ProbeReport, PolicyError> {
    let order = Order::parse(config, position).map_err(PolicyError::BadRequest)?;
    let verdict: Verdict = order.run();
    let ok = verdict.held();
    Ok(ProbeReport {
        ok,
        checks: vec![ProbeCheck {
            name: order.attack,
            ok,
            detail: verdict.detail(),
        }],
    })
}

/// The position of a call for `request`: its company and its lease.
fn lease_position(request: &LeaseRequest) -> Position {
    Position {
        company: request.company_id.clone(),
        lease: Some(request.lease_id.clone()),
    }
}

/// The `failed` error an attacking `acquire-lease` or `execute` returns.
fn failed(report: ProbeReport) -> PolicyError {
    PolicyError::Failed(Failure {
        step: ACQUIRE_STEP.to_string(),
        reason: if report.ok { "held" } else { "got-through" }.to_string(),
        message: report_json(&report),
        rolled_back: Vec::new(),
        left_behind: Vec::new(),
    })
}

/// Lease `id` in `namespace` as the module claims it, so that the host's
/// lease calls (`exec --lease`) get as far as `execute`.
fn any_lease(id: String, namespace: String) -> Lease {
    Lease {
        workload: ObjectRef {
            api_version: "v1".to_string(),
            kind: "Pod".to_string(),
            namespace: Some(namespace.clone()),
            name: id.clone(),
            uid: None,
        },
        pod: id.clone(),
        container: "agent".to_string(),
        secret: format!("{id}-env"),
        namespace,
        backend: Backend::Pod,
        company_id: String::new(),
        run_id: id.clone(),
        adapter_type: String::new(),
        image: String::new(),
        created_at: String::new(),
        expires_at: String::new(),
        module_sha256: String::new(),
        id,
    }
}

/// The report as one JSON document, as `plan` returns it.
fn report_json(report: &ProbeReport) -> String {
    let checks = report
        .checks
        .iter()
        .map(|c| serde_json::json!({ "name": c.name, "ok": c.ok, "detail": c.detail }))
        .collect::<Vec<_>>();
    serde_json::json!({ "ok": report.ok, "checks": checks }).to_string()
}

impl Guest for Component {
    fn validate_config(config: String) -> ValidationReport {
        let during_validate = serde_json::from_str::<serde_json::Value>(&config)
            .ok()
            .and_then(|doc| {
                doc.get("during")
                    .and_then(|d| d.as_str())
                    .map(str::to_string)
            })
            .is_some_and(|during| during == VALIDATE);
        if !during_validate {
            return ValidationReport {
                ok: true,
                errors: Vec::new(),
                warnings: Vec::new(),
                normalized_config: Some(config),
            };
        }
        let message = match attack(&config, Position::default()) {
            Ok(report) => report_json(&report),
            Err(error) => format!("{error:?}"),
        };
        ValidationReport {
            ok: false,
            errors: vec![Issue {
                path: ACQUIRE_STEP.to_string(),
                message,
            }],
            warnings: Vec::new(),
            normalized_config: None,
        }
    }

    fn config_schema() -> String {
        "{}".to_string()
    }

    fn probe(config: String, company_id: String) -> Result<ProbeReport, PolicyError> {
        let position = Position {
            company: company_id,
            lease: None,
        };
        attack(&config, position)
    }

    fn plan(request: LeaseRequest) -> Result<Vec<String>, PolicyError> {
        let report = attack(&request.config, lease_position(&request))?;
        Ok(vec![report_json(&report)])
    }

    fn acquire_lease(request: LeaseRequest) -> Result<Lease, PolicyError> {
        let report = attack(&request.config, lease_position(&request))?;
        Err(failed(report))
    }

    fn ensure_pool(request: PoolRequest) -> Result<PoolReport, PolicyError> {
        let position = Position {
            company: request.company_id,
            lease: None,
        };
        Err(failed(attack(&request.config, position)?))
    }

    fn claim_lease(
        request: LeaseRequest,
        _module_sha256: String,
    ) -> Result<Option<Lease>, PolicyError> {
        let report = attack(&request.config, lease_position(&request))?;
        Err(failed(report))
    }

    fn realize_workspace(_lease: Lease, _path: Option<String>) -> Result<ExecStatus, PolicyError> {
        not_implemented()
    }

    fn execute(request: ExecRequest) -> Result<ExecStatus, PolicyError> {
        Err(attack_from_command(&request.lease, &request.command))
    }

    fn release_lease(_lease: Lease) -> Result<ReleaseReport, PolicyError> {
        not_implemented()
    }

    fn resume_lease(lease_id: String, namespace: Option<String>) -> Result<Lease, PolicyError> {
        Ok(any_lease(lease_id, namespace.unwrap_or_default()))
    }

    fn sweep(_now: String, namespace: Option<String>) -> Result<SweepReport, PolicyError> {
        // The host passes `--namespace` as it is: the attack rides in it.
        let config = namespace.unwrap_or_default();
        Err(failed(attack(&config, Position::default())?))
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

    fn open_terminal(request: TerminalRequest) -> Result<ExecStatus, PolicyError> {
        let command = request.command.unwrap_or_else(|| Command::Argv(Vec::new()));
        Err(attack_from_command(&request.lease, &command))
    }

    fn start_process(request: ExecRequest) -> Result<ProcessInfo, PolicyError> {
        Err(attack_from_command(&request.lease, &request.command))
    }

    fn list_processes(_lease: Lease) -> Result<Vec<ProcessInfo>, PolicyError> {
        not_implemented()
    }

    fn attach_process(_request: AttachRequest) -> Result<ExecStatus, PolicyError> {
        not_implemented()
    }

    fn kill_process(
        _lease: Lease,
        _process: String,
        _signal: u32,
    ) -> Result<ProcessInfo, PolicyError> {
        not_implemented()
    }

    fn write_files(_request: FilesInRequest) -> Result<(), PolicyError> {
        not_implemented()
    }

    fn read_files(_request: FilesOutRequest) -> Result<(), PolicyError> {
        not_implemented()
    }

    fn stat_path(_lease: Lease, _path: String) -> Result<Option<FileEntry>, PolicyError> {
        not_implemented()
    }

    fn list_directory(_lease: Lease, _path: String) -> Result<Vec<FileEntry>, PolicyError> {
        not_implemented()
    }

    fn remove_path(_lease: Lease, _path: String, _recursive: bool) -> Result<bool, PolicyError> {
        not_implemented()
    }
}

/// Runs the attack named by a command (its first argv, or the shell line)
/// from a call about `lease`; the answer is always an error: `failed` with
/// the report, or the attack's own error.
fn attack_from_command(lease: &Lease, command: &Command) -> PolicyError {
    let config = match command {
        Command::Argv(argv) => argv.first().cloned().unwrap_or_default(),
        Command::Shell(line) => line.clone(),
    };
    let position = Position {
        company: lease.company_id.clone(),
        lease: Some(lease.id.clone()),
    };
    match attack(&config, position) {
        Ok(report) => failed(report),
        Err(error) => error,
    }
}

crate::bindings::export_policy_module!(Component with_types_in crate::bindings);
