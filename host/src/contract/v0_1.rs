//! Contract 0.1.0 (`wit/v0.1.0/`, frozen): its bindings, and every
//! conversion between its records and the current ones, as `From` impls.
//!
//! A 0.1.0 module's imports run the current implementation (the runtime's
//! `imports/v0_1.rs` converts with these), so the guard, cancellation and
//! limits are the same for both contracts; its exports are called with
//! current records converted down, and their answers converted up.
//! Differences a 0.1.0 module sees: `denied` carries the rule in its
//! message (`rule \`x\`: ...`); `cancelled` arrives as `timed-out`. A
//! lease converted up has no `module-sha256`: the runtime fills in the
//! module's own.

wasmtime::component::bindgen!({
    path: "../wit/v0.1.0",
    world: "policy-module",
    with: {
        "leasebox:provider/kube.watch": crate::contract::WatchHandle,
        "leasebox:provider/kube.exec-session": crate::contract::ExecHandle,
        "leasebox:provider/kube.log-stream": crate::contract::LogHandle,
    },
    imports: { default: trappable },
});

use self::exports::leasebox::provider::provider as old_provider;
use self::leasebox::provider::kube as old_kube;
use self::leasebox::provider::logging as old_logging;
use self::leasebox::provider::types as old;
use crate::contract as now;

/// A 0.1.0 export's answer, converted up.
pub fn answer_up<T, U: From<T>>(
    answer: Result<T, old::PolicyError>,
) -> Result<U, now::PolicyError> {
    answer.map(U::from).map_err(now::PolicyError::from)
}

// Records both ways.

impl From<old::ObjectRef> for now::ObjectRef {
    fn from(r: old::ObjectRef) -> Self {
        let old::ObjectRef {
            api_version,
            kind,
            namespace,
            name,
            uid,
        } = r;
        now::ObjectRef {
            api_version,
            kind,
            namespace,
            name,
            uid,
        }
    }
}

impl From<now::ObjectRef> for old::ObjectRef {
    fn from(r: now::ObjectRef) -> Self {
        let now::ObjectRef {
            api_version,
            kind,
            namespace,
            name,
            uid,
        } = r;
        old::ObjectRef {
            api_version,
            kind,
            namespace,
            name,
            uid,
        }
    }
}

impl From<old::EnvVar> for now::EnvVar {
    fn from(e: old::EnvVar) -> Self {
        now::EnvVar {
            name: e.name,
            value: e.value,
        }
    }
}

impl From<now::EnvVar> for old::EnvVar {
    fn from(e: now::EnvVar) -> Self {
        old::EnvVar {
            name: e.name,
            value: e.value,
        }
    }
}

impl From<old::Backend> for now::Backend {
    fn from(b: old::Backend) -> Self {
        match b {
            old::Backend::SandboxCr => now::Backend::SandboxCr,
            old::Backend::Job => now::Backend::Job,
            old::Backend::Pod => now::Backend::Pod,
        }
    }
}

impl From<now::Backend> for old::Backend {
    fn from(b: now::Backend) -> Self {
        match b {
            now::Backend::SandboxCr => old::Backend::SandboxCr,
            now::Backend::Job => old::Backend::Job,
            now::Backend::Pod => old::Backend::Pod,
        }
    }
}

/// Names every field, so a field added to the WIT fails to compile here
/// until the host says what a 0.1.0 module's lease carries for it.
impl From<old::Lease> for now::Lease {
    fn from(lease: old::Lease) -> Self {
        let old::Lease {
            id,
            namespace,
            backend,
            workload,
            pod,
            container,
            secret,
            company_id,
            run_id,
            adapter_type,
            image,
            created_at,
            expires_at,
        } = lease;
        now::Lease {
            id,
            namespace,
            backend: backend.into(),
            workload: workload.into(),
            pod,
            container,
            secret,
            company_id,
            run_id,
            adapter_type,
            image,
            created_at,
            expires_at,
            module_sha256: String::new(),
        }
    }
}

/// A lease for a 0.1.0 module, which has no `module-sha256`.
impl From<&now::Lease> for old::Lease {
    fn from(lease: &now::Lease) -> Self {
        let now::Lease {
            id,
            namespace,
            backend,
            workload,
            pod,
            container,
            secret,
            company_id,
            run_id,
            adapter_type,
            image,
            created_at,
            expires_at,
            module_sha256: _,
        } = lease.clone();
        old::Lease {
            id,
            namespace,
            backend: backend.into(),
            workload: workload.into(),
            pod,
            container,
            secret,
            company_id,
            run_id,
            adapter_type,
            image,
            created_at,
            expires_at,
        }
    }
}

