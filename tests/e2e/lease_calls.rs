//! Contract 0.2's lease calls on the real cluster: `status` and `list`
//! agree with what the cluster holds, and `renew` moves the deadline where
//! it matters (the workload's annotation, the Sandbox's `shutdownTime`, and
//! what `sweep` decides).

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DynamicObject, ListParams};
use serde_json::json;

use crate::support::case::{Case, Lease};
use crate::support::cluster::{GONE_LIMIT, LEASE_LABEL, eventually, sandbox_resource};

/// The annotation that carries a lease's deadline on its workload.
const EXPIRES_AT: &str = "leasebox.dev/expires-at";

/// The annotation the host stamps with the module's SHA-256.
const MODULE_SHA256: &str = "leasebox.dev/module-sha256";

fn lease_args<'a>(verb: &'a str, lease: &'a Lease) -> Vec<&'a str> {
    vec![
        verb,
        "--lease",
        lease.id.as_str(),
        "--namespace",
        lease.namespace.as_str(),
    ]
}

fn rfc3339(text: &str) -> jiff::Timestamp {
    text.parse()
        .unwrap_or_else(|e| panic!("{text:?} is not an RFC 3339 time: {e}"))
}

#[test]
fn status_and_list_agree_with_the_cluster() {
    let Some(case) = Case::start("lease-calls") else {
        return;
    };
    let config = case.config(json!({ "backend": "pod" }));
    let first = case.acquire(&config, &[]);
    let second = case.acquire(&config, &[]);

    let status = case.cli(&lease_args("status", &first));
    status.assert_code(0);
    let status = status.json();
    assert_eq!(status["phase"], "ready", "{status}");
    assert_eq!(status["ready"], true, "{status}");
    assert_eq!(status["lease"]["id"], first.id.as_str(), "{status}");
    assert_eq!(status["lease"]["pod"], first.pod.as_str(), "{status}");
    assert_eq!(status["lease"]["expiresAt"], first.json["expiresAt"]);

    // The module that created the lease, as the cluster records it.
    let pods = Api::<Pod>::namespaced(case.client(), &case.namespace);
    let pod = case
        .block_on(pods.get(&first.pod))
        .unwrap_or_else(|e| panic!("get pod {}: {e}", first.pod));
    let stamped = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(MODULE_SHA256))
        .cloned()
        .unwrap_or_else(|| panic!("pod {} has no {MODULE_SHA256}", first.pod));
    assert_eq!(stamped.len(), 64, "{stamped}");
    assert_eq!(status["lease"]["moduleSha256"], stamped.as_str());
    assert_eq!(first.json["moduleSha256"], stamped.as_str());

    let listed = case.cli(&[
        "list",
        "--company-id",
        &case.company,
        "--namespace",
        &case.namespace,
    ]);
    listed.assert_code(0);
    let listed_ids = listed
        .json()
        .as_array()
        .unwrap_or_else(|| panic!("list prints an array\n{}", listed.describe()))
        .iter()
        .map(|l| l["id"].as_str().unwrap_or_default().to_string())
        .collect::<Vec<_>>();
    let mut in_cluster = case
        .block_on(pods.list(&ListParams::default().labels(LEASE_LABEL)))
        .unwrap_or_else(|e| panic!("list pods: {e}"))
        .items
        .iter()
        .filter_map(|p| p.metadata.labels.as_ref()?.get(LEASE_LABEL).cloned())
        .collect::<Vec<_>>();
    in_cluster.sort();
    let mut sorted = listed_ids.clone();
    sorted.sort();
    assert_eq!(sorted, in_cluster, "list vs the pods of the namespace");
    assert_eq!(
        listed_ids,
        vec![first.id.clone(), second.id.clone()],
        "oldest first"
    );

    let other_company = case.cli(&["list", "--company-id", "nobody-else"]);
    other_company.assert_code(0);
    assert!(
        !other_company
            .json()
            .as_array()
            .is_some_and(|a| a.iter().any(|l| l["id"] == first.id.as_str())),
        "another company's list shows this lease: {}",
        other_company.describe()
    );

    case.release(&first);
    case.release(&second);
    // Until the kubelet has confirmed the deletion the lease is
    // `terminating`; then it is not found.
    let status_after = || case.cli(&lease_args("status", &first));
    let terminating = status_after();
    if terminating.code == Some(0) {
        assert_eq!(terminating.json()["phase"], "terminating");
    }
    let gone = case.block_on(eventually(GONE_LIMIT, || async {
        matches!(pods.get_opt(&first.pod).await, Ok(None))
    }));
    assert!(gone, "pod {} still there after release", first.pod);
    status_after().assert_code(1);
    case.finish();
}

