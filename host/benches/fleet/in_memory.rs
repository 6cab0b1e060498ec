//! P6 against the in-memory cluster: one `serve` (the crate's `Server`,
//! on a pipe in this process, the built-in module, the operator's default
//! settings) over the tests' in-memory cluster, which plays a kubelet that
//! makes every pod ready the moment it is written.
//!
//! What is measured: acquire latency from request line to answer line
//! with [`IN_FLIGHT`] in flight; the host's live heap per lease held
//! (the [`attributed_alloc`](super::attributed_alloc) counts, so the fake's
//! own store is left out); and the watches open per namespace and kind,
//! at their peak and once every lease is held.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use leasebox::cluster_io::{
    CallerIo, ClusterIo, DeleteOptions, ExecSpec, ExecStatus, ExecStream, HostSecretRequest,
    KubeError, LogFollow, LogsRequest, ObjectRef, OutputStream, WatchEvent, WatchRequest,
    WatchStream,
};
use leasebox::grants::Grants;
use leasebox::runtime::{Pool, Runtime};
use leasebox::serve::Server;
use leasebox::serve::slot::{PolicySlot, SlotParts};
use leasebox::settings::HostSettings;
use serde_json::{Value, json};

use super::attributed_alloc::{self, Party, Scope};
use super::client::Client;
use super::in_memory_cluster::InMemoryCluster;
use super::{FleetRun, IN_FLIGHT, config};

/// Long enough for call threads that have answered to end.
const THREADS_END: Duration = Duration::from_millis(500);

/// Instances in the module pool (as `serve` has).
const POOL_INSTANCES: u32 = 1000;

/// Runs `leases` acquires over `tenants` companies, [`IN_FLIGHT`] at once,
/// after one untimed acquire per company (the tenant objects, the pool's
/// first instances).
pub fn run(leases: usize, tenants: usize) -> FleetRun {
    attributed_alloc::self_check();
    let cluster = Arc::new(Kubelet::new());
    let settings = HostSettings::default();
    let runtime = Runtime::pooled(Pool {
        instances: POOL_INSTANCES,
        memory_cap_bytes: settings.guest.memory_cap_bytes,
    })
    .expect("the pooling allocator is available");
    let slot = PolicySlot::new(SlotParts {
        runtime,
        path: None,
        smoke_config: None,
        cluster: Some(cluster.clone() as Arc<dyn ClusterIo>),
        grants: Arc::new(Grants::from_settings(&settings)),
        audit_sink: Arc::new(|line| eprintln!("fleet: guard: {line}")),
    })
    .expect("the built-in module serves");
    let server = Arc::new(Server {
        slot,
        settings,
        calls: Default::default(),
        metrics: Default::default(),
        sweep: Default::default(),
        kube: None,
    });
    let (requests_in, requests_out) = std::io::pipe().expect("a pipe");
    let (answers_in, answers_out) = std::io::pipe().expect("a pipe");
    let serving = {
        let server = server.clone();
        std::thread::spawn(move || {
            leasebox::serve::connection::serve(
                server,
                Box::new(requests_in) as Box<dyn Read + Send>,
                Box::new(answers_out) as Box<dyn Write + Send>,
            );
        })
    };
    // From here on this thread is the bench's client.
    let _client = Scope::enter(Party::Bench);
    let mut client = Client::new(Box::new(requests_out), Box::new(answers_in));

    let warm: Vec<Value> = (0..tenants).map(acquire_params).collect();
    client.calls("acquire", warm, IN_FLIGHT, &mut || {});
    let before = live_bytes();
    cluster.watches.reset_peak();
    // The warm-up's call threads hand their times over as they end.
    std::thread::sleep(THREADS_END);
    lock(&CLUSTER_TIMES).clear();

    let params: Vec<Value> = (0..leases).map(|i| acquire_params(i % tenants)).collect();
    let answers = client.calls("acquire", params, IN_FLIGHT, &mut || {});
    let after = live_bytes();
    std::thread::sleep(THREADS_END);
    let by_pod: HashMap<String, Duration> = std::mem::take(&mut *lock(&CLUSTER_TIMES))
        .into_iter()
        .filter_map(|(pod, took)| Some((pod?, took)))
        .collect();
    let in_cluster: Vec<(Duration, Duration)> = answers
        .iter()
        .map(|a| {
            let pod = a.result["pod"].as_str().expect("a lease names its pod");
            let inside = *by_pod
                .get(pod)
                .unwrap_or_else(|| panic!("no time inside the cluster for pod {pod}"));
            (inside, a.took.saturating_sub(inside))
        })
        .collect();
    let namespaces: std::collections::BTreeSet<&str> = answers
        .iter()
        .map(|a| {
            a.result["namespace"]
                .as_str()
                .expect("a lease has a namespace")
        })
        .collect();
    assert_eq!(namespaces.len(), tenants, "one namespace per company");

    let run = FleetRun {
        leases,
        tenants,
        latencies: answers.iter().map(|a| a.took).collect(),
        bytes_per_lease: (after[0] - before[0]) as f64 / leases as f64,
        memory_note: format!(
            "live heap, bytes: the host's {} -> {}; not counted: the in-memory cluster's {} -> {}, \
             the client's {} -> {}",
            before[0], after[0], before[1], after[1], before[2], after[2]
        ),
        peak_watches: cluster.watches.peak(),
        held_watches: cluster.watches.open(),
        phases: None,
        in_cluster: Some(in_cluster),
    };
    drop(client);
    serving
        .join()
        .expect("the connection ends when its input closes");
    run
}

