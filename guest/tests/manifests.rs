//! `plan` across every backend x egress mode x workspace: apply order,
//! kinds, names, namespaces, and byte-identical output for the same input.

use leasebox_policy::lease::{Command, LeaseRequest};
use leasebox_policy::{names, plan};
use rstest::rstest;
use serde_json::{Value, json};

const LEASE: &str = "lb-01jd8x7k2m3n4p5q6r7s8t9v0w";

fn request(backend: &str, egress: &str, workspace: &str) -> LeaseRequest {
    let workspace = match workspace {
        "pvc" => json!({ "type": "pvc", "storageClass": "standard", "size": "10Gi" }),
        _ => json!({ "type": "emptyDir" }),
    };
    let config = json!({
        "inCluster": true,
        "backend": backend,
        "egressMode": egress,
        "workspace": workspace,
        "egressAllowFqdns": ["api.example.com"],
        "egressAllowCidrs": ["10.20.0.0/16"],
        "imagePullSecrets": ["regcred"],
        "supervisor": {
            "image": "ghcr.io/acme/supervisor:1.0.0",
            "binary": "/usr/local/bin/sup"
        }
    });
    LeaseRequest {
        config: config.to_string(),
        company_id: "Acme Corp".into(),
        run_id: "run-7".into(),
        lease_id: LEASE.into(),
        now: "2026-11-23T10:00:00Z".into(),
        adapter_type: None,
        image_override: None,
        command: Some(Command::Argv(vec!["make".into(), "test".into()])),
    }
}

/// Number of tenant objects at the head of every plan.
const TENANT_OBJECTS: usize = 7;

/// The planned workload: the object named after the lease.
fn workload(objects: &[Value]) -> &Value {
    objects
        .iter()
        .find(|o| o["metadata"]["name"] == LEASE)
        .expect("a workload named after the lease")
}

fn kind_and_name(object: &Value) -> (String, String) {
    (
        object["kind"].as_str().unwrap_or_default().to_string(),
        object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

#[rstest]
fn plan_applies_objects_in_order(
    #[values("sandbox-cr", "job", "pod")] backend: &str,
    #[values("standard", "cilium")] egress: &str,
    #[values("emptyDir", "pvc")] workspace: &str,
) {
    let objects = plan::plan(&request(backend, egress, workspace)).expect("plan succeeds");

    let egress_policy = match egress {
        "cilium" => ("CiliumNetworkPolicy", names::egress_policy_name(LEASE)),
        _ => ("NetworkPolicy", names::egress_policy_name(LEASE)),
    };
    let workload_kind = match backend {
        "sandbox-cr" => "Sandbox",
        "job" => "Job",
        _ => "Pod",
    };
    let namespace = objects[0]["metadata"]["name"]
        .as_str()
        .expect("namespace name")
        .to_string();
    let mut expected = vec![
        ("Namespace", namespace.clone()),
        ("ServiceAccount", names::SERVICE_ACCOUNT.to_string()),
        ("Role", names::ROLE.to_string()),
        ("RoleBinding", names::ROLE_BINDING.to_string()),
        ("ResourceQuota", names::RESOURCE_QUOTA.to_string()),
        ("LimitRange", names::LIMIT_RANGE.to_string()),
        ("NetworkPolicy", names::DENY_ALL_POLICY.to_string()),
        ("Secret", names::secret_name(LEASE)),
        (workload_kind, LEASE.to_string()),
    ];
    if workspace == "pvc" && backend != "sandbox-cr" {
        expected.push(("PersistentVolumeClaim", names::workspace_claim_name(LEASE)));
    }
    expected.push((egress_policy.0, egress_policy.1));

    let actual: Vec<(String, String)> = objects.iter().map(kind_and_name).collect();
    let expected: Vec<(String, String)> = expected
        .into_iter()
        .map(|(k, n)| (k.to_string(), n))
        .collect();
    assert_eq!(actual, expected);

    assert!(namespace.starts_with("leasebox-"), "{namespace}");
    for object in &objects {
        assert!(object["apiVersion"].is_string(), "no apiVersion: {object}");
        assert!(object.get("status").is_none(), "status sent: {object}");
        if object["kind"] != "Namespace" {
            assert_eq!(
                object["metadata"]["namespace"].as_str(),
                Some(namespace.as_str()),
                "{:?}",
                kind_and_name(object)
            );
        }
    }
}

#[rstest]
fn plan_is_byte_identical_for_the_same_request(
    #[values("sandbox-cr", "job", "pod")] backend: &str,
    #[values("standard", "cilium")] egress: &str,
    #[values("emptyDir", "pvc")] workspace: &str,
) {
    let first = plan::plan(&request(backend, egress, workspace)).expect("plan succeeds");
    let second = plan::plan(&request(backend, egress, workspace)).expect("plan succeeds");
    let first = serde_json::to_string(&first).expect("serialises");
    let second = serde_json::to_string(&second).expect("serialises");
    assert_eq!(first, second);
}

#[test]
fn plan_changes_only_with_its_inputs() {
    let base = plan::plan(&request("pod", "standard", "emptyDir")).expect("plan succeeds");
    let mut later = request("pod", "standard", "emptyDir");
    later.now = "2026-11-23T11:00:00Z".into();
    let later = plan::plan(&later).expect("plan succeeds");
    let annotations = |objects: &[Value]| workload(objects)["metadata"]["annotations"].clone();
    assert_ne!(annotations(&base), annotations(&later));
    // Tenant objects do not depend on the time.
    assert_eq!(base[..TENANT_OBJECTS], later[..TENANT_OBJECTS]);
}

#[test]
fn sandbox_pvc_workspace_has_no_separate_claim() {
    let objects = plan::plan(&request("sandbox-cr", "standard", "pvc")).expect("plan succeeds");
    let sandbox = workload(&objects);
    assert_eq!(
        sandbox["spec"]["volumeClaimTemplates"][0]["metadata"]["name"],
        "workspace"
    );
    assert!(objects.iter().all(|o| o["kind"] != "PersistentVolumeClaim"));
}

#[test]
fn job_plan_runs_the_request_command() {
    let objects = plan::plan(&request("job", "standard", "emptyDir")).expect("plan succeeds");
    let container = &workload(&objects)["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["command"], json!(["make", "test"]));
}