#[test]
fn renew_moves_the_deadline_and_sweep_keeps_the_lease() {
    let Some(case) = Case::start("renew") else {
        return;
    };
    let config = case.config(json!({ "backend": "pod", "leaseMaxAgeSec": 60 }));
    let lease = case.acquire(&config, &[]);
    let old_deadline = rfc3339(lease.json["expiresAt"].as_str().unwrap_or_default());

    let mut args = lease_args("renew", &lease);
    args.extend(["--ttl", "3600"]);
    let renewed = case.cli(&args);
    renewed.assert_code(0);
    let renewed = renewed.json();
    let new_deadline = rfc3339(renewed["expiresAt"].as_str().unwrap_or_default());
    assert!(
        new_deadline > old_deadline + jiff::SignedDuration::from_secs(3000),
        "renew --ttl 3600 moved the deadline from {old_deadline} only to {new_deadline}"
    );

    let pods = Api::<Pod>::namespaced(case.client(), &case.namespace);
    let pod = case
        .block_on(pods.get(&lease.pod))
        .unwrap_or_else(|e| panic!("get pod {}: {e}", lease.pod));
    let annotation = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(EXPIRES_AT))
        .map(|t| rfc3339(t));
    assert_eq!(annotation, Some(new_deadline), "the pod's {EXPIRES_AT}");

    // Past the old deadline, sweep keeps the renewed lease.
    let after_old = (old_deadline + jiff::SignedDuration::from_secs(1)).to_string();
    let swept = case.cli(&["sweep", "--namespace", &case.namespace, "--now", &after_old]);
    swept.assert_code(0);
    let report = swept.json();
    assert_eq!(report["expired"], json!([]), "{report}");
    let still_there = case
        .block_on(pods.get_opt(&lease.pod))
        .unwrap_or_else(|e| panic!("get pod {}: {e}", lease.pod));
    assert!(still_there.is_some(), "sweep deleted the renewed lease");

    case.release(&lease);
    case.finish();
}

#[test]
fn renew_of_a_sandbox_moves_its_shutdown_time() {
    let Some(mut case) = Case::start("renew-sandbox") else {
        return;
    };
    case.start_reconciler();
    let config = case.config(json!({ "backend": "sandbox-cr" }));
    let lease = case.acquire(&config, &[]);
    let mut args = lease_args("renew", &lease);
    args.extend(["--ttl", "7200"]);
    let renewed = case.cli(&args);
    renewed.assert_code(0);
    let expires_at = renewed.json()["expiresAt"].clone();

    let sandboxes =
        Api::<DynamicObject>::namespaced_with(case.client(), &case.namespace, &sandbox_resource());
    let sandbox = case
        .block_on(sandboxes.get(&lease.workload("name")))
        .unwrap_or_else(|e| panic!("get Sandbox: {e}"));
    let shutdown = sandbox.data["spec"]["shutdownTime"].clone();
    assert_eq!(
        shutdown.as_str().map(rfc3339),
        expires_at.as_str().map(rfc3339),
        "the Sandbox's shutdownTime after renew"
    );
    assert_ne!(
        Some(expires_at.clone()),
        lease.json.get("expiresAt").cloned(),
        "renew moved the deadline"
    );
    case.release(&lease);
    case.finish();
}
