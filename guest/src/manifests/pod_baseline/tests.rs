//! Tests of the pod baseline: each backend's pod, the security
//! baseline, the volume layout, the supervisor.

use rstest::rstest;
use serde_json::{Value, json};

use k8s_openapi::api::core::v1::Container;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::security::container_security_context;
use super::*;
use crate::image;
use crate::lease::Command;
use crate::manifests::{fixture, to_value};

fn spec(config: Value) -> PodSpec {
    pod_spec(&fixture::context(config))
}

fn agent(spec: &PodSpec) -> &Container {
    spec.containers
        .iter()
        .find(|c| c.name == names::AGENT_CONTAINER)
        .expect("agent container")
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[rstest]
#[case::sandbox_cr("sandbox-cr")]
#[case::job("job")]
#[case::pod("pod")]
fn every_backend_runs_non_root_with_runtime_default_seccomp(#[case] backend: &str) {
    let spec = spec(json!({ "backend": backend }));
    let value = to_value(&spec.security_context);
    assert_eq!(
        value,
        json!({
            "fsGroup": 1000,
            "fsGroupChangePolicy": "OnRootMismatch",
            "runAsGroup": 1000,
            "runAsNonRoot": true,
            "runAsUser": 1000,
            "seccompProfile": { "type": "RuntimeDefault" }
        })
    );
    assert_eq!(
        spec.service_account_name.as_deref(),
        Some(names::SERVICE_ACCOUNT)
    );
    assert_eq!(spec.automount_service_account_token, Some(false));
    assert_eq!(spec.termination_grace_period_seconds, Some(5));
}

#[rstest]
#[case::sandbox_cr("sandbox-cr")]
#[case::job("job")]
#[case::pod("pod")]
fn agent_container_is_locked_down(#[case] backend: &str) {
    let spec = spec(json!({ "backend": backend }));
    let value = to_value(&agent(&spec).security_context);
    assert_eq!(
        value,
        json!({
            "allowPrivilegeEscalation": false,
            "capabilities": { "drop": ["ALL"] },
            "readOnlyRootFilesystem": true,
            "runAsNonRoot": true
        })
    );
}

#[test]
fn agent_gets_env_from_the_per_run_secret_and_a_writable_home() {
    let ctx = fixture::context(json!({}));
    let spec = pod_spec(&ctx);
    let agent = agent(&spec);
    let env_from = agent.env_from.clone().unwrap_or_default();
    assert_eq!(env_from.len(), 1);
    assert_eq!(
        env_from[0].secret_ref.as_ref().map(|s| s.name.clone()),
        Some(format!("{}-env", ctx.lease_id))
    );
    let env = agent.env.clone().unwrap_or_default();
    assert_eq!(env[0].name, "HOME");
    assert_eq!(env[0].value.as_deref(), Some(HOME_PATH));
    assert_eq!(agent.image.as_deref(), Some(ctx.image.as_str()));
    assert_eq!(
        agent.image_pull_policy.as_deref(),
        Some(image::pull_policy(&ctx.image))
    );
}

#[test]
fn default_volumes_are_size_limited_empty_dirs() {
    let spec = spec(json!({}));
    let value = to_value(&spec.volumes);
    assert_eq!(
        value,
        json!([
            { "emptyDir": { "sizeLimit": "8Gi" }, "name": "workspace" },
            { "emptyDir": { "sizeLimit": "1Gi" }, "name": "home" },
            { "emptyDir": { "sizeLimit": "1Gi" }, "name": "home-cache" },
            { "emptyDir": { "sizeLimit": "2Gi" }, "name": "tmp" }
        ])
    );
    let mounts: Vec<(String, String)> = agent(&spec)
        .volume_mounts
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|m| (m.name, m.mount_path))
        .collect();
    assert_eq!(
        mounts,
        [
            ("workspace".to_string(), "/workspace".to_string()),
            ("home".to_string(), "/home/agent".to_string()),
            ("home-cache".to_string(), "/home/agent/.cache".to_string()),
            ("tmp".to_string(), "/tmp".to_string()),
        ]
    );
}

