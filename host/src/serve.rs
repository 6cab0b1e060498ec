//! `leasebox serve`: the long-running host a platform embeds. JSON-RPC 2.0,
//! one message per line, on stdio or a Unix socket; the policy module is
//! swapped live (file watch, SIGHUP, `policy.reload`); calls run
//! concurrently, each on the module current when it started.
//!
//! - [`rpc`]: framing, parsing, error codes;
//! - [`call`]: what one call has, its params read, its errors shaped;
//! - [`methods`]: what each method does, and the dispatch to every one;
//!   [`sessions`]: terminals, detached processes, paths (contract 0.3.0);
//!   [`transfers`]: file syncs, one file's bytes; [`exec_params`]: a
//!   command's params;
//! - [`connection`]: one client, its calls in flight, exec streams;
//! - [`stdin`]: a call's stdin, held at most a credit's worth at a time;
//! - [`drain`]: every call in flight, and stopping gracefully on SIGTERM;
//! - [`sweeper`]: the background sweep, on the one elected replica;
//! - [`socket`]: the Unix socket, created 0600 and never over another file;
//! - [`log`]: JSON log lines with the call's lease, company and module;
//! - [`leader`]: the election of the one replica that sweeps;
//! - [`metrics`]: the Prometheus endpoint; [`heap`]: the heap in use.
//!
//! The protocol is documented in `docs/serve.md`.

pub mod call;
pub mod connection;
pub mod drain;
pub mod exec_params;
pub mod heap;
pub mod leader;
pub mod log;
pub mod methods;
pub mod metrics;
mod refill;
pub mod rpc;
pub mod sessions;
#[cfg(unix)]
pub mod socket;
pub mod stdin;
pub mod sweeper;
pub mod transfers;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::contract::LogLevel;
use crate::lifecycle::slot::PolicySlot;
use crate::serve::metrics::{Metrics, Snapshot};
use crate::settings::HostSettings;
use log::LogFields;

/// How often the module file is checked for a change.
const WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// A server: its module slot, the operator's settings, what it counts.
pub struct Server {
    /// The module, swapped live.
    pub slot: PolicySlot,
    /// The operator's settings.
    pub settings: HostSettings,
    /// Every call in flight, across clients.
    pub calls: drain::Calls,
    /// The instruments calls update.
    pub metrics: Metrics,
    /// The background sweep's state (leader or not, last sweep).
    pub sweep: sweeper::SweepState,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("slot", &self.slot)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// A line of the server itself, with the current module's SHA-256.
    pub fn log(&self, level: LogLevel, context: &str, message: &str) {
        let fields = LogFields {
            module_sha256: Some(self.slot.current().policy.sha256().to_string()),
            ..LogFields::default()
        };
        log::emit(&fields, level, context, message);
    }

    /// The values a scrape reads where they are kept.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            module_swaps: self.slot.swaps(),
            module_refusals: self.slot.refusals(),
            guard_denials: self.slot.denials().snapshot().into_iter().collect(),
            leases_held: self.sweep.leases_held(),
            calls_in_flight: i64::try_from(self.calls.running()).unwrap_or(i64::MAX),
            sweep_leader: self.sweep.leading(),
            watches_open: (self.slot.watches_open())
                .map(|open| i64::try_from(open).unwrap_or(i64::MAX)),
            heap_in_use_bytes: crate::serve::heap::in_use_bytes()
                .map(|b| i64::try_from(b).unwrap_or(i64::MAX)),
        }
    }

    /// The metrics text of a scrape.
    pub fn scrape(&self) -> String {
        self.metrics.encode(&self.snapshot())
    }

    /// Serves one client on this process's stdin and stdout until stdin
    /// closes.
    pub fn serve_stdio(self: &Arc<Self>) {
        connection::serve(
            self.clone(),
            Box::new(std::io::stdin()),
            Box::new(std::io::stdout()),
        );
    }

    /// Serves every client of the Unix socket `path`, each on a thread.
    /// The socket has mode 0600 from the start; only a stale socket at
    /// `path` is replaced ([`socket::bind`]).
    #[cfg(unix)]
    pub fn serve_unix(self: &Arc<Self>, path: &Path) -> std::io::Result<()> {
        let listener = socket::bind(path).map_err(std::io::Error::other)?;
        for stream in listener.incoming() {
            let stream = match stream {
                Ok(stream) => stream,
                Err(error) => {
                    self.log(LogLevel::Warn, "serve", &format!("accept failed: {error}"));
                    continue;
                }
            };
            let reader = stream.try_clone()?;
            let server = self.clone();
            std::thread::spawn(move || {
                connection::serve(server, Box::new(reader), Box::new(stream));
            });
        }
        Ok(())
    }

    /// Reloads the module when its file changes (size or modification
    /// time), checking every second, on a thread of its own.
    pub fn watch_module_file(self: &Arc<Self>) {
        let server = self.clone();
        let stamp = |path: &Path| -> Option<(u64, SystemTime)> {
            let meta = std::fs::metadata(path).ok()?;
            Some((meta.len(), meta.modified().ok()?))
        };
        std::thread::spawn(move || {
            let mut seen: Option<(PathBuf, Option<(u64, SystemTime)>)> = None;
            loop {
                std::thread::sleep(WATCH_INTERVAL);
                let Some(path) = server.slot.path() else {
                    continue;
                };
                let now = stamp(&path);
                match &seen {
                    Some((seen_path, seen_stamp)) if *seen_path == path && *seen_stamp != now => {
                        server.reload("the module file changed");
                    }
                    _ => {}
                }
                seen = Some((path, now));
            }
        });
    }

    /// Reloads the module file and logs the outcome.
    pub fn reload(&self, why: &str) {
        match self.slot.reload(None) {
            Ok(loaded) => self.log(
                LogLevel::Info,
                "policy.reload",
                &format!(
                    "{why}: now serving {} (sha256 {}, contract {})",
                    loaded.policy.name(),
                    loaded.policy.sha256(),
                    loaded.policy.contract()
                ),
            ),
            Err(error) => self.log(
                LogLevel::Warn,
                "policy.reload",
                &format!("{why}: module refused, the current one keeps serving: {error}"),
            ),
        }
    }
}
