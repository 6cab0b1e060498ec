//! P6: one `serve` holding many leases. Acquires go to one server
//! connection, [`IN_FLIGHT`] at a time, until it holds N leases over a
//! few tenants; the run reports acquire latency (p50, p99), memory per
//! lease held, and watches open per namespace and kind.
//!
//! - against the in-memory cluster (`fleet/in_memory.rs`): N = 10,000
//!   (`--quick`: 300), in this process, always; in rounds (3, `--quick`:
//!   1, or `--rounds N`), each one run with guest code admitted to the
//!   cores as `serve` does and one with every call let in at once, the
//!   side that goes first alternating;
//! - on a real cluster (`fleet/real.rs`): N = 100, the pod cap of one
//!   node (`--quick`: 10), through the `leasebox serve` binary, when
//!   `LEASEBOX_BENCH_KUBECONFIG` is set.
//!
//! ```sh
//! cargo bench -p leasebox --bench fleet
//! LEASEBOX_BENCH_KUBECONFIG=/var/lib/k8s-real/kubeconfig/admin.kubeconfig \
//! LEASEBOX_BENCH_KUBECTL=kubectl \
//!   cargo bench -p leasebox --bench fleet      # -- --quick; -- --leases N (both runs)
//! ```
//!
//! There is no peer here: each target is a bound (p99 against the same
//! run's p50, bytes per lease, watches per namespace and kind).

#[path = "fleet/attributed_alloc.rs"]
mod attributed_alloc;
#[path = "fleet/client.rs"]
mod client;
#[path = "common/mod.rs"]
mod common;
#[path = "fleet/in_memory.rs"]
mod in_memory;
#[allow(dead_code)]
#[path = "../../tests/component/in_memory_cluster.rs"]
mod in_memory_cluster;
#[path = "fleet/kubelet.rs"]
mod kubelet;
#[path = "fleet/real.rs"]
mod real;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use in_memory::Cores;

#[global_allocator]
static ALLOCATOR: attributed_alloc::Attributed = attributed_alloc::Attributed;

/// Acquires in flight at once.
pub const IN_FLIGHT: usize = 32;

const IN_MEMORY_LEASES: usize = 10_000;
const QUICK_IN_MEMORY_LEASES: usize = 300;
const IN_MEMORY_TENANTS: usize = 10;
const IN_MEMORY_ROUNDS: usize = 3;
const QUICK_IN_MEMORY_ROUNDS: usize = 1;
const CLUSTER_LEASES: usize = 100;
const QUICK_CLUSTER_LEASES: usize = 10;
const CLUSTER_TENANTS: usize = 4;

/// Targets of issue 11.
const TARGET_P99_OVER_P50: f64 = 2.0;
const TARGET_BYTES_PER_LEASE: f64 = 64.0 * 1024.0;
const TARGET_WATCHES_PER_NAMESPACE_AND_KIND: usize = 1;

/// The kubeconfig of a cluster; the cluster run is skipped without it.
const KUBECONFIG_ENV: &str = "LEASEBOX_BENCH_KUBECONFIG";
const KUBECTL_ENV: &str = "LEASEBOX_BENCH_KUBECTL";

const NAMESPACE_PREFIX: &str = "leasebox-fleet-";
/// The configuration of the e2e suite (pod backend, `busybox:k8s-real`).
const BASE_CONFIG: &str = include_str!("../../tests/e2e/configs/base.json");

/// What one run measured.
pub struct FleetRun {
    pub leases: usize,
    pub tenants: usize,
    pub latencies: Vec<Duration>,
    pub bytes_per_lease: f64,
    pub memory_note: String,
    /// Per kind, the most watches one namespace had open at once (the
    /// cluster run: all kinds and namespaces together).
    pub peak_watches: BTreeMap<String, usize>,
    /// The same, once every lease is held.
    pub held_watches: BTreeMap<String, usize>,
    /// On a real node: where each acquire's time went.
    pub phases: Option<Phases>,
    /// In memory: each acquire's time inside the in-memory cluster (its
    /// calls, waits for its lock included) and the rest of it (serve, the
    /// module, the wait for a core).
    pub in_cluster: Option<Vec<(Duration, Duration)>>,
}

/// Each acquire's time on a real node, split by its pod's timestamps.
#[derive(Default)]
pub struct Phases {
    /// From the request to the pod's creation (leasebox's writes).
    pub before_pod: Vec<Duration>,
    /// From the pod's creation to its Ready condition (the node).
    pub node: Vec<Duration>,
    /// From Ready to the kubelet's write of that status (the node).
    pub status_written: Vec<Duration>,
    /// From that write to the answer (the watch, leasebox's answer).
    pub after_written: Vec<Duration>,
    /// Whether the kubelet failed the pod's start once for want of its
    /// Secret (its event "failed to sync secret cache") and retried later.
    pub secret_retried: Vec<bool>,
    /// Each node's rate of API requests for its kubelet (`kubeAPIQPS` and
    /// `kubeAPIBurst` from its `configz`): what paces the kubelet's status
    /// writes and its reads of the pods' Secrets.
    pub kubelet_api_rate: String,
}

