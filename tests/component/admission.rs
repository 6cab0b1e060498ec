//! Admission of guest code to the cores, through the runtime: with one
//! slot, a call blocked on the cluster or spinning in its module does not
//! hold back a call that came later.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use leasebox::runtime::{Admission, CacheDir, Limits, Runtime, RuntimeError};
use serde_json::json;

use crate::lifecycle_through_wasm::{call_summary, cluster, env_with, pod_config, request};
use crate::support::{hostile_component, offline};

/// A runtime whose guest code runs one call at a time, and whose holders
/// never go stale: only giving the slot up lets another call in.
fn one_slot_runtime() -> Runtime {
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("leasebox-cache");
    Runtime::with_cache(CacheDir::Dir(cache))
        .expect("the runtime starts")
        .with_admission(Admission::stalling_after(1, Duration::from_secs(3600)))
}

#[test]
fn a_call_waiting_on_the_cluster_leaves_the_only_slot_to_a_later_call() {
    let runtime = Arc::new(one_slot_runtime());
    let policy = runtime.load_default().expect("the default module loads");
    let cluster = cluster();
    // The pod never becomes ready: the acquire waits on its watch until
    // its overall timeout.
    let mut config = pod_config();
    config["podReadyTimeoutSec"] = json!(300);
    let limits = Limits::default().with_overall_timeout(Duration::from_secs(8));
    let (env, _) = env_with(cluster.clone(), b"", limits);
    let waiting = {
        let policy = policy.clone();
        std::thread::spawn(move || policy.acquire_lease(&env, &request(&config)))
    };
    // Until it waits on the watch.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !call_summary(&cluster.call_records()).contains(&"watch Pod".to_string()) {
        assert!(
            std::time::Instant::now() < deadline,
            "the acquire never watched"
        );
        std::thread::sleep(Duration::from_millis(10));
    }

    policy
        .config_schema(&offline())
        .expect("the later call runs while the first waits");
    assert!(
        !waiting.is_finished(),
        "the later call had to wait for the acquire to end"
    );
    let error = waiting
        .join()
        .expect("no panic")
        .expect_err("the pod never becomes ready");
    assert!(matches!(error, RuntimeError::Timeout { .. }), "{error:?}");
}

#[test]
fn a_spinning_module_takes_turns_with_a_later_call() {
    let runtime = one_slot_runtime();
    let spinning = runtime
        .load("endless_loop", &hostile_component("endless_loop.wat"))
        .expect("the fixture loads");
    let policy = runtime.load_default().expect("the default module loads");
    let mut env = offline();
    env.limits = Limits::with_cpu_deadline(Duration::from_secs(6));
    let spinner = std::thread::spawn(move || spinning.config_schema(&env));
    // Well into its first slice.
    std::thread::sleep(Duration::from_millis(300));

    policy
        .config_schema(&offline())
        .expect("the later call gets a turn");
    assert!(
        !spinner.is_finished(),
        "the later call waited for the spinning one's whole CPU deadline"
    );
    let error = spinner
        .join()
        .expect("no panic")
        .expect_err("the loop never returns");
    assert!(
        matches!(error, RuntimeError::DeadlineExceeded { .. }),
        "{error:?}"
    );
}