#[test]
fn workspace_size_limit_follows_configuration() {
    let spec = spec(json!({ "workspace": { "type": "emptyDir", "sizeLimit": "30Gi" } }));
    let volumes = spec.volumes.unwrap_or_default();
    let size = volumes[0]
        .empty_dir
        .as_ref()
        .and_then(|e| e.size_limit.clone());
    assert_eq!(size, Some(Quantity("30Gi".into())));
}

#[rstest]
#[case::pod("pod")]
#[case::job("job")]
fn pvc_workspace_of_pod_and_job_mounts_the_lease_claim(#[case] backend: &str) {
    let ctx = fixture::context(json!({
        "backend": backend,
        "workspace": { "type": "pvc", "size": "20Gi" }
    }));
    let spec = pod_spec(&ctx);
    let volumes = spec.volumes.clone().unwrap_or_default();
    let workspace = volumes
        .iter()
        .find(|v| v.name == WORKSPACE_VOLUME)
        .expect("workspace volume");
    assert_eq!(workspace.empty_dir, None);
    assert_eq!(
        workspace
            .persistent_volume_claim
            .as_ref()
            .map(|p| p.claim_name.clone()),
        Some(format!("{}-workspace", ctx.lease_id))
    );
}

#[test]
fn pvc_workspace_of_a_sandbox_leaves_the_volume_to_the_controller() {
    let spec = spec(json!({ "workspace": { "type": "pvc", "size": "20Gi" } }));
    let volumes = spec.volumes.clone().unwrap_or_default();
    assert!(volumes.iter().all(|v| v.name != WORKSPACE_VOLUME));
    let mounts = agent(&spec).volume_mounts.clone().unwrap_or_default();
    assert!(
        mounts
            .iter()
            .any(|m| m.name == WORKSPACE_VOLUME && m.mount_path == "/workspace")
    );
}

#[rstest]
#[case::sandbox_cr("sandbox-cr", "Always")]
#[case::pod("pod", "Never")]
fn sandbox_pods_share_the_process_namespace_and_sleep(
    #[case] backend: &str,
    #[case] restart: &str,
) {
    let spec = spec(json!({ "backend": backend }));
    assert_eq!(spec.share_process_namespace, Some(true));
    assert_eq!(spec.restart_policy.as_deref(), Some(restart));
    assert_eq!(agent(&spec).command, Some(strings(&["sleep", "infinity"])));
    assert_eq!(agent(&spec).args, None);
    assert_eq!(spec.init_containers, None);
}

#[test]
fn job_runs_the_request_argv_and_never_restarts() {
    let spec = spec(json!({ "backend": "job" }));
    assert_eq!(spec.restart_policy.as_deref(), Some("Never"));
    assert_eq!(spec.share_process_namespace, None);
    assert_eq!(agent(&spec).command, Some(strings(&["echo", "hi"])));
}

#[test]
fn job_runs_a_shell_string_with_sh_lc() {
    let mut ctx = fixture::context(json!({ "backend": "job" }));
    ctx.command = Some(Command::Shell("make test && echo ok".into()));
    let spec = pod_spec(&ctx);
    assert_eq!(
        agent(&spec).command,
        Some(strings(&["sh", "-lc", "make test && echo ok"]))
    );
}

fn supervisor() -> Value {
    json!({
        "image": "ghcr.io/acme/supervisor:1.0.0",
        "binary": "/usr/local/bin/leasebox-supervisor",
        "args": ["--listen", "0.0.0.0:7777"]
    })
}

