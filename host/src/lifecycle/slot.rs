//! The policy module a server runs, swapped live: a new module is compiled,
//! checked against the contract, smoke-called, and only then replaces the
//! old one. Calls keep the module they started with (an `Arc`), so a swap
//! never cuts a call in half.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::cluster::grants::Grants;
use crate::cluster::guard::{Audit, DenialCounts, GuardedCluster};
use crate::cluster::io::ClusterIo;
use crate::cluster::shared_watch::SharedWatches;
use crate::locks;
use crate::runtime::{CallEnv, Policy, Runtime, RuntimeError};

/// One loaded module and the guard its cluster calls go through (the guard
/// logs refusals under the module's SHA-256).
#[derive(Clone)]
pub struct Loaded {
    /// The module (its name is where it came from: `default` or a path).
    pub policy: Policy,
    /// The cluster behind the guard; none without a cluster.
    pub guard: Option<GuardedCluster>,
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded")
            .field("source", &self.policy.name())
            .field("sha256", &self.policy.sha256())
            .finish_non_exhaustive()
    }
}

/// Why a new module was refused (the old one keeps serving).
#[derive(Debug, thiserror::Error)]
pub enum SwapError {
    /// The file could not be read, or is not a bounded regular WebAssembly
    /// file (the message names what is wrong, never the file's bytes).
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path.
        path: String,
        /// Why.
        #[source]
        source: crate::runtime::ModuleFileError,
    },
    /// Not a component of a supported contract, or it does not link.
    #[error("{0}")]
    Load(RuntimeError),
    /// The smoke call trapped, ran out of a limit, or answered nonsense.
    #[error("the smoke call failed: {0}")]
    Smoke(String),
    /// No module file to reload (the server runs the built-in module).
    #[error(
        "the server runs the built-in module; start serve with --policy FILE.wasm (policy.reload \
         may name a file only with `serve.reload.fromClients` and `serve.moduleDir` in the host \
         settings)"
    )]
    NoPath,
}

/// The module slot of a server.
pub struct PolicySlot {
    runtime: Runtime,
    current: RwLock<Arc<Loaded>>,
    path: RwLock<Option<PathBuf>>,
    smoke_config: Option<String>,
    cluster: Option<Arc<SharedWatches>>,
    grants: Arc<Grants>,
    denials: Arc<DenialCounts>,
    audit_sink: Arc<dyn Fn(&str) + Send + Sync>,
    swaps: AtomicU64,
    refusals: AtomicU64,
}

impl std::fmt::Debug for PolicySlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicySlot")
            .field("current", &self.current())
            .finish_non_exhaustive()
    }
}

/// What a slot is built from.
pub struct SlotParts {
    /// The engine.
    pub runtime: Runtime,
    /// The module file; none: the built-in module.
    pub path: Option<PathBuf>,
    /// A configuration every new module must validate (the smoke call);
    /// none: the smoke call is `config-schema`.
    pub smoke_config: Option<String>,
    /// The cluster; none: cluster calls answer "no cluster". The slot
    /// shares its watches ([`SharedWatches`]).
    pub cluster: Option<Arc<dyn ClusterIo>>,
    /// How long a shared watch stays open after its last wait
    /// (`serve.watchLingerSec`).
    pub watch_linger: Duration,
    /// The operator's grants.
    pub grants: Arc<Grants>,
    /// Receives one line per guard refusal.
    pub audit_sink: Arc<dyn Fn(&str) + Send + Sync>,
}

impl PolicySlot {
    /// Loads the first module (the file, or the built-in one) and smoke-calls
    /// it; an error when it does not pass.
    pub fn new(parts: SlotParts) -> Result<PolicySlot, SwapError> {
        let (source, bytes) = match &parts.path {
            Some(path) => (path.display().to_string(), read(path)?),
            None => (
                crate::runtime::DEFAULT_MODULE_NAME.to_string(),
                crate::runtime::DEFAULT_MODULE.to_vec(),
            ),
        };
        let denials = Arc::new(DenialCounts::default());
        let first = checked(
            &parts.runtime,
            &source,
            &bytes,
            parts.smoke_config.as_deref(),
        )?;
        let slot = PolicySlot {
            current: RwLock::new(Arc::new(Loaded {
                guard: None,
                policy: first,
            })),
            runtime: parts.runtime,
            path: RwLock::new(parts.path),
            smoke_config: parts.smoke_config,
            cluster: (parts.cluster)
                .map(|c| Arc::new(SharedWatches::new(c).lingering(parts.watch_linger))),
            grants: parts.grants,
            denials,
            audit_sink: parts.audit_sink,
            swaps: AtomicU64::new(0),
            refusals: AtomicU64::new(0),
        };
        let with_guard = slot.guarded(slot.current().as_ref().clone());
        *locks::write(&slot.current) = Arc::new(with_guard);
        Ok(slot)
    }

