//! P6 on the real single node: one `leasebox serve` process (the binary
//! built with this bench) on its stdin/stdout, acquiring pod leases over
//! several tenants with [`IN_FLIGHT`] in flight, until it holds all of
//! them; then releasing them all.
//!
//! What is measured: acquire latency from request line to answer line,
//! split by the pod's own timestamps into the phases of the node and of
//! leasebox; the heap serve holds (its `leasebox_heap_in_use_bytes`
//! metric) with every lease held against before, per lease (its resident
//! set is printed too, but it keeps what the calls in flight freed); and
//! the watches it has open (`leasebox_watches_open`, scraped every 100 ms
//! while calls are in flight, and once every lease is held); and which
//! pods the kubelet started only on a later try because it could not read
//! their Secret in time (its events); and the rate at which the node's
//! kubelet may call the API server (its `configz`), which paces both of the
//! node's phases of an acquire.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

use super::client::{Answer, Client};
use super::{FleetRun, IN_FLIGHT, Phases, common, config};

/// The binary cargo built with this bench, in the same profile.
const BINARY: &str = env!("CARGO_BIN_EXE_leasebox");

/// The kinds an acquire of a pod lease waits on (its pod).
const KINDS_WATCHED: usize = 1;

/// What the kubelet's event says when it gave up waiting for a pod's
/// Secret.
const SECRET_SYNC_FAILED: &str = "failed to sync secret cache";

/// Longest wait for the namespaces of an earlier run to go.
const NAMESPACE_LIMIT: Duration = Duration::from_secs(300);

pub struct Cluster {
    pub kubeconfig: PathBuf,
    pub kubectl: PathBuf,
}

