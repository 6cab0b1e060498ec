//! Egress is per lease: each lease gets `<lease>-egress`, selecting only
//! its pod, built from its own adapter and owned by its workload, so an
//! acquire never changes the egress of another lease of the company; the
//! tenant-wide policies of 0.1 are removed on acquire (allows are a union,
//! so a stale broad policy must not survive).
//!
//! The test cluster has no Cilium, so the legacy test installs a minimal
//! `ciliumnetworkpolicies.cilium.io` CRD (stored, never enforced) for its
//! duration when none exists, and removes it again at the end.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use leasebox_policy::names::ANNOTATION_TENANT_APPLIED;
use serde_json::{Value, json};

use crate::support::case::{Case, Lease};
use crate::support::cluster::{GONE_LIMIT, eventually};

/// The CRD the test may install.
const CILIUM_CRD: &str = "ciliumnetworkpolicies.cilium.io";

/// The 0.1 tenant-wide allow policy of standard mode.
const LEGACY_EGRESS_POLICY: &str = "leasebox-egress";

/// The 0.1 tenant-wide allow policy of cilium mode.
const LEGACY_CILIUM_EGRESS_POLICY: &str = "leasebox-egress-fqdn";

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

fn network_policies(case: &Case) -> Api<NetworkPolicy> {
    Api::<NetworkPolicy>::namespaced(case.client(), &case.namespace)
}

fn cilium_policies(case: &Case) -> Api<DynamicObject> {
    Api::<DynamicObject>::namespaced_with(
        case.client(),
        &case.namespace,
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("cilium.io", "v2", "CiliumNetworkPolicy"),
            "ciliumnetworkpolicies",
        ),
    )
}

/// The stored NetworkPolicy `name` as JSON, if any.
fn network_policy(case: &Case, name: &str) -> Option<Value> {
    case.block_on(network_policies(case).get_opt(name))
        .unwrap_or_else(|e| panic!("NetworkPolicy {name}: {e}"))
        .map(|p| serde_json::to_value(p).expect("a NetworkPolicy serialises"))
}

/// The stored CiliumNetworkPolicy `name` as JSON, if any.
fn cilium_policy(case: &Case, name: &str) -> Option<Value> {
    case.block_on(cilium_policies(case).get_opt(name))
        .unwrap_or_else(|e| panic!("CiliumNetworkPolicy {name}: {e}"))
        .map(|p| serde_json::to_value(p).expect("a CiliumNetworkPolicy serialises"))
}

fn policy_name(lease: &Lease) -> String {
    format!("{}-egress", lease.id)
}

/// True when the policy opens public TCP 443 (standard mode's answer to
/// configured FQDNs).
fn opens_public_https(policy: &Value) -> bool {
    policy["spec"]["egress"]
        .as_array()
        .is_some_and(|rules| rules.iter().any(|r| r.to_string().contains("0.0.0.0/0")))
}

/// Checks the policy of `lease`: selects only its pod, owned by its
/// workload.
fn assert_owned_lease_policy(policy: &Value, lease: &Lease, selector: &str) {
    assert_eq!(
        policy["spec"][selector],
        json!({ "matchLabels": { "leasebox.dev/lease": lease.id } }),
        "the policy of {} selects only its pod: {policy}",
        lease.id
    );
    let owner = &policy["metadata"]["ownerReferences"][0];
    assert_eq!(owner["uid"], lease.workload("uid").as_str(), "{policy}");
    assert_eq!(owner["name"], lease.id.as_str(), "{policy}");
}

#[test]
fn each_lease_of_a_company_gets_its_own_egress_policy() {
    let Some(case) = Case::start("egress-per-lease") else {
        return;
    };
    let adapters = json!([
        { "adapterType": "busybox", "image": "busybox:k8s-real", "envKeys": [] },
        {
            "adapterType": "busybox-online",
            "image": "busybox:k8s-real",
            "envKeys": [],
            "allowFqdns": ["api.github.com"]
        }
    ]);
    let offline = case.config(json!({ "adapterType": "busybox", "adapters": adapters }));
    let online = case.config(json!({ "adapterType": "busybox-online", "adapters": adapters }));

    let first = case.acquire(&offline, &[]);
    let first_policy =
        network_policy(&case, &policy_name(&first)).expect("the first lease's policy");
    assert_owned_lease_policy(&first_policy, &first, "podSelector");
    assert!(!opens_public_https(&first_policy), "{first_policy}");

    let second = case.acquire(&online, &[]);
    let second_policy =
        network_policy(&case, &policy_name(&second)).expect("the second lease's policy");
    assert_owned_lease_policy(&second_policy, &second, "podSelector");
    assert!(
        opens_public_https(&second_policy),
        "its adapter's FQDNs open public 443: {second_policy}"
    );
    let first_again = network_policy(&case, &policy_name(&first)).expect("still there");
    assert_eq!(
        first_again["spec"], first_policy["spec"],
        "the second acquire left the first lease's egress alone"
    );
    assert_eq!(
        first_again["metadata"]["resourceVersion"], first_policy["metadata"]["resourceVersion"],
        "not even rewritten"
    );
    assert!(
        network_policy(&case, LEGACY_EGRESS_POLICY).is_none(),
        "no tenant-wide allow policy"
    );

    case.release(&first);
    let collected = case.block_on(eventually(GONE_LIMIT, || async {
        network_policies(&case)
            .get_opt(&policy_name(&first))
            .await
            .is_ok_and(|p| p.is_none())
    }));
    if !collected {
        let pod_left = case
            .block_on(Api::<Pod>::namespaced(case.client(), &case.namespace).get_opt(&first.pod));
        panic!(
            "the released lease's policy {} still there {GONE_LIMIT:?} after the release; \
             its pod {}: {}",
            policy_name(&first),
            first.pod,
            match pod_left {
                Ok(Some(_)) => "still there (the kubelet had not finished it)",
                Ok(None) => "gone (the garbage collector had not caught up)",
                Err(_) => "unreadable",
            }
        );
    }
    assert!(
        network_policy(&case, &policy_name(&second)).is_some(),
        "the other lease keeps its policy"
    );
    case.release(&second);
    case.finish();
}

