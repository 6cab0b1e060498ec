//! The imports of a module of an older contract whose `kube` and
//! `logging` records have the current shapes (0.3.0 and 0.2.0): each runs
//! the current implementation, with its arguments converted up and its
//! answer converted down (the `From` impls of `contract/v0_3.rs` and
//! `contract/v0_2.rs`). The `types` records are the current ones and pass
//! as they are. One macro, so that the two contracts' glue is written
//! once: `older_imports!(v0_3)` in `v0_3.rs`, `older_imports!(v0_2)` in
//! `v0_2.rs`.

/// The `kube` and `logging` host traits of contract module `$version`
/// (`crate::contract::$version`), implemented on [`HostState`] by the
/// current ones.
///
/// [`HostState`]: crate::runtime::instance::HostState
macro_rules! older_imports {
    ($version:ident) => {
        use wasmtime::component::Resource;

        use crate::contract::v0_4::leasebox::provider::{kube as now_kube, logging as now_logging};
        use crate::contract::$version::leasebox::provider::kube as old;
        use crate::contract::$version::leasebox::provider::logging as old_logging;
        use crate::contract::{
            ExecHandle, ExecStatus, KubeError, LogHandle, ObjectRef, WatchHandle,
        };
        use crate::runtime::instance::HostState;

        type OldResult<T> = wasmtime::Result<Result<T, old::KubeError>>;

        /// A current import's answer, for a module of that contract.
        fn down<T, U: From<T>>(answer: wasmtime::Result<Result<T, KubeError>>) -> OldResult<U> {
            Ok(answer?.map(U::from).map_err(old::KubeError::from))
        }

        /// A current import's optional answer, for a module of that contract.
        fn down_option<T, U: From<T>>(
            answer: wasmtime::Result<Result<Option<T>, KubeError>>,
        ) -> OldResult<Option<U>> {
            Ok(answer?
                .map(|o| o.map(U::from))
                .map_err(old::KubeError::from))
        }

        impl old::Host for HostState {
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

            fn get(&mut self, target: ObjectRef) -> OldResult<Option<String>> {
                down(now_kube::Host::get(self, target))
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
                target: ObjectRef,
                options: old::DeleteOptions,
            ) -> OldResult<bool> {
                down(now_kube::Host::delete(self, target, options.into()))
            }

            fn open_watch(
                &mut self,
                request: old::WatchRequest,
            ) -> OldResult<Resource<WatchHandle>> {
                down(now_kube::Host::open_watch(self, request.into()))
            }

            fn exec(&mut self, spec: old::ExecSpec) -> OldResult<Resource<ExecHandle>> {
                down(now_kube::Host::exec(self, spec.into()))
            }

            fn logs(&mut self, request: old::LogsRequest) -> OldResult<Resource<LogHandle>> {
                down(now_kube::Host::logs(self, request.into()))
            }

            fn apply_host_secret(
                &mut self,
                request: old::HostSecretRequest,
            ) -> OldResult<(String, Vec<String>)> {
                down(now_kube::Host::apply_host_secret(self, request.into()))
            }
        }

        impl old::HostWatch for HostState {
            fn next(
                &mut self,
                watch: Resource<WatchHandle>,
                timeout_ms: u64,
            ) -> OldResult<Option<old::WatchEvent>> {
                down_option(now_kube::HostWatch::next(self, watch, timeout_ms))
            }

            fn drop(&mut self, watch: Resource<WatchHandle>) -> wasmtime::Result<()> {
                now_kube::HostWatch::drop(self, watch)
            }
        }

        impl old::HostExecSession for HostState {
            fn write_stdin(
                &mut self,
                session: Resource<ExecHandle>,
                data: Vec<u8>,
            ) -> OldResult<()> {
                down(now_kube::HostExecSession::write_stdin(self, session, data))
            }

            fn close_stdin(&mut self, session: Resource<ExecHandle>) -> OldResult<()> {
                down(now_kube::HostExecSession::close_stdin(self, session))
            }

            fn read(
                &mut self,
                session: Resource<ExecHandle>,
                timeout_ms: u64,
            ) -> OldResult<Option<old::OutputChunk>> {
                down_option(now_kube::HostExecSession::read(self, session, timeout_ms))
            }

            fn wait(
                &mut self,
                session: Resource<ExecHandle>,
                timeout_ms: u64,
            ) -> OldResult<Option<ExecStatus>> {
                down(now_kube::HostExecSession::wait(self, session, timeout_ms))
            }

            fn kill(&mut self, session: Resource<ExecHandle>) -> OldResult<()> {
                down(now_kube::HostExecSession::kill(self, session))
            }

            fn drop(&mut self, session: Resource<ExecHandle>) -> wasmtime::Result<()> {
                now_kube::HostExecSession::drop(self, session)
            }
        }

        impl old::HostLogStream for HostState {
            fn read(
                &mut self,
                stream: Resource<LogHandle>,
                timeout_ms: u64,
            ) -> OldResult<Option<Vec<u8>>> {
                down(now_kube::HostLogStream::read(self, stream, timeout_ms))
            }

            fn wait_end(
                &mut self,
                stream: Resource<LogHandle>,
                timeout_ms: u64,
            ) -> OldResult<bool> {
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
    };
}

pub(super) use older_imports;