/// Runs `leases` acquires over `tenants` companies after one untimed
/// acquire per company, then releases every lease.
pub fn run(cluster: &Cluster, leases: usize, tenants: usize) -> FleetRun {
    let dir = std::env::temp_dir().join(format!("leasebox-bench-fleet-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    let namespaces: Vec<String> = (0..tenants)
        .map(|t| format!("{}{}", super::NAMESPACE_PREFIX, company(t)))
        .collect();
    let cleanup = Cleanup {
        cluster,
        namespaces: namespaces.clone(),
        dir: dir.clone(),
    };
    cleanup.wait_gone();

    let settings = dir.join("settings.yaml");
    common::write(
        &settings,
        &format!(
            "fence:\n  namespacePrefix: {}\ncluster:\n  kubeconfig: {}\nserve:\n  sweepIntervalSec: 0\n",
            super::NAMESPACE_PREFIX,
            cluster.kubeconfig.display()
        ),
    );
    let port = free_port();
    let mut serve = Command::new(BINARY)
        .args(["serve", "--metrics-addr", &format!("127.0.0.1:{port}")])
        .env("LEASEBOX_SETTINGS", &settings)
        .env("KUBECONFIG", &cluster.kubeconfig)
        .env(
            "LEASEBOX_CACHE_DIR",
            std::env::temp_dir().join("leasebox-bench-cache"),
        )
        .env_remove("LEASEBOX_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.join("serve.stderr")).expect("the serve log"))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {BINARY} serve: {e}"));
    let pid = serve.id();
    let mut client = Client::new(
        Box::new(serve.stdin.take().expect("piped")),
        Box::new(serve.stdout.take().expect("piped")) as Box<dyn Read + Send>,
    );
    client.call("health", json!({}));

    println!("fleet: cluster: warm-up, one lease per tenant ({tenants})");
    let config = config(Some(&cluster.kubeconfig));
    let warm: Vec<Value> = (0..tenants).map(|t| acquire_params(&config, t)).collect();
    let mut held: Vec<Value> = client
        .calls("acquire", warm, IN_FLIGHT, &mut || {})
        .into_iter()
        .map(|a| a.result)
        .collect();
    // Settle: whatever the warm-up started is done before the baseline.
    std::thread::sleep(Duration::from_secs(2));
    let (heap_before, rss_before) = (heap_in_use(port), rss_of(pid).expect("serve's VmRSS"));

    println!("fleet: cluster: {leases} acquires, {IN_FLIGHT} in flight");
    let mut peak_watches = 0;
    let params: Vec<Value> = (0..leases)
        .map(|i| acquire_params(&config, i % tenants))
        .collect();
    let timed = client.calls("acquire", params, IN_FLIGHT, &mut || {
        if let Some(open) = metric(port, "leasebox_watches_open") {
            peak_watches = peak_watches.max(open);
        }
    });
    held.extend(timed.iter().map(|a| a.result.clone()));
    let (heap_after, rss_after) = (heap_in_use(port), rss_of(pid).expect("serve's VmRSS"));
    let held_watches = metric(port, "leasebox_watches_open").expect("serve's metrics answer");
    super::client::assert_one_namespace_per_tenant(&timed, tenants);
    let phases = cleanup.phases(&timed);

    println!("fleet: cluster: releasing {} leases", held.len());
    let releases: Vec<Value> = held
        .iter()
        .map(|lease| json!({"leaseId": lease["id"], "namespace": lease["namespace"]}))
        .collect();
    client.calls("release", releases, IN_FLIGHT, &mut || {});
    drop(client);
    let status = serve.wait().expect("wait for serve");
    assert!(status.success(), "serve ended with {status}");

    FleetRun {
        leases,
        tenants,
        latencies: timed.iter().map(|a| a.took).collect(),
        bytes_per_lease: (heap_after as f64 - heap_before as f64) / leases as f64,
        memory_note: format!(
            "serve's heap in use {:.1} -> {:.1} MiB; its VmRSS {:.1} -> {:.1} MiB ({:.1} KiB per \
             lease, with what {IN_FLIGHT} calls at once left for reuse)",
            heap_before as f64 / MIB,
            heap_after as f64 / MIB,
            rss_before as f64 / MIB,
            rss_after as f64 / MIB,
            (rss_after as f64 - rss_before as f64) / leases as f64 / 1024.0,
        ),
        peak_watches: [(
            format!("all kinds ({KINDS_WATCHED} watched per namespace)"),
            peak_watches,
        )]
        .into(),
        held_watches: [(
            format!("all kinds ({KINDS_WATCHED} watched per namespace)"),
            held_watches,
        )]
        .into(),
        phases: Some(phases),
        in_cluster: None,
    }
}

const MIB: f64 = 1024.0 * 1024.0;

fn company(tenant: usize) -> String {
    format!("fleet-{tenant}")
}

fn acquire_params(config: &Value, tenant: usize) -> Value {
    json!({"config": config, "companyId": company(tenant)})
}

/// A port nobody listens on now.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("its address").port()
}

/// serve's heap in use (`leasebox_heap_in_use_bytes`).
fn heap_in_use(port: u16) -> usize {
    metric(port, "leasebox_heap_in_use_bytes")
        .expect("serve reports its heap in use (a glibc build)")
}

/// The gauge `name` from serve's metrics; none when it does not answer
/// (yet) or has no such gauge.
fn metric(port: u16, name: &str) -> Option<usize> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .ok()?;
    BufReader::new(stream)
        .lines()
        .map_while(Result::ok)
        .find_map(|line| {
            line.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix(' '))
                .and_then(|n| n.trim().parse().ok())
        })
}

/// The resident set of process `pid` now (`VmRSS`), bytes.
fn rss_of(pid: u32) -> Option<u64> {
    common::proc_status_bytes(pid, "VmRSS")
}

/// The stdout of `command` (`what`), or a panic with its stderr when it
/// could not run or failed.
fn stdout_of(command: &mut Command, what: &str) -> Vec<u8> {
    try_stdout_of(command, what).unwrap_or_else(|e| panic!("{e}"))
}

