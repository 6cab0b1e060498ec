//! Acquire's sequential round trips, measured on the real cluster.
//!
//! The fault proxy adds 50 ms to every API call. An acquire on a warm
//! tenant must then cost at most three round trips (150 ms) more than the
//! same acquire without the delay, once its pod's own start is taken out:
//! calls that overlap the pod's start cost nothing, calls before the
//! workload or after readiness cost 50 ms each. Measured per acquire:
//! from its first API request (the proxy's clock) to its pod's appearance,
//! plus from its pod's Ready condition to the process's exit, both seen by
//! a watch of the test's own straight to the API server. The start of the
//! process (loading the module) is left out: it is the same with or
//! without the delay, and the noisiest part on a small machine.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{WatchEvent, WatchParams};
use serde_json::{Value, json};

use crate::faults::{Releases, join_releases, release_in_background};
use crate::support::case::Case;
use crate::support::fault_proxy::{Action, Rule, Seen};
use crate::support::faulted::Faulted;

/// Added to every API call.
const DELAY: Duration = Duration::from_millis(50);

/// Round trips an acquire on a warm tenant may spend outside the pod's
/// start.
const ALLOWED_ROUND_TRIPS: u32 = 3;

/// Measurements per delay; the smallest of each is compared.
const ROUNDS: usize = 3;

/// Allowed on top for this machine's noise (2 shared cores); printed next
/// to the result.
const NOISE: Duration = Duration::from_millis(75);

/// When a pod appeared and when it became Ready, as seen by the test.
#[derive(Default, Clone, Copy)]
struct PodTimes {
    appeared: Option<Instant>,
    ready: Option<Instant>,
}

/// A watch of the namespace's pods, straight to the API server.
struct PodClock {
    times: Arc<Mutex<HashMap<String, PodTimes>>>,
    task: tokio::task::JoinHandle<()>,
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

impl PodClock {
    fn start(case: &Case) -> PodClock {
        let pods: Api<Pod> = Api::namespaced(case.client(), &case.namespace);
        let times: Arc<Mutex<HashMap<String, PodTimes>>> = Arc::default();
        let seen = times.clone();
        let task = case.handle().spawn(async move {
            let params = WatchParams::default().timeout(290);
            let stream = match pods.watch(&params, "0").await {
                Ok(stream) => stream,
                Err(e) => {
                    eprintln!("the test's pod watch failed: {e}");
                    return;
                }
            };
            let mut stream = std::pin::pin!(stream);
            while let Some(event) = stream.next().await {
                let at = Instant::now();
                let pod = match event {
                    Ok(WatchEvent::Added(pod) | WatchEvent::Modified(pod)) => pod,
                    _ => continue,
                };
                let name = pod.metadata.name.clone().unwrap_or_default();
                let mut times = seen.lock().unwrap_or_else(PoisonError::into_inner);
                let entry = times.entry(name).or_default();
                entry.appeared.get_or_insert(at);
                if is_ready(&pod) {
                    entry.ready.get_or_insert(at);
                }
            }
        });
        PodClock { times, task }
    }

