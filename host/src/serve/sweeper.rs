//! The background sweep: every replica runs an [`Elector`] round every third
//! of the lease duration; the one that holds the Lease sweeps expired leases
//! every `serve.sweepIntervalSec`. Every replica also counts the leases in
//! the cluster at that interval (the `leases_held` metric).
//!
//! The sweep and the count are ordinary calls of the current module (through
//! its guard, within the operator's limits), counted among the calls in
//! flight so SIGTERM waits for them. On SIGTERM the holder gives the Lease
//! up ([`SweepState::resign`]) so another replica takes over at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::Server;
use super::log::LogFields;
use crate::clock::now_rfc3339;
use crate::cluster::io::CallerIo;
use crate::cluster::kube_client::KubeClusterIo;
use crate::contract::LogLevel;
use crate::lifecycle::{CallContext, Lifecycle, LifecycleError};
use crate::locks::lock;
use crate::runtime::Cancel;
use crate::serve::leader::{Elector, Leadership, default_identity};
use crate::settings::HostSettings;

/// How often the loop looks whether the server is stopping.
const TICK: Duration = Duration::from_millis(100);

/// The longest wait between election rounds while they keep failing: the
/// wait doubles from the retry period after each failed round, up to this.
pub const MAX_ELECTION_BACKOFF: Duration = Duration::from_secs(300);

/// The wait before the next round after `failures` failed rounds in a row.
fn round_wait(period: Duration, failures: u32) -> Duration {
    let doubled = period.saturating_mul(1u32 << failures.min(16));
    if failures == 0 {
        period
    } else {
        doubled.min(MAX_ELECTION_BACKOFF.max(period))
    }
}

/// What health and the metrics say of the sweep.
#[derive(Debug, Default)]
struct Status {
    identity: Option<String>,
    leading: bool,
    holder: Option<String>,
    last_error: Option<String>,
    last_sweep: Option<Value>,
    expired_total: u64,
    leases_held: Option<i64>,
}

/// The sweep's state, shared by the loop, health, metrics and SIGTERM.
#[derive(Debug, Default)]
pub struct SweepState {
    status: Mutex<Status>,
    elector: Mutex<Option<Elector>>,
    sweeping: AtomicBool,
}

impl SweepState {
    /// Whether this replica holds the Lease.
    pub fn leading(&self) -> bool {
        lock(&self.status).leading
    }

    /// Leases in the cluster at the last count.
    pub fn leases_held(&self) -> Option<i64> {
        lock(&self.status).leases_held
    }

    /// `health`'s `sweep`: whether it runs, the Lease, who leads, the last
    /// sweep and the last error.
    pub fn to_json(&self, settings: &HostSettings) -> Value {
        let status = lock(&self.status);
        let leader = &settings.serve.leader;
        json!({
            "enabled": status.identity.is_some(),
            "intervalSec": settings.serve.sweep_interval.map(|d| d.as_secs()),
            "lease": format!("{}/{}", leader.namespace, leader.lease_name),
            "identity": status.identity,
            "leading": status.leading,
            "holder": status.holder,
            "lastSweep": status.last_sweep,
            "expiredTotal": status.expired_total,
            "lastError": status.last_error,
            "leasesHeld": status.leases_held,
        })
    }

    /// Gives the Lease up if this replica holds it, and stops the loop.
    pub fn resign(&self) -> Option<String> {
        let elector = lock(&self.elector).take()?;
        let mut elector = elector;
        let outcome = elector.release().err().map(|e| e.describe());
        let mut status = lock(&self.status);
        status.leading = false;
        outcome
    }
}

/// Starts the loop on a thread of its own (nothing when the sweep is off).
pub fn start(server: &Arc<Server>, cluster: Arc<KubeClusterIo>) {
    let Some(interval) = server.settings.serve.sweep_interval else {
        return;
    };
    let identity = default_identity();
    let elector = Elector::new(
        cluster,
        server.settings.serve.leader.clone(),
        identity.clone(),
    );
    let period = elector.retry_period();
    *lock(&server.sweep.elector) = Some(elector);
    lock(&server.sweep.status).identity = Some(identity.clone());
    server.log(
        LogLevel::Info,
        "sweep",
        &format!(
            "sweeping every {}s when elected; identity {identity}",
            interval.as_secs()
        ),
    );
    let server = server.clone();
    std::thread::spawn(move || run(&server, interval, period));
}