/// The stdout of `command` (`what`), or its stderr when it could not run
/// or failed.
fn try_stdout_of(command: &mut Command, what: &str) -> Result<Vec<u8>, String> {
    let output = command
        .output()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{what}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(output.stdout)
}

/// Deletes the run's tenant namespaces (with whatever a failed run left in
/// them) and its files, at the end however it ends.
struct Cleanup<'a> {
    cluster: &'a Cluster,
    namespaces: Vec<String>,
    dir: PathBuf,
}

impl Cleanup<'_> {
    fn kubectl(&self) -> Command {
        let mut command = Command::new(&self.cluster.kubectl);
        command.arg("--kubeconfig").arg(&self.cluster.kubeconfig);
        command
    }

    /// Waits until no namespace of the run exists (an earlier run's may
    /// still be terminating, and would refuse new objects).
    fn wait_gone(&self) {
        let started = Instant::now();
        loop {
            let listed = stdout_of(
                self.kubectl()
                    .args(["get", "namespaces", "--ignore-not-found", "-o", "name"])
                    .args(&self.namespaces),
                "kubectl get namespaces",
            );
            if listed.iter().all(u8::is_ascii_whitespace) {
                return;
            }
            if started.elapsed() < Duration::from_secs(1) {
                // Left by an earlier run: delete them now.
                self.delete();
            }
            assert!(
                started.elapsed() < NAMESPACE_LIMIT,
                "the namespaces {:?} are still there after {NAMESPACE_LIMIT:?}",
                self.namespaces
            );
            std::thread::sleep(Duration::from_secs(1));
        }
    }

    /// Where the time of each acquire in `answers` went, by the
    /// cluster's own timestamps of its pod (whole seconds, so each phase
    /// is within a second either way): from the request to the pod's
    /// creation, from there to its Ready condition (the node's part), from
    /// there to the kubelet's write of that status (its `managedFields`
    /// time: the kubelet's own queue of API writes), and from there to the
    /// answer (the watch, leasebox's answer).
    fn phases(&self, answers: &[Answer]) -> Phases {
        let listed = stdout_of(
            self.kubectl()
                .args(["get", "pods", "--all-namespaces", "-o", "json"]),
            "kubectl get pods",
        );
        let list: Value = serde_json::from_slice(&listed).expect("kubectl prints JSON");
        let mut pods: HashMap<(&str, &str), &Value> = HashMap::new();
        for pod in list["items"].as_array().expect("a list has items") {
            let meta = &pod["metadata"];
            let key = (
                meta["namespace"].as_str().unwrap_or(""),
                meta["name"].as_str().unwrap_or(""),
            );
            pods.insert(key, pod);
        }
        let at = |text: &str| -> SystemTime {
            let seconds = text
                .parse::<jiff::Timestamp>()
                .unwrap_or_else(|e| panic!("a timestamp {text:?}: {e}"))
                .as_second();
            SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(seconds).unwrap_or(0))
        };
        let between =
            |from: SystemTime, to: SystemTime| to.duration_since(from).unwrap_or_default();
        let retried = self.secret_sync_failures();
        let mut phases = Phases {
            kubelet_api_rate: self.kubelet_api_rate(),
            ..Phases::default()
        };
        for answer in answers {
            let text = |key: &str| answer.result[key].as_str().expect("a lease names its pod");
            let key = (text("namespace"), text("pod"));
            let pod = pods
                .get(&key)
                .unwrap_or_else(|| panic!("the pod {key:?} of a held lease is not listed"));
            let created = at(pod["metadata"]["creationTimestamp"]
                .as_str()
                .expect("a creation time"));
            let ready = pod["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["type"] == "Ready" && c["status"] == "True")
                .and_then(|c| c["lastTransitionTime"].as_str())
                .map(at)
                .unwrap_or_else(|| panic!("the pod {key:?} of a held lease is not Ready"));
            // The kubelet's last write of the pod's status, as the API
            // server stamped it: when Ready became visible to watchers.
            let written = pod["metadata"]["managedFields"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|f| f["manager"] == "kubelet")
                .filter_map(|f| f["time"].as_str().map(at))
                .max()
                .unwrap_or(ready);
            phases
                .secret_retried
                .push(retried.contains(&(key.0.to_string(), key.1.to_string())));
            phases.before_pod.push(between(answer.sent, created));
            phases.node.push(between(created, ready));
            phases.status_written.push(between(ready, written));
            phases
                .after_written
                .push(between(written, answer.sent + answer.took));
        }
        phases
    }

    /// The pods of the run whose kubelet reported that it could not read
    /// their Secret in time: its event `Failed`, "failed to sync secret
    /// cache". The kubelet's first read of a new pod's Secret can be
    /// refused (the API server's node authorizer has not yet linked the
    /// pod to its node) or wait in the kubelet's own rate limiter; after a
    /// second it fails the pod's start and retries it 10-15 s later.
    fn secret_sync_failures(&self) -> HashSet<(String, String)> {
        let listed = stdout_of(
            self.kubectl().args([
                "get",
                "events",
                "--all-namespaces",
                "--field-selector",
                "reason=Failed,involvedObject.kind=Pod",
                "-o",
                "json",
            ]),
            "kubectl get events",
        );
        let list: Value = serde_json::from_slice(&listed).expect("kubectl prints JSON");
        list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|event| {
                event["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(SECRET_SYNC_FAILED))
            })
            .filter_map(|event| {
                let object = &event["involvedObject"];
                let namespace = object["namespace"].as_str()?;
                let name = object["name"].as_str()?;
                self.namespaces
                    .iter()
                    .any(|n| n == namespace)
                    .then(|| (namespace.to_string(), name.to_string()))
            })
            .collect()
    }

    /// Each node's `kubeAPIQPS` and `kubeAPIBurst`, read from its kubelet's
    /// `configz` through the API server; what could not be read is said in
    /// place of the figures, since the run's figures stand without them.
    fn kubelet_api_rate(&self) -> String {
        let listed = try_stdout_of(
            self.kubectl().args(["get", "nodes", "-o", "name"]),
            "kubectl get nodes",
        );
        let nodes = match listed {
            Ok(nodes) => nodes,
            Err(e) => return format!("unknown ({e})"),
        };
        let mut rates = Vec::new();
        for node in String::from_utf8_lossy(&nodes).lines() {
            let Some(name) = node.trim().strip_prefix("node/") else {
                continue;
            };
            let path = format!("/api/v1/nodes/{name}/proxy/configz");
            let rate = try_stdout_of(
                self.kubectl().args(["get", "--raw", &path]),
                "kubectl get --raw",
            )
            .and_then(|text| {
                serde_json::from_slice::<Value>(&text).map_err(|e| format!("not JSON: {e}"))
            })
            .map(|configz| {
                let config = &configz["kubeletconfig"];
                format!(
                    "kubeAPIQPS {}, kubeAPIBurst {}",
                    config["kubeAPIQPS"], config["kubeAPIBurst"]
                )
            })
            .unwrap_or_else(|e| format!("unknown ({path}: {e})"));
            rates.push(format!("node {name}: {rate}"));
        }
        if rates.is_empty() {
            return "unknown (no nodes listed)".to_string();
        }
        rates.join("; ")
    }

    fn delete(&self) {
        let deleted = self
            .kubectl()
            .args(["delete", "namespace", "--ignore-not-found", "--wait=false"])
            .args(&self.namespaces)
            .stdout(Stdio::null())
            .status();
        if !deleted.is_ok_and(|s| s.success()) {
            eprintln!(
                "fleet: could not delete the namespaces {:?}; delete them by hand",
                self.namespaces
            );
        }
    }
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        self.delete();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
