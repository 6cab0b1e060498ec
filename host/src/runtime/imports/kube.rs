//! `leasebox:provider/kube`: passes the generated values straight to the
//! call's [`ClusterIo`], and carries out cancellation (`wit/kube.wit`).
//! Watches, exec sessions and log streams live in the store's resource
//! table as [`WatchHandle`], [`ExecHandle`] and [`LogHandle`].
//!
//! Manifests and open handles are bounded per call ([`bounds`]).
//!
//! Time spent in the cluster does not count against the guest's CPU
//! deadline. A handle the guest does not own traps (that is a bug in the
//! module, not a Kubernetes error).

pub(crate) mod bounds;
#[cfg(test)]
mod tests;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use wasmtime::component::Resource;

use crate::cluster::manifest::Manifest;
use crate::contract::v0_4::leasebox::provider::kube::{
    Host, HostExecSession, HostLogStream, HostWatch,
};
use crate::contract::v0_4::leasebox::provider::types;
use crate::contract::{
    DeleteOptions, ExecHandle, ExecSpec, ExecStatus, HandOverRequest, Handle, HostSecretRequest,
    KubeError, LogHandle, LogsRequest, ObjectRef, OutputChunk, WatchEvent, WatchHandle,
    WatchRequest,
};
use crate::runtime::cancel::WAIT_SLICE;
use crate::runtime::instance::HostState;

pub use bounds::{MAX_HANDLES_PER_CALL, MAX_MANIFEST_BYTES};

/// Longest wait a guest may ask of one `next`/`read`/`wait` call: 10
/// minutes. Longer waits are loops of calls, so a module cannot park a host
/// thread forever with one call.
const MAX_WAIT: Duration = Duration::from_secs(600);

/// Milliseconds since the first call in this process, on the monotonic
/// clock.
fn monotonic_ms() -> u64 {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    let origin = *ORIGIN.get_or_init(Instant::now);
    u64::try_from(origin.elapsed().as_millis()).unwrap_or(u64::MAX)
}

type KubeResult<T> = wasmtime::Result<Result<T, KubeError>>;

fn cancelled(what: &str) -> KubeError {
    KubeError::Cancelled(format!("{what}: the call was cancelled"))
}

impl HostState {
    /// `cancelled` for a mutation of a cancelled call.
    fn refuse_if_cancelled(&self, what: &str) -> Result<(), KubeError> {
        if self.cancel().is_cancelled() {
            return Err(cancelled(what));
        }
        Ok(())
    }

    /// Puts a new stream in the table, marked with whether the call was
    /// already cancelled.
    fn hold<S: ?Sized + Send + 'static>(
        &mut self,
        stream: Box<S>,
    ) -> wasmtime::Result<Resource<Handle<S>>> {
        let opened_after_cancel = self.cancel().is_cancelled();
        let held = self.table().push(Handle {
            stream,
            opened_after_cancel,
        })?;
        self.handles().opened();
        Ok(held)
    }

    /// Takes the stream behind `resource` out of the table (the guest
    /// dropped it), freeing its place under [`MAX_HANDLES_PER_CALL`].
    fn release<S: ?Sized + Send + 'static>(
        &mut self,
        resource: Resource<Handle<S>>,
    ) -> wasmtime::Result<()> {
        self.table().delete(resource)?;
        self.handles().closed();
        Ok(())
    }

    /// Waits on the stream behind `resource` for at most `timeout_ms`
    /// (capped by [`MAX_WAIT`] and the call's budget), in slices, so that a
    /// cancellation ends the wait of a stream opened before it. `poll`
    /// answers `None` while there is nothing yet.
    fn wait_on<S: ?Sized + Send + 'static, T>(
        &mut self,
        resource: &Resource<Handle<S>>,
        timeout_ms: u64,
        what: &str,
        mut poll: impl FnMut(&mut S, Duration) -> Result<Option<T>, KubeError>,
    ) -> KubeResult<Option<T>> {
        let budget = self.wait_budget(Duration::from_millis(timeout_ms).min(MAX_WAIT));
        let cancel = self.cancel().clone();
        self.timed(|state| -> KubeResult<Option<T>> {
            let handle = state.table().get_mut(resource)?;
            let started = Instant::now();
            loop {
                if cancel.is_cancelled() && !handle.opened_after_cancel {
                    return Ok(Err(cancelled(what)));
                }
                let left = budget.saturating_sub(started.elapsed());
                match poll(&mut handle.stream, left.min(WAIT_SLICE)) {
                    Ok(None) if !left.is_zero() => continue,
                    other => return Ok(other),
                }
            }
        })
    }

    /// Runs `op` on the stream behind `resource`, outside the guest's CPU
    /// budget. A handle that is not in the table traps.
    fn on_handle<S: ?Sized + Send + 'static, R>(
        &mut self,
        resource: &Resource<Handle<S>>,
        op: impl FnOnce(&mut S) -> R,
    ) -> wasmtime::Result<R> {
        self.timed(|state| -> wasmtime::Result<R> {
            let handle = state.table().get_mut(resource)?;
            Ok(op(&mut handle.stream))
        })
    }
}

