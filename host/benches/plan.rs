//! Guest vs native: `plan` through the compiled policy component (a fresh
//! store and instance per call, as the host runs every lifecycle call)
//! against the same `plan` of the native crate, measured side by side in
//! one run, rounds interleaved so that machine noise hits both alike. Both
//! sides end with the JSON text of each manifest, as the export returns it.
//!
//! The guest runs twice per round: through a runtime with the pooling
//! instance allocator, as `leasebox serve` runs it (1,000 slots of 64 MiB),
//! and through a runtime without it, as each CLI process runs it. Issue 11
//! defines P1 "as served", so the target is the pooled ratio; the CLI's is
//! held to the same bar and reported next to it. A last series, for
//! information, is the floor of a call: `plan` of the config `{}`, refused
//! at once, through the guest (what a fresh instance and the crossing of
//! the boundary cost) and natively.
//!
//! Each series also counts the page faults its calls take (for
//! information: a fresh linear memory faults in every page a call touches,
//! a reused pooled slot keeps them).
//!
//! Run: `cargo bench -p leasebox --bench plan` (`-- --quick`: 3 rounds).

#[path = "common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::Instant;

use common::Summary;

use leasebox::contract as wit;
use leasebox::runtime::{CacheDir, CallEnv, MEMORY_CAP_BYTES, Pool, Runtime};
use leasebox_policy::lease as native;

const LEASE_ID: &str = "lb-01jd5z8k9m0000000000000000";
const NOW: &str = "2026-11-23T10:00:00Z";
const ROUNDS: usize = 15;
const QUICK_ROUNDS: usize = 3;
/// The target of issue 11 (P1): guest / native.
const TARGET: f64 = 1.5;
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

/// The native side of the comparison: the function the component's `plan`
/// export runs (`plan_text_with`, under the default hooks), which ends with
/// the JSON text of each manifest, so that both sides compute the same
/// output (`None`: the request was refused).
fn native_plan(request: &native::LeaseRequest) -> Option<Vec<String>> {
    leasebox_policy::plan::plan_text(request).ok()
}

/// Times `CALLS_PER_ROUND` runs of `call` into `times` (the mean per call)
/// and adds the page faults they took to `faults`.
fn round(times: &mut Vec<std::time::Duration>, faults: &mut Option<u64>, mut call: impl FnMut()) {
    let faults_before = common::minor_faults();
    let started = Instant::now();
    for _ in 0..CALLS_PER_ROUND {
        call();
    }
    times.push(started.elapsed() / CALLS_PER_ROUND);
    *faults = match (*faults, faults_before, common::minor_faults()) {
        (Some(sum), Some(before), Some(after)) => Some(sum + (after - before)),
        _ => None,
    };
}

