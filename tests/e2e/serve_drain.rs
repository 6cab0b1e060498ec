//! SIGTERM with the sweep's leader election on, as it is by default, and
//! this replica leading, with no call in flight (the SIGTERM handler itself
//! gives the Lease up): serve gives the Lease up (its holder cleared, so
//! another replica takes over at once) and exits 0 within 10 s.
//! `serve::serve_drains_in_flight_calls_on_sigterm` has a call in flight.

use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease as LeaderLease;
use kube::api::{Api, DeleteParams};
use serde_json::json;

use crate::serve::{Client, start_serve};
use crate::support::case::Case;

/// How long serve may take to exit after SIGTERM.
const EXIT_LIMIT: Duration = Duration::from_secs(10);

/// How long the first election round may take to lead.
const LEAD_LIMIT: Duration = Duration::from_secs(30);

/// The namespace of the test's leader Lease (it exists on every cluster).
const LEASE_NAMESPACE: &str = "default";

#[test]
fn serve_leading_the_sweep_gives_its_lease_up_and_exits_within_10s_of_sigterm() {
    let Some(case) = Case::start("serve-drain-leader") else {
        return;
    };
    let lease_name = format!("leasebox-e2e-drain-{}", std::process::id());
    let settings = case.write_file(
        "settings.yaml",
        &format!(
            "serve:\n  leaderElection:\n    namespace: {LEASE_NAMESPACE}\n    leaseName: \
             {lease_name}\n    leaseDurationSec: 3\n"
        ),
    );
    let settings = settings.display().to_string();
    let mut child = start_serve(&case, &["--settings", &settings]);
    let mut client = Client::of(&mut child);
    let started = Instant::now();
    let mut id = 100;
    loop {
        id += 1;
        let health = client.call(id, "health", json!({}));
        if health["result"]["sweep"]["leading"] == true {
            break;
        }
        assert!(started.elapsed() < LEAD_LIMIT, "never led: {health}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let leases: Api<LeaderLease> = Api::namespaced(case.client(), LEASE_NAMESPACE);
    let holder = |leases: &Api<LeaderLease>| {
        case.block_on(leases.get(&lease_name))
            .expect("the leader Lease exists")
            .spec
            .and_then(|s| s.holder_identity)
    };
    assert!(holder(&leases).is_some(), "the Lease names its holder");

    let signalled = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill on this machine");
    assert!(signalled.success());
    let term = Instant::now();

    let status = loop {
        if let Some(status) = child.try_wait().expect("serve's status") {
            break status;
        }
        if term.elapsed() > EXIT_LIMIT {
            let _ = child.kill();
            panic!("serve did not exit within {EXIT_LIMIT:?} of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(0), "exit code after SIGTERM");
    assert_eq!(holder(&leases), None, "the Lease was given up");

    let _ = case.block_on(leases.delete(&lease_name, &DeleteParams::default()));
    case.finish();
}