/// Live heap of the host, the cluster and the client.
fn live_bytes() -> [i64; 3] {
    [Party::Host, Party::Cluster, Party::Bench].map(attributed_alloc::live)
}

fn acquire_params(tenant: usize) -> Value {
    json!({"config": config(None), "companyId": format!("fleet-{tenant}")})
}

/// Each finished call thread's pod and time inside the in-memory cluster
/// (serve runs each call on a thread of its own, so a thread's total is
/// its call's).
static CLUSTER_TIMES: Mutex<Vec<(Option<String>, Duration)>> = Mutex::new(Vec::new());

/// This thread's time inside the in-memory cluster so far, and the pod it
/// wrote; handed to [`CLUSTER_TIMES`] when the thread ends.
struct ClusterTime {
    took: Cell<Duration>,
    pod: RefCell<Option<String>>,
}

impl Drop for ClusterTime {
    fn drop(&mut self) {
        let _bench = Scope::enter(Party::Bench);
        let entry = (self.pod.take(), self.took.get());
        lock(&CLUSTER_TIMES).push(entry);
    }
}

thread_local! {
    static CLUSTER_TIME: ClusterTime = const {
        ClusterTime {
            took: Cell::new(Duration::ZERO),
            pod: RefCell::new(None),
        }
    };
}

/// Runs `call` as the cluster: its allocations are the cluster's and its
/// time is added to this thread's [`CLUSTER_TIME`].
fn in_cluster<R>(call: impl FnOnce() -> R) -> R {
    let _cluster = Scope::enter(Party::Cluster);
    let started = std::time::Instant::now();
    let result = call();
    let took = started.elapsed();
    let _ = CLUSTER_TIME.try_with(|t| t.took.set(t.took.get() + took));
    result
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Watches open per (namespace, kind), and the peak of each.
#[derive(Default)]
pub struct WatchCount {
    counts: Mutex<HashMap<(String, String), (usize, usize)>>,
}

impl WatchCount {
    fn opened(&self, key: &(String, String)) {
        let mut counts = lock(&self.counts);
        let (open, peak) = counts.entry(key.clone()).or_default();
        *open += 1;
        *peak = (*peak).max(*open);
    }

    fn closed(&self, key: &(String, String)) {
        if let Some((open, _)) = lock(&self.counts).get_mut(key) {
            *open -= 1;
        }
    }

    fn reset_peak(&self) {
        for (open, peak) in lock(&self.counts).values_mut() {
            *peak = *open;
        }
    }

    /// The most watches any one namespace and kind had open at once.
    fn peak(&self) -> BTreeMap<String, usize> {
        by_kind(&lock(&self.counts), |(_, peak)| *peak)
    }

    /// The most watches any one namespace and kind has open now.
    fn open(&self) -> BTreeMap<String, usize> {
        by_kind(&lock(&self.counts), |(open, _)| *open)
    }
}

/// Per kind, the largest value over its namespaces.
fn by_kind(
    counts: &HashMap<(String, String), (usize, usize)>,
    value: impl Fn(&(usize, usize)) -> usize,
) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for ((_, kind), entry) in counts {
        let largest: &mut usize = out.entry(kind.clone()).or_default();
        *largest = (*largest).max(value(entry));
    }
    out
}

/// The in-memory cluster with a kubelet: a pod written to it is ready at
/// once (its ready status is queued for the first watch that asks). Calls
/// into the fake run as the cluster for the allocator, and watches are
/// counted.
struct Kubelet {
    fake: InMemoryCluster,
    watches: Arc<WatchCount>,
}

impl Kubelet {
    fn new() -> Kubelet {
        Kubelet {
            fake: InMemoryCluster::new(HashMap::new()),
            watches: Arc::default(),
        }
    }

