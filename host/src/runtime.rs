//! Runs policy modules: the wasmtime engine, the compiled-module cache, the
//! `kube` and `logging` imports, and one fresh instance per lifecycle call.
//!
//! - [`Runtime`] owns the engine (component model, Cranelift, epoch
//!   interruption), its epoch ticker and the linker;
//! - [`Policy`] is one compiled, linked module (`InstancePre`), every export
//!   type-checked once when it is loaded; each of its methods is one
//!   lifecycle call in a fresh store, under [`Limits`], which types only the
//!   export it runs (`export.rs`);
//! - a 0.3.0 or 0.2.0 module's exports are called with the current records
//!   (its `types` are the current ones, `contract/v0_3.rs`, `v0_2.rs`), a
//!   0.1.0 module's with records converted down; calls a module's contract
//!   lacks answer [`RuntimeError::Unsupported`] (the 0.3.0 calls are in
//!   `sessions.rs`, the 0.4.0 ones in `pools.rs`);
//! - calls return [`CallResult`]: the outer `Err` is a [`RuntimeError`] (a
//!   trap, a deadline, the memory cap: a bug or a hostile module), the inner
//!   `Err` is the policy's own [`PolicyError`].
//!
//! WASI gives a module random and clocks only; everything else it can reach
//! is the [`ClusterIo`] of the call's [`CallEnv`].

mod admission;
mod cache;
mod cancel;
mod engine;
mod error;
mod export;
mod imports;
mod instance;
mod limits;
mod module_file;
mod pools;
mod sessions;

use std::path::Path;
use std::sync::Arc;

use sha2::Digest;
use wasmtime::component::{Component, ComponentExportIndex, InstancePre, Linker};
use wasmtime::{Engine, Store};

pub use admission::Admission;
pub use cache::{CACHE_DIR_ENV, CacheDir};
pub use cancel::{Cancel, DEFAULT_CANCEL_GRACE};
pub use engine::Pool;
pub use error::RuntimeError;
pub use imports::kube::{MAX_HANDLES_PER_CALL, MAX_MANIFEST_BYTES};
pub use instance::TIME_LOG_CONTEXT;
pub use limits::{DEFAULT_CPU_DEADLINE, EPOCH_TICK, Limits, MEMORY_CAP_BYTES, STDERR_CAP_BYTES};
pub use module_file::{MAX_MODULE_BYTES, ModuleFileError, read_module_file};

use crate::cluster::io::{CallScope, CallerIo, ClusterIo, NoCluster};
use crate::contract::v0_1::answer_up;
use crate::contract::v0_1::exports::leasebox::provider::provider::Guest as V0_1;
use crate::contract::v0_4::exports::leasebox::provider::provider::Guest as V0_4;
use crate::contract::{
    Contract, ExecRequest, ExecStatus, Lease, LeaseRequest, LeaseStatus, LogLevel, PolicyError,
    ProbeReport, ReleaseReport, SweepReport, ValidationReport, v0_1, v0_2, v0_3, v0_4,
};
use export::Export;
use instance::HostState;

/// The default policy module (the `guest/` crate built for `wasm32-wasip2`),
/// embedded at build time.
pub static DEFAULT_MODULE: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/leasebox_policy.wasm"));

/// Name under which the embedded module appears in errors.
pub const DEFAULT_MODULE_NAME: &str = "default";

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
    /// The caller's cancellation flag.
    pub cancel: Cancel,
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
            cancel: Cancel::new(),
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

