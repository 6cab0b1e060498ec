//! PW1: an acquire that claims a ready pod of the tenant's warm pool
//! against one that starts its pod cold, both through one running
//! `leasebox serve`, side by side in one run, in interleaved rounds (the
//! side that goes first alternates from round to round).
//!
//! Two configurations of the e2e suite's pod backend (`busybox:k8s-real`),
//! identical but for `warmPool`: the warm one asks for a pool of
//! [`POOL_SIZE`], the cold one has none, so its acquire never claims. The
//! host settings turn pools on (`maxPerTenant` 4, `maxTotal` 8). The cold
//! acquires are made for a company of their own ([`COLD_COMPANY`], so in
//! a tenant namespace of their own): serve refills the tenant's pool after
//! every acquire, and until `26b5c06` a configuration without `warmPool`
//! drained the pool of the same adapter and image in that tenant, so cold
//! acquires in the warm tenant emptied the pool the warm ones claim from;
//! kept apart, the cold side never touches the warm pool whatever the
//! refill does. Untimed at the start: `pool.ensure`
//! with the warm configuration and a wait until the pool's pods are Ready;
//! one cold acquire and release, so that the cold tenant's objects exist
//! as the warm tenant's do. Each round:
//!
//! - before the warm sample, an untimed wait until at least one unclaimed
//!   pool pod is Ready (serve refills the pool in the background after
//!   each acquire);
//! - one `acquire` of each configuration, each timed from writing the
//!   request to reading its answer, and released (untimed) right after.
//!
//! A warm acquire that answered `warm: false` (the pool had nothing ready
//! to claim after all) is counted as "fell back cold" and kept out of the
//! warm series and of the paired ratios.
//!
//! ```sh
//! LEASEBOX_BENCH_KUBECONFIG=/var/lib/k8s-real/kubeconfig/admin.kubeconfig \
//!   cargo bench -p leasebox --bench pools      # -- --quick: 5 rounds; -- --rounds N
//! ```
//!
//! Skipped, with a message, when `LEASEBOX_BENCH_KUBECONFIG` is not set.
//! The tenant namespaces `leasebox-bench-pools` and
//! `leasebox-bench-pools-cold` are deleted at the end.

#[path = "common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::process::LIMIT;
use common::serve::Serve;
use common::tenant::{BINARY, KUBECONFIG_ENV, Tools, connect};
use common::{human, paired_ratios, percentile};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, ListParams};
use serde_json::{Value, json};

/// The configuration of the e2e suite (pod backend, `busybox:k8s-real`).
const BASE_CONFIG: &str = include_str!("../../tests/e2e/configs/base.json");
const NAMESPACE_PREFIX: &str = "leasebox-bench-";
const COMPANY: &str = "pools";
/// The company of the cold acquires (see the module's docs).
const COLD_COMPANY: &str = "pools-cold";

/// The warm configuration's `warmPool.size`.
const POOL_SIZE: usize = 4;
/// The operator's caps (host settings `pools`): the pool fits under both.
const MAX_PER_TENANT: usize = 4;
const MAX_TOTAL: usize = 8;

/// The label of a pool pod naming its pool.
const POOL_LABEL: &str = "leasebox.dev/pool";
/// The label naming a pod's lease; a pool pod has none until claimed.
const LEASE_LABEL: &str = "leasebox.dev/lease";

const ROUNDS: usize = 30;
const QUICK_ROUNDS: usize = 5;

/// How often the pool's pods are looked at while waiting (untimed).
const READY_POLL: Duration = Duration::from_millis(100);

/// The target of PW1, on the warm series.
const TARGET_P50: Duration = Duration::from_millis(100);
const TARGET_P99: Duration = Duration::from_millis(250);

