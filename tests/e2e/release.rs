//! Deleting leases: release is fast (the pod dies on SIGTERM instead of
//! waiting out a grace period), and sweep deletes leases past their
//! deadline and keeps the others.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use serde_json::json;

use crate::support::case::Case;
use crate::support::cluster::eventually;

/// Release must not wait for a 30 s grace period.
const RELEASE_LIMIT: Duration = Duration::from_secs(15);

#[test]
fn release_of_a_pod_finishes_in_seconds() {
    let Some(case) = Case::start("release-fast") else {
        return;
    };
    let config = case.config(json!({ "backend": "pod" }));
    let lease = case.acquire(&config, &[]);
    let pods = Api::<Pod>::namespaced(case.client(), &case.namespace);
    let started = Instant::now();
    case.release(&lease);
    let released = started.elapsed();
    let gone = case.block_on(eventually(Duration::from_secs(60), || async {
        matches!(pods.get_opt(&lease.pod).await, Ok(None))
    }));
    let elapsed = started.elapsed();
    assert!(gone, "pod {} still there 60 s after release", lease.pod);
    eprintln!("release returned after {released:.1?}; the pod was gone after {elapsed:.1?}");
    assert!(
        elapsed < RELEASE_LIMIT,
        "the pod took {elapsed:?} to go after release; it must not wait for a grace period"
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
    let gone = case.block_on(eventually(Duration::from_secs(60), || async {
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
