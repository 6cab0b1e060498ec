//! The hostile Rust module (`tests/guests/hostile/`) in the runtime without
//! a cluster: its report format, and the resource attacks stopped by the
//! runtime's limits. Its attacks on a cluster are `tests/e2e/trust.rs`.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use leasebox::runtime::{Limits, Policy, RuntimeError};

use crate::hostile_module::hostile_module;
use crate::support::{offline, runtime};

/// The hostile module, loaded once per test process.
pub(crate) fn hostile() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| {
        runtime()
            .load_file(hostile_module())
            .expect("the hostile module loads")
    })
}

#[test]
fn no_attack_is_a_normal_call() {
    let report = hostile()
        .probe(&offline(), r#"{"attack":"none"}"#, "acme")
        .expect("no trap")
        .expect("no policy error");
    assert!(report.ok, "{report:?}");
    assert_eq!(report.checks.len(), 1);
    assert_eq!(report.checks[0].name, "none");
}

#[test]
fn refusal_other_than_denied_is_reported_as_not_ok_with_its_variant() {
    let config = r#"{"attack":"read-secret","namespace":"leasebox-victim","name":"s"}"#;
    let report = hostile()
        .probe(&offline(), config, "acme")
        .expect("no trap")
        .expect("no policy error");
    assert!(!report.ok, "{report:?}");
    assert_eq!(report.checks[0].name, "read-secret");
    assert!(
        report.checks[0].detail.starts_with("no-cluster: "),
        "{report:?}"
    );
}

#[test]
fn plan_runs_the_attack_and_returns_the_report() {
    let request = leasebox::contract::LeaseRequest {
        config: r#"{"attack":"list-secrets"}"#.to_string(),
        company_id: "acme".to_string(),
        run_id: "r".to_string(),
        lease_id: "lb-01hzzzzzzzzzzzzzzzzzzzzzzz".to_string(),
        now: "2025-01-02T03:04:05Z".to_string(),
        adapter_type: None,
        image_override: None,
        command: None,
    };
    let manifests = hostile()
        .plan(&offline(), &request)
        .expect("no trap")
        .expect("no policy error");
    let report: serde_json::Value =
        serde_json::from_str(&manifests[0]).expect("the report is JSON");
    assert_eq!(report["checks"][0]["name"], "list-secrets");
    assert_eq!(report["ok"], false, "{report}");
}

#[test]
fn unknown_attack_is_a_bad_request() {
    let error = hostile()
        .probe(&offline(), r#"{"attack":"nope"}"#, "acme")
        .expect("no trap")
        .expect_err("unknown attack");
    assert!(format!("{error:?}").contains("unknown attack"), "{error:?}");
}

#[test]
fn alloc_4gib_hits_the_memory_cap() {
    let error = hostile()
        .probe(&offline(), r#"{"attack":"alloc-4gib"}"#, "acme")
        .expect_err("the allocation is stopped");
    assert!(
        matches!(&error, RuntimeError::MemoryLimit { call, .. } if call == "probe"),
        "{error:?}"
    );
}

#[test]
fn loop_forever_hits_the_cpu_deadline() {
    let mut env = offline();
    env.limits = Limits::with_cpu_deadline(Duration::from_millis(300));
    // Built and compiled before the clock starts: only the call is bounded.
    let module = hostile();
    let started = Instant::now();
    let error = module
        .probe(&env, r#"{"attack":"loop-forever"}"#, "acme")
        .expect_err("the loop is stopped");
    assert!(
        matches!(&error, RuntimeError::DeadlineExceeded { call, .. } if call == "probe"),
        "{error:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}
