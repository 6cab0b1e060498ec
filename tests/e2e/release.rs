//! Deleting leases: release is fast (the pod's agent dies on SIGTERM
//! instead of waiting out a grace period), and sweep deletes leases past
//! their deadline and keeps the others.

use std::cell::Cell;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use serde_json::json;

use crate::support::case::Case;
use crate::support::cluster::{GONE_LIMIT, eventually};

/// Release must not wait for a 30 s grace period: the pod's agent stops
/// within this long of the release. How long the stopped pod's object then
/// stays is the kubelet's (up to [`GONE_LIMIT`]).
const RELEASE_LIMIT: Duration = Duration::from_secs(15);

/// When `pod`'s container `name` exited, as the container runtime tells it
/// (the kubelet may write it into the status much later on a busy node).
fn finished_at(pod: &Pod, name: &str) -> Option<jiff::Timestamp> {
    pod.status
        .iter()
        .flat_map(|s| s.container_statuses.iter().flatten())
        .filter(|c| c.name == name)
        .find_map(|c| c.state.as_ref()?.terminated.as_ref()?.finished_at.as_ref())
        .map(|t| t.0)
}

#[test]
fn release_stops_the_pod_in_seconds() {
    let Some(case) = Case::start("release-fast") else {
        return;
    };
    let config = case.config(json!({ "backend": "pod" }));
    let lease = case.acquire(&config, &[]);
    let pods = Api::<Pod>::namespaced(case.client(), &case.namespace);
    // Whole seconds: the runtime's exit time has no finer resolution.
    let started_at = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second())
        .expect("now is a timestamp");
    let started = Instant::now();
    case.release(&lease);
    let released = started.elapsed();
    let exited = Cell::new(None);
    let gone = case.block_on(eventually(GONE_LIMIT, || async {
        match pods.get_opt(&lease.pod).await {
            Ok(None) => true,
            Ok(Some(pod)) => {
                exited.set(exited.get().or(finished_at(&pod, &lease.container)));
                false
            }
            Err(_) => false,
        }
    }));
    let gone_after = started.elapsed();
    // Seen exiting: the runtime's time; gone unseen: no later than that.
    let exited = exited.get();
    let stopped_after = match exited {
        Some(at) => Duration::try_from(at.duration_since(started_at))
            .expect("the agent exited after the release started"),
        None => gone_after,
    };
    eprintln!(
        "release returned after {released:.1?}; the agent exited after {stopped_after:.1?} \
         (seen: {}), the pod was gone after {gone_after:.1?}",
        exited.is_some()
    );
    assert!(
        gone,
        "pod {} still there {GONE_LIMIT:?} after release",
        lease.pod
    );
    assert!(
        stopped_after < RELEASE_LIMIT,
        "the agent exited {stopped_after:?} after the release began; it must not wait for a grace period"
    );
    case.finish();
}

#[test]
fn sweep_deletes_an_expired_lease_and_keeps_a_live_one() {
    let Some(case) = Case::start("sweep") else {
        return;
    };
    let config = case.config(json!({ "backend": "pod" }));
    let lease = case.acquire(&config, &[]);
    let pods = Api::<Pod>::namespaced(case.client(), &case.namespace);

    let now = case.cli(&["sweep", "--namespace", &case.namespace]);
    now.assert_code(0);
    assert!(now.json().is_object(), "sweep report\n{}", now.describe());
    let kept = case
        .block_on(pods.get_opt(&lease.pod))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        kept.is_some(),
        "sweep now deleted the live pod {}",
        lease.pod
    );

    let later = case.cli(&[
        "sweep",
        "--now",
        "2100-01-01T00:00:00Z",
        "--namespace",
        &case.namespace,
    ]);
    later.assert_code(0);
    let report = later.json();
    assert!(
        report.to_string().contains(&lease.pod) || report.to_string().contains(&lease.id),
        "the sweep report names the expired lease: {report}"
    );
    let gone = case.block_on(eventually(GONE_LIMIT, || async {
        matches!(pods.get_opt(&lease.pod).await, Ok(None))
    }));
    assert!(gone, "pod {} still there after sweep", lease.pod);

    let release = case.cli(&[
        "release",
        "--lease",
        &lease.id,
        "--namespace",
        &lease.namespace,
    ]);
    release.assert_code(0);
    case.finish();
}

/// `run` releases on every path: Ctrl-C (SIGINT) while the command runs
/// ends the run with 130 and leaves no lease object behind.
#[test]
fn run_interrupted_by_ctrl_c_releases_the_lease() {
    let Some(case) = Case::start("run-ctrl-c") else {
        return;
    };
    let config = case
        .config(json!({ "backend": "pod" }))
        .display()
        .to_string();
    let run = case.spawn(&[
        "run",
        "--config",
        &config,
        "--company-id",
        "run-ctrl-c",
        "--no-stdin",
        "--",
        "sleep",
        "300",
    ]);
    // Wait until the command runs: the lease's pod exists and is Ready.
    let pods = Api::<Pod>::namespaced(case.client(), &case.namespace);
    let running = case.block_on(eventually(Duration::from_secs(120), || async {
        pods.list(&Default::default()).await.is_ok_and(|list| {
            list.items.iter().any(|p| {
                p.status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
            })
        })
    }));
    assert!(running, "the lease's pod never became ready");
    std::thread::sleep(Duration::from_secs(1));
    let (code, stderr, _) = run.interrupt(Duration::from_secs(60));
    assert_eq!(code, Some(130), "exit code after SIGINT\n{stderr}");
    case.finish();
}