fn main() {
    let Some(mode) = common::mode("plan") else {
        return;
    };
    let rounds = mode.rounds(ROUNDS, QUICK_ROUNDS);
    let cache = std::env::temp_dir().join("leasebox-bench-cache");
    let runtime = Runtime::with_cache(CacheDir::Dir(cache)).expect("the runtime starts");
    let policy = runtime.load_default().expect("the default module loads");
    // As serve: the pool (its cache is the default one, compiled at most
    // once, untimed).
    let pooled_runtime = Runtime::pooled(Pool {
        instances: 1000,
        memory_cap_bytes: MEMORY_CAP_BYTES,
    })
    .expect("the pooling allocator reserves its slots");
    let pooled = pooled_runtime
        .load_default()
        .expect("the default module loads");
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
    let host = native_plan(&native_request).expect("plan succeeds");
    assert_eq!(guest, host, "guest and native plans differ");
    let guest_pooled = pooled
        .plan(&env, &wit_request)
        .expect("no trap")
        .expect("plan succeeds");
    assert_eq!(guest_pooled, host, "pooled guest and native plans differ");

    let mut guest_times = Vec::new();
    let mut native_times = Vec::new();
    let mut pooled_times = Vec::new();
    let mut floor_guest_times = Vec::new();
    let mut floor_native_times = Vec::new();
    let floor_wit = wit::LeaseRequest {
        config: "{}".into(),
        ..wit_request.clone()
    };
    let floor_native = native::LeaseRequest {
        config: "{}".into(),
        ..native_request.clone()
    };
    assert!(policy.plan(&env, &floor_wit).expect("no trap").is_err());
    assert!(native_plan(&floor_native).is_none());
    // Page faults per series (none where /proc does not count them).
    let (mut guest_faults, mut native_faults, mut pooled_faults) = (Some(0), Some(0), Some(0));
    let (mut floor_faults, mut floor_native_faults) = (Some(0), Some(0));
    for _ in 0..rounds {
        round(&mut guest_times, &mut guest_faults, || {
            black_box(
                policy
                    .plan(&env, black_box(&wit_request))
                    .expect("no trap")
                    .expect("ok"),
            );
        });
        round(&mut native_times, &mut native_faults, || {
            black_box(native_plan(black_box(&native_request)).expect("ok"));
        });
        round(&mut pooled_times, &mut pooled_faults, || {
            black_box(
                pooled
                    .plan(&env, black_box(&wit_request))
                    .expect("no trap")
                    .expect("ok"),
            );
        });
        round(&mut floor_guest_times, &mut floor_faults, || {
            let _ = black_box(policy.plan(&env, black_box(&floor_wit)).expect("no trap"));
        });
        round(&mut floor_native_times, &mut floor_native_faults, || {
            let _ = black_box(native_plan(black_box(&floor_native)));
        });
    }
    let guest = Summary::of(&guest_times);
    let native = Summary::of(&native_times);
    let ratio = common::ratio(&guest, &native);
    let (_, low, high) = common::paired_ratios(&guest_times, &native_times);
    let pooled = Summary::of(&pooled_times);
    let pooled_ratio = common::ratio(&pooled, &native);
    let (_, pooled_low, pooled_high) = common::paired_ratios(&pooled_times, &native_times);
    println!(
        "plan ({} manifests), {rounds} interleaved rounds of {CALLS_PER_ROUND} calls, per call:",
        host.len()
    );
    println!(
        "  guest, pooling allocator (as serve runs it): {}",
        pooled.display()
    );
    println!(
        "  guest, no pool (as the CLI runs it):         {}",
        guest.display()
    );
    println!(
        "  native (same crate, no wasm):                {}",
        native.display()
    );
    let verdict = |ratio: f64| if ratio <= TARGET { "met" } else { "missed" };
    println!(
        "  as served: pooled guest / native = {pooled_ratio:.2}x (per-round ratios {pooled_low:.2}x–{pooled_high:.2}x); target <= {TARGET}x: {}",
        verdict(pooled_ratio)
    );
    println!(
        "  CLI: guest / native = {ratio:.2}x (per-round ratios {low:.2}x–{high:.2}x); target <= {TARGET}x: {}",
        verdict(ratio)
    );
    let calls = (rounds as u64) * u64::from(CALLS_PER_ROUND);
    let per_call = |faults: Option<u64>| {
        faults.map_or("not counted".to_string(), |f| {
            format!("{:.1}", f as f64 / calls as f64)
        })
    };
    println!(
        "  page faults per call: pooled guest {}, guest without the pool {}, native {}; floor: guest {}, native {} (for information)",
        per_call(pooled_faults),
        per_call(guest_faults),
        per_call(native_faults),
        per_call(floor_faults),
        per_call(floor_native_faults),
    );
    let floor_guest = Summary::of(&floor_guest_times);
    let floor_native = Summary::of(&floor_native_times);
    println!(
        "  floor, `plan` of the config {{}} (refused at once): guest {}, native {} (for information)",
        floor_guest.display(),
        floor_native.display()
    );
}
