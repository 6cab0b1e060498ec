//! `plan` through the component, of either contract version, equals
//! `leasebox_policy::plan::plan` of the native crate, for every backend x
//! egress mode x workspace, and for the ways a request can be refused.

use leasebox::contract as wit;
use leasebox_policy::error as native_error;
use leasebox_policy::lease as native;
use rstest::rstest;
use serde_json::{Value, json};

use crate::support::{default_policy, every_contract, offline};

const LEASE_ID: &str = "lb-01jd5z8k9m0000000000000000";
const NOW: &str = "2025-01-02T03:04:05Z";

fn request(config: &Value) -> wit::LeaseRequest {
    wit::LeaseRequest {
        config: config.to_string(),
        company_id: "Acme Corp".into(),
        run_id: "run-1".into(),
        lease_id: LEASE_ID.into(),
        now: NOW.into(),
        adapter_type: None,
        image_override: None,
        command: Some(wit::Command::Argv(vec![
            "sh".into(),
            "-c".into(),
            "echo hi".into(),
        ])),
    }
}

fn to_native(request: &wit::LeaseRequest) -> native::LeaseRequest {
    native::LeaseRequest {
        config: request.config.clone(),
        company_id: request.company_id.clone(),
        run_id: request.run_id.clone(),
        lease_id: request.lease_id.clone(),
        now: request.now.clone(),
        adapter_type: request.adapter_type.clone(),
        image_override: request.image_override.clone(),
        command: request.command.as_ref().map(|c| match c {
            wit::Command::Argv(argv) => native::Command::Argv(argv.clone()),
            wit::Command::Shell(s) => native::Command::Shell(s.clone()),
        }),
    }
}

fn object_ref(r: &wit::ObjectRef) -> native::ObjectRef {
    native::ObjectRef {
        api_version: r.api_version.clone(),
        kind: r.kind.clone(),
        namespace: r.namespace.clone(),
        name: r.name.clone(),
        uid: r.uid.clone(),
    }
}

fn error_to_native(error: &wit::PolicyError) -> native_error::PolicyError {
    use native_error::PolicyError as N;
    match error {
        wit::PolicyError::InvalidConfig(issues) => N::InvalidConfig(
            issues
                .iter()
                .map(|i| leasebox_policy::config::Issue::new(i.path.clone(), i.message.clone()))
                .collect(),
        ),
        wit::PolicyError::NotAllowed(m) => N::NotAllowed(m.clone()),
        wit::PolicyError::Failed(f) => N::Failed(failure_to_native(f)),
        wit::PolicyError::LeaseNotFound(m) => N::LeaseNotFound(m.clone()),
        wit::PolicyError::BadRequest(m) => N::BadRequest(m.clone()),
        wit::PolicyError::Cancelled(f) => N::Cancelled(failure_to_native(f)),
    }
}

fn failure_to_native(f: &wit::Failure) -> native_error::Failure {
    native_error::Failure {
        step: f.step.clone(),
        reason: f.reason.clone(),
        message: f.message.clone(),
        rolled_back: f.rolled_back.iter().map(object_ref).collect(),
        left_behind: f.left_behind.iter().map(object_ref).collect(),
    }
}

/// The manifests in a fixed order (kind, namespace, name), for comparing
/// what two modules plan regardless of the order they apply it in.
fn by_name(manifests: &[Value]) -> Vec<Value> {
    let mut sorted = manifests.to_vec();
    sorted.sort_by_key(|m| {
        ["/kind", "/metadata/namespace", "/metadata/name"].map(|p| {
            m.pointer(p)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        })
    });
    sorted
}

/// Runs `request` natively and through the module of every contract
/// version, and checks that all agree; returns the result. The current
/// module plans exactly what native code plans; a module of an older
/// contract the same objects, in its own apply order (0.1.0 applied the
/// Secret last, 0.2.0 before the workload).
#[allow(clippy::result_large_err)] // the contract's own error type, as generated
fn assert_same_plan(request: &wit::LeaseRequest) -> Result<Vec<Value>, native_error::PolicyError> {
    let native = leasebox_policy::plan::plan(&to_native(request));
    for (contract, policy) in every_contract() {
        let through_component = policy
            .plan(&offline(), request)
            .expect("the module does not trap")
            .map(|manifests| {
                manifests
                    .iter()
                    .map(|m| serde_json::from_str::<Value>(m).expect("each manifest is JSON"))
                    .collect::<Vec<_>>()
            })
            .map_err(|e| error_to_native(&e));
        match (&through_component, &native) {
            (Ok(older), Ok(current)) if contract != every_contract()[0].0 => {
                assert_eq!(by_name(older), by_name(current), "contract {contract}");
            }
            _ => assert_eq!(through_component, native, "contract {contract}"),
        }
    }
    native
}

#[rstest]
fn plan_through_the_component_equals_native_plan(
    #[values("sandbox-cr", "job", "pod")] backend: &str,
    #[values("standard", "cilium")] egress_mode: &str,
    #[values(
        json!({"type": "emptyDir", "sizeLimit": "4Gi"}),
        json!({"type": "pvc", "storageClass": "fast", "size": "30Gi"})
    )]
    workspace: Value,
) {
    let config = json!({
        "inCluster": true,
        "backend": backend,
        "egressMode": egress_mode,
        "egressAllowFqdns": ["pypi.org"],
        "egressAllowCidrs": ["10.20.0.0/16", {"cidr": "2001:db8::/32", "ports": [{"port": 5432}]}],
        "workspace": workspace,
    });
    let manifests = assert_same_plan(&request(&config)).expect("a valid configuration plans");
    assert!(!manifests.is_empty());
}

#[rstest]
#[case::invalid_config(json!({"inCluster": true, "backend": "vm"}), None)]
#[case::image_outside_the_allow_list(json!({"inCluster": true, "imageAllowList": ["ghcr.io/acme/*"]}), Some("docker.io/evil/agent:1"))]
fn refused_plan_is_refused_the_same_way(#[case] config: Value, #[case] image: Option<&str>) {
    let mut request = request(&config);
    request.image_override = image.map(str::to_string);
    assert!(assert_same_plan(&request).is_err());
}

#[test]
fn malformed_lease_id_is_refused_the_same_way() {
    let mut request = request(&json!({"inCluster": true}));
    request.lease_id = "not-a-lease".into();
    assert!(assert_same_plan(&request).is_err());
}

#[test]
fn same_inputs_give_identical_manifests() {
    let request = request(&json!({"inCluster": true, "backend": "pod"}));
    let first = default_policy()
        .plan(&offline(), &request)
        .expect("no trap");
    let second = default_policy()
        .plan(&offline(), &request)
        .expect("no trap");
    assert_eq!(format!("{first:?}"), format!("{second:?}"));
    assert!(first.is_ok(), "{first:?}");
}
