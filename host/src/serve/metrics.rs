//! Prometheus metrics of `leasebox serve` (`--metrics-addr`), with
//! `prometheus-client`.
//!
//! Two sorts: instruments the calls update as they happen ([`Metrics`]:
//! acquire latency, exec bytes, Kubernetes API errors, calls), and values
//! read where they are kept when a scrape comes ([`Snapshot`]: module swaps
//! and refusals, guard denials, leases held, sweep leadership). Each scrape
//! builds a fresh registry from both, so nothing is counted twice.
//!
//! Served over plain HTTP/1.1 by [`serve_http`]: `GET /metrics`
//! (OpenMetrics text) and `GET /healthz`.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::contract::KubeError;

mod endpoint;

pub use endpoint::{Scrape, serve_http};

/// Upper bounds of the acquire latency buckets, seconds: a lease from a
/// warm pool is ready in tens of milliseconds, a Pod on a warm node in one
/// to a few seconds, a Sandbox or a cold image in tens.
const ACQUIRE_BUCKETS: [f64; 14] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0, 34.0, 60.0, 120.0,
];

/// Labels of an acquire.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AcquireLabels {
    /// `sandbox-cr`, `job`, `pod`, or `unknown` when no lease was made.
    pub backend: String,
    /// `ok`, or the error's `data.reason` (`invalid-config`, `failed`, ...).
    pub outcome: String,
}

/// Labels of an acquire by where its lease came from.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabels {
    /// `warm` (a pool pod was claimed) or `cold` (a pod was started).
    pub source: String,
}

/// Labels of a warm pool's pods.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabels {
    /// The tenant namespace.
    pub namespace: String,
    /// The pool (`leasebox.dev/pool`).
    pub pool: String,
    /// `ready` or `starting` (unclaimed pods), or `size` (what the pool is
    /// kept at).
    pub state: String,
}

/// Labels of exec output.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StreamLabels {
    /// `stdout` or `stderr`.
    pub stream: String,
}

/// Labels of a failed Kubernetes API call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// The error's kind (`not-found`, `conflict`, `forbidden`, ...).
    pub reason: String,
}

/// Labels of a call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// The method.
    pub method: String,
    /// `ok`, or the error's `data.reason`.
    pub outcome: String,
}

/// Labels of a guard refusal.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RuleLabels {
    /// The guard's rule.
    pub rule: String,
}

/// The instruments calls update.
#[derive(Debug, Clone)]
pub struct Metrics {
    acquire_seconds: Family<AcquireLabels, Histogram>,
    exec_bytes: Family<StreamLabels, Counter>,
    kube_errors: Family<ReasonLabels, Counter>,
    calls: Family<CallLabels, Counter>,
    sweeps: Family<CallLabels, Counter>,
    pool_acquires: Family<SourceLabels, Counter>,
    pool_pods: Family<PoolLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            acquire_seconds: Family::new_with_constructor(|| {
                Histogram::new(ACQUIRE_BUCKETS.iter().copied())
            }),
            exec_bytes: Family::default(),
            kube_errors: Family::default(),
            calls: Family::default(),
            sweeps: Family::default(),
            pool_acquires: Family::default(),
            pool_pods: Family::default(),
        }
    }
}