/// The engine, its epoch ticker, the linker, the module cache, and the
/// admission of guest code to the cores shared by every module it loads.
pub struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    cache: CacheDir,
    ticker: Arc<engine::EpochTicker>,
    admission: Arc<Admission>,
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
        Runtime::build(cache, None)
    }

    /// A runtime for a long-running server: instances come from a pool
    /// (`pool`) reserved once, shared by every call and every module.
    pub fn pooled(pool: Pool) -> Result<Runtime, RuntimeError> {
        Runtime::build(CacheDir::from_env(), Some(pool))
    }

    /// The same runtime with guest code admitted to the cores by
    /// `admission` instead of one slot per core (see [`Admission`]); for
    /// modules loaded from then on.
    pub fn with_admission(self, admission: Arc<Admission>) -> Runtime {
        Runtime { admission, ..self }
    }

    fn build(cache: CacheDir, pool: Option<Pool>) -> Result<Runtime, RuntimeError> {
        let engine = engine::new_engine(pool)?;
        let ticker = Arc::new(engine::EpochTicker::start(&engine)?);
        let mut linker = Linker::new(&engine);
        let link_error = |e: wasmtime::Error| RuntimeError::Engine {
            message: format!(
                "failed to add host functions to the linker: {}",
                error::flatten(&e)
            ),
        };
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(link_error)?;
        v0_4::PolicyModule::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(
            &mut linker,
            |state| state,
        )
        .map_err(link_error)?;
        v0_3::PolicyModule::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(
            &mut linker,
            |state| state,
        )
        .map_err(link_error)?;
        v0_2::PolicyModule::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(
            &mut linker,
            |state| state,
        )
        .map_err(link_error)?;
        v0_1::PolicyModule::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(
            &mut linker,
            |state| state,
        )
        .map_err(link_error)?;
        Ok(Runtime {
            engine,
            linker,
            cache,
            ticker,
            admission: Admission::per_core(),
        })
    }

    /// The embedded default module.
    pub fn load_default(&self) -> Result<Policy, RuntimeError> {
        self.load(DEFAULT_MODULE_NAME, DEFAULT_MODULE)
    }

    /// A module from a `.wasm` file.
    pub fn load_file(&self, path: &Path) -> Result<Policy, RuntimeError> {
        let bytes = read_module_file(path).map_err(|source| RuntimeError::ReadModule {
            path: path.display().to_string(),
            source,
        })?;
        let name = path.display().to_string();
        self.load(&name, &bytes)
    }

    /// Compiles (or loads from the cache) `bytes`, finds the contract
    /// version it was built against, and links it with that version's
    /// bindings.
    pub fn load(&self, name: &str, bytes: &[u8]) -> Result<Policy, RuntimeError> {
        let loaded = cache::load_or_compile(&self.engine, &self.cache, name, bytes)?;
        let contract = contract_of(&self.engine, &loaded.component, name)?;
        let link = |e: wasmtime::Error| link_error(name, &e);
        let instance_pre = self
            .linker
            .instantiate_pre(&loaded.component)
            .map_err(link)?;
        self.check_every_export(name, contract, &instance_pre)?;
        // Found by the bindings' check above; looked up again for the calls.
        let provider_name = format!("{}/provider@{contract}", crate::contract::PACKAGE);
        let provider = instance_pre
            .component()
            .get_export_index(None, &provider_name)
            .ok_or_else(|| {
                link(wasmtime::Error::msg(format!(
                    "it does not export `{provider_name}`"
                )))
            })?;
        Ok(Policy {
            name: name.to_string(),
            sha256: cache::hex(&sha2::Sha256::digest(bytes)),
            size: bytes.len(),
            contract,
            engine: self.engine.clone(),
            instance_pre,
            provider,
            cache_error: loaded.cache_error.map(Arc::new),
            from_cache: loaded.from_cache,
            admission: self.admission.clone(),
            _ticker: self.ticker.clone(),
        })
    }

    /// Checks the exports of a linked module against the bindings of its
    /// `contract`, once: their names, then, in one instantiation, their
    /// types. A module whose exports do not match is refused here, when it
    /// is loaded, with a [`RuntimeError::Link`]. Calls then type-check only
    /// the export they run (`export.rs`).
    fn check_every_export(
        &self,
        name: &str,
        contract: Contract,
        pre: &InstancePre<HostState>,
    ) -> Result<(), RuntimeError> {
        let link = |e: wasmtime::Error| link_error(name, &e);
        let site = instance::Site {
            engine: &self.engine,
            admission: &self.admission,
            module: name,
            call: "load",
        };
        let env = CallEnv::offline(CallEnv::silent_logger());
        let instantiate = |s: &mut Store<HostState>| pre.instantiate(s);
        let typed = match contract {
            Contract::V0_4 => {
                let indices = v0_4::PolicyModuleIndices::new(pre).map_err(link)?;
                instance::call(site, instantiate, &env, |instance, s| {
                    Ok(indices.load(s, instance).map(drop))
                })?
            }
            Contract::V0_3 => {
                let indices = v0_3::PolicyModuleIndices::new(pre).map_err(link)?;
                instance::call(site, instantiate, &env, |instance, s| {
                    Ok(indices.load(s, instance).map(drop))
                })?
            }
            Contract::V0_2 => {
                let indices = v0_2::PolicyModuleIndices::new(pre).map_err(link)?;
                instance::call(site, instantiate, &env, |instance, s| {
                    Ok(indices.load(s, instance).map(drop))
                })?
            }
            Contract::V0_1 => {
                let indices = v0_1::PolicyModuleIndices::new(pre).map_err(link)?;
                instance::call(site, instantiate, &env, |instance, s| {
                    Ok(indices.load(s, instance).map(drop))
                })?
            }
        };
        typed.map_err(link)
    }
}

