//! The warm pools' refill in the background: after an acquire (warm, it
//! took a pod; cold, it found the pool short) the server runs
//! `ensure-pool` for that configuration and company on a thread of its
//! own, so no acquire waits for it. Refills of one pool coalesce: while one
//! runs, further requests mark it to run once more when it ends, so a burst
//! of acquires costs two refills, not one per acquire.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use sha2::{Digest, Sha256};

use crate::cluster::io::CallerIo;
use crate::contract::LogLevel;
use crate::lifecycle::slot::Loaded;
use crate::lifecycle::{CallContext, LeaseSpec, Lifecycle};
use crate::locks::lock;
use crate::runtime::{Cancel, Logger};
use crate::settings::HostSettings;

use super::metrics::Metrics;

/// Per pool (module, company, configuration, adapter, image): true while
/// a refill runs and another was asked for since it started.
type Running = Mutex<HashMap<String, bool>>;

fn running() -> &'static Running {
    static RUNNING: OnceLock<Running> = OnceLock::new();
    RUNNING.get_or_init(Running::default)
}

/// The key of `spec`'s pool under `loaded`.
fn key(loaded: &Loaded, spec: &LeaseSpec) -> String {
    let mut hash = Sha256::new();
    for part in [
        loaded.policy.sha256(),
        spec.company_id.as_str(),
        spec.config.as_str(),
        spec.adapter_type.as_deref().unwrap_or(""),
        spec.image.as_deref().unwrap_or(""),
    ] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Refills `spec`'s pool in the background, its log lines to `logger`,
/// what the pool holds then to `metrics`;
/// nothing with pools off or a module without them.
pub(super) fn refill(
    loaded: Arc<Loaded>,
    settings: &HostSettings,
    spec: &LeaseSpec,
    logger: Logger,
    metrics: Metrics,
) {
    if !Lifecycle::new(&loaded, settings).pools_on() {
        return;
    }
    let key = key(&loaded, spec);
    {
        let mut running = lock(running());
        if let Some(again) = running.get_mut(&key) {
            *again = true;
            return;
        }
        running.insert(key.clone(), false);
    }
    let settings = settings.clone();
    let thread_key = key.clone();
    let mut spec = spec.clone();
    spec.now = None;
    let started = std::thread::Builder::new()
        .name("leasebox-pool-refill".into())
        .spawn(move || {
            loop {
                let ctx = CallContext {
                    cancel: Cancel::new(),
                    caller: CallerIo::none(),
                    logger: logger.clone(),
                };
                match Lifecycle::new(&loaded, &settings).ensure_pool(&ctx, &spec) {
                    Ok(report) => metrics.pool_ensured(&report),
                    Err(error) => logger(
                        LogLevel::Warn,
                        "pool-refill",
                        &format!("the warm pool was not refilled: {error}"),
                    ),
                }
                let mut running = lock(running());
                match running.get_mut(&thread_key) {
                    Some(again) if *again => *again = false,
                    _ => {
                        running.remove(&thread_key);
                        return;
                    }
                }
            }
        });
    if started.is_err() {
        lock(running()).remove(&key);
    }
}
