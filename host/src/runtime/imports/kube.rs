//! `leasebox:provider/kube`: converts WIT values and calls the call's
//! [`ClusterIo`]. Watches, exec sessions and log streams live in the
//! store's resource table as [`WatchHandle`], [`ExecHandle`] and
//! [`LogHandle`].
//!
//! Time spent in the cluster does not count against the guest's CPU
//! deadline. A handle the guest does not own traps (that is a bug in the
//! module, not a Kubernetes error).

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use wasmtime::component::Resource;

use crate::cluster_io::{self as io, ClusterIo, ExecStream, IoError, LogFollow, WatchStream};
use crate::runtime::bindings::leasebox::provider::kube::{
    DeleteOptions, EventType, ExecSpec, ExitStatus, Host, HostExecSession, HostLogStream,
    HostSecretRequest, HostWatch, KubeError, LogsRequest, ObjectRef, OutputChunk, OutputStream,
    Propagation, WatchEvent, WatchRequest,
};
use crate::runtime::bindings::leasebox::provider::types;
use crate::runtime::instance::HostState;

/// A watch held for the guest.
pub struct WatchHandle(Box<dyn WatchStream>);

/// An exec session held for the guest.
pub struct ExecHandle(Box<dyn ExecStream>);

/// A log stream held for the guest.
pub struct LogHandle(Box<dyn LogFollow>);

/// Longest wait a guest may ask of one `next`/`read`/`wait` call: 10
/// minutes. Longer waits are loops of calls, so a module cannot park a host
/// thread forever with one call.
const MAX_WAIT: Duration = Duration::from_secs(600);

fn wait(timeout_ms: u64) -> Duration {
    Duration::from_millis(timeout_ms).min(MAX_WAIT)
}

impl From<IoError> for KubeError {
    fn from(error: IoError) -> KubeError {
        match error {
            IoError::NoCluster(m) => KubeError::NoCluster(m),
            IoError::Denied(m) => KubeError::Denied(m),
            IoError::NotFound(m) => KubeError::NotFound(m),
            IoError::Conflict(m) => KubeError::Conflict(m),
            IoError::Forbidden(m) => KubeError::Forbidden(m),
            IoError::Invalid(m) => KubeError::Invalid(m),
            IoError::Gone(m) => KubeError::Gone(m),
            IoError::TimedOut(m) => KubeError::TimedOut(m),
            IoError::Transport(m) => KubeError::Transport(m),
            IoError::BadArgument(m) => KubeError::BadArgument(m),
        }
    }
}

fn object_ref(r: ObjectRef) -> io::ObjectRef {
    io::ObjectRef {
        api_version: r.api_version,
        kind: r.kind,
        namespace: r.namespace,
        name: r.name,
        uid: r.uid,
    }
}

fn event_type(t: io::EventType) -> EventType {
    match t {
        io::EventType::Added => EventType::Added,
        io::EventType::Modified => EventType::Modified,
        io::EventType::Deleted => EventType::Deleted,
    }
}

fn exit_status(s: io::ExitStatus) -> ExitStatus {
    ExitStatus {
        code: s.code,
        signal: s.signal,
        stdout_truncated: s.stdout_truncated,
        stderr_truncated: s.stderr_truncated,
        message: s.message,
    }
}

/// Milliseconds since the first call in this process, on the monotonic
/// clock.
fn monotonic_ms() -> u64 {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    let origin = *ORIGIN.get_or_init(Instant::now);
    u64::try_from(origin.elapsed().as_millis()).unwrap_or(u64::MAX)
}

type KubeResult<T> = wasmtime::Result<Result<T, KubeError>>;

/// Runs `op` on the handle behind `resource`, outside the guest's CPU
/// budget. A handle that is not in the table traps.
fn on_handle<T: 'static, R>(
    state: &mut HostState,
    resource: &Resource<T>,
    op: impl FnOnce(&mut T) -> R,
) -> wasmtime::Result<R> {
    state.timed(|state| -> wasmtime::Result<R> {
        let handle = state.table().get_mut(resource)?;
        Ok(op(handle))
    })
}

impl types::Host for HostState {}

impl Host for HostState {
    fn apply(&mut self, manifest: String) -> KubeResult<String> {
        Ok(self
            .with_cluster(|c, _| c.apply(&manifest))
            .map_err(KubeError::from))
    }

    fn create(&mut self, manifest: String) -> KubeResult<String> {
        Ok(self
            .with_cluster(|c, _| c.create(&manifest))
            .map_err(KubeError::from))
    }

    fn server_version(&mut self) -> KubeResult<String> {
        Ok(self
            .with_cluster(|c, _| c.server_version())
            .map_err(KubeError::from))
    }

    fn monotonic_ms(&mut self) -> wasmtime::Result<u64> {
        Ok(monotonic_ms())
    }

    fn get(&mut self, target: ObjectRef) -> KubeResult<Option<String>> {
        let target = object_ref(target);
        Ok(self
            .with_cluster(|c, _| c.get(&target))
            .map_err(KubeError::from))
    }

    fn list_objects(
        &mut self,
        api_version: String,
        kind: String,
        namespace: Option<String>,
        label_selector: String,
    ) -> KubeResult<Vec<String>> {
        Ok(self
            .with_cluster(|c, _| c.list(&api_version, &kind, namespace.as_deref(), &label_selector))
            .map_err(KubeError::from))
    }

    fn delete(&mut self, target: ObjectRef, options: DeleteOptions) -> KubeResult<bool> {
        let target = object_ref(target);
        let options = io::DeleteOptions {
            propagation: match options.propagation {
                Propagation::Foreground => io::Propagation::Foreground,
                Propagation::Background => io::Propagation::Background,
                Propagation::Orphan => io::Propagation::Orphan,
            },
            precondition_uid: options.precondition_uid,
            grace_period_seconds: options.grace_period_seconds,
        };
        Ok(self
            .with_cluster(|c, _| c.delete(&target, &options))
            .map_err(KubeError::from))
    }

