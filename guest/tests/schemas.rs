//! Every manifest `plan` renders validates, offline, against the vendored
//! schemas in `tests/schemas/` (Kubernetes v1.33 strict schemas, the
//! agent-sandbox `Sandbox` CRD, the CiliumNetworkPolicy schema), plus the
//! API server's name and label rules.
//!
//! The first half pins the validator itself on the shared examples and on
//! deliberately broken manifests, so these tests cannot pass vacuously.
//!
//! Run: `cargo test -p leasebox-policy --test schemas`.

#[path = "support/plan_inputs.rs"]
mod plan_inputs;
#[path = "support/schema_validator.rs"]
mod schema_validator;

use std::path::Path;

use rstest::rstest;
use serde_json::{Value, json};

use plan_inputs::{LEASE_ID, json_files, plan_of, repo_path, shown};
use schema_validator::{
    ObjectReport, SCHEMAS_DIR, prepare_crd_schema, read_documents, store, strictify,
};

// ---------------------------------------------------------------- helpers

/// The reports of every object in `tests/schemas/examples/<file>`.
fn example_reports(file: &str) -> Vec<ObjectReport> {
    let path = Path::new(SCHEMAS_DIR).join("examples").join(file);
    let documents = read_documents(&path).unwrap_or_else(|e| panic!("{e}"));
    store().check_documents(&documents)
}

/// The report of one object, failing the test if it is absent.
fn report_of<'a>(reports: &'a [ObjectReport], object: &str) -> &'a ObjectReport {
    reports
        .iter()
        .find(|r| r.object == object)
        .unwrap_or_else(|| panic!("no object {object} among {reports:?}"))
}

/// Asserts that `object` fails and that every `expected` text occurs in
/// one of its problems.
fn assert_fails_with(object: &Value, expected: &[&str]) {
    let report = store().check(object);
    assert!(!report.ok(), "expected a failure, got {}", report.line());
    for text in expected {
        assert!(
            report.problems.iter().any(|p| p.contains(text)),
            "no problem mentions {text:?}: {}",
            report.line()
        );
    }
}

/// Asserts that every object passes; the message lists each failing
/// `Kind/name` with its schema error paths.
fn assert_all_valid(what: &str, objects: &[Value]) {
    assert!(!objects.is_empty(), "{what}: plan rendered no manifest");
    let failures: Vec<String> = store()
        .check_documents(objects)
        .iter()
        .filter(|r| !r.ok())
        .map(ObjectReport::line)
        .collect();
    assert!(
        failures.is_empty(),
        "{what}: {} of {} manifests fail their schema:\n{}",
        failures.len(),
        objects.len(),
        failures.join("\n")
    );
}

fn valid_job() -> Value {
    let path = Path::new(SCHEMAS_DIR).join("examples/job-valid.yaml");
    let mut documents = read_documents(&path).unwrap_or_else(|e| panic!("{e}"));
    documents.remove(0)
}

fn valid_sandbox() -> Value {
    let path = Path::new(SCHEMAS_DIR).join("examples/sandbox.yaml");
    let mut documents = read_documents(&path).unwrap_or_else(|e| panic!("{e}"));
    documents.remove(0)
}

fn valid_cilium_policy() -> Value {
    json!({
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNetworkPolicy",
        "metadata": { "name": "egress", "namespace": "lb-tenant-a" },
        "spec": {
            "endpointSelector": { "matchLabels": { "leasebox.dev/role": "agent" } },
            "egress": [{
                "toFQDNs": [{ "matchName": "api.github.com" }],
                "toPorts": [{ "ports": [{ "port": "443", "protocol": "TCP" }] }]
            }]
        }
    })
}

// ------------------------------------------------- the validator itself