impl types::Host for HostState {}

impl Host for HostState {
    fn apply(&mut self, manifest: String) -> KubeResult<String> {
        if let Err(error) = self
            .refuse_if_cancelled("apply")
            .and_then(|()| bounds::check_manifest("apply", &manifest))
        {
            return Ok(Err(error));
        }
        Ok(self.with_cluster(|c, _| c.apply(Manifest::parse("apply", &manifest)?)))
    }

    fn create(&mut self, manifest: String) -> KubeResult<String> {
        if let Err(error) = self
            .refuse_if_cancelled("create")
            .and_then(|()| bounds::check_manifest("create", &manifest))
        {
            return Ok(Err(error));
        }
        Ok(self.with_cluster(|c, _| c.create(Manifest::parse("create", &manifest)?)))
    }

    fn server_version(&mut self) -> KubeResult<String> {
        Ok(self.with_cluster(|c, _| c.server_version()))
    }

    fn monotonic_ms(&mut self) -> wasmtime::Result<u64> {
        Ok(monotonic_ms())
    }

    fn get(&mut self, target: ObjectRef) -> KubeResult<Option<String>> {
        Ok(self.with_cluster(|c, _| c.get(&target)))
    }

    fn list_objects(
        &mut self,
        api_version: String,
        kind: String,
        namespace: Option<String>,
        label_selector: String,
    ) -> KubeResult<Vec<String>> {
        Ok(self.with_cluster(|c, _| {
            c.list(&api_version, &kind, namespace.as_deref(), &label_selector)
        }))
    }

    fn delete(&mut self, target: ObjectRef, options: DeleteOptions) -> KubeResult<bool> {
        Ok(self.with_cluster(|c, _| c.delete(&target, &options)))
    }

    fn open_watch(&mut self, request: WatchRequest) -> KubeResult<Resource<WatchHandle>> {
        if let Err(error) = self.handles().check_room("open-watch") {
            return Ok(Err(error));
        }
        match self.with_cluster(|c, _| c.watch(&request)) {
            Ok(stream) => Ok(Ok(self.hold(stream)?)),
            Err(error) => Ok(Err(error)),
        }
    }

    fn exec(&mut self, spec: ExecSpec) -> KubeResult<Resource<ExecHandle>> {
        if let Err(error) = self.handles().check_room("exec") {
            return Ok(Err(error));
        }
        match self.with_cluster(|c, caller| c.exec(&spec, caller)) {
            Ok(stream) => Ok(Ok(self.hold(stream)?)),
            Err(error) => Ok(Err(error)),
        }
    }