#[rstest]
#[case::sandbox_cr("sandbox-cr")]
#[case::pod("pod")]
fn supervisor_is_side_loaded_and_run_by_the_agent(#[case] backend: &str) {
    let spec = spec(json!({ "backend": backend, "supervisor": supervisor() }));
    let init = spec.init_containers.clone().unwrap_or_default();
    assert_eq!(init.len(), 1);
    let install = &init[0];
    assert_eq!(install.name, names::SUPERVISOR_INIT_CONTAINER);
    assert_eq!(
        install.image.as_deref(),
        Some("ghcr.io/acme/supervisor:1.0.0")
    );
    assert_eq!(
        install.command,
        Some(strings(&[
            "cp",
            "/usr/local/bin/leasebox-supervisor",
            "/opt/leasebox/bin/"
        ]))
    );
    assert_eq!(
        to_value(&install.volume_mounts),
        json!([{ "mountPath": "/opt/leasebox/bin", "name": "leasebox-bin" }])
    );
    assert_eq!(install.security_context, Some(container_security_context()));

    let agent = agent(&spec);
    assert_eq!(
        agent.command,
        Some(strings(&["/opt/leasebox/bin/leasebox-supervisor"]))
    );
    assert_eq!(agent.args, Some(strings(&["--listen", "0.0.0.0:7777"])));
    let bin = agent
        .volume_mounts
        .clone()
        .unwrap_or_default()
        .into_iter()
        .find(|m| m.name == BIN_VOLUME)
        .expect("bin mount");
    assert_eq!(bin.mount_path, BIN_PATH);
    assert_eq!(bin.read_only, Some(true));
    let volumes = spec.volumes.clone().unwrap_or_default();
    assert!(
        volumes
            .iter()
            .any(|v| v.name == BIN_VOLUME && v.empty_dir.is_some())
    );
}

#[test]
fn supervisor_install_sits_at_the_limit_range_floor() {
    let spec = spec(json!({
        "supervisor": supervisor(),
        "quota": { "minCpu": "50m", "minMemory": "64Mi" }
    }));
    let init = spec.init_containers.unwrap_or_default();
    let floor = json!({ "cpu": "50m", "memory": "64Mi" });
    let resources = to_value(&init[0].resources);
    assert_eq!(resources["requests"], floor);
    assert_eq!(resources["limits"], floor);
}

#[test]
fn supervisor_custom_install_replaces_the_copy() {
    let mut sup = supervisor();
    sup["install"] = json!(["/bin/installer", "--to", "/opt/leasebox/bin"]);
    let spec = spec(json!({ "supervisor": sup }));
    let init = spec.init_containers.unwrap_or_default();
    assert_eq!(
        init[0].command,
        Some(strings(&["/bin/installer", "--to", "/opt/leasebox/bin"]))
    );
}

#[test]
fn job_ignores_the_supervisor() {
    let spec = spec(json!({ "backend": "job", "supervisor": supervisor() }));
    assert_eq!(spec.init_containers, None);
    assert_eq!(agent(&spec).command, Some(strings(&["echo", "hi"])));
}

#[rstest]
#[case::plain("/usr/bin/sup", "sup")]
#[case::bare("sup", "sup")]
#[case::trailing_slash("/usr/bin/sup/", "sup")]
#[case::root("/", "supervisor")]
fn binary_name_is_the_basename(#[case] binary: &str, #[case] name: &str) {
    assert_eq!(binary_name(binary), name);
}

#[test]
fn resources_come_from_default_resources() {
    let spec = spec(json!({}));
    assert_eq!(
        to_value(&agent(&spec).resources),
        json!({
            "limits": { "cpu": "2", "memory": "4Gi" },
            "requests": { "cpu": "250m", "memory": "512Mi" }
        })
    );
}

#[test]
fn gpu_adds_an_nvidia_limit() {
    let spec = spec(json!({ "gpu": 2, "runtimeClassName": "nvidia" }));
    let resources = to_value(&agent(&spec).resources);
    assert_eq!(resources["limits"]["nvidia.com/gpu"], "2");
    assert!(resources["requests"].get("nvidia.com/gpu").is_none());
    assert_eq!(spec.runtime_class_name.as_deref(), Some("nvidia"));
}

#[test]
fn no_gpu_means_no_gpu_limit() {
    let spec = spec(json!({}));
    assert!(
        to_value(&agent(&spec).resources)["limits"]
            .get("nvidia.com/gpu")
            .is_none()
    );
}

