//! `leasebox serve`: the long-running host (JSON-RPC 2.0 on stdio or a
//! Unix socket; see `docs/serve.md`).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::anyhow;

use super::cluster::{SettingsArgs, connect_kube};
use super::exit::{CliError, Outcome};
use super::module::{PolicyArgs, read_config};
use crate::cluster::grants::Grants;
use crate::cluster::io::ClusterIo;
use crate::contract::LogLevel;
use crate::lifecycle::slot::{PolicySlot, SlotParts};
use crate::runtime::{Admission, Pool, Runtime};
use crate::serve::log::{self, LogFields};
use crate::serve::metrics::{self, Metrics};
use crate::serve::{Server, sweeper};

/// Flags of `serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Also (instead of stdio) listen on a Unix socket: `unix:PATH` (mode
    /// 0600).
    #[arg(long, value_name = "unix:PATH")]
    pub listen: Option<String>,
    /// A configuration every new module must validate before it is swapped
    /// in (the smoke call); default: the module's schema must be JSON.
    #[arg(long, value_name = "FILE")]
    pub smoke_config: Option<PathBuf>,
    /// Do not reload the module when its file changes (SIGHUP and
    /// `policy.reload` still do).
    #[arg(long)]
    pub no_watch: bool,
    /// Serve Prometheus metrics (`GET /metrics`) and `GET /healthz` over
    /// HTTP on this address, e.g. `0.0.0.0:9464`.
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics_addr: Option<String>,
    /// Host settings and their overrides.
    #[command(flatten)]
    pub host: SettingsArgs,
    /// The policy module (watched for changes).
    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// Module instances alive at once: one per call in flight (an exec holds
/// its instance while its command runs). Slots are address space reserved
/// once; only the pages a call touches are memory.
const POOL_INSTANCES: u32 = 1000;

/// Serves until stdin closes (stdio) or forever (socket).
pub fn run(args: &Args) -> Result<u8, CliError> {
    let settings = args.host.load()?;
    log::init_json_logs();
    let plain = LogFields::default();
    let metrics = Metrics::default();
    let cluster = match connect_kube(&settings) {
        Ok(cluster) => {
            let counted = metrics.clone();
            Some(Arc::new(
                cluster
                    .with_spare_connections()
                    .with_error_observer(Arc::new(move |e| counted.kube_error(e))),
            ))
        }
        Err(error) => {
            log::emit(
                &plain,
                LogLevel::Warn,
                "serve",
                &format!("serving without a cluster: {:#}", error.error),
            );
            None
        }
    };
    let metrics_listener = args
        .metrics_addr
        .as_deref()
        .map(|addr| {
            std::net::TcpListener::bind(addr).map_err(|e| {
                CliError::unusable(anyhow!(
                    "--metrics-addr {addr}: cannot listen there: {e}; pick a free HOST:PORT"
                ))
            })
        })
        .transpose()?;
    let smoke_config = args.smoke_config.as_deref().map(read_config).transpose()?;
    let pool = Pool {
        instances: POOL_INSTANCES,
        memory_cap_bytes: settings.guest.memory_cap_bytes,
    };
    let runtime = match Runtime::pooled(pool) {
        Ok(runtime) => runtime,
        Err(error) => {
            log::emit(
                &plain,
                LogLevel::Warn,
                "serve",
                &format!("no pooling allocator ({error}); instances are allocated per call"),
            );
            Runtime::new().map_err(CliError::unusable)?
        }
    }
    .with_admission(Admission::new(settings.guest.parallel_calls));
    let slot = PolicySlot::new(SlotParts {
        runtime,
        path: args.policy.policy.clone(),
        smoke_config,
        cluster: cluster.clone().map(|c| c as Arc<dyn ClusterIo>),
        watch_linger: settings.serve.watch_linger,
        grants: Arc::new(Grants::from_settings(&settings)),
        audit_sink: Arc::new(move |line| log::emit(&plain, LogLevel::Warn, "guard", line)),
    })
    .map_err(|e| CliError::unusable(anyhow!("the policy module cannot serve: {e}")))?;
    let server = Arc::new(Server {
        slot,
        settings,
        calls: Default::default(),
        metrics,
        sweep: Default::default(),
    });
    if let Some(listener) = metrics_listener {
        let scraped = server.clone();
        metrics::serve_http(listener, Arc::new(move || scraped.scrape()));
    }
    if let Some(cluster) = cluster {
        sweeper::start(&server, cluster);
    }
    if !args.no_watch {
        server.watch_module_file();
    }
    reload_on_sighup(&server);
    drain_on_sigterm(&server);
    match args.listen.as_deref() {
        None => server.serve_stdio(),
        Some(listen) => {
            let path = listen.strip_prefix("unix:").ok_or_else(|| {
                CliError::unusable(anyhow!(
                    "--listen {listen}: only unix:PATH is supported (for example unix:/run/leasebox.sock)"
                ))
            })?;
            server
                .serve_unix(std::path::Path::new(path))
                .map_err(|e| CliError::unusable(anyhow!("cannot listen on {listen}: {e}")))?;
        }
    }
    if let Some(error) = server.sweep.resign() {
        server.log(
            LogLevel::Warn,
            "sweep",
            &format!("giving the Lease up failed: {error}"),
        );
    }
    Ok(Outcome::Success.code())
}

/// How long the calls in flight may run on after SIGTERM before they are
/// cancelled.
const DRAIN_PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

/// Runs `handler` on a thread of its own for each signal of `kind`, until
/// it answers `false`. Without a signal handler (no runtime, or the signal
/// cannot be watched) nothing runs. The handler runs outside the signal's
/// runtime, so it may itself block on another runtime (the kube client's,
/// to give the sweep's Lease up).
#[cfg(unix)]
fn on_each_signal(
    kind: tokio::signal::unix::SignalKind,
    mut handler: impl FnMut() -> bool + Send + 'static,
) {
    std::thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        let signals = {
            let _context = runtime.enter();
            tokio::signal::unix::signal(kind)
        };
        let Ok(mut signals) = signals else {
            return;
        };
        while runtime.block_on(signals.recv()).is_some() {
            if !handler() {
                return;
            }
        }
    });
}

/// On SIGTERM: no new call, the running ones finish (or are cancelled
/// after [`DRAIN_PATIENCE`] and given their grace), exit 0.
fn drain_on_sigterm(server: &Arc<Server>) {
    #[cfg(unix)]
    {
        let server = server.clone();
        on_each_signal(tokio::signal::unix::SignalKind::terminate(), move || {
            server.log(
                LogLevel::Info,
                "serve",
                &format!(
                    "SIGTERM: taking no new call, waiting for {} in flight",
                    server.calls.running()
                ),
            );
            let cancelled = server
                .calls
                .drain(DRAIN_PATIENCE, crate::runtime::DEFAULT_CANCEL_GRACE);
            if let Some(error) = server.sweep.resign() {
                server.log(
                    LogLevel::Warn,
                    "sweep",
                    &format!("giving the Lease up failed: {error}"),
                );
            }
            server.log(
                LogLevel::Info,
                "serve",
                &format!("SIGTERM: stopped ({cancelled} calls cancelled)"),
            );
            std::process::exit(0);
        });
    }
}

/// Reloads the module file on every SIGHUP.
fn reload_on_sighup(server: &Arc<Server>) {
    #[cfg(unix)]
    {
        let server = server.clone();
        on_each_signal(tokio::signal::unix::SignalKind::hangup(), move || {
            server.reload("SIGHUP");
            true
        });
    }
}