#[test]
fn a_released_pods_egress_policy_stays_until_the_pod_is_gone() {
    let Some(case) = Case::start("egress-release-order") else {
        return;
    };
    let config = case.config(json!({}));
    let lease = case.acquire(&config, &[]);
    let policy = policy_name(&lease);
    assert!(network_policy(&case, &policy).is_some(), "{policy} applied");
    let pods = Api::<Pod>::namespaced(case.client(), &case.namespace);

    // The container ignores SIGTERM (`sleep` as pid 1), so the pod is
    // stopped for its grace period after the release: a window in which
    // the policy must still be there.
    case.release(&lease);
    let pod_seen_stopping = std::cell::Cell::new(false);
    let gone = case.block_on(eventually(GONE_LIMIT, || async {
        let pod = pods
            .get_opt(&lease.pod)
            .await
            .unwrap_or_else(|e| panic!("Pod {}: {e}", lease.pod));
        let policy_there = network_policies(&case)
            .get_opt(&policy)
            .await
            .unwrap_or_else(|e| panic!("NetworkPolicy {policy}: {e}"))
            .is_some();
        if let Some(pod) = &pod {
            pod_seen_stopping.set(true);
            assert!(
                policy_there,
                "{policy} deleted while its pod is still there (deletionTimestamp {:?})",
                pod.metadata.deletion_timestamp
            );
        }
        pod.is_none() && !policy_there
    }));
    assert!(
        pod_seen_stopping.get(),
        "the pod was still stopping after release returned"
    );
    assert!(gone, "the pod and then {policy} gone within {GONE_LIMIT:?}");
    case.finish();
}

#[test]
fn acquire_removes_the_legacy_tenant_wide_policies() {
    let Some(case) = Case::start("egress-legacy") else {
        return;
    };
    let crd = ensure_cilium_crd(&case);
    let standard = case.config(json!({ "egressMode": "standard" }));
    let cilium = case.config(json!({
        "egressMode": "cilium",
        "egressAllowFqdns": ["api.github.com"]
    }));

    // The first acquire makes the namespace; then a 0.1 host "leaves"
    // its tenant-wide policies behind, and (0.1 wrote none) no tenant
    // record.
    let lease = case.acquire(&standard, &[]);
    case.release(&lease);
    let legacy_standard: NetworkPolicy = serde_json::from_value(json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": { "name": LEGACY_EGRESS_POLICY, "namespace": case.namespace },
        "spec": {
            "podSelector": { "matchLabels": { "leasebox.dev/role": "agent" } },
            "policyTypes": ["Egress"],
            "egress": [{}]
        }
    }))
    .expect("the literal is a NetworkPolicy");
    case.block_on(network_policies(&case).create(&PostParams::default(), &legacy_standard))
        .unwrap_or_else(|e| panic!("creating {LEGACY_EGRESS_POLICY}: {e}"));
    let legacy_cilium: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNetworkPolicy",
        "metadata": { "name": LEGACY_CILIUM_EGRESS_POLICY, "namespace": case.namespace },
        "spec": {
            "endpointSelector": { "matchLabels": { "leasebox.dev/role": "agent" } },
            "egress": [{ "toCIDRSet": [{ "cidr": "0.0.0.0/0" }] }]
        }
    }))
    .expect("the literal is a CiliumNetworkPolicy");
    case.block_on(cilium_policies(&case).create(&PostParams::default(), &legacy_cilium))
        .unwrap_or_else(|e| panic!("creating {LEGACY_CILIUM_EGRESS_POLICY}: {e}"));
    let no_record = json!({ "metadata": { "annotations": { ANNOTATION_TENANT_APPLIED: null } } });
    case.block_on(Api::<Namespace>::all(case.client()).patch(
        &case.namespace,
        &PatchParams::default(),
        &Patch::Merge(&no_record),
    ))
    .unwrap_or_else(|e| panic!("removing the tenant record: {e}"));

    let lease = case.acquire(&cilium, &[]);
    assert!(
        network_policy(&case, LEGACY_EGRESS_POLICY).is_none(),
        "{LEGACY_EGRESS_POLICY} removed"
    );
    assert!(
        cilium_policy(&case, LEGACY_CILIUM_EGRESS_POLICY).is_none(),
        "{LEGACY_CILIUM_EGRESS_POLICY} removed"
    );
    let policy = cilium_policy(&case, &policy_name(&lease)).expect("the lease's own policy");
    assert_owned_lease_policy(&policy, &lease, "endpointSelector");
    case.release(&lease);
    drop(crd);
    case.finish();
}
