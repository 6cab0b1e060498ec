//! Hostile guests (`tests/guests/`): each is stopped and reported by name,
//! and the runtime keeps serving afterwards.

use std::time::{Duration, Instant};

use leasebox::runtime::{Limits, Pool, Runtime, RuntimeError};

use crate::support::{default_policy, guest_text, hostile_component, offline, runtime};

#[test]
fn endless_loop_hits_the_cpu_deadline() {
    let policy = runtime()
        .load("endless_loop", &hostile_component("endless_loop.wat"))
        .expect("the fixture loads");
    let mut env = offline();
    env.limits = Limits::with_cpu_deadline(Duration::from_millis(200));
    let started = Instant::now();
    let error = policy
        .config_schema(&env)
        .expect_err("the loop never returns");
    assert!(
        matches!(&error, RuntimeError::DeadlineExceeded { call, .. } if call == "config-schema"),
        "{error:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn memory_hog_hits_the_memory_cap() {
    let policy = runtime()
        .load("memory_hog", &hostile_component("memory_hog.wat"))
        .expect("the fixture loads");
    let error = policy
        .config_schema(&offline())
        .expect_err("the hog is stopped");
    assert!(
        matches!(&error, RuntimeError::MemoryLimit { call, .. } if call == "config-schema"),
        "{error:?}"
    );
}

#[test]
fn unreachable_is_reported_as_a_trap() {
    let policy = runtime()
        .load(
            "unreachable_trap",
            &hostile_component("unreachable_trap.wat"),
        )
        .expect("the fixture loads");
    let error = policy
        .config_schema(&offline())
        .expect_err("the guest traps");
    match &error {
        RuntimeError::Trap {
            module,
            call,
            message,
            ..
        } => {
            assert_eq!(module, "unreachable_trap");
            assert_eq!(call, "config-schema");
            assert!(message.contains("unreachable"), "{message}");
        }
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[test]
fn component_for_an_unknown_contract_is_refused_by_version() {
    let bytes = wat::parse_str(guest_text("wrong_contract.wat")).expect("valid wat");
    let error = runtime()
        .load("wrong_contract", &bytes)
        .expect_err("0.9.0 is refused");
    assert!(
        matches!(error, RuntimeError::IncompatibleContract { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "module targets leasebox:provider@0.9.0, host supports @0.4.0, 0.3.0, 0.2.0, 0.1.0"
    );
}

#[test]
fn component_without_the_provider_export_fails_to_link() {
    let bytes = wat::parse_str(guest_text("no_exports.wat")).expect("valid wat");
    let error = runtime()
        .load("no_exports", &bytes)
        .expect_err("nothing to call");
    assert!(matches!(error, RuntimeError::Link { .. }), "{error:?}");
}

#[test]
fn component_whose_exports_do_not_match_the_contract_is_refused_when_loaded() {
    let bytes = wat::parse_str(guest_text("wrong_signatures.wat")).expect("valid wat");
    let error = runtime()
        .load("wrong_signatures", &bytes)
        .expect_err("no export has its contract's type");
    assert!(matches!(error, RuntimeError::Link { .. }), "{error:?}");
    assert!(
        error.to_string().contains("wrong_signatures"),
        "the error names the module: {error}"
    );
    assert!(
        error.to_string().contains("type mismatch"),
        "the error says what failed: {error}"
    );
}

#[test]
fn bytes_that_are_not_wasm_fail_to_compile() {
    let error = runtime()
        .load("garbage", b"not wasm")
        .expect_err("not a module");
    assert!(matches!(error, RuntimeError::Compile { .. }), "{error:?}");
}

#[test]
fn runtime_keeps_serving_after_a_trap() {
    let hostile = runtime()
        .load(
            "unreachable_trap",
            &hostile_component("unreachable_trap.wat"),
        )
        .expect("the fixture loads");
    assert!(hostile.config_schema(&offline()).is_err());
    let schema = default_policy()
        .config_schema(&offline())
        .expect("the default module still runs");
    assert!(schema.contains("\"$schema\""));
}

#[test]
fn each_call_in_a_reused_pool_slot_starts_from_the_modules_initial_memory() {
    // One slot: every call after the first reuses the memory of the one
    // before (the pool keeps touched pages resident and resets them).
    let pooled = Runtime::pooled(Pool {
        instances: 1,
        memory_cap_bytes: 64 << 20,
    })
    .expect("the pool reserves its slot");
    let policy = pooled
        .load("memory_counter", &hostile_component("memory_counter.wat"))
        .expect("the fixture loads");
    for call in 1..=5 {
        let answer = policy
            .config_schema(&offline())
            .expect("the counter answers");
        assert_eq!(
            answer, "6",
            "call {call}: the guest saw memory a previous call left (\"7\") or zeros (\"\\u{{1}}\") instead of its data segment"
        );
    }
}
