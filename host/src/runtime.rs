//! Runs policy modules: the wasmtime engine, the compiled-module cache, the
//! `kube` and `logging` imports, and one fresh instance per lifecycle call.
//!
//! - [`Runtime`] owns the engine (component model, Cranelift, epoch
//!   interruption), its epoch ticker and the linker;
//! - [`Policy`] is one compiled, linked module (`InstancePre`); each of its
//!   methods is one lifecycle call in a fresh store, under [`Limits`];
//! - calls return [`CallResult`]: the outer `Err` is a [`RuntimeError`] (a
//!   trap, a deadline, the memory cap: a bug or a hostile module), the inner
//!   `Err` is the policy's own [`PolicyError`].
//!
//! WASI gives a module random and clocks only; everything else it can reach
//! is the [`ClusterIo`] of the call's [`CallEnv`].

mod bindings;
mod cache;
mod engine;
mod error;
mod imports;
mod instance;
mod limits;

use std::path::Path;
use std::sync::Arc;

use sha2::Digest;
use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

pub use cache::{CACHE_DIR_ENV, CacheDir};
pub use error::RuntimeError;
pub use limits::{DEFAULT_CPU_DEADLINE, EPOCH_TICK, Limits, MEMORY_CAP_BYTES, STDERR_CAP_BYTES};

use crate::cluster_io::{CallerIo, ClusterIo, NoCluster};
use bindings::PolicyModulePre;
use instance::HostState;

/// Types of the contract (`wit/types.wit`, `wit/provider.wit`), as the
/// generated bindings define them.
pub mod types {
    pub use super::bindings::exports::leasebox::provider::provider::{
        ProbeCheck, ProbeReport, ReleaseReport, SweepReport,
    };
    pub use super::bindings::leasebox::provider::types::{
        Backend, Command, EnvVar, ExecRequest, ExecResult, Failure, Issue, Lease, LeaseRequest,
        ObjectRef, PolicyError, ValidationReport,
    };
}

pub use bindings::leasebox::provider::logging::Level as LogLevel;
use types::{
    ExecRequest, ExecResult, Lease, LeaseRequest, PolicyError, ProbeReport, ReleaseReport,
    SweepReport, ValidationReport,
};

/// The default policy module (the `guest/` crate built for `wasm32-wasip2`),
/// embedded at build time.
pub static DEFAULT_MODULE: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/leasebox_policy.wasm"));

/// Name under which the embedded module appears in errors.
pub const DEFAULT_MODULE_NAME: &str = "default";

/// Contract version this host implements.
pub const CONTRACT_VERSION: &str = "0.1.0";

/// Package name of the contract.
const CONTRACT_PACKAGE: &str = "leasebox:provider";

/// Result of a lifecycle call: outer = the runtime failed (trap, deadline,
/// memory cap, host fault), inner = the policy refused.
pub type CallResult<T> = Result<Result<T, PolicyError>, RuntimeError>;

/// Receives the module's log messages: level, context (the lifecycle step),
/// message.
pub type Logger = Arc<dyn Fn(LogLevel, &str, &str) + Send + Sync>;

/// What one call may reach and use.
#[derive(Clone)]
pub struct CallEnv {
    /// The cluster behind the `kube` imports.
    pub cluster: Arc<dyn ClusterIo>,
    /// Where forwarded output goes and forwarded stdin comes from.
    pub caller: CallerIo,
    /// Where the module's log messages go.
    pub logger: Logger,
    /// Limits of the call.
    pub limits: Limits,
}

impl CallEnv {
    /// No cluster (every `kube` call fails with `no-cluster`), the process's
    /// own streams, default limits: for `validate`, `plan`, `schema`.
    pub fn offline(logger: Logger) -> CallEnv {
        CallEnv {
            cluster: Arc::new(NoCluster),
            caller: CallerIo::process(),
            logger,
            limits: Limits::default(),
        }
    }

    /// A logger that drops every message.
    pub fn silent_logger() -> Logger {
        Arc::new(|_, _, _| {})
    }
}