    /// The module serving new calls now.
    pub fn current(&self) -> Arc<Loaded> {
        locks::read(&self.current).clone()
    }

    /// Loads the module file again (or `path`, which then becomes the file
    /// watched) and swaps it in when it passes.
    pub fn reload(&self, path: Option<&Path>) -> Result<Arc<Loaded>, SwapError> {
        let path = match path {
            Some(path) => path.to_path_buf(),
            None => locks::read(&self.path).clone().ok_or(SwapError::NoPath)?,
        };
        let bytes = read(&path).inspect_err(|_| self.refused())?;
        let swapped = self.swap(&path.display().to_string(), &bytes)?;
        *locks::write(&self.path) = Some(path);
        Ok(swapped)
    }

    /// Swaps in the module `bytes` (named `source`) when it passes.
    pub fn swap(&self, source: &str, bytes: &[u8]) -> Result<Arc<Loaded>, SwapError> {
        let policy = checked(&self.runtime, source, bytes, self.smoke_config.as_deref())
            .inspect_err(|_| self.refused())?;
        let loaded = Arc::new(self.guarded(Loaded {
            policy,
            guard: None,
        }));
        *locks::write(&self.current) = loaded.clone();
        self.swaps.fetch_add(1, Ordering::Relaxed);
        Ok(loaded)
    }

    /// Modules swapped in since start.
    pub fn swaps(&self) -> u64 {
        self.swaps.load(Ordering::Relaxed)
    }

    /// Modules refused since start.
    pub fn refusals(&self) -> u64 {
        self.refusals.load(Ordering::Relaxed)
    }

    /// The guard's refusal counts, over every module.
    pub fn denials(&self) -> &Arc<DenialCounts> {
        &self.denials
    }

    /// The module file watched, if any.
    pub fn path(&self) -> Option<PathBuf> {
        locks::read(&self.path).clone()
    }

    /// True when the server has a cluster.
    pub fn has_cluster(&self) -> bool {
        self.cluster.is_some()
    }

    /// Watches open that waits share (one per namespace and kind); none
    /// without a cluster.
    pub fn watches_open(&self) -> Option<usize> {
        self.cluster.as_ref().map(|c| c.open())
    }

    fn refused(&self) {
        self.refusals.fetch_add(1, Ordering::Relaxed);
    }

    fn guarded(&self, loaded: Loaded) -> Loaded {
        let guard = self.cluster.as_ref().map(|cluster| {
            let sink = self.audit_sink.clone();
            GuardedCluster::new(
                cluster.clone() as Arc<dyn ClusterIo>,
                self.grants.clone(),
                Audit::new(loaded.policy.sha256(), self.denials.clone(), sink),
            )
        });
        Loaded { guard, ..loaded }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, SwapError> {
    crate::runtime::read_module_file(path).map_err(|source| SwapError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// Compiles and links `bytes`, then smoke-calls it: `config-schema` must be
/// a JSON object, and `smoke_config` (when given) must validate.
fn checked(
    runtime: &Runtime,
    source: &str,
    bytes: &[u8],
    smoke_config: Option<&str>,
) -> Result<Policy, SwapError> {
    let policy = runtime.load(source, bytes).map_err(SwapError::Load)?;
    let env = CallEnv::offline(CallEnv::silent_logger());
    let schema = policy
        .config_schema(&env)
        .map_err(|e| SwapError::Smoke(e.to_string()))?;
    if !serde_json::from_str::<serde_json::Value>(&schema).is_ok_and(|s| s.is_object()) {
        return Err(SwapError::Smoke(
            "config-schema did not answer a JSON object".into(),
        ));
    }
    if let Some(config) = smoke_config {
        let report = policy
            .validate_config(&env, config)
            .map_err(|e| SwapError::Smoke(e.to_string()))?;
        if !report.ok {
            let problems = report
                .errors
                .iter()
                .map(|i| format!("{}: {}", i.path, i.message))
                .collect::<Vec<_>>()
                .join("; ");
            return Err(SwapError::Smoke(format!(
                "the live configuration does not validate under the new module: {problems}"
            )));
        }
    }
    Ok(policy)
}
