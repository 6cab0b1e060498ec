//! Tenant objects are server-side applied on every acquire, so a second
//! acquire after a configuration change converges the live objects.

use k8s_openapi::api::core::v1::{ResourceQuota, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::Api;
use serde_json::json;

use crate::support::case::Case;

fn quota_pods(case: &Case) -> String {
    let quota = case
        .block_on(
            Api::<ResourceQuota>::namespaced(case.client(), &case.namespace).get("leasebox-quota"),
        )
        .unwrap_or_else(|e| panic!("ResourceQuota leasebox-quota: {e}"));
    quota
        .spec
        .and_then(|s| s.hard)
        .and_then(|h| h.get("pods").map(|q| q.0.clone()))
        .unwrap_or_default()
}

fn service_account_annotations(case: &Case) -> std::collections::BTreeMap<String, String> {
    let account = case
        .block_on(
            Api::<ServiceAccount>::namespaced(case.client(), &case.namespace).get("leasebox-agent"),
        )
        .unwrap_or_else(|e| panic!("ServiceAccount leasebox-agent: {e}"));
    account.metadata.annotations.unwrap_or_default()
}

#[test]
fn second_acquire_converges_quota_and_service_account_annotations() {
    let Some(case) = Case::start("tenant-converge") else {
        return;
    };
    let first = case.config(json!({
        "quota": { "pods": 9 },
        "serviceAccountAnnotations": {
            "e2e.leasebox.dev/dropped": "one",
            "e2e.leasebox.dev/changed": "before"
        }
    }));
    let lease = case.acquire(&first, &[]);
    assert_eq!(quota_pods(&case), "9");
    let annotations = service_account_annotations(&case);
    assert_eq!(
        annotations
            .get("e2e.leasebox.dev/dropped")
            .map(String::as_str),
        Some("one")
    );
    assert_eq!(
        annotations
            .get("e2e.leasebox.dev/changed")
            .map(String::as_str),
        Some("before")
    );
    let policies = Api::<NetworkPolicy>::namespaced(case.client(), &case.namespace);
    // The tenant keeps its deny-all; the egress allow is the lease's own.
    let lease_policy = format!("{}-egress", lease.id);
    for (name, expected) in [
        ("leasebox-deny-all", true),
        (lease_policy.as_str(), true),
        ("leasebox-egress", false),
    ] {
        let found = case
            .block_on(policies.get_opt(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            found.is_some(),
            expected,
            "NetworkPolicy {name} after acquire"
        );
    }
    case.release(&lease);

    let second = case.config(json!({
        "quota": { "pods": 7 },
        "serviceAccountAnnotations": { "e2e.leasebox.dev/changed": "after" }
    }));
    let lease = case.acquire(&second, &[]);
    assert_eq!(quota_pods(&case), "7", "quota.pods converged");
    let annotations = service_account_annotations(&case);
    assert_eq!(
        annotations
            .get("e2e.leasebox.dev/changed")
            .map(String::as_str),
        Some("after"),
        "changed annotation converged: {annotations:?}"
    );
    assert!(
        !annotations.contains_key("e2e.leasebox.dev/dropped"),
        "an annotation removed from the configuration is removed from the ServiceAccount: \
         {annotations:?}"
    );
    case.release(&lease);
    case.finish();
}
