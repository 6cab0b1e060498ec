//! The real Kubernetes I/O: [`KubeClusterIo`], a [`ClusterIo`] backed by
//! kube-rs.
//!
//! The trait is blocking (the guest runs on a plain thread); this type owns a
//! small tokio runtime (or borrows one through [`KubeClusterIo::with_handle`])
//! and blocks on it in every call. Never call it from inside that runtime.
//!
//! - `config`: kubeconfig / context / in-cluster resolution.
//! - `resources`: apiVersion + kind -> URL path (table, then cached discovery).
//! - `objects`: apply (server-side, field manager `leasebox`, forced), create,
//!   get, list, delete, server version.
//! - `watch` (one watch per request; `serve` shares them above, in
//!   [`crate::cluster::shared_watch`]), `exec` (+ `exec_protocol`; its
//!   transports `exec_spdy` and `exec_websocket` share `exec_loop`), `logs`,
//!   `secret`, `hand_over` (a lease's Secret written into its running pod
//!   over one exec's stdin).
//! - `spare`: a connection opened to replace the one an exec upgrade took
//!   (for `serve`).
//! - `retry`, `error`: bounded backoff on 429/5xx/connection errors and the
//!   mapping of HTTP statuses to [`KubeError`]; `retry_after`: a 429 or 503
//!   answer reaches the client only after its `Retry-After`.

mod config;
mod error;
mod exec;
mod exec_loop;
mod exec_protocol;
mod exec_spdy;
mod exec_stdin;
mod exec_websocket;
mod hand_over;
mod logs;
mod objects;
mod resources;
pub mod retry;
mod retry_after;
mod secret;
mod spare;
mod spdy;
mod watch;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::runtime::{Handle, Runtime};

use crate::cluster::io::{CallerIo, ClusterIo};
use crate::cluster::manifest::Manifest;
use crate::contract::{
    DeleteOptions, ExecSpec, ExecStream, HandOverRequest, HostSecretRequest, KubeError, LogFollow,
    LogsRequest, ObjectRef, WatchRequest, WatchStream,
};
pub use hand_over::hand_over_file;
use resources::Resolver;
pub use retry::RetryPolicy;

/// The field manager of every server-side apply.
pub const FIELD_MANAGER: &str = "leasebox";

/// Worker threads of the runtime [`KubeClusterIo`] creates for itself.
const WORKER_THREADS: usize = 2;

/// Told of every error a Kubernetes API call ends with (after retries).
pub type ErrorObserver = Arc<dyn Fn(&KubeError) + Send + Sync>;

/// What every call needs: the client, the kind resolver, the retry policy.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub client: kube::Client,
    pub resolver: Arc<Resolver>,
    pub policy: RetryPolicy,
    pub observer: Option<ErrorObserver>,
    /// Random values of host-filled Secrets, kept for their next write.
    pub random_values: Arc<secret::RandomValues>,
    /// The values this host filled into the Secrets it wrote, for
    /// `hand-over-secret`.
    pub filled_values: Arc<secret::FilledValues>,
    /// Whether an exec upgrade is followed by a spare connection
    /// ([`spare`]).
    pub spare_connections: bool,
}

impl Ctx {
    /// Runs `op` with retries (see [`retry`]) and maps its error for `step`.
    pub(crate) async fn call<T, F, Fut>(&self, step: &str, op: F) -> Result<T, KubeError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, kube::Error>>,
    {
        let mut pause = retry::TokioPause;
        retry::retry(&self.policy, &mut pause, error::is_retryable, op)
            .await
            .map_err(|gave_up| {
                let err = error::from_kube(step, &gave_up.error);
                if let Some(observer) = &self.observer {
                    observer(&err);
                }
                if gave_up.attempts > 1 {
                    with_attempts(err, gave_up.attempts)
                } else {
                    err
                }
            })
    }
}

/// Adds "after N attempts" to an error's message.
fn with_attempts(err: KubeError, attempts: u32) -> KubeError {
    let note = |m: String| format!("{m} (gave up after {attempts} attempts)");
    match err {
        KubeError::Transport(m) => KubeError::Transport(note(m)),
        KubeError::TimedOut(m) => KubeError::TimedOut(note(m)),
        other => other,
    }
}

/// A [`ClusterIo`] talking to a real API server through kube-rs.
pub struct KubeClusterIo {
    ctx: Ctx,
    handle: Handle,
    /// The runtime this value created, if it created one (kept alive here).
    _runtime: Option<Arc<Runtime>>,
}

impl std::fmt::Debug for KubeClusterIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeClusterIo")
            .field("policy", &self.ctx.policy)
            .finish_non_exhaustive()
    }
}

impl KubeClusterIo {
    /// Connects using `kubeconfig` (else `KUBECONFIG`, `~/.kube/config`, or
    /// the in-cluster service account) and `context` (else the current one).
    /// Only reads the configuration: no request is made yet.
    pub fn connect(
        kubeconfig: Option<PathBuf>,
        context: Option<String>,
    ) -> Result<KubeClusterIo, KubeError> {
        let runtime = new_runtime()?;
        let config = runtime.block_on(config::load(kubeconfig, context))?;
        Self::build(config, runtime.handle().clone(), Some(Arc::new(runtime)))
    }

