//! P6 against the in-memory cluster: one `serve` (the crate's `Server`,
//! on a pipe in this process, the built-in module, the operator's default
//! settings) over the fleet's in-memory cluster (`kubelet.rs`: the tests'
//! in-memory cluster, which makes every pod ready the moment it is
//! written).
//!
//! What is measured: acquire latency from request line to answer line
//! with [`IN_FLIGHT`] in flight, and of each acquire the part spent inside
//! the in-memory cluster; the host's live heap per lease held (the
//! [`attributed_alloc`](super::attributed_alloc) counts, so the fake's
//! store and the client's copies of the answers are left out); and the
//! watches open per namespace and kind, at their peak and once every lease
//! is held.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use leasebox::cluster::grants::Grants;
use leasebox::cluster::io::ClusterIo;
use leasebox::lifecycle::slot::{PolicySlot, SlotParts};
use leasebox::runtime::{Admission, Pool, Runtime};
use leasebox::serve::Server;
use leasebox::settings::HostSettings;
use serde_json::{Value, json};

use super::attributed_alloc::{self, Party, Scope};
use super::client::{self, Client};
use super::kubelet::{self, Kubelet};
use super::{FleetRun, IN_FLIGHT, config};

/// Long enough for call threads that have answered to end.
const THREADS_END: Duration = Duration::from_millis(500);

/// Instances in the module pool (as `serve` has).
const POOL_INSTANCES: u32 = 1000;

/// How guest code is admitted to the cores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cores {
    /// As `serve` runs by default: one call per core, oldest first.
    AsServed,
    /// Every call at once, the cores shared by the OS (for comparison).
    Unadmitted,
}

/// Runs `leases` acquires over `tenants` companies, [`IN_FLIGHT`] at once,
/// after one untimed acquire per company (the tenant objects, the pool's
/// first instances).
pub fn run(leases: usize, tenants: usize, cores: Cores) -> FleetRun {
    attributed_alloc::self_check();
    let cluster = Arc::new(Kubelet::new());
    let settings = HostSettings::default();
    let runtime = Runtime::pooled(Pool {
        instances: POOL_INSTANCES,
        memory_cap_bytes: settings.guest.memory_cap_bytes,
    })
    .expect("the pooling allocator is available");
    let runtime = runtime.with_admission(Admission::new(match cores {
        Cores::AsServed => settings.guest.parallel_calls,
        Cores::Unadmitted => usize::MAX,
    }));
    let slot = PolicySlot::new(SlotParts {
        runtime,
        path: None,
        smoke_config: None,
        cluster: Some(cluster.clone() as Arc<dyn ClusterIo>),
        watch_linger: settings.serve.watch_linger,
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
    kubelet::take_cluster_times();

    let params: Vec<Value> = (0..leases).map(|i| acquire_params(i % tenants)).collect();
    let answers = client.calls("acquire", params, IN_FLIGHT, &mut || {});
    let after = live_bytes();
    std::thread::sleep(THREADS_END);
    let by_pod: HashMap<String, Duration> = kubelet::take_cluster_times()
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
    client::assert_one_namespace_per_tenant(&answers, tenants);

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