    /// Queues the ready status of `manifest` when it is a Pod.
    fn ready_if_pod(&self, manifest: &str) {
        let Ok(pod) = serde_json::from_str::<Value>(manifest) else {
            return;
        };
        if pod["kind"] != "Pod" {
            return;
        }
        if let Some(name) = pod["metadata"]["name"].as_str() {
            let _ = CLUSTER_TIME.try_with(|t| *t.pod.borrow_mut() = Some(name.to_string()));
        }
        let containers: Vec<Value> = pod["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                json!({
                    "name": c["name"],
                    "image": c["image"],
                    "ready": true,
                    "started": true,
                    "state": {"running": {"startedAt": "2025-01-02T03:04:06Z"}},
                })
            })
            .collect();
        self.fake.script_watch_event(
            "Pod",
            leasebox_policy::cluster::EventType::Modified,
            json!({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": pod["metadata"]["name"],
                    "namespace": pod["metadata"]["namespace"],
                },
                "status": {
                    "phase": "Running",
                    "conditions": [
                        {"type": "PodScheduled", "status": "True"},
                        {"type": "ContainersReady", "status": "True"},
                        {"type": "Ready", "status": "True"},
                    ],
                    "containerStatuses": containers,
                },
            }),
        );
    }
}

impl ClusterIo for Kubelet {
    fn apply(&self, manifest: &str) -> Result<String, KubeError> {
        in_cluster(|| {
            let applied = self.fake.apply(manifest)?;
            self.ready_if_pod(manifest);
            Ok(applied)
        })
    }

    fn create(&self, manifest: &str) -> Result<String, KubeError> {
        in_cluster(|| {
            let created = self.fake.create(manifest)?;
            self.ready_if_pod(manifest);
            Ok(created)
        })
    }

    fn server_version(&self) -> Result<String, KubeError> {
        in_cluster(|| self.fake.server_version())
    }

    fn get(&self, target: &ObjectRef) -> Result<Option<String>, KubeError> {
        in_cluster(|| self.fake.get(target))
    }

    fn list(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        label_selector: &str,
    ) -> Result<Vec<String>, KubeError> {
        in_cluster(|| self.fake.list(api_version, kind, namespace, label_selector))
    }

    fn delete(&self, target: &ObjectRef, options: &DeleteOptions) -> Result<bool, KubeError> {
        in_cluster(|| self.fake.delete(target, options))
    }

    fn watch(&self, request: &WatchRequest) -> Result<Box<dyn WatchStream>, KubeError> {
        let inner = in_cluster(|| self.fake.watch(request))?;
        let key = (request.namespace.clone(), request.kind.clone());
        self.watches.opened(&key);
        Ok(Box::new(CountedWatch {
            inner,
            key,
            count: self.watches.clone(),
        }))
    }

    fn exec(&self, spec: &ExecSpec, caller: &CallerIo) -> Result<Box<dyn ExecStream>, KubeError> {
        let inner = in_cluster(|| self.fake.exec(spec, caller))?;
        Ok(Box::new(ClusterExec { inner }))
    }

    fn logs(
        &self,
        request: &LogsRequest,
        caller: &CallerIo,
    ) -> Result<Box<dyn LogFollow>, KubeError> {
        let inner = in_cluster(|| self.fake.logs(request, caller))?;
        Ok(Box::new(ClusterLogs { inner }))
    }

    fn apply_host_secret(
        &self,
        request: &HostSecretRequest,
    ) -> Result<(String, Vec<String>), KubeError> {
        in_cluster(|| self.fake.apply_host_secret(request))
    }
}

/// A watch of the fake, counted while it is open.
struct CountedWatch {
    inner: Box<dyn WatchStream>,
    key: (String, String),
    count: Arc<WatchCount>,
}

impl WatchStream for CountedWatch {
    fn next(&mut self, timeout: Duration) -> Result<Option<WatchEvent>, KubeError> {
        in_cluster(|| self.inner.next(timeout))
    }
}

impl Drop for CountedWatch {
    fn drop(&mut self) {
        self.count.closed(&self.key);
    }
}

/// An exec session of the fake, its calls run as the cluster.
struct ClusterExec {
    inner: Box<dyn ExecStream>,
}

impl ExecStream for ClusterExec {
    fn write_stdin(&mut self, data: &[u8]) -> Result<(), KubeError> {
        in_cluster(|| self.inner.write_stdin(data))
    }

    fn close_stdin(&mut self) -> Result<(), KubeError> {
        in_cluster(|| self.inner.close_stdin())
    }

    fn read(&mut self, timeout: Duration) -> Result<Option<(OutputStream, Vec<u8>)>, KubeError> {
        in_cluster(|| self.inner.read(timeout))
    }

    fn wait(&mut self, timeout: Duration) -> Result<Option<ExecStatus>, KubeError> {
        in_cluster(|| self.inner.wait(timeout))
    }

    fn kill(&mut self) -> Result<(), KubeError> {
        in_cluster(|| self.inner.kill())
    }
}

/// A log stream of the fake, its calls run as the cluster.
struct ClusterLogs {
    inner: Box<dyn LogFollow>,
}

impl LogFollow for ClusterLogs {
    fn read(&mut self, timeout: Duration) -> Result<Option<Vec<u8>>, KubeError> {
        in_cluster(|| self.inner.read(timeout))
    }

    fn wait_end(&mut self, timeout: Duration) -> Result<bool, KubeError> {
        in_cluster(|| self.inner.wait_end(timeout))
    }
}
