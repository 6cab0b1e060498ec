//! Guest vs native: `plan` through the compiled policy component (a fresh
//! store and instance per call, as the host runs every lifecycle call)
//! against the same `plan` of the native crate, measured side by side in
//! one run, rounds interleaved so that machine noise hits both alike.
//!
//! Run: `cargo bench -p leasebox --bench plan`

use std::hint::black_box;
use std::time::{Duration, Instant};

use leasebox::runtime::types as wit;
use leasebox::runtime::{CacheDir, CallEnv, Runtime};
use leasebox_policy::lease as native;

const LEASE_ID: &str = "lb-01jd5z8k9m0000000000000000";
const NOW: &str = "2026-11-23T10:00:00Z";
const ROUNDS: usize = 15;
const CALLS_PER_ROUND: u32 = 40;

fn config() -> String {
    serde_json::json!({
        "inCluster": true,
        "backend": "sandbox-cr",
        "egressMode": "cilium",
        "egressAllowFqdns": ["api.github.com", "*.pypi.org"],
        "egressAllowCidrs": ["10.1.0.0/16", {"cidr": "2001:db8::/32", "ports": [{"port": 443}]}],
        "workspace": {"type": "pvc", "size": "20Gi"},
        "supervisor": {"image": "busybox:1.36", "binary": "/bin/busybox", "args": ["sleep", "infinity"]}
    })
    .to_string()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let cache = std::env::temp_dir().join("leasebox-bench-cache");
    let runtime = Runtime::with_cache(CacheDir::Dir(cache)).expect("the runtime starts");
    let policy = runtime.load_default().expect("the default module loads");
    let env = CallEnv::offline(CallEnv::silent_logger());
    let config = config();
    let wit_request = wit::LeaseRequest {
        config: config.clone(),
        company_id: "Acme Corp".into(),
        run_id: "run-1".into(),
        lease_id: LEASE_ID.into(),
        now: NOW.into(),
        adapter_type: None,
        image_override: None,
        command: None,
    };
    let native_request = native::LeaseRequest {
        config,
        company_id: "Acme Corp".into(),
        run_id: "run-1".into(),
        lease_id: LEASE_ID.into(),
        now: NOW.into(),
        adapter_type: None,
        image_override: None,
        command: None,
    };

    // Same output first: a benchmark of two different computations would
    // mean nothing.
    let guest = policy
        .plan(&env, &wit_request)
        .expect("no trap")
        .expect("plan succeeds");
    let host = leasebox_policy::plan::plan(&native_request).expect("plan succeeds");
    let host: Vec<String> = host.iter().map(|m| m.to_string()).collect();
    assert_eq!(guest, host, "guest and native plans differ");

    let mut guest_times = Vec::new();
    let mut native_times = Vec::new();
    for _ in 0..ROUNDS {
        let started = Instant::now();
        for _ in 0..CALLS_PER_ROUND {
            black_box(
                policy
                    .plan(&env, black_box(&wit_request))
                    .expect("no trap")
                    .expect("ok"),
            );
        }
        guest_times.push(started.elapsed() / CALLS_PER_ROUND);

        let started = Instant::now();
        for _ in 0..CALLS_PER_ROUND {
            black_box(leasebox_policy::plan::plan(black_box(&native_request)).expect("ok"));
        }
        native_times.push(started.elapsed() / CALLS_PER_ROUND);
    }
    let guest = median(guest_times);
    let native = median(native_times);
    println!(
        "plan ({} manifests), median of {ROUNDS} interleaved rounds of {CALLS_PER_ROUND} calls:",
        host.len()
    );
    println!("  guest (component, fresh instance per call): {guest:?} per call");
    println!("  native (same crate, no wasm):               {native:?} per call");
    println!(
        "  guest / native = {:.1}x",
        guest.as_secs_f64() / native.as_secs_f64()
    );
}