/// The contract version of a component: the version of the
/// `leasebox:provider` package it exports, which must be one the host loads
/// ([`Contract::matching`]), and which every `leasebox:provider` import
/// must share.
fn contract_of(
    engine: &Engine,
    component: &Component,
    module: &str,
) -> Result<Contract, RuntimeError> {
    let ty = component.component_type();
    let versions = ty
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .chain(ty.imports(engine).map(|(name, _)| name.to_string()))
        .filter_map(|name| {
            let rest = name.strip_prefix(crate::contract::PACKAGE)?.to_string();
            Some(
                rest.split_once('@')
                    .map(|(_, v)| v.to_string())
                    .unwrap_or_default(),
            )
        })
        .collect::<Vec<_>>();
    let incompatible = |found: &str| RuntimeError::IncompatibleContract {
        found: if found.is_empty() {
            "(unversioned)".into()
        } else {
            found.to_string()
        },
        supported: Contract::supported(),
    };
    let Some(first) = versions.first().cloned() else {
        return Err(RuntimeError::Link {
            module: module.to_string(),
            source: format!(
                "it neither exports nor imports any {} interface",
                crate::contract::PACKAGE
            )
            .into(),
        });
    };
    let contract = Contract::matching(&first).ok_or_else(|| incompatible(&first))?;
    match versions
        .iter()
        .find(|v| Contract::matching(v) != Some(contract))
    {
        Some(other) => Err(incompatible(other)),
        None => Ok(contract),
    }
}

/// Module `name` could not be linked or does not match its contract.
fn link_error(name: &str, error: &wasmtime::Error) -> RuntimeError {
    RuntimeError::Link {
        module: name.to_string(),
        source: error::cause(error),
    }
}

/// One compiled and linked policy module. Cheap to clone; every call runs in
/// a fresh instance, so calls never share state.
#[derive(Clone)]
pub struct Policy {
    name: String,
    sha256: String,
    size: usize,
    contract: Contract,
    engine: Engine,
    /// The linked component, which each call instantiates.
    instance_pre: InstancePre<HostState>,
    /// The module's `provider` interface, where each call finds its export.
    provider: ComponentExportIndex,
    cache_error: Option<Arc<RuntimeError>>,
    from_cache: bool,
    admission: Arc<Admission>,
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