// The exports' arguments, down.

impl From<now::Command> for old::Command {
    fn from(c: now::Command) -> Self {
        match c {
            now::Command::Argv(argv) => old::Command::Argv(argv),
            now::Command::Shell(s) => old::Command::Shell(s),
        }
    }
}

impl From<&now::LeaseRequest> for old::LeaseRequest {
    fn from(r: &now::LeaseRequest) -> Self {
        old::LeaseRequest {
            config: r.config.clone(),
            company_id: r.company_id.clone(),
            run_id: r.run_id.clone(),
            lease_id: r.lease_id.clone(),
            now: r.now.clone(),
            adapter_type: r.adapter_type.clone(),
            image_override: r.image_override.clone(),
            command: r.command.clone().map(old::Command::from),
        }
    }
}

impl From<&now::ExecRequest> for old::ExecRequest {
    fn from(r: &now::ExecRequest) -> Self {
        old::ExecRequest {
            lease: old::Lease::from(&r.lease),
            command: r.command.clone().into(),
            cwd: r.cwd.clone(),
            env: r.env.iter().cloned().map(old::EnvVar::from).collect(),
            forward_stdin: r.forward_stdin,
            timeout_ms: r.timeout_ms,
            max_stdout_bytes: r.max_stdout_bytes,
            max_stderr_bytes: r.max_stderr_bytes,
        }
    }
}

// The exports' answers, up.

impl From<old::ExecResult> for now::ExecStatus {
    fn from(r: old::ExecResult) -> Self {
        now::ExecStatus {
            exit_code: r.exit_code,
            signal: r.signal,
            timed_out: r.timed_out,
            stdout_truncated: r.stdout_truncated,
            stderr_truncated: r.stderr_truncated,
            message: r.message,
        }
    }
}

impl From<old::Issue> for now::Issue {
    fn from(i: old::Issue) -> Self {
        now::Issue {
            path: i.path,
            message: i.message,
        }
    }
}

impl From<old::ValidationReport> for now::ValidationReport {
    fn from(r: old::ValidationReport) -> Self {
        now::ValidationReport {
            ok: r.ok,
            errors: r.errors.into_iter().map(now::Issue::from).collect(),
            warnings: r.warnings.into_iter().map(now::Issue::from).collect(),
            normalized_config: r.normalized_config,
        }
    }
}

impl From<old::PolicyError> for now::PolicyError {
    fn from(e: old::PolicyError) -> Self {
        match e {
            old::PolicyError::InvalidConfig(issues) => {
                now::PolicyError::InvalidConfig(issues.into_iter().map(now::Issue::from).collect())
            }
            old::PolicyError::NotAllowed(m) => now::PolicyError::NotAllowed(m),
            old::PolicyError::Failed(f) => now::PolicyError::Failed(now::Failure {
                step: f.step,
                reason: f.reason,
                message: f.message,
                rolled_back: f
                    .rolled_back
                    .into_iter()
                    .map(now::ObjectRef::from)
                    .collect(),
                left_behind: f
                    .left_behind
                    .into_iter()
                    .map(now::ObjectRef::from)
                    .collect(),
            }),
            old::PolicyError::LeaseNotFound(m) => now::PolicyError::LeaseNotFound(m),
            old::PolicyError::BadRequest(m) => now::PolicyError::BadRequest(m),
        }
    }
}

impl From<old_provider::ProbeReport> for now::ProbeReport {
    fn from(r: old_provider::ProbeReport) -> Self {
        now::ProbeReport {
            ok: r.ok,
            checks: r
                .checks
                .into_iter()
                .map(|c| now::ProbeCheck {
                    name: c.name,
                    ok: c.ok,
                    detail: c.detail,
                })
                .collect(),
        }
    }
}

impl From<old_provider::ReleaseReport> for now::ReleaseReport {
    fn from(r: old_provider::ReleaseReport) -> Self {
        now::ReleaseReport {
            deleted: r.deleted.into_iter().map(now::ObjectRef::from).collect(),
            already_gone: r.already_gone,
        }
    }
}

impl From<old_provider::SweepReport> for now::SweepReport {
    fn from(r: old_provider::SweepReport) -> Self {
        now::SweepReport {
            expired: r.expired.into_iter().map(now::ObjectRef::from).collect(),
            kept: r.kept,
        }
    }
}

// The imports' arguments, up; their answers, down.