#[rstest]
#[case::valid_job("job-valid.yaml", "Job/run-abc123", &[])]
#[case::job_with_wrong_types_and_a_typo(
    "job-invalid.yaml",
    "Job/run-bad",
    &["spec.backoffLimit: ", "spec.template.spec.containers[0]: ", "resourcez", "spec.template.spec.containers[0].image: "]
)]
#[case::valid_v1beta1_sandbox("sandbox.yaml", "Sandbox/sbx-7f3a", &[])]
#[case::sandbox_with_a_v1alpha1_field_and_a_bad_enum(
    "sandbox.yaml",
    "Sandbox/sbx-bad",
    &["spec: ", "replicas", "spec.operatingMode: "]
)]
#[case::deprecated_v1alpha1_sandbox("sandbox.yaml", "Sandbox/sbx-old", &[])]
#[case::network_policy("policies.json", "NetworkPolicy/deny-all-but-dns", &[])]
#[case::cilium_fqdn_policy("policies.json", "CiliumNetworkPolicy/egress-fqdn", &[])]
#[case::cilium_match_name_with_a_port(
    "policies.json",
    "CiliumNetworkPolicy/egress-fqdn-bad",
    &["spec.egress[0].toFQDNs[0].matchName: "]
)]
#[case::resource_quota("policies.json", "ResourceQuota/lb-quota", &[])]
#[case::unknown_kind(
    "policies.json",
    "Widget/w",
    &["unknown apiVersion/kind example.com/v1 Widget"]
)]
#[case::namespace_with_bad_name_and_label_value(
    "policies.json",
    "Namespace/Tenant_A",
    &["metadata.name: 'Tenant_A' must be an RFC 1123 label", "metadata.labels[team]: value 'a b'"]
)]
fn shared_examples_pass_or_fail_like_the_reference_tool(
    #[case] file: &str,
    #[case] object: &str,
    #[case] expected_problems: &[&str],
) {
    let reports = example_reports(file);
    let report = report_of(&reports, object);
    if expected_problems.is_empty() {
        assert!(report.ok(), "{}", report.line());
    } else {
        assert!(!report.ok(), "expected a failure: {}", report.line());
        for text in expected_problems {
            assert!(
                report.problems.iter().any(|p| p.contains(text)),
                "no problem mentions {text:?}: {}",
                report.line()
            );
        }
    }
}

#[test]
fn example_list_is_unpacked_into_its_objects() {
    let objects: Vec<String> = example_reports("policies.json")
        .into_iter()
        .map(|r| r.object)
        .collect();
    assert_eq!(
        objects,
        [
            "NetworkPolicy/deny-all-but-dns",
            "CiliumNetworkPolicy/egress-fqdn",
            "CiliumNetworkPolicy/egress-fqdn-bad",
            "ResourceQuota/lb-quota",
            "Widget/w",
            "Namespace/Tenant_A",
        ]
    );
}

#[test]
fn deprecated_sandbox_version_carries_its_warning() {
    let reports = example_reports("sandbox.yaml");
    let old = report_of(&reports, "Sandbox/sbx-old");
    assert!(
        old.deprecation
            .as_deref()
            .is_some_and(|w| w.contains("agents.x-k8s.io/v1alpha1 Sandbox is deprecated")),
        "{old:?}"
    );
    let current = report_of(&reports, "Sandbox/sbx-7f3a");
    assert_eq!(current.deprecation, None);
}

#[test]
fn unknown_field_in_a_container_fails() {
    let mut job = valid_job();
    job["spec"]["template"]["spec"]["containers"][0]["securityContex"] = json!({});
    assert_fails_with(
        &job,
        &["spec.template.spec.containers[0]: ", "securityContex"],
    );
}

#[test]
fn bad_label_value_fails() {
    let mut job = valid_job();
    job["metadata"]["labels"]["leasebox.dev/run-id"] = json!("run 42!");
    assert_fails_with(
        &job,
        &["metadata.labels[leasebox.dev/run-id]: value 'run 42!'"],
    );
}

#[test]
fn label_value_over_63_chars_fails() {
    let mut job = valid_job();
    job["metadata"]["labels"]["leasebox.dev/run-id"] = json!("a".repeat(64));
    assert_fails_with(&job, &["metadata.labels[leasebox.dev/run-id]"]);
}

#[test]
fn label_key_with_two_slashes_fails() {
    let mut job = valid_job();
    job["metadata"]["labels"]["a/b/c"] = json!("x");
    assert_fails_with(&job, &["label key 'a/b/c' has more than one '/'"]);
}

