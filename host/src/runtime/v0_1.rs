//! Contract 0.1.0 (`wit/v0.1.0/`, frozen): its bindings, and the one place
//! where its records are converted to and from the current ones.
//!
//! A 0.1.0 module imports `kube@0.1.0` and `logging@0.1.0`: those imports
//! run the current implementation (`imports/`), so the guard, cancellation
//! and limits are the same for both contracts. Its exports are called with
//! current records converted down, and their answers converted up.
//! Differences a 0.1.0 module sees: `denied` carries the rule in its
//! message (`rule \`x\`: ...`); `cancelled` arrives as `timed-out`. A lease
//! from a 0.1.0 module gets `module-sha256` from the module's own bytes.

use wasmtime::component::Resource;

use super::bindings::exports::leasebox::provider::provider as now_provider;
use super::bindings::leasebox::provider::{kube as now_kube, logging as now_logging};
use super::imports::kube::{ExecHandle, LogHandle, WatchHandle};
use super::instance::HostState;
use super::types as now;

wasmtime::component::bindgen!({
    path: "../wit/v0.1.0",
    world: "policy-module",
    with: {
        "leasebox:provider/kube.watch": crate::runtime::imports::kube::WatchHandle,
        "leasebox:provider/kube.exec-session": crate::runtime::imports::kube::ExecHandle,
        "leasebox:provider/kube.log-stream": crate::runtime::imports::kube::LogHandle,
    },
    imports: { default: trappable },
});

use self::exports::leasebox::provider::provider as old_provider;
use self::leasebox::provider::kube as old_kube;
use self::leasebox::provider::logging as old_logging;
use self::leasebox::provider::types as old;

type OldResult<T> = wasmtime::Result<Result<T, old_kube::KubeError>>;

/// A current import's answer, for a 0.1.0 module.
fn down<T, U>(
    answer: wasmtime::Result<Result<T, now::KubeError>>,
    value: impl FnOnce(T) -> U,
) -> OldResult<U> {
    Ok(answer?.map(value).map_err(kube_error))
}

