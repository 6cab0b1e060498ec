//! Tenant objects are server-side applied when they changed or when the
//! tenant's record on its Namespace is ten minutes old, so a second
//! acquire after a configuration change converges the live objects, an
//! acquire on a warm tenant writes none of them, and a stale record brings
//! back what was deleted by hand.

use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use leasebox_policy::names::ANNOTATION_TENANT_APPLIED;
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

/// The tenant's record on its Namespace (`<sha256> <time>`).
fn tenant_record(case: &Case) -> String {
    let namespace = case
        .block_on(Api::<Namespace>::all(case.client()).get(&case.namespace))
        .unwrap_or_else(|e| panic!("Namespace {}: {e}", case.namespace));
    namespace
        .metadata
        .annotations
        .unwrap_or_default()
        .get(ANNOTATION_TENANT_APPLIED)
        .cloned()
        .unwrap_or_else(|| panic!("Namespace {} has no tenant record", case.namespace))
}

#[test]
fn a_warm_tenant_is_not_written_and_a_stale_record_restores_a_deleted_object() {
    let Some(case) = Case::start("tenant-record") else {
        return;
    };
    let config = case.config(json!({}));
    let lease = case.acquire(&config, &[]);
    case.release(&lease);
    let record = tenant_record(&case);

    // Deleted by hand: a warm acquire does not look (its record is
    // recent and its objects unchanged).
    let limits = Api::<LimitRange>::namespaced(case.client(), &case.namespace);
    case.block_on(limits.delete("leasebox-limits", &DeleteParams::default()))
        .unwrap_or_else(|e| panic!("deleting LimitRange leasebox-limits: {e}"));
    let lease = case.acquire(&config, &[]);
    case.release(&lease);
    assert_eq!(
        tenant_record(&case),
        record,
        "a warm acquire writes no record"
    );
    let missing = case
        .block_on(limits.get_opt("leasebox-limits"))
        .unwrap_or_else(|e| panic!("LimitRange leasebox-limits: {e}"));
    assert!(missing.is_none(), "a warm acquire wrote the LimitRange");

    // The same record, made long ago: the next acquire converges.
    let (digest, _) = record.split_once(' ').expect("a digest and a time");
    let stale = format!("{digest} 2000-01-01T00:00:00Z");
    let patch = json!({ "metadata": { "annotations": { ANNOTATION_TENANT_APPLIED: stale } } });
    case.block_on(Api::<Namespace>::all(case.client()).patch(
        &case.namespace,
        &PatchParams::default(),
        &Patch::Merge(&patch),
    ))
    .unwrap_or_else(|e| panic!("ageing the tenant record: {e}"));
    let lease = case.acquire(&config, &[]);
    case.release(&lease);
    let restored = case
        .block_on(limits.get_opt("leasebox-limits"))
        .unwrap_or_else(|e| panic!("LimitRange leasebox-limits: {e}"));
    assert!(
        restored.is_some(),
        "a stale record brings the LimitRange back"
    );
    let renewed = tenant_record(&case);
    assert!(
        renewed.starts_with(digest) && renewed != stale,
        "the record is written again: {renewed}"
    );
    case.finish();
}
