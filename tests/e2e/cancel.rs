//! Ctrl-C cancels the call in flight: an acquire that is waiting rolls back
//! and leaves nothing, and an exec ends its command in the pod.

use std::time::Duration;

use kube::api::{Api, DynamicObject};
use serde_json::json;

use crate::support::case::Case;
use crate::support::cluster::{eventually, sandbox_resource};

/// How long the binary may take to end after Ctrl-C.
const CANCEL_LIMIT: Duration = Duration::from_secs(45);

/// A `sandbox-cr` acquire without a controller waits for a pod that never
/// comes: Ctrl-C then rolls the Sandbox, the Secret and the egress policy
/// back, and the process exits 130.
#[test]
fn cancel_during_acquire_leaves_zero_objects() {
    let Some(case) = Case::start("cancel-acquire") else {
        return;
    };
    let config = case
        .config(json!({ "backend": "sandbox-cr", "podReadyTimeoutSec": 600 }))
        .display()
        .to_string();
    let acquire = case.spawn(&[
        "acquire",
        "--config",
        &config,
        "--company-id",
        &case.company,
    ]);
    let sandboxes =
        Api::<DynamicObject>::namespaced_with(case.client(), &case.namespace, &sandbox_resource());
    let waiting = case.block_on(eventually(Duration::from_secs(120), || async {
        sandboxes
            .list(&Default::default())
            .await
            .is_ok_and(|list| !list.items.is_empty())
    }));
    assert!(waiting, "the acquire never created its Sandbox");
    let (code, stderr, took) = acquire.interrupt(CANCEL_LIMIT);
    eprintln!("acquire ended {took:.1?} after SIGINT");
    assert_eq!(code, Some(130), "exit code after SIGINT\n{stderr}");
    assert!(
        stderr.contains("cancelled"),
        "stderr names the cancellation\n{stderr}"
    );
    case.finish();
}

/// Ctrl-C on `exec` of a command without a timeout kills the command's
/// process tree in the pod; a second exec finds it gone.
#[test]
fn cancel_during_exec_ends_the_process_in_the_pod() {
    let Some(case) = Case::start("cancel-exec") else {
        return;
    };
    let config = case.config(json!({ "backend": "pod" }));
    let lease = case.acquire(&config, &[]);
    let exec = case.spawn(&[
        "exec",
        "--lease",
        &lease.id,
        "--namespace",
        &lease.namespace,
        "--no-stdin",
        "--",
        "sh",
        "-c",
        "sleep 3000 & wait",
    ]);
    let processes = || {
        let ps = case.exec(&lease, &["--no-stdin", "--", "ps", "-o", "pid,args"]);
        ps.assert_code(0);
        ps.stdout_text()
    };
    let started = (0..100).any(|_| {
        let found = processes().contains("sleep 3000");
        if !found {
            std::thread::sleep(Duration::from_millis(200));
        }
        found
    });
    assert!(started, "the command never started: {}", processes());

    let (code, stderr, took) = exec.interrupt(CANCEL_LIMIT);
    eprintln!("exec ended {took:.1?} after SIGINT");
    assert_eq!(code, Some(130), "exit code after SIGINT\n{stderr}");
    let left = processes();
    assert!(
        !left.contains("sleep 3000"),
        "the cancelled command (and its child) still run in the pod:\n{left}"
    );
    case.release(&lease);
    case.finish();
}