    fn logs(&mut self, request: LogsRequest) -> KubeResult<Resource<LogHandle>> {
        if let Err(error) = self.handles().check_room("logs") {
            return Ok(Err(error));
        }
        match self.with_cluster(|c, caller| c.logs(&request, caller)) {
            Ok(stream) => Ok(Ok(self.hold(stream)?)),
            Err(error) => Ok(Err(error)),
        }
    }

    fn apply_host_secret(
        &mut self,
        request: HostSecretRequest,
    ) -> KubeResult<(String, Vec<String>)> {
        if let Err(error) = self
            .refuse_if_cancelled("apply-host-secret")
            .and_then(|()| bounds::check_host_secret(&request))
        {
            return Ok(Err(error));
        }
        Ok(self.with_cluster(|c, _| c.apply_host_secret(&request)))
    }

    fn hand_over_secret(&mut self, request: HandOverRequest) -> KubeResult<()> {
        if let Err(error) = self.refuse_if_cancelled("hand-over-secret") {
            return Ok(Err(error));
        }
        Ok(self.with_cluster(|c, _| c.hand_over_secret(&request)))
    }
}

impl HostWatch for HostState {
    fn next(
        &mut self,
        watch: Resource<WatchHandle>,
        timeout_ms: u64,
    ) -> KubeResult<Option<WatchEvent>> {
        self.wait_on(&watch, timeout_ms, "watch", |stream, slice| {
            stream.next(slice)
        })
    }

    fn drop(&mut self, watch: Resource<WatchHandle>) -> wasmtime::Result<()> {
        self.release(watch)
    }
}

impl HostExecSession for HostState {
    fn write_stdin(&mut self, session: Resource<ExecHandle>, data: Vec<u8>) -> KubeResult<()> {
        self.on_handle(&session, |stream| stream.write_stdin(&data))
    }

    fn close_stdin(&mut self, session: Resource<ExecHandle>) -> KubeResult<()> {
        self.on_handle(&session, |stream| stream.close_stdin())
    }

    fn read(
        &mut self,
        session: Resource<ExecHandle>,
        timeout_ms: u64,
    ) -> KubeResult<Option<OutputChunk>> {
        // `Some(None)`: the output is over, an answer at once; `None`: a
        // quiet slice, waited past until the timeout.
        let read = self.wait_on(&session, timeout_ms, "exec read", |stream, slice| {
            Ok(match stream.read(slice)? {
                Some((source, data)) => Some(Some(OutputChunk { source, data })),
                None if stream.output_ended() => Some(None),
                None => None,
            })
        })?;
        Ok(read.map(Option::flatten))
    }

    fn wait(
        &mut self,
        session: Resource<ExecHandle>,
        timeout_ms: u64,
    ) -> KubeResult<Option<ExecStatus>> {
        self.wait_on(&session, timeout_ms, "exec wait", |stream, slice| {
            stream.wait(slice)
        })
    }

    fn kill(&mut self, session: Resource<ExecHandle>) -> KubeResult<()> {
        self.on_handle(&session, |stream| stream.kill())
    }

    fn drop(&mut self, session: Resource<ExecHandle>) -> wasmtime::Result<()> {
        self.release(session)
    }
}

impl HostLogStream for HostState {
    fn read(
        &mut self,
        stream: Resource<LogHandle>,
        timeout_ms: u64,
    ) -> KubeResult<Option<Vec<u8>>> {
        self.wait_on(&stream, timeout_ms, "log read", |log, slice| {
            log.read(slice)
        })
    }

    fn wait_end(&mut self, stream: Resource<LogHandle>, timeout_ms: u64) -> KubeResult<bool> {
        let ended = self.wait_on(&stream, timeout_ms, "log wait-end", |log, slice| {
            Ok(log.wait_end(slice)?.then_some(()))
        })?;
        Ok(ended.map(|ended| ended.is_some()))
    }

    fn drop(&mut self, stream: Resource<LogHandle>) -> wasmtime::Result<()> {
        self.release(stream)
    }
}