impl Metrics {
    /// An acquire that took `elapsed`.
    pub fn acquired(&self, backend: &str, outcome: &str, elapsed: Duration) {
        self.acquire_seconds
            .get_or_create(&AcquireLabels {
                backend: backend.to_string(),
                outcome: outcome.to_string(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// The counter of command output forwarded to clients on `stream`
    /// (looked up once per call; each chunk only adds to it).
    pub fn exec_output(&self, stream: &str) -> Counter {
        self.exec_bytes
            .get_or_create(&StreamLabels {
                stream: stream.to_string(),
            })
            .clone()
    }

    /// A Kubernetes API call that ended with `error`.
    pub fn kube_error(&self, error: &KubeError) {
        self.kube_errors
            .get_or_create(&ReasonLabels {
                reason: error.reason().to_string(),
            })
            .inc();
    }

    /// A call of `method` that ended with `outcome`.
    pub fn call(&self, method: &str, outcome: &str) {
        self.calls
            .get_or_create(&CallLabels {
                method: method.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// A lease acquired from the warm pool (`warm`) or started (a cold
    /// fallback when pools are on, or pools off).
    pub fn pool_acquire(&self, warm: bool) {
        self.pool_acquires
            .get_or_create(&SourceLabels {
                source: if warm { "warm" } else { "cold" }.to_string(),
            })
            .inc();
    }

    /// What a pool held at its last `ensure-pool` on this replica.
    pub fn pool_ensured(&self, report: &crate::contract::PoolReport) {
        if report.pool.is_empty() {
            return;
        }
        for (state, count) in [
            ("size", report.size),
            ("ready", report.ready),
            ("starting", report.starting),
        ] {
            self.pool_pods
                .get_or_create(&PoolLabels {
                    namespace: report.namespace.clone(),
                    pool: report.pool.clone(),
                    state: state.to_string(),
                })
                .set(i64::from(count));
        }
    }

    /// A background sweep that ended with `outcome`.
    pub fn swept(&self, outcome: &str) {
        self.sweeps
            .get_or_create(&CallLabels {
                method: "sweep".to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// The OpenMetrics text of these instruments and `snapshot`.
    pub fn encode(&self, snapshot: &Snapshot) -> String {
        let mut registry = Registry::with_prefix("leasebox");
        registry.register(
            "acquire_duration_seconds",
            "Wall-clock time of acquire calls, by backend and outcome",
            self.acquire_seconds.clone(),
        );
        registry.register(
            "pool_acquires",
            "Leases acquired, by source: warm (a pool pod claimed) or cold (a pod started)",
            self.pool_acquires.clone(),
        );
        registry.register(
            "pool_pods",
            "Unclaimed pods of each warm pool (ready, starting) and its size, at its last refill \
             on this replica",
            self.pool_pods.clone(),
        );
        registry.register(
            "exec_output_bytes",
            "Bytes of command output forwarded to clients, by stream",
            self.exec_bytes.clone(),
        );
        registry.register(
            "kubernetes_api_errors",
            "Kubernetes API calls that ended in an error (after retries), by reason",
            self.kube_errors.clone(),
        );
        registry.register(
            "calls",
            "Calls answered, by method and outcome",
            self.calls.clone(),
        );
        registry.register(
            "background_sweeps",
            "Background sweeps run by this replica as sweep leader, by outcome",
            self.sweeps.clone(),
        );
        registry.register(
            "module_swaps",
            "Policy modules swapped in since the server started",
            ConstCounter::new(snapshot.module_swaps),
        );
        registry.register(
            "module_refusals",
            "Policy modules refused (the old one kept serving)",
            ConstCounter::new(snapshot.module_refusals),
        );
        let denials = Family::<RuleLabels, Counter>::default();
        for (rule, count) in &snapshot.guard_denials {
            denials
                .get_or_create(&RuleLabels {
                    rule: rule.to_string(),
                })
                .inc_by(*count);
        }
        registry.register(
            "guard_denials",
            "Kubernetes calls of policy modules refused by the capability guard, by rule",
            denials,
        );
        if let Some(held) = snapshot.leases_held {
            registry.register(
                "leases_held",
                "Leases in the cluster at the last count (every sweep interval)",
                ConstGauge::new(held),
            );
        }
        registry.register(
            "calls_in_flight",
            "Calls running now",
            ConstGauge::new(snapshot.calls_in_flight),
        );
        if let Some(open) = snapshot.watches_open {
            registry.register(
                "watches_open",
                "Watches open for readiness waits (one per namespace and kind, shared)",
                ConstGauge::new(open),
            );
        }
        if let Some(bytes) = snapshot.heap_in_use_bytes {
            registry.register(
                "heap_in_use_bytes",
                "Heap the process holds: allocated and not freed (not what it keeps for reuse)",
                ConstGauge::new(bytes),
            );
        }
        registry.register(
            "sweep_leader",
            "1 while this replica holds the sweep leader Lease",
            ConstGauge::new(i64::from(snapshot.sweep_leader)),
        );
        let mut text = String::new();
        match prometheus_client::encoding::text::encode(&mut text, &registry) {
            Ok(()) => text,
            Err(error) => format!("# encoding the metrics failed: {error}\n# EOF\n"),
        }
    }
}

/// Values read where they are kept, at scrape time.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Modules swapped in.
    pub module_swaps: u64,
    /// Modules refused.
    pub module_refusals: u64,
    /// Guard refusals by rule.
    pub guard_denials: Vec<(&'static str, u64)>,
    /// Leases in the cluster at the last count; none before the first.
    pub leases_held: Option<i64>,
    /// Calls running.
    pub calls_in_flight: i64,
    /// Whether this replica leads the sweep.
    pub sweep_leader: bool,
    /// Shared watches open (one per namespace and kind); none: no cluster.
    pub watches_open: Option<i64>,
    /// Bytes of heap in use; none where the allocator cannot say.
    pub heap_in_use_bytes: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrape_has_every_family_with_its_labels() {
        let metrics = Metrics::default();
        metrics.acquired("pod", "ok", Duration::from_millis(1500));
        metrics.exec_output("stdout").inc_by(42);
        metrics.kube_error(&KubeError::Conflict("x".into()));
        metrics.call("exec", "ok");
        let text = metrics.encode(&Snapshot {
            module_swaps: 3,
            module_refusals: 1,
            guard_denials: vec![("fence", 2)],
            leases_held: Some(7),
            calls_in_flight: 1,
            sweep_leader: true,
            watches_open: Some(2),
            heap_in_use_bytes: Some(4096),
        });
        for line in [
            "leasebox_acquire_duration_seconds_bucket{le=\"2.0\",backend=\"pod\",outcome=\"ok\"} 1",
            "leasebox_exec_output_bytes_total{stream=\"stdout\"} 42",
            "leasebox_kubernetes_api_errors_total{reason=\"conflict\"} 1",
            "leasebox_calls_total{method=\"exec\",outcome=\"ok\"} 1",
            "leasebox_module_swaps_total 3",
            "leasebox_module_refusals_total 1",
            "leasebox_guard_denials_total{rule=\"fence\"} 2",
            "leasebox_leases_held 7",
            "leasebox_sweep_leader 1",
            "leasebox_watches_open 2",
            "leasebox_heap_in_use_bytes 4096",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