fn main() {
    let Some(mode) = common::mode("pools") else {
        return;
    };
    let Some(kubeconfig) = std::env::var_os(KUBECONFIG_ENV).map(PathBuf::from) else {
        println!("pools: skipped: {KUBECONFIG_ENV} is not set (the kubeconfig of a cluster)");
        return;
    };
    let rounds = mode.rounds(ROUNDS, QUICK_ROUNDS);
    let bench = Bench::new(kubeconfig);
    bench.wait_namespaces_not_terminating();

    let mut serve = Serve::start(bench.serve_command(), bench.dir.join("serve.stderr"));
    let ensured = serve.call(
        "pool.ensure",
        json!({"config": bench.warm_config, "companyId": COMPANY}),
    );
    assert_eq!(
        ensured["size"].as_u64(),
        Some(POOL_SIZE as u64),
        "pool.ensure: {ensured}"
    );
    assert_eq!(ensured["namespace"], bench.namespace.as_str(), "{ensured}");
    println!(
        "pools: pool {} of {POOL_SIZE} ensured; waiting until its pods are Ready (untimed)",
        ensured["pool"].as_str().unwrap_or("?")
    );
    bench.wait_unclaimed_ready(POOL_SIZE);
    println!("pools: one cold acquire and release (untimed), for the cold tenant's objects");
    bench.cold_sample(&mut serve);

    let mut series = Series::default();
    for round in 0..rounds {
        let warm_first = round % 2 == 0;
        let (warm, cold) = if warm_first {
            let warm = bench.warm_sample(&mut serve);
            (warm, bench.cold_sample(&mut serve))
        } else {
            let cold = bench.cold_sample(&mut serve);
            (bench.warm_sample(&mut serve), cold)
        };
        println!(
            "pools: round {}/{rounds} ({} first): warm {}{}, cold {}",
            round + 1,
            if warm_first { "warm" } else { "cold" },
            human(warm.took),
            if warm.warm { "" } else { " (fell back cold)" },
            human(cold)
        );
        series.push(warm, cold);
    }
    serve.stop();

    println!();
    println!("pools: {rounds} interleaved rounds; leasebox {BINARY}");
    series.print();
}

/// One timed acquire: how long it took and whether it claimed a pool pod.
#[derive(Debug, Clone, Copy)]
struct Sample {
    took: Duration,
    warm: bool,
}

/// The two series of a run.
#[derive(Default)]
struct Series {
    /// Warm acquires that claimed a pool pod.
    warm: Vec<Duration>,
    /// Warm acquires that answered `warm: false`.
    fell_back: Vec<Duration>,
    /// Every cold acquire.
    cold: Vec<Duration>,
    /// The cold acquire of each round whose warm one claimed, in the order
    /// of `warm`, for the paired ratios.
    cold_paired: Vec<Duration>,
}

impl Series {
    fn push(&mut self, warm: Sample, cold: Duration) {
        self.cold.push(cold);
        if warm.warm {
            self.warm.push(warm.took);
            self.cold_paired.push(cold);
        } else {
            self.fell_back.push(warm.took);
        }
    }

    /// The table (p50 and p99 of each side, the paired ratio, the
    /// target), then mean, min and max of each series and the fallbacks.
    fn print(&self) {
        println!(
            "{:<5} | {:<26} | {:<26} | {:<24} | {:<32} | met?",
            "id", "warm p50 / p99", "cold p50 / p99", "warm/cold [min–max]", "target (warm)"
        );
        println!("{}", "-".repeat(130));
        if self.warm.is_empty() {
            println!(
                "PW1   | no warm sample: all {} fell back cold",
                self.fell_back.len()
            );
        } else {
            let (p50, p99) = (percentile(&self.warm, 50.0), percentile(&self.warm, 99.0));
            let (ratio, low, high) = paired_ratios(&self.warm, &self.cold_paired);
            let met = p50 <= TARGET_P50 && p99 <= TARGET_P99;
            println!(
                "{:<5} | {:<26} | {:<26} | {:<24} | {:<32} | {}",
                "PW1",
                p50_p99(&self.warm),
                p50_p99(&self.cold),
                format!("{ratio:.3}x [{low:.3}–{high:.3}]"),
                format!("p50 <= {}, p99 <= {}", human(TARGET_P50), human(TARGET_P99)),
                if met { "yes" } else { "no" }
            );
        }
        println!();
        println!(
            "PW1: warm acquire through serve (pool claim) vs cold acquire (no warmPool), \
             one serve, interleaved; p99 by nearest rank"
        );
        println!("PW1 warm: {}", spread(&self.warm));
        println!("PW1 cold: {}", spread(&self.cold));
        let fallbacks: Vec<String> = self.fell_back.iter().map(|d| human(*d)).collect();
        println!(
            "PW1 fell back cold: {} of {} warm acquires{}",
            self.fell_back.len(),
            self.warm.len() + self.fell_back.len(),
            if fallbacks.is_empty() {
                String::new()
            } else {
                format!(" ({}; not in the warm series)", fallbacks.join(", "))
            }
        );
    }
}