    /// Uses an explicit kube-rs configuration (tests point it at a fake API
    /// server). kube-rs's own retry layer is switched off.
    pub fn from_config(mut config: kube::Config) -> Result<KubeClusterIo, KubeError> {
        config.default_retry = false;
        let runtime = new_runtime()?;
        Self::build(config, runtime.handle().clone(), Some(Arc::new(runtime)))
    }

    /// Uses an explicit configuration on an existing runtime; calls must
    /// still come from threads outside it.
    pub fn with_handle(
        mut config: kube::Config,
        handle: Handle,
    ) -> Result<KubeClusterIo, KubeError> {
        config.default_retry = false;
        Self::build(config, handle, None)
    }

    /// Tells `observer` of every error an API call ends with (metrics).
    pub fn with_error_observer(mut self, observer: ErrorObserver) -> KubeClusterIo {
        self.ctx.observer = Some(observer);
        self
    }

    /// After each exec upgrade, opens a connection in the background to
    /// replace the one the upgrade took from the pool, so that the next
    /// call does not pay a new connection (for a long-running process;
    /// see [`spare`]).
    pub fn with_spare_connections(mut self) -> KubeClusterIo {
        self.ctx.spare_connections = true;
        self
    }

    /// Replaces the retry policy (default: 5 attempts, delays up to 2 s).
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> KubeClusterIo {
        self.ctx.policy = policy;
        self
    }

    fn build(
        config: kube::Config,
        handle: Handle,
        runtime: Option<Arc<Runtime>>,
    ) -> Result<KubeClusterIo, KubeError> {
        let client = {
            let _entered = handle.enter();
            kube::client::ClientBuilder::try_from(config)
                .map_err(|e| {
                    KubeError::NoCluster(format!("cannot build the kubernetes client: {e}"))
                })?
                .with_layer(&retry_after::RetryAfterLayer)
                .build()
        };
        let ctx = Ctx {
            client,
            resolver: Arc::new(Resolver::default()),
            policy: RetryPolicy::default(),
            observer: None,
            random_values: Arc::default(),
            filled_values: Arc::default(),
            spare_connections: false,
        };
        Ok(KubeClusterIo {
            ctx,
            handle,
            _runtime: runtime,
        })
    }

    /// Runs `future` on this client's runtime (from a thread outside it).
    pub(crate) fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.handle.block_on(future)
    }

    /// The client, resolver and retry policy (for the host's own objects,
    /// such as the leader Lease).
    pub(crate) fn ctx(&self) -> &Ctx {
        &self.ctx
    }
}

fn new_runtime() -> Result<Runtime, KubeError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKER_THREADS)
        .thread_name("leasebox-kube")
        .enable_all()
        .build()
        .map_err(|e| KubeError::Transport(format!("cannot start the kubernetes i/o runtime: {e}")))
}

impl ClusterIo for KubeClusterIo {
    fn apply(&self, manifest: Manifest) -> Result<String, KubeError> {
        self.block_on(objects::apply(&self.ctx, &manifest))
    }

    fn create(&self, manifest: Manifest) -> Result<String, KubeError> {
        self.block_on(objects::create(&self.ctx, &manifest))
    }

    fn server_version(&self) -> Result<String, KubeError> {
        self.block_on(objects::server_version(&self.ctx))
    }

    fn get(&self, target: &ObjectRef) -> Result<Option<String>, KubeError> {
        self.block_on(objects::get(&self.ctx, target))
    }

    fn list(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        label_selector: &str,
    ) -> Result<Vec<String>, KubeError> {
        self.block_on(objects::list(
            &self.ctx,
            api_version,
            kind,
            namespace,
            label_selector,
        ))
    }

    fn delete(&self, target: &ObjectRef, options: &DeleteOptions) -> Result<bool, KubeError> {
        self.block_on(objects::delete(&self.ctx, target, options))
    }

    fn watch(&self, request: &WatchRequest) -> Result<Box<dyn WatchStream>, KubeError> {
        let stream = self.block_on(watch::start(&self.ctx, request))?;
        Ok(Box::new(watch::KubeWatch::new(self.handle.clone(), stream)))
    }

    fn exec(&self, spec: &ExecSpec, caller: &CallerIo) -> Result<Box<dyn ExecStream>, KubeError> {
        let session = self.block_on(exec::start(&self.ctx, spec, caller))?;
        Ok(Box::new(exec::KubeExec::new(self.handle.clone(), session)))
    }

    fn logs(
        &self,
        request: &LogsRequest,
        caller: &CallerIo,
    ) -> Result<Box<dyn LogFollow>, KubeError> {
        let follow = self.block_on(logs::start(&self.ctx, request, caller))?;
        Ok(Box::new(logs::KubeLogs::new(self.handle.clone(), follow)))
    }

    fn apply_host_secret(
        &self,
        request: &HostSecretRequest,
    ) -> Result<(String, Vec<String>), KubeError> {
        let dir = std::env::var_os(secret::SECRETS_DIR_ENV).map(PathBuf::from);
        self.block_on(secret::apply_host_secret(&self.ctx, request, |key| {
            secret::host_value(dir.as_deref(), key, |k| std::env::var(k).ok())
        }))
    }

    fn hand_over_secret(&self, request: &HandOverRequest) -> Result<(), KubeError> {
        hand_over::hand_over(self, request)
    }
}