#[test]
fn wrong_type_in_a_pod_spec_fails() {
    let mut job = valid_job();
    job["spec"]["template"]["spec"]["automountServiceAccountToken"] = json!("no");
    assert_fails_with(&job, &["spec.template.spec.automountServiceAccountToken: "]);
}

#[test]
fn object_name_over_253_chars_fails() {
    let mut job = valid_job();
    job["metadata"]["name"] = json!("a".repeat(254));
    assert_fails_with(&job, &["metadata.name: ", "RFC 1123 subdomain"]);
}

#[test]
fn missing_name_fails() {
    let mut job = valid_job();
    if let Some(meta) = job["metadata"].as_object_mut() {
        meta.remove("name");
    }
    assert_fails_with(&job, &["metadata.name: required"]);
}

#[test]
fn namespace_that_is_not_a_label_fails() {
    let mut job = valid_job();
    job["metadata"]["namespace"] = json!("tenant.a");
    assert_fails_with(
        &job,
        &["metadata.namespace: 'tenant.a' must be an RFC 1123 label"],
    );
}

#[test]
fn namespace_name_over_63_chars_fails() {
    let namespace = json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": { "name": "a".repeat(64) }
    });
    assert_fails_with(&namespace, &["RFC 1123 label"]);
}

#[test]
fn role_name_is_only_a_path_segment() {
    let role = |name: &str| {
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": { "name": name, "namespace": "lb-tenant-a" },
            "rules": []
        })
    };
    assert!(store().check(&role("Leasebox:Agent")).ok());
    assert_fails_with(
        &role("a/b"),
        &["may not be '.', '..' or contain '/' or '%'"],
    );
}

#[test]
fn unknown_field_in_a_sandbox_pod_template_fails() {
    let mut sandbox = valid_sandbox();
    sandbox["spec"]["podTemplate"]["spec"]["containers"][0]["imagePullPolicyy"] = json!("Always");
    assert_fails_with(
        &sandbox,
        &["spec.podTemplate.spec.containers[0]: ", "imagePullPolicyy"],
    );
}

#[test]
fn sandbox_metadata_is_checked_as_object_meta() {
    let mut sandbox = valid_sandbox();
    sandbox["metadata"]["lables"] = json!({ "a": "b" });
    assert_fails_with(&sandbox, &["metadata: ", "lables"]);
}

#[test]
fn sandbox_with_wrong_api_version_is_unknown() {
    let mut sandbox = valid_sandbox();
    sandbox["apiVersion"] = json!("agents.x-k8s.io/v2");
    assert_fails_with(
        &sandbox,
        &["unknown apiVersion/kind agents.x-k8s.io/v2 Sandbox"],
    );
}

#[test]
fn operating_mode_is_not_a_v1alpha1_field() {
    let mut sandbox = valid_sandbox();
    sandbox["apiVersion"] = json!("agents.x-k8s.io/v1alpha1");
    assert_fails_with(&sandbox, &["operatingMode"]);
}

#[test]
fn valid_cilium_policy_passes() {
    let report = store().check(&valid_cilium_policy());
    assert!(report.ok(), "{}", report.line());
}

#[test]
fn unknown_field_in_a_cilium_rule_fails() {
    let mut policy = valid_cilium_policy();
    policy["spec"]["egress"][0]["toFQDN"] = json!([{ "matchName": "pypi.org" }]);
    assert_fails_with(&policy, &["spec.egress[0]: ", "toFQDN"]);
}

#[test]
fn cilium_metadata_is_checked_as_object_meta() {
    let mut policy = valid_cilium_policy();
    policy["metadata"]["namespce"] = json!("x");
    assert_fails_with(&policy, &["metadata: ", "namespce"]);
}

#[test]
fn cilium_cluster_wide_policy_has_no_schema() {
    let mut policy = valid_cilium_policy();
    policy["kind"] = json!("CiliumClusterwideNetworkPolicy");
    assert_fails_with(&policy, &["unknown apiVersion/kind"]);
}