    /// When the pod appeared and when it became Ready; waits a little
    /// for the test's own watch to catch up.
    fn times_of(&self, pod: &str) -> Option<(Instant, Instant)> {
        let limit = Instant::now() + Duration::from_secs(5);
        loop {
            let times = self
                .times
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(pod)
                .copied()
                .unwrap_or_default();
            if let (Some(appeared), Some(ready)) = (times.appeared, times.ready) {
                return Some((appeared, ready));
            }
            if Instant::now() > limit {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for PodClock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One measured acquire.
struct Measured {
    delay: Duration,
    /// The process's whole run.
    total: Duration,
    /// From the pod's appearance to its Ready condition.
    pod_start: Duration,
    /// From the first API request to the pod's appearance.
    before: Duration,
    /// From the pod's Ready condition to the process's exit.
    after: Duration,
    /// Requests the proxy saw before the workload's.
    before_workload: Vec<Seen>,
}

impl Measured {
    /// The acquire's API time outside its pod's start.
    fn outside(&self) -> Duration {
        self.before + self.after
    }
}

#[test]
fn a_warm_acquire_costs_its_pod_start_and_at_most_three_round_trips() {
    let Some(case) = Case::start("round-trips") else {
        return;
    };
    let faulted = Faulted::start(&case, json!({ "backend": "pod" }));
    let proxy = &faulted.proxy;
    let clock = PodClock::start(&case);
    let mut releases = Releases::new();

    // The first acquire makes the tenant; the measured ones find it warm,
    // and alternate between no delay and the delay.
    let mut measured = Vec::new();
    let delays =
        std::iter::once(Duration::ZERO).chain((0..ROUNDS).flat_map(|_| [Duration::ZERO, DELAY]));
    for (n, delay) in delays.enumerate() {
        proxy.clear_records();
        proxy.set_rules(if delay.is_zero() {
            Vec::new()
        } else {
            vec![Rule::new("every call", "", "", Action::Delay(delay)).times(u32::MAX)]
        });
        let output = faulted.acquire(&case);
        let exited = Instant::now();
        proxy.set_rules(Vec::new());
        assert_eq!(output.code, Some(0), "acquire {n}\n{}", output.describe());
        let lease: Value = serde_json::from_slice(&output.stdout).expect("the lease is JSON");
        let id = lease["id"].as_str().expect("lease id").to_string();
        let pod = lease["pod"].as_str().expect("lease pod").to_string();
        let seen = proxy.seen();
        let workload = seen
            .iter()
            .position(|r| r.method == "PATCH" && r.path.ends_with(&format!("/pods/{pod}")))
            .unwrap_or_else(|| panic!("the pod's apply was not seen: {seen:#?}"));
        let times = clock.times_of(&pod);
        // One lease at a time: its release does not compete with the next
        // acquire for the machine.
        release_in_background(&case, &id, &mut releases);
        join_releases(&mut releases);
        if n == 0 {
            continue;
        }
        let (appeared, ready) =
            times.unwrap_or_else(|| panic!("the test's watch did not see pod {pod} become ready"));
        let first = seen.first().map(|r| r.at).expect("requests seen");
        measured.push(Measured {
            delay,
            total: output.elapsed,
            pod_start: ready.saturating_duration_since(appeared),
            before: appeared.saturating_duration_since(first),
            after: exited.saturating_duration_since(ready),
            before_workload: seen[..workload].to_vec(),
        });
    }

    eprintln!(
        "delay | process | pod start | API before | API after | requests before the workload"
    );
    for m in &measured {
        eprintln!(
            "{:>5} | {:>7} | {:>9} | {:>10} | {:>9} | {}",
            format!("{}ms", m.delay.as_millis()),
            format!("{}ms", m.total.as_millis()),
            format!("{}ms", m.pod_start.as_millis()),
            format!("{}ms", m.before.as_millis()),
            format!("{}ms", m.after.as_millis()),
            m.before_workload
                .iter()
                .map(|r| format!("{} {}", r.method, r.path))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let least = |delay: Duration| {
        measured
            .iter()
            .filter(|m| m.delay == delay)
            .map(Measured::outside)
            .min()
            .expect("measured")
    };
    let (plain, delayed) = (least(Duration::ZERO), least(DELAY));
    let cost = delayed.saturating_sub(plain);
    let allowed = DELAY * ALLOWED_ROUND_TRIPS;
    eprintln!(
        "outside the pod's start: {}ms without the delay, {}ms with {}ms per call: {:.1} round \
         trips (allowed {ALLOWED_ROUND_TRIPS}, plus {}ms noise)",
        plain.as_millis(),
        delayed.as_millis(),
        DELAY.as_millis(),
        cost.as_secs_f64() / DELAY.as_secs_f64(),
        NOISE.as_millis()
    );
    for m in &measured {
        assert!(
            m.before_workload.len() < ALLOWED_ROUND_TRIPS as usize,
            "a warm acquire makes {} requests before its workload: {:?}",
            m.before_workload.len(),
            m.before_workload
        );
    }
    assert!(
        cost <= allowed + NOISE,
        "with {}ms per call a warm acquire spends {}ms more outside its pod's start, more than \
         {ALLOWED_ROUND_TRIPS} round trips",
        DELAY.as_millis(),
        cost.as_millis()
    );

    drop(clock);
    drop(faulted);
    case.finish();
}