    /// The module's size in bytes.
    pub fn size(&self) -> usize {
        self.size
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

    /// The contract version the module was built against.
    pub fn contract(&self) -> Contract {
        self.contract
    }

    /// Runs one export in a fresh instance with `run`, which calls it
    /// through the bindings of the module's contract. The call is for
    /// `scope`, which the host takes from the call's own arguments: the
    /// cluster (the capability guard) narrows what the module may touch to
    /// it. `None`: the call is pure (validate, schema, plan) and reaches no
    /// cluster at all, whatever `env` holds.
    fn call<R>(
        &self,
        call: &str,
        env: &CallEnv,
        scope: Option<CallScope>,
        run: impl FnOnce(&Export, &mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<R, RuntimeError> {
        let scoped = match scope {
            Some(scope) => env.cluster.scoped(&scope),
            None => Some(Arc::new(NoCluster) as Arc<dyn ClusterIo>),
        }
        .map(|cluster| CallEnv {
            cluster,
            ..env.clone()
        });
        let env = scoped.as_ref().unwrap_or(env);
        let site = instance::Site {
            engine: &self.engine,
            admission: &self.admission,
            module: &self.name,
            call,
        };
        let pre = &self.instance_pre;
        let index = pre
            .component()
            .get_export_index(Some(&self.provider), call)
            .ok_or_else(|| RuntimeError::Link {
                module: self.name.clone(),
                source: format!("it does not export `{call}`").into(),
            })?;
        let instantiate = |s: &mut Store<HostState>| Export::instantiate(pre, s, index);
        instance::call(site, instantiate, env, run)
    }

    /// A call the module's contract does not have.
    fn unsupported<R>(&self, call: &str) -> Result<R, RuntimeError> {
        Err(RuntimeError::Unsupported {
            module: self.name.clone(),
            call: call.to_string(),
            contract: self.contract.version().to_string(),
            current: Contract::CURRENT.version().to_string(),
        })
    }

    /// A lease from a 0.1.0 module, with the module's own SHA-256 as its
    /// creator.
    fn stamped(&self, answer: Result<Lease, PolicyError>) -> Result<Lease, PolicyError> {
        answer.map(|lease| Lease {
            module_sha256: self.sha256.clone(),
            ..lease
        })
    }

    /// `validate-config`: every problem of a configuration document.
    pub fn validate_config(
        &self,
        env: &CallEnv,
        config: &str,
    ) -> Result<ValidationReport, RuntimeError> {
        let call = "validate-config";
        match self.contract {
            Contract::V0_4 | Contract::V0_3 | Contract::V0_2 => {
                self.call(call, env, None, |e, s| {
                    e.call(s, V0_4::func_validate_config, (config,))
                })
            }
            Contract::V0_1 => self.call(call, env, None, |e, s| {
                Ok(e.call(s, V0_1::func_validate_config, (config,))?.into())
            }),
        }
    }

    /// `config-schema`: the JSON Schema of the configuration.
    pub fn config_schema(&self, env: &CallEnv) -> Result<String, RuntimeError> {
        let call = "config-schema";
        match self.contract {
            Contract::V0_4 | Contract::V0_3 | Contract::V0_2 => {
                self.call(call, env, None, |e, s| {
                    e.call(s, V0_4::func_config_schema, ())
                })
            }
            Contract::V0_1 => self.call(call, env, None, |e, s| {
                e.call(s, V0_1::func_config_schema, ())
            }),
        }
    }

    /// `probe`: can the cluster serve leases for this configuration.
    pub fn probe(&self, env: &CallEnv, config: &str, company_id: &str) -> CallResult<ProbeReport> {
        let (call, scope) = ("probe", Some(CallScope::company(company_id)));
        let args = (config, company_id);
        match self.contract {
            Contract::V0_4 | Contract::V0_3 | Contract::V0_2 => {
                self.call(call, env, scope, |e, s| e.call(s, V0_4::func_probe, args))
            }
            Contract::V0_1 => self.call(call, env, scope, |e, s| {
                Ok(answer_up(e.call(s, V0_1::func_probe, args)?))
            }),
        }
    }

    /// `plan`: every manifest acquire would apply, in order (JSON).
    pub fn plan(&self, env: &CallEnv, request: &LeaseRequest) -> CallResult<Vec<String>> {
        let call = "plan";
        match self.contract {
            Contract::V0_4 | Contract::V0_3 | Contract::V0_2 => {
                self.call(call, env, None, |e, s| {
                    e.call(s, V0_4::func_plan, (request,))
                })
            }
            Contract::V0_1 => self.call(call, env, None, |e, s| {
                let request = request.into();
                Ok(answer_up(e.call(s, V0_1::func_plan, (&request,))?))
            }),
        }
    }

    /// `acquire-lease`.
    pub fn acquire_lease(&self, env: &CallEnv, request: &LeaseRequest) -> CallResult<Lease> {
        let call = "acquire-lease";
        let scope = Some(CallScope::acquire(&request.company_id, &request.lease_id));
        match self.contract {
            Contract::V0_4 | Contract::V0_3 | Contract::V0_2 => {
                self.call(call, env, scope, |e, s| {
                    e.call(s, V0_4::func_acquire_lease, (request,))
                })
            }
            Contract::V0_1 => self.call(call, env, scope, |e, s| {
                let request = request.into();
                let answer = e.call(s, V0_1::func_acquire_lease, (&request,))?;
                Ok(self.stamped(answer_up(answer)))
            }),
        }
    }

    /// `realize-workspace`: unpack the caller's stdin (tar) into `path`.
    pub fn realize_workspace(
        &self,
        env: &CallEnv,
        lease: &Lease,
        path: Option<&str>,
    ) -> CallResult<ExecStatus> {
        let (call, scope) = ("realize-workspace", Some(CallScope::lease(&lease.id)));
        match self.contract {
            Contract::V0_4 | Contract::V0_3 | Contract::V0_2 => {
                self.call(call, env, scope, |e, s| {
                    e.call(s, V0_4::func_realize_workspace, (lease, path))
                })
            }
            Contract::V0_1 => self.call(call, env, scope, |e, s| {
                let lease = lease.into();
                Ok(answer_up(e.call(
                    s,
                    V0_1::func_realize_workspace,
                    (&lease, path),
                )?))
            }),
        }
    }

    /// `execute`.
    pub fn execute(&self, env: &CallEnv, request: &ExecRequest) -> CallResult<ExecStatus> {
        let (call, scope) = ("execute", Some(CallScope::lease(&request.lease.id)));
        match self.contract {
            Contract::V0_4 | Contract::V0_3 | Contract::V0_2 => {
                self.call(call, env, scope, |e, s| {
                    e.call(s, V0_4::func_execute, (request,))
                })
            }
            Contract::V0_1 => self.call(call, env, scope, |e, s| {
                let request = request.into();
                Ok(answer_up(e.call(s, V0_1::func_execute, (&request,))?))
            }),
        }
    }

    /// `release-lease`.
    pub fn release_lease(&self, env: &CallEnv, lease: &Lease) -> CallResult<ReleaseReport> {
        let (call, scope) = ("release-lease", Some(CallScope::lease(&lease.id)));
        match self.contract {
            Contract::V0_4 | Contract::V0_3 | Contract::V0_2 => {
                self.call(call, env, scope, |e, s| {
                    e.call(s, V0_4::func_release_lease, (lease,))
                })
            }
            Contract::V0_1 => self.call(call, env, scope, |e, s| {
                let lease = lease.into();
                Ok(answer_up(e.call(s, V0_1::func_release_lease, (&lease,))?))
            }),
        }
    }

    /// `resume-lease`.
    pub fn resume_lease(
        &self,
        env: &CallEnv,
        lease_id: &str,
        namespace: Option<&str>,
    ) -> CallResult<Lease> {
        let (call, scope) = ("resume-lease", Some(CallScope::lease(lease_id)));
        match self.contract {
            Contract::V0_4 | Contract::V0_3 | Contract::V0_2 => {
                self.call(call, env, scope, |e, s| {
                    e.call(s, V0_4::func_resume_lease, (lease_id, namespace))
                })
            }
            Contract::V0_1 => self.call(call, env, scope, |e, s| {
                let answer = e.call(s, V0_1::func_resume_lease, (lease_id, namespace))?;
                Ok(self.stamped(answer_up(answer)))
            }),
        }
    }

    /// `sweep`.
    pub fn sweep(
        &self,
        env: &CallEnv,
        now: &str,
        namespace: Option<&str>,
    ) -> CallResult<SweepReport> {
        let call = "sweep";
        // A `now` that does not parse is the module's to refuse; the sweep
        // then deletes nothing.
        let scope = Some(
            now.parse()
                .map_or_else(|_| CallScope::default(), CallScope::sweep),
        );
        match self.contract {
            Contract::V0_4 | Contract::V0_3 | Contract::V0_2 => {
                self.call(call, env, scope, |e, s| {
                    e.call(s, V0_4::func_sweep, (now, namespace))
                })
            }
            Contract::V0_1 => self.call(call, env, scope, |e, s| {
                Ok(answer_up(e.call(s, V0_1::func_sweep, (now, namespace))?))
            }),
        }
    }

    /// `renew-lease`: the lease's deadline moves to `now` + `ttl_seconds`.
    pub fn renew_lease(
        &self,
        env: &CallEnv,
        lease: &Lease,
        now: &str,
        ttl_seconds: u32,
    ) -> CallResult<Lease> {
        let (call, scope) = ("renew-lease", Some(CallScope::lease(&lease.id)));
        match self.contract {
            Contract::V0_4 | Contract::V0_3 | Contract::V0_2 => {
                self.call(call, env, scope, |e, s| {
                    e.call(s, V0_4::func_renew_lease, (lease, now, ttl_seconds))
                })
            }
            Contract::V0_1 => self.unsupported(call),
        }
    }

    /// `list-leases`: the leases of `company_id` (none: every company's).
    pub fn list_leases(
        &self,
        env: &CallEnv,
        company_id: Option<&str>,
        namespace: Option<&str>,
    ) -> CallResult<Vec<Lease>> {
        let call = "list-leases";
        let scope = Some(CallScope {
            company: company_id.map(str::to_string),
            ..CallScope::default()
        });
        match self.contract {
            Contract::V0_4 | Contract::V0_3 | Contract::V0_2 => {
                self.call(call, env, scope, |e, s| {
                    e.call(s, V0_4::func_list_leases, (company_id, namespace))
                })
            }
            Contract::V0_1 => self.unsupported(call),
        }
    }

    /// `get-lease-status`: where one lease is in its life.
    pub fn lease_status(
        &self,
        env: &CallEnv,
        lease_id: &str,
        namespace: Option<&str>,
    ) -> CallResult<LeaseStatus> {
        let (call, scope) = ("get-lease-status", Some(CallScope::lease(lease_id)));
        match self.contract {
            Contract::V0_4 | Contract::V0_3 | Contract::V0_2 => {
                self.call(call, env, scope, |e, s| {
                    e.call(s, V0_4::func_get_lease_status, (lease_id, namespace))
                })
            }
            Contract::V0_1 => self.unsupported(call),
        }
    }
}