#[test]
fn strictify_closes_objects_that_list_properties() {
    let schema = strictify(json!({
        "type": "object",
        "properties": {
            "closed": { "type": "object", "properties": { "a": { "type": "string" } } },
            "open": { "type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {} },
            "map": { "type": "object", "additionalProperties": { "type": "string" } },
            "list": { "type": "array", "items": { "type": "object", "properties": {} } }
        }
    }));
    assert_eq!(schema["additionalProperties"], json!(false));
    assert_eq!(
        schema["properties"]["closed"]["additionalProperties"],
        json!(false)
    );
    assert_eq!(
        schema["properties"]["open"].get("additionalProperties"),
        None
    );
    assert_eq!(
        schema["properties"]["map"]["additionalProperties"],
        json!({ "type": "string" })
    );
    assert_eq!(
        schema["properties"]["list"]["items"]["additionalProperties"],
        json!(false)
    );
}

#[test]
fn nullable_admits_null() {
    let schema = strictify(json!({ "type": "string", "nullable": true }));
    assert_eq!(schema["type"], json!(["string", "null"]));
}

#[test]
fn prepared_crd_schema_pins_api_version_kind_and_object_meta() {
    let schema = prepare_crd_schema(json!({ "properties": {} }), "example.com/v1", "Thing");
    assert_eq!(
        schema["properties"]["apiVersion"],
        json!({ "const": "example.com/v1" })
    );
    assert_eq!(schema["properties"]["kind"], json!({ "const": "Thing" }));
    assert_eq!(
        schema["properties"]["metadata"]["$ref"],
        json!(
            "https://kubernetes.io/api/_definitions.json#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
        )
    );
    assert_eq!(schema["additionalProperties"], json!(false));
}

#[test]
fn every_kind_plan_may_render_has_a_schema() {
    for (api_version, kind) in [
        ("v1", "Namespace"),
        ("v1", "ServiceAccount"),
        ("rbac.authorization.k8s.io/v1", "Role"),
        ("rbac.authorization.k8s.io/v1", "RoleBinding"),
        ("v1", "ResourceQuota"),
        ("v1", "LimitRange"),
        ("networking.k8s.io/v1", "NetworkPolicy"),
        ("cilium.io/v2", "CiliumNetworkPolicy"),
        ("agents.x-k8s.io/v1beta1", "Sandbox"),
        ("agents.x-k8s.io/v1alpha1", "Sandbox"),
        ("batch/v1", "Job"),
        ("v1", "Pod"),
        ("v1", "Secret"),
        ("v1", "PersistentVolumeClaim"),
    ] {
        assert!(store().knows(api_version, kind), "{api_version} {kind}");
    }
}

// ------------------------------------------------------------ plan output

/// A configuration for a backend, egress mode and workspace type, with
/// FQDNs and CIDRs so the egress policies have rules, and `extra` merged in.
fn config(backend: &str, egress: &str, workspace: &str, extra: Value) -> Value {
    let workspace = match workspace {
        "pvc" => json!({ "type": "pvc", "storageClass": "standard", "size": "10Gi" }),
        _ => json!({ "type": "emptyDir", "sizeLimit": "8Gi" }),
    };
    let fqdns = match egress {
        "cilium" => json!(["api.github.com", "*.pypi.org"]),
        _ => json!(["api.github.com", "pypi.org"]),
    };
    let mut config = json!({
        "inCluster": true,
        "backend": backend,
        "egressMode": egress,
        "workspace": workspace,
        "egressAllowFqdns": fqdns,
        "egressAllowCidrs": [
            "10.20.0.0/16",
            { "cidr": "192.0.2.0/24", "ports": [{ "port": 5432 }, { "port": 53, "protocol": "UDP" }] }
        ]
    });
    if let (Some(base), Some(extra)) = (config.as_object_mut(), extra.as_object()) {
        for (key, value) in extra {
            base.insert(key.clone(), value.clone());
        }
    }
    config
}

/// The apiVersion and kind of the workload a configuration plans.
fn workload_of(backend: &str, extra: &Value) -> (String, &'static str) {
    match backend {
        "job" => ("batch/v1".into(), "Job"),
        "pod" => ("v1".into(), "Pod"),
        _ => {
            let version = extra["sandboxApiVersion"].as_str().unwrap_or("v1beta1");
            (format!("agents.x-k8s.io/{version}"), "Sandbox")
        }
    }
}

fn has_object(objects: &[Value], api_version: &str, kind: &str) -> bool {
    objects
        .iter()
        .any(|o| o["apiVersion"] == api_version && o["kind"] == kind)
}

fn supervisor() -> Value {
    json!({
        "image": "ghcr.io/acme/leasebox-supervisor:1.4.0",
        "binary": "/usr/local/bin/leasebox-supervisor",
        "args": ["--listen", "127.0.0.1:7000"]
    })
}

fn scheduling() -> Value {
    json!({
        "gpu": 1,
        "runtimeClassName": "nvidia",
        "nodeSelector": { "nvidia.com/gpu.present": "true", "kubernetes.io/arch": "amd64" },
        "tolerations": [
            { "key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule" },
            { "key": "dedicated", "operator": "Equal", "value": "agents", "effect": "NoExecute", "tolerationSeconds": 300 }
        ],
        "imagePullSecrets": ["regcred", "ghcr-pull"],
        "serviceAccountAnnotations": { "iam.gke.io/gcp-service-account": "agents@acme.iam.gserviceaccount.com" }
    })
}

fn ipv6_and_callback() -> Value {
    json!({
        "egressAllowCidrs": [
            "2001:db8::/32",
            { "cidr": "fd00:10::/64", "ports": [{ "port": 8443 }] },
            "10.20.0.0/16"
        ],
        "serverCallback": {
            "namespace": "paperclip",
            "podLabels": { "app.kubernetes.io/name": "paperclip-server" },
            "port": 3100
        }
    })
}

#[rstest]
#[case::sandbox_standard_empty_dir("sandbox-cr", "standard", "emptyDir", json!({}))]
#[case::sandbox_standard_pvc("sandbox-cr", "standard", "pvc", json!({}))]
#[case::sandbox_cilium_empty_dir("sandbox-cr", "cilium", "emptyDir", json!({}))]
#[case::sandbox_cilium_pvc("sandbox-cr", "cilium", "pvc", json!({}))]
#[case::job_standard_empty_dir("job", "standard", "emptyDir", json!({}))]
#[case::job_standard_pvc("job", "standard", "pvc", json!({}))]
#[case::job_cilium_empty_dir("job", "cilium", "emptyDir", json!({}))]
#[case::job_cilium_pvc("job", "cilium", "pvc", json!({}))]
#[case::pod_standard_empty_dir("pod", "standard", "emptyDir", json!({}))]
#[case::pod_standard_pvc("pod", "standard", "pvc", json!({}))]
#[case::pod_cilium_empty_dir("pod", "cilium", "emptyDir", json!({}))]
#[case::pod_cilium_pvc("pod", "cilium", "pvc", json!({}))]
#[case::sandbox_v1alpha1_pvc(
    "sandbox-cr",
    "standard",
    "pvc",
    json!({ "sandboxApiVersion": "v1alpha1" })
)]
#[case::pod_with_supervisor(
    "pod",
    "standard",
    "emptyDir",
    json!({ "supervisor": supervisor() })
)]
#[case::sandbox_with_gpu_tolerations_node_selector_runtime_class_pull_secrets(
    "sandbox-cr",
    "cilium",
    "emptyDir",
    scheduling()
)]
#[case::job_with_ipv6_cidrs_and_callback_standard(
    "job",
    "standard",
    "emptyDir",
    ipv6_and_callback()
)]
#[case::pod_with_ipv6_cidrs_and_callback_cilium("pod", "cilium", "pvc", ipv6_and_callback())]
fn every_planned_manifest_matches_its_schema(
    #[case] backend: &str,
    #[case] egress: &str,
    #[case] workspace: &str,
    #[case] extra: Value,
) {
    let config = config(backend, egress, workspace, extra.clone());
    let objects =
        plan_of(&config.to_string()).unwrap_or_else(|e| panic!("plan failed for {config}: {e}"));

    let (api_version, kind) = workload_of(backend, &extra);
    assert!(
        has_object(&objects, &api_version, kind),
        "plan has no {api_version} {kind}: {objects:#?}"
    );
    let (policy_version, policy_kind) = match egress {
        "cilium" => ("cilium.io/v2", "CiliumNetworkPolicy"),
        _ => ("networking.k8s.io/v1", "NetworkPolicy"),
    };
    let policy_name = leasebox_policy::names::egress_policy_name(LEASE_ID);
    assert!(
        objects.iter().any(|o| o["apiVersion"] == policy_version
            && o["kind"] == policy_kind
            && o["metadata"]["name"] == policy_name.as_str()),
        "plan has no {policy_kind} {policy_name}"
    );
    assert!(
        has_object(&objects, "v1", "Namespace"),
        "plan has no Namespace"
    );

    assert_all_valid(
        &format!("{backend}/{egress}/{workspace} {config}"),
        &objects,
    );
}

