//! The calls of contract 0.3.0 that a person uses by hand, against kubectl
//! on a real cluster, side by side in one run, in interleaved rounds:
//!
//! - S1, S2 (`sessions/copy.rs`): `leasebox cp` against `kubectl cp`, each
//!   way, of one 1 GiB file (S1) and of a tree of 10,000 files of 300
//!   bytes (S2); whole processes (wall clock, and the CPU time and peak
//!   RSS of `wait4`'s `rusage`); the side that goes first alternates from
//!   round to round.
//! - S3 (`sessions/keystrokes.rs`): the echo round trip of one keystroke
//!   through a terminal in the pod: `leasebox shell` and `kubectl exec -it
//!   -- sh`, each on a pseudo-terminal the bench opens (`sessions/pty.rs`),
//!   and `terminal.open` through one running `leasebox serve`; the first of
//!   the three rotates from round to round.
//!
//! All of it on one lease (pod backend, `busybox:k8s-real`, whose `tar`
//! `kubectl cp` needs), acquired untimed at the start.
//!
//! ```sh
//! LEASEBOX_BENCH_KUBECONFIG=/var/lib/k8s-real/kubeconfig/admin.kubeconfig \
//! LEASEBOX_BENCH_KUBECTL=kubectl \
//!   cargo bench -p leasebox --bench sessions   # -- --quick; -- --rounds N; -- --only copy|keys
//! ```
//!
//! Skipped, with a message, when `LEASEBOX_BENCH_KUBECONFIG` is not set.
//! The tenant namespace `leasebox-bench-sessions` is deleted at the end.

#[path = "common/mod.rs"]
mod common;
#[path = "sessions/copy.rs"]
mod copy;
#[path = "sessions/keystrokes.rs"]
mod keystrokes;
#[path = "sessions/pty.rs"]
mod pty;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::process::{LIMIT, run};
use common::table::{Row, print_table};
use common::tenant::{BINARY, KUBECONFIG_ENV, Lease, Tools};
use serde_json::Value;

/// The configuration of the e2e suite (pod backend, `busybox:k8s-real`).
const BASE_CONFIG: &str = include_str!("../../tests/e2e/configs/base.json");
const NAMESPACE_PREFIX: &str = "leasebox-bench-";
const COMPANY: &str = "sessions";
const AGENT_CONTAINER: &str = "agent";
/// The workspace volume's cap: both sides' copies of the GiB at once,
/// with room (base.json's 256 MiB would evict the pod).
const WORKSPACE_SIZE: &str = "4Gi";

const ROUNDS: usize = 5;
const QUICK_ROUNDS: usize = 2;
/// Keystrokes per session (one session per terminal per round).
const KEYSTROKES: usize = 40;
const QUICK_KEYSTROKES: usize = 10;

fn main() {
    let Some(mode) = common::mode("sessions") else {
        return;
    };
    let Some(kubeconfig) = std::env::var_os(KUBECONFIG_ENV).map(PathBuf::from) else {
        println!("sessions: skipped: {KUBECONFIG_ENV} is not set (the kubeconfig of a cluster)");
        return;
    };
    let rounds = mode.rounds(ROUNDS, QUICK_ROUNDS);
    let keys = match mode {
        common::Mode::Full => KEYSTROKES,
        common::Mode::Quick => QUICK_KEYSTROKES,
    };
    let only = only_flag();
    let bench = Bench::new(kubeconfig);

    let mut rows = Vec::new();
    if only.as_deref() != Some("keys") {
        println!(
            "sessions: writing the sources (1 GiB file, {} files)",
            10_000
        );
        let sources = copy::Sources::make(&bench.dir);
        let mut copies = copy::Series::default();
        for round in 0..rounds {
            let leasebox_first = round % 2 == 0;
            println!(
                "sessions: copy round {}/{rounds} ({} first)",
                round + 1,
                if leasebox_first {
                    "leasebox"
                } else {
                    "kubectl"
                }
            );
            copies.round(&bench, &sources, leasebox_first, round == 0);
        }
        rows.extend(copies.rows());
        println!();
        copies.print_costs();
    }
    if only.as_deref() != Some("copy") {
        let mut serve = keystrokes::Serve::start(&bench);
        let mut series = keystrokes::Series::default();
        for round in 0..rounds {
            println!("sessions: keystroke round {}/{rounds}", round + 1);
            series.round(&bench, &mut serve, round, keys);
        }
        serve.stop();
        rows.extend(series.rows());
        println!();
        series.print_rounds();
    }
    println!();
    println!("sessions: {rounds} interleaved rounds; leasebox {BINARY}");
    print_table(&rows);
}

