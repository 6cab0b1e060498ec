//! Cancelling a call in flight through the real module: an acquire waiting
//! for its pod rolls back and answers `cancelled`; an execute kills its
//! command in the pod and answers `cancelled`; a module that does not stop
//! is stopped when the grace period ends.

use std::sync::Arc;
use std::time::{Duration, Instant};

use leasebox::cluster::io::ClusterIo;
use leasebox::contract as wit;
use leasebox::runtime::{CallEnv, Cancel, Limits, RuntimeError};
use leasebox_policy::fake_cluster::{Call, ExecScript};

use crate::in_memory_cluster::InMemoryCluster;
use crate::lifecycle_through_wasm::{acquire_ready_lease, cluster, env_with, pod_config, request};
use crate::support::{default_policy, hostile_component, runtime};

/// When the test cancels, after the call started.
const CANCEL_AFTER: Duration = Duration::from_millis(300);

/// Cancels `cancel` after [`CANCEL_AFTER`], from another thread.
fn cancel_soon(cancel: &Cancel) {
    let cancel = cancel.clone();
    std::thread::spawn(move || {
        std::thread::sleep(CANCEL_AFTER);
        cancel.cancel();
    });
}

/// Cancels `cancel` from another thread once `cluster` has seen a watch of
/// `kind` (the call is then waiting), or after 30 s.
fn cancel_when_watching(cluster: &Arc<InMemoryCluster>, kind: &'static str, cancel: &Cancel) {
    let (cluster, cancel) = (cluster.clone(), cancel.clone());
    std::thread::spawn(move || {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            let watching = cluster
                .call_records()
                .iter()
                .any(|call| matches!(call, Call::Watch(request) if request.kind == kind));
            if watching {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(CANCEL_AFTER);
        cancel.cancel();
    });
}

fn cancellable_env(cluster: Arc<dyn ClusterIo>, limits: Limits) -> (CallEnv, Cancel) {
    let (mut env, _) = env_with(cluster, b"", limits);
    let cancel = Cancel::new();
    env.cancel = cancel.clone();
    (env, cancel)
}

fn cancelled(error: wit::PolicyError) -> wit::Failure {
    match error {
        wit::PolicyError::Cancelled(failure) => failure,
        other => panic!("expected policy-error::cancelled, got {other:?}"),
    }
}

#[test]
fn cancelled_acquire_rolls_back_everything_it_created() {
    let cluster = cluster();
    let (env, cancel) = cancellable_env(cluster.clone(), Limits::default());
    cancel_when_watching(&cluster, "Pod", &cancel);
    let started = Instant::now();
    let answer = default_policy()
        .acquire_lease(&env, &request(&pod_config()))
        .expect("the module does not trap");
    let failure = cancelled(answer.expect_err("a cancelled acquire fails"));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the cancellation took {:?}",
        started.elapsed()
    );
    assert!(
        failure.rolled_back.iter().any(|o| o.kind == "Pod"),
        "the pod was rolled back: {failure:?}"
    );
    assert!(failure.left_behind.is_empty(), "{failure:?}");
    for kind in ["Pod", "Secret", "NetworkPolicy"] {
        let left = cluster
            .objects_of_kind(kind)
            .into_iter()
            .filter(|o| o["metadata"]["labels"]["leasebox.dev/lease"].is_string())
            .count();
        assert_eq!(left, 0, "{kind} of the lease left after cancel");
    }
}

#[test]
fn cancelled_execute_kills_the_command_it_started() {
    let cluster = cluster();
    let lease = acquire_ready_lease(&cluster);
    cluster.script_exec(ExecScript::hangs());
    let (env, cancel) = cancellable_env(cluster.clone(), Limits::default());
    cancel_soon(&cancel);
    let request = wit::ExecRequest {
        lease,
        command: wit::Command::Argv(vec!["sleep".into(), "3000".into()]),
        cwd: None,
        env: Vec::new(),
        forward_stdin: false,
        timeout_ms: None,
        max_stdout_bytes: None,
        max_stderr_bytes: None,
    };
    let answer = default_policy()
        .execute(&env, &request)
        .expect("the module does not trap");
    cancelled(answer.expect_err("a cancelled execute fails"));
    let execs = cluster
        .call_records()
        .into_iter()
        .filter_map(|call| match call {
            Call::Exec(spec) => Some(spec.argv.join(" ")),
            _ => None,
        })
        .collect::<Vec<_>>();
    assert!(
        execs.len() >= 2 && execs[1..].iter().any(|argv| argv.contains("kill")),
        "after the cancellation a second exec kills the command: {execs:#?}"
    );
}

#[test]
fn module_that_ignores_cancellation_is_stopped_after_the_grace_period() {
    let policy = runtime()
        .load("endless-loop", &hostile_component("endless_loop.wat"))
        .expect("the fixture loads");
    let limits = Limits {
        cpu_deadline: Duration::from_secs(30),
        cancel_grace: Duration::from_millis(200),
        ..Limits::default()
    };
    let (env, cancel) = cancellable_env(cluster(), limits);
    cancel_soon(&cancel);
    let started = Instant::now();
    let error = policy
        .validate_config(&env, "{}")
        .expect_err("the loop never returns");
    assert!(
        matches!(error, RuntimeError::Cancelled { .. }),
        "expected RuntimeError::Cancelled, got {error}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stopped after {:?}, long before the 30 s CPU deadline",
        started.elapsed()
    );
}