fn run(server: &Arc<Server>, interval: Duration, period: Duration) {
    let mut last_sweep: Option<Instant> = None;
    let mut last_count: Option<Instant> = None;
    let mut failures: u32 = 0;
    let due = |last: Option<Instant>, now: Instant| last.is_none_or(|t| now - t >= interval);
    loop {
        if server.calls.draining() {
            if let Some(error) = server.sweep.resign() {
                server.log(
                    LogLevel::Warn,
                    "sweep",
                    &format!("giving the Lease up failed: {error}"),
                );
            }
            return;
        }
        let now = Instant::now();
        let leading = {
            let mut elector = lock(&server.sweep.elector);
            let Some(elector) = elector.as_mut() else {
                return;
            };
            let round = elector.round(now);
            failures = if round.is_ok() {
                0
            } else {
                failures.saturating_add(1)
            };
            let leading = elector.leading(now);
            note_round(server, round, leading, round_wait(period, failures));
            leading
        };
        if leading && due(last_sweep, now) {
            last_sweep = Some(now);
            spawn_sweep(server);
        }
        if due(last_count, now) {
            last_count = Some(now);
            count_leases(server);
        }
        let until = Instant::now() + round_wait(period, failures);
        while Instant::now() < until && !server.calls.draining() {
            std::thread::sleep(TICK);
        }
    }
}

/// Records a round's outcome, logging changes of leadership.
fn note_round(
    server: &Server,
    round: Result<Leadership, crate::contract::KubeError>,
    leading: bool,
    next: Duration,
) {
    let mut status = lock(&server.sweep.status);
    let was_leading = status.leading;
    let error_before = status.last_error.clone();
    match round {
        Ok(Leadership::Leading) => {
            status.holder = status.identity.clone();
            status.last_error = None;
        }
        Ok(Leadership::Following { holder }) => {
            status.holder = Some(holder);
            status.last_error = None;
        }
        Err(error) => status.last_error = Some(election_failure(&server.settings, &error)),
    }
    status.leading = leading;
    let (holder, error) = (status.holder.clone(), status.last_error.clone());
    drop(status);
    if leading != was_leading {
        let message = if leading {
            "this replica now leads the sweep".to_string()
        } else {
            format!(
                "this replica no longer leads the sweep (holder: {})",
                holder.as_deref().unwrap_or("none")
            )
        };
        server.log(LogLevel::Info, "sweep", &message);
    }
    // A failure is logged when it starts or changes, not every round; the
    // rounds back off while it lasts.
    if let Some(error) = error
        && error_before.as_deref() != Some(error.as_str())
    {
        server.log(
            LogLevel::Warn,
            "sweep",
            &format!(
                "leader election round failed: {error}; this replica does not sweep until a \
                 round succeeds (next round in {}s, the wait doubling up to {}s while rounds \
                 fail; said once until the failure changes)",
                next.as_secs(),
                MAX_ELECTION_BACKOFF.as_secs()
            ),
        );
    }
}

/// A failed round for a person: what failed and, where the cause is the
/// operator's to fix, the fix.
fn election_failure(settings: &HostSettings, error: &crate::contract::KubeError) -> String {
    let leader = &settings.serve.leader;
    let fix = match error {
        crate::contract::KubeError::NotFound(_) => format!(
            " (the namespace `{}` of the sweep's Lease does not exist: apply deploy/rbac.yaml \
             (`leasebox rbac`), which creates it, or set serve.leaderElection.namespace to an \
             existing namespace)",
            leader.namespace
        ),
        crate::contract::KubeError::Forbidden(_) => format!(
            " (the host may not read or write the Lease `{}/{}`: apply the Role and binding of \
             deploy/rbac.yaml (`leasebox rbac`))",
            leader.namespace, leader.lease_name
        ),
        _ => String::new(),
    };
    format!("{}{fix}", error.describe())
}