impl std::fmt::Debug for CallEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallEnv")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// The engine, its epoch ticker, the linker and the module cache.
pub struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    cache: CacheDir,
    ticker: Arc<engine::EpochTicker>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// A runtime caching compiled modules where [`CacheDir::from_env`] says.
    pub fn new() -> Result<Runtime, RuntimeError> {
        Runtime::with_cache(CacheDir::from_env())
    }

    /// A runtime caching compiled modules in `cache`.
    pub fn with_cache(cache: CacheDir) -> Result<Runtime, RuntimeError> {
        let engine = engine::new_engine()?;
        let ticker = Arc::new(engine::EpochTicker::start(&engine)?);
        let mut linker = Linker::new(&engine);
        let link_error = |e: wasmtime::Error| RuntimeError::Engine {
            message: format!(
                "failed to add host functions to the linker: {}",
                error::flatten(&e)
            ),
        };
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(link_error)?;
        bindings::PolicyModule::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(
            &mut linker,
            |state| state,
        )
        .map_err(link_error)?;
        Ok(Runtime {
            engine,
            linker,
            cache,
            ticker,
        })
    }

    /// The embedded default module.
    pub fn load_default(&self) -> Result<Policy, RuntimeError> {
        self.load(DEFAULT_MODULE_NAME, DEFAULT_MODULE)
    }

    /// A module from a `.wasm` file.
    pub fn load_file(&self, path: &Path) -> Result<Policy, RuntimeError> {
        let bytes = std::fs::read(path).map_err(|source| RuntimeError::ReadModule {
            path: path.display().to_string(),
            source,
        })?;
        let name = path.display().to_string();
        self.load(&name, &bytes)
    }

    /// Compiles (or loads from the cache) `bytes`, checks the contract
    /// version, and links it.
    pub fn load(&self, name: &str, bytes: &[u8]) -> Result<Policy, RuntimeError> {
        let loaded = cache::load_or_compile(&self.engine, &self.cache, name, bytes)?;
        check_contract(&self.engine, &loaded.component)?;
        let link = |e: wasmtime::Error| RuntimeError::Link {
            module: name.to_string(),
            source: error::cause(&e),
        };
        let instance_pre = self
            .linker
            .instantiate_pre(&loaded.component)
            .map_err(link)?;
        let pre = PolicyModulePre::new(instance_pre).map_err(link)?;
        Ok(Policy {
            name: name.to_string(),
            sha256: cache::hex(&sha2::Sha256::digest(bytes)),
            engine: self.engine.clone(),
            pre,
            cache_error: loaded.cache_error.map(Arc::new),
            from_cache: loaded.from_cache,
            _ticker: self.ticker.clone(),
        })
    }
}

/// Refuses a component that imports or exports `leasebox:provider` at
/// another major/minor version than [`CONTRACT_VERSION`].
fn check_contract(engine: &Engine, component: &Component) -> Result<(), RuntimeError> {
    let ty = component.component_type();
    let names = ty
        .imports(engine)
        .map(|(name, _)| name.to_string())
        .chain(ty.exports(engine).map(|(name, _)| name.to_string()));
    for name in names {
        let Some(rest) = name.strip_prefix(CONTRACT_PACKAGE) else {
            continue;
        };
        let version = rest.split_once('@').map(|(_, v)| v).unwrap_or("");
        if !same_minor(version, CONTRACT_VERSION) {
            return Err(RuntimeError::IncompatibleContract {
                found: if version.is_empty() {
                    "(unversioned)".into()
                } else {
                    version.to_string()
                },
                supported: CONTRACT_VERSION.to_string(),
            });
        }
    }
    Ok(())
}

/// Whether two `major.minor.patch` versions share major and minor (the 0.x
/// rule of semver: a minor bump is a break).
fn same_minor(a: &str, b: &str) -> bool {
    let key = |v: &str| {
        let mut parts = v.split('.');
        (
            parts.next().map(str::to_string),
            parts.next().map(str::to_string),
        )
    };
    let (a, b) = (key(a), key(b));
    a.0.is_some() && a.1.is_some() && a == b
}

