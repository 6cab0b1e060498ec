//! A module of contract 0.1.0 (the fixture built from the last 0.1.0 tree)
//! still loads, acquires and releases through the host's 0.1.0 binding
//! module, is told clearly what it cannot do, and its leases are found and
//! released by the module that replaces it.

use std::sync::Arc;

use leasebox::cluster::grants::Grants;
use leasebox::cluster::guard::{Audit, GuardedCluster};
use leasebox::contract as wit;
use leasebox::contract::Contract;
use leasebox::runtime::{Limits, Policy, RuntimeError};

use crate::lifecycle_through_wasm::{
    cluster, env, env_with, pod_config, request, script_ready_pod,
};
use crate::support::{default_policy, v0_1_policy};

#[test]
fn each_module_reports_the_contract_it_was_built_against() {
    assert_eq!(default_policy().contract(), Contract::CURRENT);
    assert_eq!(v0_1_policy().contract(), Contract::V0_1);
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
        error
            .to_string()
            .contains(&format!("rebuild it against @{}", Contract::CURRENT)),
        "{error}"
    );
}

/// After a swap, the new module finds, names and releases a lease its
/// predecessor (another module, another contract) created: the lease
/// carries the predecessor's SHA-256, which the guard stamped on the
/// workload.
#[test]
fn a_swapped_in_module_recognises_and_releases_its_predecessors_lease() {
    let cluster = cluster();
    script_ready_pod(&cluster);
    let guard = |module: &Policy| {
        GuardedCluster::new(
            cluster.clone(),
            Arc::new(Grants::default()),
            Audit::counting(module.sha256()),
        )
    };
    let through = |module: &Policy| env_with(Arc::new(guard(module)), b"", Limits::default()).0;

    let old = v0_1_policy()
        .acquire_lease(&through(v0_1_policy()), &request(&pod_config()))
        .expect("no trap")
        .expect("the 0.1.0 module acquires");

    let found = default_policy()
        .resume_lease(&through(default_policy()), &old.id, None)
        .expect("no trap")
        .expect("the 0.2.0 module finds the lease");
    assert_eq!(found.module_sha256, v0_1_policy().sha256());
    assert_ne!(found.module_sha256, default_policy().sha256());

    let listed = default_policy()
        .list_leases(&through(default_policy()), None, None)
        .expect("no trap")
        .expect("the 0.2.0 module lists");
    assert_eq!(
        listed
            .iter()
            .map(|l| (&l.id, &l.module_sha256))
            .collect::<Vec<_>>(),
        vec![(&old.id, &old.module_sha256)]
    );

    let report = default_policy()
        .release_lease(&through(default_policy()), &found)
        .expect("no trap")
        .expect("the 0.2.0 module releases it");
    assert!(report.deleted.iter().any(|o| o.kind == "Pod"), "{report:?}");
    assert!(cluster.objects_of_kind("Pod").is_empty());
}
