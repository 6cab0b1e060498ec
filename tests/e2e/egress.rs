//! Switching the egress mode removes the other mode's allow policy: allows
//! are a union, so a stale broad policy must not survive.
//!
//! The test cluster has no Cilium, so the test installs a minimal
//! `ciliumnetworkpolicies.cilium.io` CRD (stored, never enforced) for its
//! duration when none exists, and removes it again at the end. That makes
//! both directions testable: standard -> cilium -> standard.

use std::time::Duration;

use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, PostParams};
use kube::core::GroupVersionKind;
use serde_json::json;

use crate::support::case::Case;
use crate::support::cluster::eventually;

/// The CRD the test may install.
const CILIUM_CRD: &str = "ciliumnetworkpolicies.cilium.io";

/// Standard mode's allow policy.
const EGRESS_POLICY: &str = "leasebox-egress";

/// Cilium mode's allow policy.
const CILIUM_EGRESS_POLICY: &str = "leasebox-egress-fqdn";

/// Removes the CRD at the end when the test installed it.
struct InstalledCrd {
    client: Client,
    handle: tokio::runtime::Handle,
}

impl Drop for InstalledCrd {
    fn drop(&mut self) {
        let api = Api::<CustomResourceDefinition>::all(self.client.clone());
        if let Err(e) = self
            .handle
            .block_on(api.delete(CILIUM_CRD, &DeleteParams::default()))
        {
            eprintln!("cleanup: deleting CRD {CILIUM_CRD}: {e}");
        }
    }
}

/// Installs a minimal CiliumNetworkPolicy CRD unless one exists; waits
/// until it is Established.
fn ensure_cilium_crd(case: &Case) -> Option<InstalledCrd> {
    let api = Api::<CustomResourceDefinition>::all(case.client());
    let existing = case
        .block_on(api.get_opt(CILIUM_CRD))
        .unwrap_or_else(|e| panic!("{e}"));
    if existing.is_some() {
        return None;
    }
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": { "name": CILIUM_CRD, "labels": { "leasebox.dev/e2e": "true" } },
        "spec": {
            "group": "cilium.io",
            "scope": "Namespaced",
            "names": {
                "kind": "CiliumNetworkPolicy",
                "listKind": "CiliumNetworkPolicyList",
                "plural": "ciliumnetworkpolicies",
                "singular": "ciliumnetworkpolicy",
                "shortNames": ["cnp"]
            },
            "versions": [{
                "name": "v2",
                "served": true,
                "storage": true,
                "schema": { "openAPIV3Schema": {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": true
                } }
            }]
        }
    }))
    .expect("the CRD literal is a CustomResourceDefinition");
    case.block_on(api.create(&PostParams::default(), &crd))
        .unwrap_or_else(|e| panic!("installing CRD {CILIUM_CRD}: {e}"));
    let installed = InstalledCrd {
        client: case.client(),
        handle: case.handle(),
    };
    let established = case.block_on(eventually(Duration::from_secs(30), || async {
        api.get(CILIUM_CRD)
            .await
            .ok()
            .and_then(|c| c.status)
            .and_then(|s| s.conditions)
            .is_some_and(|conditions| {
                conditions
                    .iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
            })
    }));
    assert!(established, "CRD {CILIUM_CRD} not Established after 30 s");
    Some(installed)
}

fn policies(case: &Case) -> (bool, bool) {
    let standard = Api::<NetworkPolicy>::namespaced(case.client(), &case.namespace);
    let cilium = Api::<DynamicObject>::namespaced_with(
        case.client(),
        &case.namespace,
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("cilium.io", "v2", "CiliumNetworkPolicy"),
            "ciliumnetworkpolicies",
        ),
    );
    let has_standard = case
        .block_on(standard.get_opt(EGRESS_POLICY))
        .unwrap_or_else(|e| panic!("NetworkPolicy {EGRESS_POLICY}: {e}"))
        .is_some();
    let has_cilium = case
        .block_on(cilium.get_opt(CILIUM_EGRESS_POLICY))
        .unwrap_or_else(|e| panic!("CiliumNetworkPolicy {CILIUM_EGRESS_POLICY}: {e}"))
        .is_some();
    (has_standard, has_cilium)
}

#[test]
fn egress_mode_switch_removes_the_other_modes_policy() {
    let Some(case) = Case::start("egress-switch") else {
        return;
    };
    let crd = ensure_cilium_crd(&case);
    let standard = case.config(json!({ "egressMode": "standard" }));
    let cilium = case.config(json!({
        "egressMode": "cilium",
        "egressAllowFqdns": ["api.github.com"]
    }));

    let lease = case.acquire(&standard, &[]);
    assert_eq!(
        policies(&case),
        (true, false),
        "standard mode: only {EGRESS_POLICY}"
    );
    case.release(&lease);

    let lease = case.acquire(&cilium, &[]);
    assert_eq!(
        policies(&case),
        (false, true),
        "after switching to cilium: only {CILIUM_EGRESS_POLICY}, the stale {EGRESS_POLICY} removed"
    );
    case.release(&lease);

    let lease = case.acquire(&standard, &[]);
    assert_eq!(
        policies(&case),
        (true, false),
        "after switching back to standard: only {EGRESS_POLICY}, {CILIUM_EGRESS_POLICY} removed"
    );
    case.release(&lease);
    drop(crd);
    case.finish();
}