/// The e2e configuration with small pods and room for the fleet (a
/// hundred pods fit one two-core node only at 10m CPU each), naming the
/// cluster of `kubeconfig` (none: in a pod).
pub fn config(kubeconfig: Option<&std::path::Path>) -> Value {
    let mut config: Value = serde_json::from_str(BASE_CONFIG).expect("base.json is JSON");
    match kubeconfig {
        Some(path) => config["kubeconfig"] = path.display().to_string().into(),
        None => config["inCluster"] = true.into(),
    }
    config["namespacePrefix"] = NAMESPACE_PREFIX.into();
    config["defaultResources"] = serde_json::json!({
        "requests": {"cpu": "10m", "memory": "16Mi"},
        "limits": {"cpu": "100m", "memory": "64Mi"},
    });
    config["quota"]["pods"] = 200.into();
    config["quota"]["requestsCpu"] = "4".into();
    config["quota"]["limitsCpu"] = "40".into();
    config["quota"]["requestsMemory"] = "8Gi".into();
    config["quota"]["limitsMemory"] = "16Gi".into();
    config["podReadyTimeoutSec"] = 300.into();
    config
}

/// `--leases N`, if given.
fn leases_flag() -> Option<usize> {
    let args: Vec<String> = std::env::args().collect();
    let at = args.iter().position(|a| a == "--leases")?;
    match args.get(at + 1).and_then(|n| n.parse::<usize>().ok()) {
        Some(n) if n >= 1 => Some(n),
        _ => panic!("--leases takes a whole number >= 1"),
    }
}

fn main() {
    let Some(mode) = common::mode("fleet") else {
        return;
    };
    let quick = mode == common::Mode::Quick;
    let in_memory_leases = leases_flag().unwrap_or(if quick {
        QUICK_IN_MEMORY_LEASES
    } else {
        IN_MEMORY_LEASES
    });
    println!("fleet: in-memory: {in_memory_leases} acquires, {IN_FLIGHT} in flight");
    let mut runs = Vec::new();
    for round in 0..mode.rounds(IN_MEMORY_ROUNDS, QUICK_IN_MEMORY_ROUNDS) {
        let mut sides = [Cores::AsServed, Cores::Unadmitted];
        if round % 2 == 1 {
            sides.reverse();
        }
        for cores in sides {
            let name = match cores {
                Cores::AsServed => "in-memory cluster",
                Cores::Unadmitted => "in-memory cluster, guest code unadmitted",
            };
            runs.push((
                name,
                in_memory::run(in_memory_leases, IN_MEMORY_TENANTS, cores),
            ));
        }
    }

    match std::env::var_os(KUBECONFIG_ENV).map(PathBuf::from) {
        None => println!("fleet: cluster run skipped: {KUBECONFIG_ENV} is not set"),
        Some(kubeconfig) => {
            let cluster = real::Cluster {
                kubeconfig,
                kubectl: std::env::var_os(KUBECTL_ENV)
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from("kubectl")),
            };
            let leases = leases_flag().unwrap_or(if quick {
                QUICK_CLUSTER_LEASES
            } else {
                CLUSTER_LEASES
            });
            runs.push(("real node", real::run(&cluster, leases, CLUSTER_TENANTS)));
        }
    }

    println!();
    print_table(&runs);
    print_rounds(&runs);
}