    fn open_watch(&mut self, request: WatchRequest) -> KubeResult<Resource<WatchHandle>> {
        let request = io::WatchRequest {
            api_version: request.api_version,
            kind: request.kind,
            namespace: request.namespace,
            label_selector: request.label_selector,
            field_selector: request.field_selector,
        };
        match self.with_cluster(|c, _| c.watch(&request)) {
            Ok(stream) => Ok(Ok(self.table().push(WatchHandle(stream))?)),
            Err(error) => Ok(Err(error.into())),
        }
    }

    fn exec(&mut self, spec: ExecSpec) -> KubeResult<Resource<ExecHandle>> {
        let spec = io::ExecSpec {
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
        match self.with_cluster(|c, caller| c.exec(&spec, caller)) {
            Ok(stream) => Ok(Ok(self.table().push(ExecHandle(stream))?)),
            Err(error) => Ok(Err(error.into())),
        }
    }

    fn logs(&mut self, request: LogsRequest) -> KubeResult<Resource<LogHandle>> {
        let request = io::LogsRequest {
            namespace: request.namespace,
            pod: request.pod,
            container: request.container,
            follow: request.follow,
            forward_output: request.forward_output,
            max_bytes: request.max_bytes,
        };
        match self.with_cluster(|c, caller| c.logs(&request, caller)) {
            Ok(stream) => Ok(Ok(self.table().push(LogHandle(stream))?)),
            Err(error) => Ok(Err(error.into())),
        }
    }

    fn apply_host_secret(
        &mut self,
        request: HostSecretRequest,
    ) -> KubeResult<(String, Vec<String>)> {
        let request = io::HostSecretRequest {
            manifest: request.manifest,
            random_keys: request.random_keys,
            host_keys: request.host_keys,
            literal: request
                .literal
                .into_iter()
                .map(|e| (e.name, e.value))
                .collect(),
        };
        Ok(self
            .with_cluster(|c: &dyn ClusterIo, _| c.apply_host_secret(&request))
            .map_err(KubeError::from))
    }
}

impl HostWatch for HostState {
    fn next(
        &mut self,
        watch: Resource<WatchHandle>,
        timeout_ms: u64,
    ) -> KubeResult<Option<WatchEvent>> {
        let budget = self.wait_budget(wait(timeout_ms));
        let result = on_handle(self, &watch, |h| h.0.next(budget))?;
        Ok(result
            .map(|event| {
                event.map(|e| WatchEvent {
                    event_type: event_type(e.event_type),
                    object: e.object,
                })
            })
            .map_err(KubeError::from))
    }

    fn drop(&mut self, watch: Resource<WatchHandle>) -> wasmtime::Result<()> {
        self.table().delete(watch)?;
        Ok(())
    }
}

impl HostExecSession for HostState {
    fn write_stdin(&mut self, session: Resource<ExecHandle>, data: Vec<u8>) -> KubeResult<()> {
        let result = on_handle(self, &session, |h| h.0.write_stdin(&data))?;
        Ok(result.map_err(KubeError::from))
    }

    fn close_stdin(&mut self, session: Resource<ExecHandle>) -> KubeResult<()> {
        let result = on_handle(self, &session, |h| h.0.close_stdin())?;
        Ok(result.map_err(KubeError::from))
    }

    fn read(
        &mut self,
        session: Resource<ExecHandle>,
        timeout_ms: u64,
    ) -> KubeResult<Option<OutputChunk>> {
        let budget = self.wait_budget(wait(timeout_ms));
        let result = on_handle(self, &session, |h| h.0.read(budget))?;
        Ok(result
            .map(|chunk| {
                chunk.map(|(stream, data)| OutputChunk {
                    source: match stream {
                        io::StreamKind::Stdout => OutputStream::Stdout,
                        io::StreamKind::Stderr => OutputStream::Stderr,
                    },
                    data,
                })
            })
            .map_err(KubeError::from))
    }

    fn wait(
        &mut self,
        session: Resource<ExecHandle>,
        timeout_ms: u64,
    ) -> KubeResult<Option<ExitStatus>> {
        let budget = self.wait_budget(wait(timeout_ms));
        let result = on_handle(self, &session, |h| h.0.wait(budget))?;
        Ok(result.map(|s| s.map(exit_status)).map_err(KubeError::from))
    }

    fn kill(&mut self, session: Resource<ExecHandle>) -> KubeResult<()> {
        let result = on_handle(self, &session, |h| h.0.kill())?;
        Ok(result.map_err(KubeError::from))
    }

    fn drop(&mut self, session: Resource<ExecHandle>) -> wasmtime::Result<()> {
        self.table().delete(session)?;
        Ok(())
    }
}

impl HostLogStream for HostState {
    fn read(
        &mut self,
        stream: Resource<LogHandle>,
        timeout_ms: u64,
    ) -> KubeResult<Option<Vec<u8>>> {
        let budget = self.wait_budget(wait(timeout_ms));
        let result = on_handle(self, &stream, |h| h.0.read(budget))?;
        Ok(result.map_err(KubeError::from))
    }

    fn wait_end(&mut self, stream: Resource<LogHandle>, timeout_ms: u64) -> KubeResult<bool> {
        let budget = self.wait_budget(wait(timeout_ms));
        let result = on_handle(self, &stream, |h| h.0.wait_end(budget))?;
        Ok(result.map_err(KubeError::from))
    }

    fn drop(&mut self, stream: Resource<LogHandle>) -> wasmtime::Result<()> {
        self.table().delete(stream)?;
        Ok(())
    }
}