#[test]
fn scheduling_options_pass_through() {
    let spec = spec(json!({
        "imagePullSecrets": ["regcred"],
        "nodeSelector": { "pool": "sandboxes" },
        "tolerations": [
            { "key": "sandbox", "operator": "Equal", "value": "true", "effect": "NoSchedule" },
            { "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30 }
        ]
    }));
    assert_eq!(
        to_value(&spec.image_pull_secrets),
        json!([{ "name": "regcred" }])
    );
    assert_eq!(
        to_value(&spec.node_selector),
        json!({ "pool": "sandboxes" })
    );
    assert_eq!(
        to_value(&spec.tolerations),
        json!([
            { "effect": "NoSchedule", "key": "sandbox", "operator": "Equal", "value": "true" },
            { "effect": "NoExecute", "operator": "Exists", "tolerationSeconds": 30 }
        ])
    );
}

#[test]
fn unset_scheduling_options_are_not_sent() {
    let value = to_value(&spec(json!({})));
    for field in [
        "imagePullSecrets",
        "nodeSelector",
        "tolerations",
        "runtimeClassName",
    ] {
        assert!(value.get(field).is_none(), "{field}");
    }
}

#[test]
fn pod_labels_add_the_agent_role_to_the_lease_labels() {
    let ctx = fixture::context(json!({}));
    let labels = pod_labels(&ctx);
    assert_eq!(
        labels.get(names::LABEL_ROLE).map(String::as_str),
        Some("agent")
    );
    for (k, v) in ctx.lease_labels() {
        assert_eq!(labels.get(&k), Some(&v), "{k}");
    }
}

#[test]
fn workload_annotations_keep_raw_ids_and_times() {
    let ctx = fixture::context(json!({}));
    let annotations = workload_annotations(&ctx);
    assert_eq!(annotations[names::ANNOTATION_COMPANY_ID], "Acme Corp");
    assert_eq!(annotations[names::ANNOTATION_RUN_ID], "run-42");
    assert_eq!(annotations[names::ANNOTATION_CREATED_AT], fixture::NOW);
    assert_eq!(
        annotations[names::ANNOTATION_EXPIRES_AT],
        "2026-11-24T10:00:00Z"
    );
    assert_eq!(annotations[names::ANNOTATION_IMAGE], ctx.image);
}

#[test]
fn default_access_writes_no_access_annotations() {
    let annotations = workload_annotations(&fixture::context(json!({})));
    assert!(!annotations.contains_key(names::ANNOTATION_TERMINALS));
    assert!(!annotations.contains_key(names::ANNOTATION_FILE_ROOTS));
}

#[test]
fn narrowed_access_is_recorded_on_the_workload_for_the_calls_without_configuration() {
    let ctx = fixture::context(json!({
        "terminals": {"enabled": false},
        "files": {"roots": ["/workspace/out"]}
    }));
    let annotations = workload_annotations(&ctx);
    assert_eq!(
        annotations[names::ANNOTATION_TERMINALS],
        names::TERMINALS_DISABLED
    );
    assert_eq!(
        annotations[names::ANNOTATION_FILE_ROOTS],
        r#"["/workspace/out"]"#
    );
}

fn keys(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                out.push(k.clone());
                keys(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| keys(v, out)),
        _ => {}
    }
}

#[rstest]
#[case::sandbox_cr("sandbox-cr")]
#[case::job("job")]
#[case::pod("pod")]
fn no_field_newer_than_kubernetes_1_20_is_sent(#[case] backend: &str) {
    let value = to_value(&spec(json!({
        "backend": backend,
        "supervisor": supervisor(),
        "gpu": 1,
        "tolerations": [{ "operator": "Exists" }]
    })));
    let mut found = Vec::new();
    keys(&value, &mut found);
    for newer in [
        "hostUsers",
        "resizePolicy",
        "appArmorProfile",
        "schedulingGates",
        "resourceClaims",
        "os",
        "recursiveReadOnly",
        "supplementalGroupsPolicy",
        "seLinuxChangePolicy",
    ] {
        assert!(!found.iter().any(|k| k == newer), "{newer} in {value}");
    }
    // Init containers with a restartPolicy are sidecars (1.28+).
    let init = &value["initContainers"];
    assert!(
        init.as_array()
            .is_none_or(|c| c.iter().all(|c| c.get("restartPolicy").is_none()))
    );
}
