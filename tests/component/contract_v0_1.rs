//! A module of contract 0.1.0 (the fixture built from the last 0.1.0 tree)
//! still loads, acquires and releases through the host's 0.1.0 binding
//! module, and is told clearly what it cannot do.

use leasebox::runtime::types as wit;
use leasebox::runtime::{CONTRACT_VERSION, RuntimeError};

use crate::lifecycle_through_wasm::{cluster, env, pod_config, request, script_ready_pod};
use crate::support::{default_policy, v0_1_policy};

#[test]
fn each_module_reports_the_contract_it_was_built_against() {
    assert_eq!(default_policy().contract(), CONTRACT_VERSION);
    assert_eq!(v0_1_policy().contract(), "0.1.0");
}

#[test]
fn a_v0_1_lease_carries_the_sha256_of_the_module_that_made_it() {
    let cluster = cluster();
    script_ready_pod(&cluster);
    let lease = v0_1_policy()
        .acquire_lease(&env(&cluster), &request(&pod_config()))
        .expect("the 0.1.0 module does not trap")
        .expect("the 0.1.0 module acquires");
    assert_eq!(lease.module_sha256, v0_1_policy().sha256());
    assert_eq!(lease.backend, wit::Backend::Pod);

    let report = v0_1_policy()
        .release_lease(&env(&cluster), &lease)
        .expect("no trap")
        .expect("the 0.1.0 module releases");
    assert!(report.deleted.iter().any(|o| o.kind == "Pod"), "{report:?}");
}

#[test]
fn a_call_of_a_newer_contract_names_the_module_version_and_the_fix() {
    let cluster = cluster();
    script_ready_pod(&cluster);
    let lease = v0_1_policy()
        .acquire_lease(&env(&cluster), &request(&pod_config()))
        .expect("no trap")
        .expect("acquires");
    let error = v0_1_policy()
        .renew_lease(&env(&cluster), &lease, "2025-01-02T04:00:00Z", 600)
        .expect_err("0.1.0 has no renew-lease");
    assert!(
        matches!(&error, RuntimeError::Unsupported { call, contract, .. }
            if call == "renew-lease" && contract == "0.1.0"),
        "{error}"
    );
    assert!(
        error.to_string().contains("rebuild it against @0.2.0"),
        "{error}"
    );
}
