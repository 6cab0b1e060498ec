//! A pod that takes ~16 s to become ready while the proxy cuts the pod
//! watch every 3 s: the acquire must still end in a working lease, within
//! a minute. The slowness is real: the supervisor's install init container
//! sleeps before it copies the binary.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use serde_json::json;

use crate::support::case::Case;
use crate::support::cluster;
use crate::support::fault_proxy::{Action, Rule};
use crate::support::faulted::{Faulted, error_line};

/// How long the install init container sleeps.
const INIT_SLEEP_SECS: u64 = 16;
/// How long each pod watch lives before the proxy cuts it.
const CUT_EVERY: Duration = Duration::from_secs(3);
/// The acquire's bound.
const ACQUIRE_LIMIT: Duration = Duration::from_secs(60);

#[test]
fn slow_readiness_with_the_watch_cut_every_3s_still_leases() {
    let Some(case) = Case::start("faults-slow") else {
        return;
    };
    let faulted = Faulted::start(
        &case,
        json!({
            "backend": "pod",
            "supervisor": {
                "image": "busybox:k8s-real",
                "binary": "/bin/busybox",
                "args": ["sleep", "3600"],
                "install": [
                    "sh",
                    "-c",
                    format!("sleep {INIT_SLEEP_SECS}; cp /bin/busybox /opt/leasebox/bin/")
                ]
            }
        }),
    );
    faulted.proxy.set_rules(vec![
        Rule::new(
            "pod watch cut every 3s",
            "GET",
            &format!("/namespaces/{}/pods$", case.namespace),
            Action::CutStreamAfter(CUT_EVERY),
        )
        .query("watch=true")
        .times(100),
    ]);
    let acquired = faulted.acquire(&case);
    let injected = faulted.proxy.injected();
    faulted.proxy.set_rules(Vec::new());
    let cuts = injected
        .iter()
        .filter(|i| i.what.starts_with("cut the"))
        .count();
    for line in &injected {
        eprintln!("injected: {line}");
    }
    let watches: Vec<String> = faulted
        .proxy
        .seen()
        .iter()
        .filter(|s| s.query.contains("watch=true"))
        .map(|s| s.query.clone())
        .collect();
    eprintln!(
        "slow acquire with the watch cut every {CUT_EVERY:?}: exit {:?} after {:.1?}, {cuts} cuts, {} watch requests; {}",
        acquired.code,
        acquired.elapsed,
        watches.len(),
        error_line(&acquired)
    );
    for query in &watches {
        eprintln!("  watch ?{query}");
    }

    let lease = case.lease_of(&acquired);
    assert!(
        acquired.elapsed < ACQUIRE_LIMIT,
        "the acquire took {:.1?}, more than {ACQUIRE_LIMIT:?}",
        acquired.elapsed
    );
    assert!(
        cuts >= 3,
        "the watch was cut at least three times while the pod got ready ({cuts})"
    );

    // From the cluster: the init container really ran its sleep, and the
    // pod answers.
    let pod = case
        .block_on(Api::<Pod>::namespaced(case.client(), &case.namespace).get(&lease.pod))
        .unwrap_or_else(|e| panic!("the lease's pod {}: {e}", lease.pod));
    let install = pod
        .status
        .and_then(|s| s.init_container_statuses)
        .unwrap_or_default()
        .into_iter()
        .find(|s| s.name == "leasebox-supervisor-install")
        .and_then(|s| s.state)
        .and_then(|s| s.terminated)
        .unwrap_or_else(|| panic!("the install init container has not ended"));
    assert_eq!(install.exit_code, 0);
    let took = match (install.started_at, install.finished_at) {
        (Some(start), Some(end)) => end.0.as_second() - start.0.as_second(),
        _ => panic!("the install init container has no start or end time"),
    };
    assert!(
        took >= INIT_SLEEP_SECS as i64 - 1,
        "the install init container ran {took} s, not the {INIT_SLEEP_SECS} s sleep"
    );
    let check = case
        .block_on(cluster::exec_in_pod(
            &case.client(),
            &lease.namespace,
            &lease.pod,
            &lease.container,
            &["true"],
            Duration::from_secs(30),
        ))
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(check.code, Some(0), "`true` in the lease's pod: {check:?}");

    case.release(&lease);
    drop(faulted);
    case.finish();
}
