//! The fleet's in-memory cluster: the tests' in-memory cluster with a
//! kubelet that makes every pod ready the moment it is written, and the
//! bench's instruments around it: calls into it run as the cluster for
//! the allocator (`attributed_alloc`), each serve call thread's time
//! inside it is kept, and its watches are counted per namespace and kind.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use leasebox::cluster::io::{CallerIo, ClusterIo};
use leasebox::cluster::manifest::Manifest;
use leasebox::contract::{
    DeleteOptions, ExecSpec, ExecStatus, ExecStream, HandOverRequest, HostSecretRequest, KubeError,
    LogFollow, LogsRequest, ObjectRef, OutputStream, WatchEvent, WatchRequest, WatchStream,
};
use serde_json::Value;

use super::attributed_alloc::{Party, Scope};
use super::in_memory_cluster::{InMemoryCluster, lock};

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

/// Takes the times kept so far: (the pod the call wrote, its time inside
/// the cluster), one per call thread that has ended.
pub fn take_cluster_times() -> Vec<(Option<String>, Duration)> {
    std::mem::take(&mut *lock(&CLUSTER_TIMES))
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

    pub fn reset_peak(&self) {
        for (open, peak) in lock(&self.counts).values_mut() {
            *peak = *open;
        }
    }

    /// The most watches any one namespace and kind had open at once.
    pub fn peak(&self) -> BTreeMap<String, usize> {
        by_kind(&lock(&self.counts), |(_, peak)| *peak)
    }

    /// The most watches any one namespace and kind has open now.
    pub fn open(&self) -> BTreeMap<String, usize> {
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
pub struct Kubelet {
    fake: InMemoryCluster,
    /// Its watches, counted.
    pub watches: Arc<WatchCount>,
}

impl Kubelet {
    pub fn new() -> Kubelet {
        Kubelet {
            fake: InMemoryCluster::new(HashMap::new()),
            watches: Arc::default(),
        }
    }

    /// Queues the ready status of `manifest` when it is a Pod.
    fn ready_if_pod(&self, pod: &Value) {
        if pod["kind"] != "Pod" {
            return;
        }
        let name = pod["metadata"]["name"].as_str();
        if let Some(name) = name {
            let _ = CLUSTER_TIME.try_with(|t| *t.pod.borrow_mut() = Some(name.to_string()));
        }
        let containers = pod["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                let text = |key: &str| c[key].as_str().unwrap_or_default();
                (text("name"), text("image"))
            });
        self.fake.script_pod_ready(
            name.unwrap_or_default(),
            pod["metadata"]["namespace"].as_str().unwrap_or_default(),
            containers,
        );
    }
}

impl ClusterIo for Kubelet {
    fn apply(&self, manifest: Manifest) -> Result<String, KubeError> {
        in_cluster(|| {
            let object = manifest.value.clone();
            let applied = self.fake.apply(manifest)?;
            self.ready_if_pod(&object);
            Ok(applied)
        })
    }

    fn create(&self, manifest: Manifest) -> Result<String, KubeError> {
        in_cluster(|| {
            let object = manifest.value.clone();
            let created = self.fake.create(manifest)?;
            self.ready_if_pod(&object);
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

    fn hand_over_secret(&self, request: &HandOverRequest) -> Result<(), KubeError> {
        in_cluster(|| self.fake.hand_over_secret(request))
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
