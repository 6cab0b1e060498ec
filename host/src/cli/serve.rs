//! `leasebox serve`: the long-running host (JSON-RPC 2.0 on stdio or a
//! Unix socket; see `docs/serve.md`).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::anyhow;

use super::cluster::{SettingsArgs, connect};
use super::exit::{CliError, Outcome};
use super::module::{PolicyArgs, read_config};
use crate::grants::Grants;
use crate::runtime::{LogLevel, Runtime};
use crate::serve::slot::{PolicySlot, SlotParts};
use crate::serve::{Server, json_logger};

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
    /// Host settings and their overrides.
    #[command(flatten)]
    pub host: SettingsArgs,
    /// The policy module (watched for changes).
    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// Serves until stdin closes (stdio) or forever (socket).
pub fn run(args: &Args) -> Result<u8, CliError> {
    let settings = args.host.load()?;
    let logger = json_logger();
    let cluster = match connect(&settings) {
        Ok(cluster) => Some(cluster),
        Err(error) => {
            logger(
                LogLevel::Warn,
                "serve",
                &format!("serving without a cluster: {:#}", error.error),
            );
            None
        }
    };
    let smoke_config = args.smoke_config.as_deref().map(read_config).transpose()?;
    let runtime = Runtime::new().map_err(CliError::unusable)?;
    let sink_logger = logger.clone();
    let slot = PolicySlot::new(SlotParts {
        runtime,
        path: args.policy.policy.clone(),
        smoke_config,
        cluster,
        grants: Arc::new(Grants::from_settings(&settings)),
        audit_sink: Arc::new(move |line| sink_logger(LogLevel::Warn, "guard", line)),
    })
    .map_err(|e| CliError::unusable(anyhow!("the policy module cannot serve: {e}")))?;
    let server = Arc::new(Server {
        slot,
        settings,
        logger,
        calls: Default::default(),
    });
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
    Ok(Outcome::Success.code())
}

/// How long the calls in flight may run on after SIGTERM before they are
/// cancelled.
const DRAIN_PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

/// Runs `handler` on a thread of its own for each signal of `kind`, until
/// it answers `false`. Without a signal handler (no runtime, or the signal
/// cannot be watched) nothing runs.
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
        runtime.block_on(async move {
            let Ok(mut signals) = tokio::signal::unix::signal(kind) else {
                return;
            };
            while signals.recv().await.is_some() {
                if !handler() {
                    return;
                }
            }
        });
    });
}

/// On SIGTERM: no new call, the running ones finish (or are cancelled
/// after [`DRAIN_PATIENCE`] and given their grace), exit 0.
fn drain_on_sigterm(server: &Arc<Server>) {
    #[cfg(unix)]
    {
        let server = server.clone();
        on_each_signal(tokio::signal::unix::SignalKind::terminate(), move || {
            (server.logger)(
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
            (server.logger)(
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