/// `--only copy` or `--only keys`, if given.
fn only_flag() -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let at = args.iter().position(|a| a == "--only")?;
    match args.get(at + 1).map(String::as_str) {
        Some(which @ ("copy" | "keys")) => Some(which.to_string()),
        _ => panic!("--only takes `copy` or `keys`"),
    }
}

/// The run's files, the two programs, and the lease everything runs in.
struct Bench {
    tools: Tools,
    dir: PathBuf,
    namespace: String,
    lease: Lease,
}

impl Bench {
    /// Writes the configuration and settings, waits for a namespace of an
    /// earlier run to be gone, and acquires the lease (untimed), with one
    /// untimed `kubectl exec` into its pod.
    fn new(kubeconfig: PathBuf) -> Bench {
        let dir =
            std::env::temp_dir().join(format!("leasebox-bench-sessions-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let mut config: Value = serde_json::from_str(BASE_CONFIG).expect("base.json is JSON");
        config["kubeconfig"] = Value::String(kubeconfig.display().to_string());
        config["namespacePrefix"] = Value::String(NAMESPACE_PREFIX.into());
        config["workspace"]["sizeLimit"] = Value::String(WORKSPACE_SIZE.into());
        let config_path = dir.join("config.json");
        common::write(
            &config_path,
            &serde_json::to_string_pretty(&config).expect("JSON"),
        );
        let tools = Tools::new(kubeconfig, &dir, NAMESPACE_PREFIX);
        let namespace = format!("{NAMESPACE_PREFIX}{COMPANY}");
        wait_namespace_gone(&tools, &namespace);
        let config = config_path.display().to_string();
        println!("sessions: acquiring the lease (untimed)");
        let (_, stdout) = run(tools.leasebox(&[
            "acquire",
            "--config",
            &config,
            "--company-id",
            COMPANY,
            "--run-id",
            "bench-sessions",
        ]));
        let lease = Lease::from_acquire(&stdout);
        let bench = Bench {
            tools,
            dir,
            namespace,
            lease,
        };
        bench.in_pod("true");
        bench
    }
}

impl Drop for Bench {
    /// Releases the lease, deletes the tenant namespace and the run's
    /// files.
    fn drop(&mut self) {
        let released = self
            .tools
            .leasebox(&[
                "release",
                "--lease",
                &self.lease.id,
                "--namespace",
                &self.lease.namespace,
            ])
            .output();
        if !released.is_ok_and(|o| o.status.success()) {
            eprintln!("sessions: could not release {}", self.lease.id);
        }
        self.tools.delete_namespace(&self.namespace, "sessions");
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A namespace of an earlier run that is still being deleted would refuse
/// new objects: waits until `namespace` is not terminating.
fn wait_namespace_gone(tools: &Tools, namespace: &str) {
    let started = Instant::now();
    loop {
        let (_, phase) = run(tools.kubectl(&[
            "get",
            "namespace",
            namespace,
            "--ignore-not-found",
            "-o",
            "jsonpath={.status.phase}",
        ]));
        if phase.trim() != "Terminating" {
            return;
        }
        assert!(
            started.elapsed() < LIMIT,
            "namespace {namespace} still terminating after {LIMIT:?}"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}