#[rstest]
#[case::standard("standard")]
#[case::cilium("cilium")]
fn owned_egress_policy_matches_its_schema(#[case] egress: &str) {
    let config = config("pod", egress, "emptyDir", ipv6_and_callback());
    let request = plan_inputs::request(&config.to_string());
    let ctx = leasebox_policy::plan::context(&request).expect("context resolves");
    let mut owner = ctx.workload_ref();
    owner.uid = Some("5f0c2a9e-0b1d-4c9e-9a57-2b1f3c4d5e6f".into());
    let policy = leasebox_policy::manifests::egress_policy(&ctx, Some(&owner));
    assert_eq!(
        policy["metadata"]["ownerReferences"][0]["uid"],
        "5f0c2a9e-0b1d-4c9e-9a57-2b1f3c4d5e6f"
    );
    assert_all_valid(&format!("owned {egress} egress policy"), &[policy]);
}

#[test]
fn fixed_lease_id_is_a_valid_lease_id() {
    assert_eq!(leasebox_policy::names::check_lease_id(LEASE_ID), Ok(()));
}

#[test]
fn fixture_configs_plan_schema_valid_manifests() {
    let files = json_files(&repo_path("tests/fixtures/config")).unwrap_or_else(|e| panic!("{e}"));
    for file in files {
        let config = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{e}"));
        let objects =
            plan_of(&config).unwrap_or_else(|e| panic!("plan failed for {}: {e}", shown(&file)));
        assert_all_valid(&shown(&file), &objects);
    }
}