fn kube_error(error: now::KubeError) -> old_kube::KubeError {
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

pub(crate) fn object_ref_up(r: old::ObjectRef) -> now::ObjectRef {
    now::ObjectRef {
        api_version: r.api_version,
        kind: r.kind,
        namespace: r.namespace,
        name: r.name,
        uid: r.uid,
    }
}

pub(crate) fn object_ref_down(r: now::ObjectRef) -> old::ObjectRef {
    old::ObjectRef {
        api_version: r.api_version,
        kind: r.kind,
        namespace: r.namespace,
        name: r.name,
        uid: r.uid,
    }
}

fn env_var_up(e: old::EnvVar) -> now::EnvVar {
    now::EnvVar {
        name: e.name,
        value: e.value,
    }
}

fn env_var_down(e: now::EnvVar) -> old::EnvVar {
    old::EnvVar {
        name: e.name,
        value: e.value,
    }
}

impl old::Host for HostState {}

impl old_kube::Host for HostState {
    fn apply(&mut self, manifest: String) -> OldResult<String> {
        down(now_kube::Host::apply(self, manifest), |v| v)
    }

    fn create(&mut self, manifest: String) -> OldResult<String> {
        down(now_kube::Host::create(self, manifest), |v| v)
    }

    fn server_version(&mut self) -> OldResult<String> {
        down(now_kube::Host::server_version(self), |v| v)
    }

    fn monotonic_ms(&mut self) -> wasmtime::Result<u64> {
        now_kube::Host::monotonic_ms(self)
    }

    fn get(&mut self, target: old::ObjectRef) -> OldResult<Option<String>> {
        down(now_kube::Host::get(self, object_ref_up(target)), |v| v)
    }

    fn list_objects(
        &mut self,
        api_version: String,
        kind: String,
        namespace: Option<String>,
        label_selector: String,
    ) -> OldResult<Vec<String>> {
        let answer =
            now_kube::Host::list_objects(self, api_version, kind, namespace, label_selector);
        down(answer, |v| v)
    }

    fn delete(
        &mut self,
        target: old::ObjectRef,
        options: old_kube::DeleteOptions,
    ) -> OldResult<bool> {
        let options = now::DeleteOptions {
            propagation: match options.propagation {
                old_kube::Propagation::Foreground => now::Propagation::Foreground,
                old_kube::Propagation::Background => now::Propagation::Background,
                old_kube::Propagation::Orphan => now::Propagation::Orphan,
            },
            precondition_uid: options.precondition_uid,
            grace_period_seconds: options.grace_period_seconds,
        };
        down(
            now_kube::Host::delete(self, object_ref_up(target), options),
            |v| v,
        )
    }

    fn open_watch(&mut self, request: old_kube::WatchRequest) -> OldResult<Resource<WatchHandle>> {
        let request = now::WatchRequest {
            api_version: request.api_version,
            kind: request.kind,
            namespace: request.namespace,
            label_selector: request.label_selector,
            field_selector: request.field_selector,
        };
        down(now_kube::Host::open_watch(self, request), |v| v)
    }

    fn exec(&mut self, spec: old_kube::ExecSpec) -> OldResult<Resource<ExecHandle>> {
        let spec = now::ExecSpec {
            namespace: spec.namespace,
            pod: spec.pod,
            container: spec.container,
            argv: spec.argv,
            stdin: spec.stdin,
            forward_output: spec.forward_output,
            forward_stdin: spec.forward_stdin,
            frame_stdin: spec.frame_stdin,
            max_stdout_bytes: spec.max_stdout_bytes,
            max_stderr_bytes: spec.max_stderr_bytes,
        };
        down(now_kube::Host::exec(self, spec), |v| v)
    }

    fn logs(&mut self, request: old_kube::LogsRequest) -> OldResult<Resource<LogHandle>> {
        let request = now::LogsRequest {
            namespace: request.namespace,
            pod: request.pod,
            container: request.container,
            follow: request.follow,
            forward_output: request.forward_output,
            max_bytes: request.max_bytes,
        };
        down(now_kube::Host::logs(self, request), |v| v)
    }

    fn apply_host_secret(
        &mut self,
        request: old_kube::HostSecretRequest,
    ) -> OldResult<(String, Vec<String>)> {
        let request = now::HostSecretRequest {
            manifest: request.manifest,
            random_keys: request.random_keys,
            host_keys: request.host_keys,
            literal: request.literal.into_iter().map(env_var_up).collect(),
        };
        down(now_kube::Host::apply_host_secret(self, request), |v| v)
    }
}

impl old_kube::HostWatch for HostState {
    fn next(
        &mut self,
        watch: Resource<WatchHandle>,
        timeout_ms: u64,
    ) -> OldResult<Option<old_kube::WatchEvent>> {
        down(
            now_kube::HostWatch::next(self, watch, timeout_ms),
            |event| {
                event.map(|e| old_kube::WatchEvent {
                    event_type: match e.event_type {
                        now::EventType::Added => old_kube::EventType::Added,
                        now::EventType::Modified => old_kube::EventType::Modified,
                        now::EventType::Deleted => old_kube::EventType::Deleted,
                    },
                    object: e.object,
                })
            },
        )
    }

    fn drop(&mut self, watch: Resource<WatchHandle>) -> wasmtime::Result<()> {
        now_kube::HostWatch::drop(self, watch)
    }
}

impl old_kube::HostExecSession for HostState {
    fn write_stdin(&mut self, session: Resource<ExecHandle>, data: Vec<u8>) -> OldResult<()> {
        down(
            now_kube::HostExecSession::write_stdin(self, session, data),
            |v| v,
        )
    }

    fn close_stdin(&mut self, session: Resource<ExecHandle>) -> OldResult<()> {
        down(now_kube::HostExecSession::close_stdin(self, session), |v| v)
    }

    fn read(
        &mut self,
        session: Resource<ExecHandle>,
        timeout_ms: u64,
    ) -> OldResult<Option<old_kube::OutputChunk>> {
        down(
            now_kube::HostExecSession::read(self, session, timeout_ms),
            |chunk| {
                chunk.map(|c| old_kube::OutputChunk {
                    source: match c.source {
                        now::OutputStream::Stdout => old_kube::OutputStream::Stdout,
                        now::OutputStream::Stderr => old_kube::OutputStream::Stderr,
                    },
                    data: c.data,
                })
            },
        )
    }

    fn wait(
        &mut self,
        session: Resource<ExecHandle>,
        timeout_ms: u64,
    ) -> OldResult<Option<old_kube::ExitStatus>> {
        down(
            now_kube::HostExecSession::wait(self, session, timeout_ms),
            |status| {
                status.map(|s| old_kube::ExitStatus {
                    code: s.exit_code,
                    signal: s.signal,
                    stdout_truncated: s.stdout_truncated,
                    stderr_truncated: s.stderr_truncated,
                    message: s.message,
                })
            },
        )
    }

    fn kill(&mut self, session: Resource<ExecHandle>) -> OldResult<()> {
        down(now_kube::HostExecSession::kill(self, session), |v| v)
    }

    fn drop(&mut self, session: Resource<ExecHandle>) -> wasmtime::Result<()> {
        now_kube::HostExecSession::drop(self, session)
    }
}

impl old_kube::HostLogStream for HostState {
    fn read(&mut self, stream: Resource<LogHandle>, timeout_ms: u64) -> OldResult<Option<Vec<u8>>> {
        down(
            now_kube::HostLogStream::read(self, stream, timeout_ms),
            |v| v,
        )
    }

    fn wait_end(&mut self, stream: Resource<LogHandle>, timeout_ms: u64) -> OldResult<bool> {
        down(
            now_kube::HostLogStream::wait_end(self, stream, timeout_ms),
            |v| v,
        )
    }

    fn drop(&mut self, stream: Resource<LogHandle>) -> wasmtime::Result<()> {
        now_kube::HostLogStream::drop(self, stream)
    }
}

impl old_logging::Host for HostState {
    fn log(
        &mut self,
        level: old_logging::Level,
        context: String,
        message: String,
    ) -> wasmtime::Result<()> {
        let level = match level {
            old_logging::Level::Debug => now_logging::Level::Debug,
            old_logging::Level::Info => now_logging::Level::Info,
            old_logging::Level::Warn => now_logging::Level::Warn,
            old_logging::Level::Error => now_logging::Level::Error,
        };
        now_logging::Host::log(self, level, context, message)
    }
}

// The exports: current records down, 0.1.0 answers up.

pub(crate) fn command_down(c: now::Command) -> old::Command {
    match c {
        now::Command::Argv(argv) => old::Command::Argv(argv),
        now::Command::Shell(s) => old::Command::Shell(s),
    }
}

pub(crate) fn lease_request_down(r: &now::LeaseRequest) -> old::LeaseRequest {
    old::LeaseRequest {
        config: r.config.clone(),
        company_id: r.company_id.clone(),
        run_id: r.run_id.clone(),
        lease_id: r.lease_id.clone(),
        now: r.now.clone(),
        adapter_type: r.adapter_type.clone(),
        image_override: r.image_override.clone(),
        command: r.command.clone().map(command_down),
    }
}

pub(crate) fn exec_request_down(r: &now::ExecRequest) -> old::ExecRequest {
    old::ExecRequest {
        lease: crate::lease_record::down_to_v0_1(&r.lease),
        command: command_down(r.command.clone()),
        cwd: r.cwd.clone(),
        env: r.env.iter().cloned().map(env_var_down).collect(),
        forward_stdin: r.forward_stdin,
        timeout_ms: r.timeout_ms,
        max_stdout_bytes: r.max_stdout_bytes,
        max_stderr_bytes: r.max_stderr_bytes,
    }
}

pub(crate) fn exec_status_up(r: old::ExecResult) -> now::ExecStatus {
    now::ExecStatus {
        exit_code: r.exit_code,
        signal: r.signal,
        timed_out: r.timed_out,
        stdout_truncated: r.stdout_truncated,
        stderr_truncated: r.stderr_truncated,
        message: r.message,
    }
}

pub(crate) fn backend_up(b: old::Backend) -> now::Backend {
    match b {
        old::Backend::SandboxCr => now::Backend::SandboxCr,
        old::Backend::Job => now::Backend::Job,
        old::Backend::Pod => now::Backend::Pod,
    }
}

pub(crate) fn backend_down(b: now::Backend) -> old::Backend {
    match b {
        now::Backend::SandboxCr => old::Backend::SandboxCr,
        now::Backend::Job => old::Backend::Job,
        now::Backend::Pod => old::Backend::Pod,
    }
}

fn issue_up(i: old::Issue) -> now::Issue {
    now::Issue {
        path: i.path,
        message: i.message,
    }
}

pub(crate) fn validation_report_up(r: old::ValidationReport) -> now::ValidationReport {
    now::ValidationReport {
        ok: r.ok,
        errors: r.errors.into_iter().map(issue_up).collect(),
        warnings: r.warnings.into_iter().map(issue_up).collect(),
        normalized_config: r.normalized_config,
    }
}

pub(crate) fn policy_error_up(e: old::PolicyError) -> now::PolicyError {
    match e {
        old::PolicyError::InvalidConfig(issues) => {
            now::PolicyError::InvalidConfig(issues.into_iter().map(issue_up).collect())
        }
        old::PolicyError::NotAllowed(m) => now::PolicyError::NotAllowed(m),
        old::PolicyError::Failed(f) => now::PolicyError::Failed(now::Failure {
            step: f.step,
            reason: f.reason,
            message: f.message,
            rolled_back: f.rolled_back.into_iter().map(object_ref_up).collect(),
            left_behind: f.left_behind.into_iter().map(object_ref_up).collect(),
        }),
        old::PolicyError::LeaseNotFound(m) => now::PolicyError::LeaseNotFound(m),
        old::PolicyError::BadRequest(m) => now::PolicyError::BadRequest(m),
    }
}

pub(crate) fn probe_report_up(r: old_provider::ProbeReport) -> now_provider::ProbeReport {
    now_provider::ProbeReport {
        ok: r.ok,
        checks: r
            .checks
            .into_iter()
            .map(|c| now_provider::ProbeCheck {
                name: c.name,
                ok: c.ok,
                detail: c.detail,
            })
            .collect(),
    }
}

pub(crate) fn release_report_up(r: old_provider::ReleaseReport) -> now_provider::ReleaseReport {
    now_provider::ReleaseReport {
        deleted: r.deleted.into_iter().map(object_ref_up).collect(),
        already_gone: r.already_gone,
    }
}

pub(crate) fn sweep_report_up(r: old_provider::SweepReport) -> now_provider::SweepReport {
    now_provider::SweepReport {
        expired: r.expired.into_iter().map(object_ref_up).collect(),
        kept: r.kept,
    }
}