/// Runs `call` (named `method` in the log) on the current module as a
/// background call, counted among the calls in flight; `None` when the
/// server is stopping.
fn background<T>(
    server: &Server,
    method: &str,
    call: impl FnOnce(Lifecycle<'_>, &CallContext) -> Result<T, LifecycleError>,
) -> Option<Result<T, LifecycleError>> {
    let cancel = Cancel::new();
    let ticket = server.calls.begin(&cancel)?;
    let loaded = server.slot.current();
    let log = LogFields {
        method: Some(method.to_string()),
        request_id: Some("background".to_string()),
        module_sha256: Some(loaded.policy.sha256().to_string()),
        ..LogFields::default()
    };
    let ctx = CallContext {
        cancel,
        caller: CallerIo::none(),
        logger: super::log::logger(log),
    };
    let result = call(Lifecycle::new(&loaded, &server.settings), &ctx);
    server.calls.end(ticket);
    Some(result)
}

/// Sweeps on a thread of its own (one at a time), so a long sweep does not
/// delay the Lease's renewal.
fn spawn_sweep(server: &Arc<Server>) {
    if server.sweep.sweeping.swap(true, Ordering::SeqCst) {
        return;
    }
    let server = server.clone();
    std::thread::spawn(move || {
        let started = now_rfc3339();
        let sweep = |lifecycle: Lifecycle<'_>, ctx: &CallContext| lifecycle.sweep(ctx, None, None);
        if let Some(result) = background(&server, "sweep", sweep) {
            let outcome = match &result {
                Ok(_) => "ok",
                Err(error) => error.reason(),
            };
            server.metrics.swept(outcome);
            let mut expired_now = 0;
            let summary = match &result {
                Ok(report) => {
                    let expired = report.expired.len();
                    expired_now = expired as u64;
                    server.log(
                        LogLevel::Info,
                        "sweep",
                        &format!("swept: {expired} expired objects deleted"),
                    );
                    json!({"at": started, "outcome": outcome, "expired": expired})
                }
                Err(error) => {
                    server.log(LogLevel::Warn, "sweep", &format!("sweep failed: {error}"));
                    json!({"at": started, "outcome": outcome, "error": error.to_string()})
                }
            };
            let mut status = lock(&server.sweep.status);
            status.last_sweep = Some(summary);
            status.expired_total += expired_now;
        }
        server.sweep.sweeping.store(false, Ordering::SeqCst);
    });
}

/// Counts the leases in the cluster (`list`).
fn count_leases(server: &Server) {
    let list = |lifecycle: Lifecycle<'_>, ctx: &CallContext| lifecycle.list(ctx, None, None);
    match background(server, "list", list) {
        Some(Ok(leases)) => {
            let held = leases.len();
            lock(&server.sweep.status).leases_held = Some(i64::try_from(held).unwrap_or(i64::MAX));
        }
        Some(Err(error)) => server.log(
            LogLevel::Warn,
            "sweep",
            &format!("counting the leases failed: {error}"),
        ),
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_rounds_back_off_doubling_up_to_the_cap() {
        let period = Duration::from_secs(5);
        assert_eq!(round_wait(period, 0), period);
        assert_eq!(round_wait(period, 1).as_secs(), 10);
        assert_eq!(round_wait(period, 3).as_secs(), 40);
        assert_eq!(round_wait(period, 40), MAX_ELECTION_BACKOFF);
    }

    #[test]
    fn a_missing_lease_namespace_is_named_with_the_fix() {
        let settings = HostSettings::default();
        let error = crate::contract::KubeError::NotFound(
            "create the leader Lease: namespaces \"leasebox-system\" not found".into(),
        );
        let text = election_failure(&settings, &error);
        assert!(text.contains("leasebox-system"), "{text}");
        assert!(text.contains("serve.leaderElection.namespace"), "{text}");
        assert!(text.contains("deploy/rbac.yaml"), "{text}");
    }
}