#[test]
fn example_configs_plan_schema_valid_manifests() {
    let files = json_files(&repo_path("examples")).unwrap_or_else(|e| panic!("{e}"));
    for file in files {
        let config = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{e}"));
        let objects =
            plan_of(&config).unwrap_or_else(|e| panic!("plan failed for {}: {e}", shown(&file)));
        assert_all_valid(&shown(&file), &objects);
    }
}

#[test]
fn pod_busybox_example_runs_busybox_k8s_real_in_a_pod() {
    let config = std::fs::read_to_string(repo_path("examples/pod-busybox.json"))
        .unwrap_or_else(|e| panic!("{e}"));
    let objects = plan_of(&config).unwrap_or_else(|e| panic!("plan failed: {e}"));
    let pod = objects
        .iter()
        .find(|o| o["kind"] == "Pod")
        .unwrap_or_else(|| panic!("no Pod in {objects:#?}"));
    let images: Vec<&str> = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["image"].as_str())
        .collect();
    assert_eq!(images, ["busybox:k8s-real"]);
}

// ------------------------------------------------------------ deploy/

/// The manifests operators apply by hand validate like the planned ones
/// (the platform example is the only place a Deployment or ConfigMap is
/// written, so nothing else would catch a typo in it).
#[rstest]
#[case::host_rbac("deploy/rbac.yaml", "ClusterRole")]
#[case::platform_example("deploy/platform-example.yaml", "Deployment")]
fn deploy_manifests_match_their_schemas(#[case] file: &str, #[case] expected_kind: &str) {
    let documents = read_documents(&repo_path(file)).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        documents.iter().any(|d| d["kind"] == expected_kind),
        "{file} has no {expected_kind}"
    );
    assert_all_valid(file, &documents);
}