fn print_table(runs: &[(&str, FleetRun)]) {
    println!(
        "| id | cluster | leases (tenants) | acquire p50 | p99 | p99/p50 (target <= {TARGET_P99_OVER_P50}) | per lease held (target <= {} KiB) | watches per namespace and kind, peak / held (target <= {TARGET_WATCHES_PER_NAMESPACE_AND_KIND}) |",
        TARGET_BYTES_PER_LEASE / 1024.0
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (name, run) in runs {
        let p50 = common::percentile(&run.latencies, 50.0);
        let p99 = common::percentile(&run.latencies, 99.0);
        let spread = p99.as_secs_f64() / p50.as_secs_f64();
        let watches = |counts: &BTreeMap<String, usize>| {
            counts
                .iter()
                .map(|(kind, n)| format!("{kind}: {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!(
            "| P6 | {name} | {} ({}) | {} | {} | {spread:.2}x {} | {:.1} KiB {} | {} / {} |",
            run.leases,
            run.tenants,
            common::human(p50),
            common::human(p99),
            verdict(spread <= TARGET_P99_OVER_P50),
            run.bytes_per_lease / 1024.0,
            verdict(run.bytes_per_lease <= TARGET_BYTES_PER_LEASE),
            watches(&run.peak_watches),
            watches(&run.held_watches),
        );
    }
    for (name, run) in runs {
        println!("fleet: {name}: {}", run.memory_note);
        let at = |p: f64| common::human(common::percentile(&run.latencies, p));
        println!(
            "fleet: {name}: acquire p1 {}, p10 {}, p50 {}, p90 {}, p99 {}, p99.9 {}, max {}",
            at(1.0),
            at(10.0),
            at(50.0),
            at(90.0),
            at(99.0),
            at(99.9),
            at(100.0)
        );
        if let Some(split) = &run.in_cluster {
            let inside: Vec<Duration> = split.iter().map(|(inside, _)| *inside).collect();
            let rest: Vec<Duration> = split.iter().map(|(_, rest)| *rest).collect();
            for (what, series) in [
                ("inside the in-memory cluster (its lock included)", &inside),
                ("the rest (serve, the module, waiting for a core)", &rest),
            ] {
                let p50 = common::percentile(series, 50.0);
                let p99 = common::percentile(series, 99.0);
                println!(
                    "fleet: {name}: of each acquire, {what}: p50 {}, p99 {} ({:.2}x), max {}",
                    common::human(p50),
                    common::human(p99),
                    p99.as_secs_f64() / p50.as_secs_f64(),
                    common::human(common::percentile(series, 100.0)),
                );
            }
        }
        if let Some(phases) = &run.phases {
            for (what, series) in [
                ("request to pod created", &phases.before_pod),
                ("pod created to Ready (the node)", &phases.node),
                (
                    "Ready to the kubelet's status write",
                    &phases.status_written,
                ),
                ("status write to answer", &phases.after_written),
            ] {
                println!(
                    "fleet: {name}: {what}, by the pod's timestamps (+-1 s): p50 {}, p99 {}, max {}",
                    common::human(common::percentile(series, 50.0)),
                    common::human(common::percentile(series, 99.0)),
                    common::human(common::percentile(series, 100.0)),
                );
            }
            print_secret_retries(name, &run.latencies, phases);
            println!(
                "fleet: {name}: the kubelet's API rate: {}",
                phases.kubelet_api_rate
            );
        }
    }
}

/// The acquires whose pod the kubelet started only on a later try, for
/// want of its Secret, against the others: the node's share of the tail.
fn print_secret_retries(name: &str, latencies: &[Duration], phases: &Phases) {
    let (retried, first_try): (Vec<_>, Vec<_>) = latencies
        .iter()
        .zip(&phases.secret_retried)
        .partition(|(_, retried)| **retried);
    let series = |pairs: Vec<(&Duration, &bool)>| -> Vec<Duration> {
        pairs.into_iter().map(|(took, _)| *took).collect()
    };
    let (retried, first_try) = (series(retried), series(first_try));
    let summary = |series: &[Duration]| -> String {
        if series.is_empty() {
            return "none".to_string();
        }
        format!(
            "p50 {}, max {}",
            common::human(common::percentile(series, 50.0)),
            common::human(common::percentile(series, 100.0))
        )
    };
    println!(
        "fleet: {name}: pods the kubelet failed to start at first for want of their Secret \
         (event \"failed to sync secret cache\"): {} of {}; their acquires {}; the others' {}",
        retried.len(),
        latencies.len(),
        summary(&retried),
        summary(&first_try),
    );
}

/// Per kind of run that ran more than once: its p50 and p99/p50 as a
/// median with min and max over the rounds.
fn print_rounds(runs: &[(&str, FleetRun)]) {
    let mut names: Vec<&str> = runs.iter().map(|(name, _)| *name).collect();
    names.sort();
    names.dedup();
    for name in names {
        let of_name: Vec<&FleetRun> = runs
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, run)| run)
            .collect();
        if of_name.len() < 2 {
            continue;
        }
        let p50s: Vec<Duration> = of_name
            .iter()
            .map(|run| common::percentile(&run.latencies, 50.0))
            .collect();
        let mut spreads: Vec<f64> = of_name
            .iter()
            .zip(&p50s)
            .map(|(run, p50)| {
                common::percentile(&run.latencies, 99.0).as_secs_f64() / p50.as_secs_f64()
            })
            .collect();
        spreads.sort_by(f64::total_cmp);
        let p50 = common::Summary::of(&p50s).display();
        println!(
            "fleet: {name}: over {} rounds, p99/p50 median {:.2}x [{:.2}x-{:.2}x], p50 {}",
            of_name.len(),
            spreads[spreads.len() / 2],
            spreads[0],
            spreads[spreads.len() - 1],
            p50,
        );
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "(met)" } else { "(missed)" }
}