impl From<old_kube::DeleteOptions> for now::DeleteOptions {
    fn from(options: old_kube::DeleteOptions) -> Self {
        now::DeleteOptions {
            propagation: match options.propagation {
                old_kube::Propagation::Foreground => now::Propagation::Foreground,
                old_kube::Propagation::Background => now::Propagation::Background,
                old_kube::Propagation::Orphan => now::Propagation::Orphan,
            },
            precondition_uid: options.precondition_uid,
            grace_period_seconds: options.grace_period_seconds,
        }
    }
}

impl From<old_kube::WatchRequest> for now::WatchRequest {
    fn from(request: old_kube::WatchRequest) -> Self {
        now::WatchRequest {
            api_version: request.api_version,
            kind: request.kind,
            namespace: request.namespace,
            label_selector: request.label_selector,
            field_selector: request.field_selector,
        }
    }
}

impl From<old_kube::ExecSpec> for now::ExecSpec {
    fn from(spec: old_kube::ExecSpec) -> Self {
        now::ExecSpec {
            namespace: spec.namespace,
            pod: spec.pod,
            container: spec.container,
            argv: spec.argv,
            stdin: spec.stdin,
            forward_output: spec.forward_output,
            forward_stdin: spec.forward_stdin,
            frame_stdin: spec.frame_stdin,
            tty: None,
            max_stdout_bytes: spec.max_stdout_bytes,
            max_stderr_bytes: spec.max_stderr_bytes,
        }
    }
}

impl From<old_kube::LogsRequest> for now::LogsRequest {
    fn from(request: old_kube::LogsRequest) -> Self {
        now::LogsRequest {
            namespace: request.namespace,
            pod: request.pod,
            container: request.container,
            follow: request.follow,
            forward_output: request.forward_output,
            max_bytes: request.max_bytes,
        }
    }
}

impl From<old_kube::HostSecretRequest> for now::HostSecretRequest {
    fn from(request: old_kube::HostSecretRequest) -> Self {
        now::HostSecretRequest {
            manifest: request.manifest,
            random_keys: request.random_keys,
            host_keys: request.host_keys,
            literal: request.literal.into_iter().map(now::EnvVar::from).collect(),
        }
    }
}

impl From<old_logging::Level> for now::LogLevel {
    fn from(level: old_logging::Level) -> Self {
        match level {
            old_logging::Level::Debug => now::LogLevel::Debug,
            old_logging::Level::Info => now::LogLevel::Info,
            old_logging::Level::Warn => now::LogLevel::Warn,
            old_logging::Level::Error => now::LogLevel::Error,
        }
    }
}

impl From<now::KubeError> for old_kube::KubeError {
    fn from(error: now::KubeError) -> Self {
        use now::KubeError as N;
        use old_kube::KubeError as O;
        match error {
            N::NoCluster(m) => O::NoCluster(m),
            N::Denied(d) => O::Denied(d.describe()),
            N::NotFound(m) => O::NotFound(m),
            N::Conflict(m) => O::Conflict(m),
            N::Forbidden(m) => O::Forbidden(m),
            N::Invalid(m) => O::Invalid(m),
            N::Gone(m) => O::Gone(m),
            N::TimedOut(m) => O::TimedOut(m),
            N::Transport(m) => O::Transport(m),
            N::BadArgument(m) => O::BadArgument(m),
            N::Cancelled(m) => O::TimedOut(m),
        }
    }
}

impl From<now::WatchEvent> for old_kube::WatchEvent {
    fn from(e: now::WatchEvent) -> Self {
        old_kube::WatchEvent {
            event_type: match e.event_type {
                now::EventType::Added => old_kube::EventType::Added,
                now::EventType::Modified => old_kube::EventType::Modified,
                now::EventType::Deleted => old_kube::EventType::Deleted,
            },
            object: e.object,
        }
    }
}

impl From<now::OutputChunk> for old_kube::OutputChunk {
    fn from(c: now::OutputChunk) -> Self {
        old_kube::OutputChunk {
            source: match c.source {
                now::OutputStream::Stdout => old_kube::OutputStream::Stdout,
                now::OutputStream::Stderr => old_kube::OutputStream::Stderr,
            },
            data: c.data,
        }
    }
}

impl From<now::ExecStatus> for old_kube::ExitStatus {
    fn from(s: now::ExecStatus) -> Self {
        old_kube::ExitStatus {
            code: s.exit_code,
            signal: s.signal,
            stdout_truncated: s.stdout_truncated,
            stderr_truncated: s.stderr_truncated,
            message: s.message,
        }
    }
}
