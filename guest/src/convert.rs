//! `From`-style conversions between the generated WIT types and the domain
//! types. The only other file that names generated types is `component.rs`.

use crate::bindings::leasebox::provider::types as wit;
use crate::config::{Backend, Issue, Validated};
use crate::error::{Failure, PolicyError};
use crate::lease::{Command, EnvVar, ExecRequest, ExecResult, Lease, LeaseRequest, ObjectRef};

pub fn issue(i: Issue) -> wit::Issue {
    wit::Issue {
        path: i.path,
        message: i.message,
    }
}

pub fn validation_report(v: Validated) -> wit::ValidationReport {
    let normalized = v
        .config
        .as_ref()
        .and_then(|c| serde_json::to_string(c).ok());
    wit::ValidationReport {
        ok: v.errors.is_empty(),
        errors: v.errors.into_iter().map(issue).collect(),
        warnings: v.warnings.into_iter().map(issue).collect(),
        normalized_config: normalized,
    }
}

pub fn command(c: wit::Command) -> Command {
    match c {
        wit::Command::Argv(argv) => Command::Argv(argv),
        wit::Command::Shell(s) => Command::Shell(s),
    }
}

pub fn lease_request(r: wit::LeaseRequest) -> LeaseRequest {
    LeaseRequest {
        config: r.config,
        company_id: r.company_id,
        run_id: r.run_id,
        lease_id: r.lease_id,
        now: r.now,
        adapter_type: r.adapter_type,
        image_override: r.image_override,
        command: r.command.map(command),
    }
}

pub fn backend_to_wit(b: Backend) -> wit::Backend {
    match b {
        Backend::SandboxCr => wit::Backend::SandboxCr,
        Backend::Job => wit::Backend::Job,
        Backend::Pod => wit::Backend::Pod,
    }
}

pub fn backend_from_wit(b: wit::Backend) -> Backend {
    match b {
        wit::Backend::SandboxCr => Backend::SandboxCr,
        wit::Backend::Job => Backend::Job,
        wit::Backend::Pod => Backend::Pod,
    }
}

pub fn object_ref_to_wit(o: ObjectRef) -> wit::ObjectRef {
    wit::ObjectRef {
        api_version: o.api_version,
        kind: o.kind,
        namespace: o.namespace,
        name: o.name,
        uid: o.uid,
    }
}

pub fn object_ref_from_wit(o: wit::ObjectRef) -> ObjectRef {
    ObjectRef {
        api_version: o.api_version,
        kind: o.kind,
        namespace: o.namespace,
        name: o.name,
        uid: o.uid,
    }
}

pub fn lease_to_wit(l: Lease) -> wit::Lease {
    wit::Lease {
        id: l.id,
        namespace: l.namespace,
        backend: backend_to_wit(l.backend),
        workload: object_ref_to_wit(l.workload),
        pod: l.pod,
        container: l.container,
        secret: l.secret,
        company_id: l.company_id,
        run_id: l.run_id,
        adapter_type: l.adapter_type,
        image: l.image,
        created_at: l.created_at,
        expires_at: l.expires_at,
    }
}

/// A lease handed back by the host; its id is checked, since the host may
/// have read it from anywhere.
pub fn lease_from_wit(l: wit::Lease) -> Result<Lease, PolicyError> {
    crate::names::check_lease_id(&l.id).map_err(PolicyError::BadRequest)?;
    Ok(Lease {
        id: l.id,
        namespace: l.namespace,
        backend: backend_from_wit(l.backend),
        workload: object_ref_from_wit(l.workload),
        pod: l.pod,
        container: l.container,
        secret: l.secret,
        company_id: l.company_id,
        run_id: l.run_id,
        adapter_type: l.adapter_type,
        image: l.image,
        created_at: l.created_at,
        expires_at: l.expires_at,
    })
}

pub fn exec_request(r: wit::ExecRequest) -> Result<ExecRequest, PolicyError> {
    Ok(ExecRequest {
        lease: lease_from_wit(r.lease)?,
        command: command(r.command),
        cwd: r.cwd,
        env: r
            .env
            .into_iter()
            .map(|e| EnvVar {
                name: e.name,
                value: e.value,
            })
            .collect(),
        forward_stdin: r.forward_stdin,
        timeout_ms: r.timeout_ms,
        max_stdout_bytes: r.max_stdout_bytes,
        max_stderr_bytes: r.max_stderr_bytes,
    })
}

pub fn exec_result(r: ExecResult) -> wit::ExecResult {
    wit::ExecResult {
        exit_code: r.exit_code,
        signal: r.signal,
        timed_out: r.timed_out,
        stdout_truncated: r.stdout_truncated,
        stderr_truncated: r.stderr_truncated,
        message: r.message,
    }
}

fn failure(f: Failure) -> wit::Failure {
    wit::Failure {
        step: f.step,
        reason: f.reason,
        message: f.message,
        rolled_back: f.rolled_back.into_iter().map(object_ref_to_wit).collect(),
        left_behind: f.left_behind.into_iter().map(object_ref_to_wit).collect(),
    }
}

pub fn policy_error(e: PolicyError) -> wit::PolicyError {
    match e {
        PolicyError::InvalidConfig(issues) => {
            wit::PolicyError::InvalidConfig(issues.into_iter().map(issue).collect())
        }
        PolicyError::NotAllowed(m) => wit::PolicyError::NotAllowed(m),
        PolicyError::Failed(f) => wit::PolicyError::Failed(failure(f)),
        PolicyError::LeaseNotFound(m) => wit::PolicyError::LeaseNotFound(m),
        PolicyError::BadRequest(m) => wit::PolicyError::BadRequest(m),
    }
}
