//! The imports of a 0.1.0 module (`kube@0.1.0`, `logging@0.1.0`): each runs
//! the current implementation, with its arguments converted up and its
//! answer converted down (the `From` impls of `contract/v0_1.rs`).

use wasmtime::component::Resource;

use crate::contract::v0_1::leasebox::provider::kube as old_kube;
use crate::contract::v0_1::leasebox::provider::logging as old_logging;
use crate::contract::v0_1::leasebox::provider::types as old;
use crate::contract::v0_4::leasebox::provider::{kube as now_kube, logging as now_logging};
use crate::contract::{ExecHandle, KubeError, LogHandle, WatchHandle};
use crate::runtime::instance::HostState;

type OldResult<T> = wasmtime::Result<Result<T, old_kube::KubeError>>;

/// A current import's answer, for a 0.1.0 module.
fn down<T, U: From<T>>(answer: wasmtime::Result<Result<T, KubeError>>) -> OldResult<U> {
    Ok(answer?.map(U::from).map_err(old_kube::KubeError::from))
}

impl old::Host for HostState {}

impl old_kube::Host for HostState {
    fn apply(&mut self, manifest: String) -> OldResult<String> {
        down(now_kube::Host::apply(self, manifest))
    }

    fn create(&mut self, manifest: String) -> OldResult<String> {
        down(now_kube::Host::create(self, manifest))
    }

    fn server_version(&mut self) -> OldResult<String> {
        down(now_kube::Host::server_version(self))
    }

    fn monotonic_ms(&mut self) -> wasmtime::Result<u64> {
        now_kube::Host::monotonic_ms(self)
    }

    fn get(&mut self, target: old::ObjectRef) -> OldResult<Option<String>> {
        down(now_kube::Host::get(self, target.into()))
    }

    fn list_objects(
        &mut self,
        api_version: String,
        kind: String,
        namespace: Option<String>,
        label_selector: String,
    ) -> OldResult<Vec<String>> {
        down(now_kube::Host::list_objects(
            self,
            api_version,
            kind,
            namespace,
            label_selector,
        ))
    }

    fn delete(
        &mut self,
        target: old::ObjectRef,
        options: old_kube::DeleteOptions,
    ) -> OldResult<bool> {
        down(now_kube::Host::delete(self, target.into(), options.into()))
    }

    fn open_watch(&mut self, request: old_kube::WatchRequest) -> OldResult<Resource<WatchHandle>> {
        down(now_kube::Host::open_watch(self, request.into()))
    }

    fn exec(&mut self, spec: old_kube::ExecSpec) -> OldResult<Resource<ExecHandle>> {
        down(now_kube::Host::exec(self, spec.into()))
    }

    fn logs(&mut self, request: old_kube::LogsRequest) -> OldResult<Resource<LogHandle>> {
        down(now_kube::Host::logs(self, request.into()))
    }

    fn apply_host_secret(
        &mut self,
        request: old_kube::HostSecretRequest,
    ) -> OldResult<(String, Vec<String>)> {
        down(now_kube::Host::apply_host_secret(self, request.into()))
    }
}

impl old_kube::HostWatch for HostState {
    fn next(
        &mut self,
        watch: Resource<WatchHandle>,
        timeout_ms: u64,
    ) -> OldResult<Option<old_kube::WatchEvent>> {
        let answer = now_kube::HostWatch::next(self, watch, timeout_ms);
        Ok(answer?
            .map(|event| event.map(old_kube::WatchEvent::from))
            .map_err(old_kube::KubeError::from))
    }

    fn drop(&mut self, watch: Resource<WatchHandle>) -> wasmtime::Result<()> {
        now_kube::HostWatch::drop(self, watch)
    }
}

impl old_kube::HostExecSession for HostState {
    fn write_stdin(&mut self, session: Resource<ExecHandle>, data: Vec<u8>) -> OldResult<()> {
        down(now_kube::HostExecSession::write_stdin(self, session, data))
    }

    fn close_stdin(&mut self, session: Resource<ExecHandle>) -> OldResult<()> {
        down(now_kube::HostExecSession::close_stdin(self, session))
    }

    fn read(
        &mut self,
        session: Resource<ExecHandle>,
        timeout_ms: u64,
    ) -> OldResult<Option<old_kube::OutputChunk>> {
        let answer = now_kube::HostExecSession::read(self, session, timeout_ms);
        Ok(answer?
            .map(|chunk| chunk.map(old_kube::OutputChunk::from))
            .map_err(old_kube::KubeError::from))
    }

    fn wait(
        &mut self,
        session: Resource<ExecHandle>,
        timeout_ms: u64,
    ) -> OldResult<Option<old_kube::ExitStatus>> {
        let answer = now_kube::HostExecSession::wait(self, session, timeout_ms);
        Ok(answer?
            .map(|status| status.map(old_kube::ExitStatus::from))
            .map_err(old_kube::KubeError::from))
    }

    fn kill(&mut self, session: Resource<ExecHandle>) -> OldResult<()> {
        down(now_kube::HostExecSession::kill(self, session))
    }

    fn drop(&mut self, session: Resource<ExecHandle>) -> wasmtime::Result<()> {
        now_kube::HostExecSession::drop(self, session)
    }
}

impl old_kube::HostLogStream for HostState {
    fn read(&mut self, stream: Resource<LogHandle>, timeout_ms: u64) -> OldResult<Option<Vec<u8>>> {
        down(now_kube::HostLogStream::read(self, stream, timeout_ms))
    }

    fn wait_end(&mut self, stream: Resource<LogHandle>, timeout_ms: u64) -> OldResult<bool> {
        down(now_kube::HostLogStream::wait_end(self, stream, timeout_ms))
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
        now_logging::Host::log(self, level.into(), context, message)
    }
}