/// `p50 / p99` of `samples`, or `-` when there are none.
fn p50_p99(samples: &[Duration]) -> String {
    if samples.is_empty() {
        return "-".into();
    }
    format!(
        "{} / {}",
        human(percentile(samples, 50.0)),
        human(percentile(samples, 99.0))
    )
}

/// Count, mean, min and max of `samples`.
fn spread(samples: &[Duration]) -> String {
    let (Some(min), Some(max)) = (samples.iter().min(), samples.iter().max()) else {
        return "no samples".into();
    };
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    format!(
        "{} samples, mean {}, min {}, max {}",
        samples.len(),
        human(mean),
        human(*min),
        human(*max)
    )
}

/// The run's files, the two configurations, kubectl (for the deletion at
/// the end) and a client of the bench's own to watch the pool.
struct Bench {
    tools: Tools,
    dir: PathBuf,
    /// `--settings` of serve: the fence, pools on.
    settings: PathBuf,
    warm_config: Value,
    cold_config: Value,
    namespace: String,
    cold_namespace: String,
    runtime: tokio::runtime::Runtime,
    client: kube::Client,
}

impl Bench {
    /// Writes the two configurations and the settings into a directory of
    /// the run's own and connects to the cluster.
    fn new(kubeconfig: PathBuf) -> Bench {
        let dir = std::env::temp_dir().join(format!("leasebox-bench-pools-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));

        // As serve takes it: in-cluster, so serve's own connection is used.
        let mut cold_config: Value = serde_json::from_str(BASE_CONFIG).expect("base.json is JSON");
        cold_config["namespacePrefix"] = json!(NAMESPACE_PREFIX);
        cold_config["backend"] = json!("pod");
        cold_config["inCluster"] = json!(true);
        if let Some(config) = cold_config.as_object_mut() {
            config.remove("kubeconfig");
        }
        // Small pods, so that the pool and the leases fit the node.
        cold_config["defaultResources"] = json!({
            "requests": { "cpu": "10m", "memory": "16Mi" },
            "limits": { "cpu": "100m", "memory": "64Mi" }
        });
        cold_config["quota"]["pods"] = json!(40);
        cold_config["quota"]["limitsCpu"] = json!("8");
        cold_config["quota"]["limitsMemory"] = json!("4Gi");
        let mut warm_config = cold_config.clone();
        warm_config["warmPool"] = json!({ "size": POOL_SIZE });
        for (name, config) in [("warm.json", &warm_config), ("cold.json", &cold_config)] {
            common::write(
                &dir.join(name),
                &serde_json::to_string_pretty(config).expect("JSON"),
            );
        }

        let settings = dir.join("pools-settings.yaml");
        // No background sweep in serve: its leader election would add API
        // calls (as in the other cluster benches).
        common::write(
            &settings,
            &format!(
                "fence:\n  namespacePrefix: {NAMESPACE_PREFIX}\npools:\n  maxPerTenant: \
                 {MAX_PER_TENANT}\n  maxTotal: {MAX_TOTAL}\nserve:\n  sweepIntervalSec: 0\n"
            ),
        );

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let client = runtime
            .block_on(connect(&kubeconfig))
            .unwrap_or_else(|e| panic!("{KUBECONFIG_ENV}: {e}"));
        let tools = Tools::new(kubeconfig, &dir, NAMESPACE_PREFIX);
        Bench {
            tools,
            dir,
            settings,
            warm_config,
            cold_config,
            namespace: format!("{NAMESPACE_PREFIX}{COMPANY}"),
            cold_namespace: format!("{NAMESPACE_PREFIX}{COLD_COMPANY}"),
            runtime,
            client,
        }
    }

    /// `leasebox serve --settings S --kubeconfig K` on stdio, with the
    /// benches' module cache.
    fn serve_command(&self) -> Command {
        let mut command = Command::new(BINARY);
        command
            .arg("serve")
            .arg("--settings")
            .arg(&self.settings)
            .arg("--kubeconfig")
            .arg(&self.tools.kubeconfig)
            .env("LEASEBOX_CACHE_DIR", &self.tools.cache)
            .env_remove("LEASEBOX_SETTINGS")
            .env_remove("LEASEBOX_LOG")
            .env_remove("LEASEBOX_LOG_LEVEL");
        command
    }

    /// Waits (untimed) until one unclaimed pool pod is Ready, then times
    /// an acquire of the warm configuration and releases its lease.
    fn warm_sample(&self, serve: &mut Serve) -> Sample {
        self.wait_unclaimed_ready(1);
        serve.acquire_and_release(&self.warm_config, COMPANY)
    }

    /// Times an acquire of the cold configuration and releases its lease.
    fn cold_sample(&self, serve: &mut Serve) -> Duration {
        let sample = serve.acquire_and_release(&self.cold_config, COLD_COMPANY);
        assert!(
            !sample.warm,
            "an acquire without warmPool answered warm: true"
        );
        sample.took
    }

    /// Polls until the tenant holds `count` Ready pool pods without a
    /// lease, for at most [`LIMIT`].
    fn wait_unclaimed_ready(&self, count: usize) {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.namespace);
        let unclaimed = ListParams::default().labels(&format!("{POOL_LABEL},!{LEASE_LABEL}"));
        let started = Instant::now();
        loop {
            let listed = self
                .runtime
                .block_on(pods.list(&unclaimed))
                .unwrap_or_else(|e| panic!("list the pool pods of {}: {e}", self.namespace));
            let ready = listed.items.iter().filter(|p| is_ready(p)).count();
            if ready >= count {
                return;
            }
            assert!(
                started.elapsed() < LIMIT,
                "{ready} of {count} pool pods Ready after {LIMIT:?}"
            );
            std::thread::sleep(READY_POLL);
        }
    }

    /// A namespace of an earlier run that is still being deleted would
    /// refuse new objects: wait for both to go.
    fn wait_namespaces_not_terminating(&self) {
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        let started = Instant::now();
        for namespace in [&self.namespace, &self.cold_namespace] {
            loop {
                let found = self
                    .runtime
                    .block_on(namespaces.get_opt(namespace))
                    .unwrap_or_else(|e| panic!("get namespace {namespace}: {e}"));
                match found {
                    Some(ns) if ns.metadata.deletion_timestamp.is_some() => {
                        assert!(
                            started.elapsed() < LIMIT,
                            "namespace {namespace} still terminating after {LIMIT:?}"
                        );
                        std::thread::sleep(Duration::from_secs(1));
                    }
                    _ => break,
                }
            }
        }
    }
}

impl Drop for Bench {
    /// Deletes the two tenant namespaces (the pool, and whatever a failed
    /// run left in them) and the run's files; after a failure the files
    /// stay, serve's log among them.
    fn drop(&mut self) {
        self.tools.delete_namespace(&self.namespace, "pools");
        self.tools.delete_namespace(&self.cold_namespace, "pools");
        if std::thread::panicking() {
            eprintln!("pools: the run's files stay in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Ready and not being deleted.
fn is_ready(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none()
        && pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

impl Serve {
    /// `acquire` of `config`, timed; then `release` of its lease, untimed.
    fn acquire_and_release(&mut self, config: &Value, company: &str) -> Sample {
        let (took, lease) =
            self.timed_call("acquire", json!({"config": config, "companyId": company}));
        let warm = lease["warm"]
            .as_bool()
            .unwrap_or_else(|| panic!("the lease has no `warm`: {lease}"));
        let id = lease["id"]
            .as_str()
            .unwrap_or_else(|| panic!("the lease has no `id`: {lease}"));
        self.call("release", json!({"leaseId": id}));
        Sample { took, warm }
    }
}
