//! Loading the default policy module from a warm cache against compiling
//! it, side by side in one run: each round loads the module from a cache
//! that already holds its artifact, then compiles it into a fresh, empty
//! cache directory (which also writes the artifact, as a first CLI call
//! does). Each side runs in its own runtime, created outside the timed
//! section: the figure is `Runtime::load_default` alone.
//!
//! Run: `cargo bench -p leasebox --bench module_load` (`-- --quick`: 2
//! rounds).

#[path = "common/mod.rs"]
mod common;

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::Summary;
use leasebox::runtime::{CacheDir, Runtime};

const ROUNDS: usize = 7;
const QUICK_ROUNDS: usize = 2;
/// Warm loads per round (their mean is the round's figure): one takes
/// milliseconds, so a few smooth the timer and the scheduler out.
const WARM_LOADS_PER_ROUND: u32 = 5;
/// The target of issue 11 (P3): compiling / warm load.
const TARGET: f64 = 100.0;

fn main() {
    let Some(mode) = common::mode("module_load") else {
        return;
    };
    let rounds = mode.rounds(ROUNDS, QUICK_ROUNDS);
    let base = scratch_dir();
    let warm_dir = base.join("warm");
    let warm = Runtime::with_cache(CacheDir::Dir(warm_dir.clone())).expect("the runtime starts");
    // Fill the warm cache; the second load must come from it.
    let first = warm.load_default().expect("the default module compiles");
    assert!(!first.from_cache(), "the warm cache was not empty");
    assert!(
        first.cache_error().is_none(),
        "the artifact was not written: {:?}",
        first.cache_error()
    );
    assert!(
        warm.load_default().expect("loads").from_cache(),
        "the second load did not come from the cache"
    );

    let mut warm_times = Vec::new();
    let mut compile_times = Vec::new();
    for round in 0..rounds {
        let started = Instant::now();
        for _ in 0..WARM_LOADS_PER_ROUND {
            let policy = warm.load_default().expect("loads");
            assert!(policy.from_cache(), "a warm load compiled");
            black_box(policy);
        }
        warm_times.push(started.elapsed() / WARM_LOADS_PER_ROUND);

        let fresh_dir = base.join(format!("fresh-{round}"));
        let fresh =
            Runtime::with_cache(CacheDir::Dir(fresh_dir.clone())).expect("the runtime starts");
        let started = Instant::now();
        let policy = fresh.load_default().expect("the default module compiles");
        compile_times.push(started.elapsed());
        assert!(
            !policy.from_cache(),
            "a fresh cache directory held an artifact"
        );
        assert!(
            policy.cache_error().is_none(),
            "the artifact was not written: {:?}",
            policy.cache_error()
        );
        drop(policy);
        drop(fresh);
        let _ = std::fs::remove_dir_all(&fresh_dir);
    }
    let _ = std::fs::remove_dir_all(&base);

    let warm = Summary::of(&warm_times);
    let compile = Summary::of(&compile_times);
    let ratio = common::ratio(&compile, &warm);
    let (_, low, high) = common::paired_ratios(&compile_times, &warm_times);
    println!(
        "module load (default module, {} KiB), {rounds} interleaved rounds:",
        leasebox::runtime::DEFAULT_MODULE.len() / 1024
    );
    println!(
        "  warm cache (mean of {WARM_LOADS_PER_ROUND} loads per round): {}",
        warm.display()
    );
    println!(
        "  compile into a fresh cache dir:            {}",
        compile.display()
    );
    println!(
        "  compile / warm = {ratio:.0}x (per-round ratios {low:.0}x–{high:.0}x); target >= {TARGET:.0}x: {}",
        if ratio >= TARGET { "met" } else { "missed" }
    );
}

/// A new directory under the system's temp dir for this run.
fn scratch_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .subsec_nanos();
    std::env::temp_dir().join(format!(
        "leasebox-bench-module-load-{}-{nanos}",
        std::process::id()
    ))
}