/// One compiled and linked policy module. Cheap to clone; every call runs in
/// a fresh instance, so calls never share state.
#[derive(Clone)]
pub struct Policy {
    name: String,
    sha256: String,
    engine: Engine,
    pre: PolicyModulePre<HostState>,
    cache_error: Option<Arc<RuntimeError>>,
    from_cache: bool,
    _ticker: Arc<engine::EpochTicker>,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Policy {
    /// The module's name in errors (`default` or the file path).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// SHA-256 of the module's bytes (hex): the name the guard logs refusals
    /// under.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// Why the compiled module could not be cached, if it could not (the
    /// module works; the next process compiles it again).
    pub fn cache_error(&self) -> Option<&RuntimeError> {
        self.cache_error.as_deref()
    }

    /// True when the compiled module came from the on-disk cache.
    pub fn from_cache(&self) -> bool {
        self.from_cache
    }

    fn call<R>(
        &self,
        call: &str,
        env: &CallEnv,
        f: impl FnOnce(&bindings::PolicyModule, &mut wasmtime::Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<R, RuntimeError> {
        instance::call(&self.engine, &self.pre, &self.name, call, env, f)
    }

    /// `validate-config`: every problem of a configuration document.
    pub fn validate_config(
        &self,
        env: &CallEnv,
        config: &str,
    ) -> Result<ValidationReport, RuntimeError> {
        self.call("validate-config", env, |m, s| {
            m.leasebox_provider_provider()
                .call_validate_config(s, config)
        })
    }

    /// `config-schema`: the JSON Schema of the configuration.
    pub fn config_schema(&self, env: &CallEnv) -> Result<String, RuntimeError> {
        self.call("config-schema", env, |m, s| {
            m.leasebox_provider_provider().call_config_schema(s)
        })
    }

    /// `probe`: can the cluster serve leases for this configuration.
    pub fn probe(&self, env: &CallEnv, config: &str, company_id: &str) -> CallResult<ProbeReport> {
        self.call("probe", env, |m, s| {
            m.leasebox_provider_provider()
                .call_probe(s, config, company_id)
        })
    }

    /// `plan`: every manifest acquire would apply, in order (JSON).
    pub fn plan(&self, env: &CallEnv, request: &LeaseRequest) -> CallResult<Vec<String>> {
        self.call("plan", env, |m, s| {
            m.leasebox_provider_provider().call_plan(s, request)
        })
    }

    /// `acquire-lease`.
    pub fn acquire_lease(&self, env: &CallEnv, request: &LeaseRequest) -> CallResult<Lease> {
        self.call("acquire-lease", env, |m, s| {
            m.leasebox_provider_provider()
                .call_acquire_lease(s, request)
        })
    }

    /// `realize-workspace`: unpack the caller's stdin (tar) into `path`.
    pub fn realize_workspace(
        &self,
        env: &CallEnv,
        lease: &Lease,
        path: Option<&str>,
    ) -> CallResult<ExecResult> {
        self.call("realize-workspace", env, |m, s| {
            m.leasebox_provider_provider()
                .call_realize_workspace(s, lease, path)
        })
    }

    /// `execute`.
    pub fn execute(&self, env: &CallEnv, request: &ExecRequest) -> CallResult<ExecResult> {
        self.call("execute", env, |m, s| {
            m.leasebox_provider_provider().call_execute(s, request)
        })
    }

    /// `release-lease`.
    pub fn release_lease(&self, env: &CallEnv, lease: &Lease) -> CallResult<ReleaseReport> {
        self.call("release-lease", env, |m, s| {
            m.leasebox_provider_provider().call_release_lease(s, lease)
        })
    }

    /// `resume-lease`.
    pub fn resume_lease(
        &self,
        env: &CallEnv,
        lease_id: &str,
        namespace: Option<&str>,
    ) -> CallResult<Lease> {
        self.call("resume-lease", env, |m, s| {
            m.leasebox_provider_provider()
                .call_resume_lease(s, lease_id, namespace)
        })
    }

    /// `sweep`.
    pub fn sweep(
        &self,
        env: &CallEnv,
        now: &str,
        namespace: Option<&str>,
    ) -> CallResult<SweepReport> {
        self.call("sweep", env, |m, s| {
            m.leasebox_provider_provider().call_sweep(s, now, namespace)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_versions_are_compatible() {
        assert!(same_minor("0.1.3", "0.1.0"));
    }

    #[test]
    fn minor_bump_is_incompatible() {
        assert!(!same_minor("0.2.0", "0.1.0"));
    }

    #[test]
    fn missing_version_is_incompatible() {
        assert!(!same_minor("", "0.1.0"));
    }
}
