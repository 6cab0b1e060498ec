//! The `leasebox` binary, run as a user would: exit codes, output formats,
//! determinism, and `--policy`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

const LEASE_ID: &str = "lb-01jd5z8k9m0000000000000000";
const NOW: &str = "2025-01-02T03:04:05Z";

/// A scratch directory for this test, under the test target directory.
fn scratch(test: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("cli")
        .join(test);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write fixture");
    path
}

/// Runs `leasebox` with its module cache under the test target directory.
fn leasebox(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_leasebox"))
        .args(args)
        .env(
            "LEASEBOX_CACHE_DIR",
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("leasebox-cache"),
        )
        .output()
        .expect("the binary runs")
}

fn stdout_json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

#[test]
fn validate_valid_config_exits_0_with_normalized_config() {
    let dir = scratch("validate_ok");
    let config = write(&dir, "c.json", r#"{"inCluster": true}"#);
    let output = leasebox(&["validate", "--config", config.to_str().expect("utf-8 path")]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let report = stdout_json(&output);
    assert_eq!(report["ok"], json!(true));
    assert_eq!(report["errors"], json!([]));
    assert_eq!(report["normalizedConfig"]["backend"], json!("sandbox-cr"));
}

#[test]
fn validate_invalid_config_exits_1_with_every_error() {
    let dir = scratch("validate_invalid");
    let config = write(&dir, "c.json", r#"{"backend": "vm", "surprise": 1}"#);
    let output = leasebox(&["validate", "--config", config.to_str().expect("utf-8 path")]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let report = stdout_json(&output);
    assert_eq!(report["ok"], json!(false));
    assert_eq!(report["normalizedConfig"], Value::Null);
    let errors = report["errors"].as_array().expect("errors is a list");
    assert!(errors.len() >= 2, "{errors:?}");
    assert!(
        errors
            .iter()
            .all(|e| e["path"].is_string() && e["message"].is_string())
    );
}

#[test]
fn validate_non_json_file_exits_2_with_a_message() {
    let dir = scratch("validate_not_json");
    let config = write(&dir, "c.json", "inCluster: true\n");
    let output = leasebox(&["validate", "--config", config.to_str().expect("utf-8 path")]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(output.stdout.is_empty());
    assert!(String::from_utf8_lossy(&output.stderr).contains("is not JSON"));
}

#[test]
fn validate_missing_file_exits_2_naming_the_file() {
    let output = leasebox(&["validate", "--config", "/nonexistent/leasebox.json"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("/nonexistent/leasebox.json"));
}

fn plan_args<'a>(config: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "plan",
        "--config",
        config,
        "--lease-id",
        LEASE_ID,
        "--now",
        NOW,
    ];
    args.extend_from_slice(extra);
    args
}

#[test]
fn plan_twice_with_the_same_inputs_is_byte_identical() {
    let dir = scratch("plan_determinism");
    let config = write(&dir, "c.json", r#"{"inCluster": true, "backend": "pod"}"#);
    let config = config.to_str().expect("utf-8 path");
    let first = leasebox(&plan_args(config, &[]));
    let second = leasebox(&plan_args(config, &[]));
    assert_eq!(first.status.code(), Some(0), "{first:?}");
    assert_eq!(first.stdout, second.stdout);
    let list = stdout_json(&first);
    assert_eq!(list["apiVersion"], json!("v1"));
    assert_eq!(list["kind"], json!("List"));
    assert!(!list["items"].as_array().expect("items").is_empty());
}

#[test]
fn plan_yaml_has_one_document_per_manifest() {
    let dir = scratch("plan_yaml");
    let config = write(&dir, "c.json", r#"{"inCluster": true, "backend": "job"}"#);
    let config = config.to_str().expect("utf-8 path");
    let json_output = leasebox(&plan_args(config, &["--", "echo", "hi"]));
    let yaml_output = leasebox(&plan_args(config, &["-o", "yaml", "--", "echo", "hi"]));
    assert_eq!(yaml_output.status.code(), Some(0), "{yaml_output:?}");
    let items = stdout_json(&json_output)["items"]
        .as_array()
        .expect("items")
        .clone();
    let text = String::from_utf8(yaml_output.stdout).expect("utf-8");
    let documents = text
        .split("---\n")
        .filter(|d| !d.trim().is_empty())
        .map(|d| serde_yaml::from_str::<Value>(d).expect("each document is YAML"))
        .collect::<Vec<_>>();
    assert_eq!(documents, items);
}

#[test]
fn plan_invalid_config_exits_1_with_the_report() {
    let dir = scratch("plan_invalid");
    let config = write(&dir, "c.json", r#"{"backend": "vm"}"#);
    let output = leasebox(&plan_args(config.to_str().expect("utf-8 path"), &[]));
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let report = stdout_json(&output);
    assert_eq!(report["ok"], json!(false));
    assert!(!report["errors"].as_array().expect("errors").is_empty());
}

#[test]
fn plan_without_lease_id_mints_one() {
    let dir = scratch("plan_minted");
    let config = write(&dir, "c.json", r#"{"inCluster": true, "backend": "pod"}"#);
    let output = leasebox(&["plan", "--config", config.to_str().expect("utf-8 path")]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("\"lb-"), "no lease id in the plan:\n{text}");
}

#[test]
fn schema_prints_a_json_schema() {
    let output = leasebox(&["schema"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let schema = stdout_json(&output);
    assert_eq!(schema["type"], json!("object"));
    assert!(schema["properties"]["backend"].is_object());
}

#[test]
fn policy_flag_runs_the_given_module() {
    let dir = scratch("policy_flag");
    let module = dir.join("copy.wasm");
    std::fs::write(&module, leasebox::runtime::DEFAULT_MODULE).expect("write module");
    let with_flag = leasebox(&["schema", "--policy", module.to_str().expect("utf-8 path")]);
    let without = leasebox(&["schema"]);
    assert_eq!(with_flag.status.code(), Some(0), "{with_flag:?}");
    assert_eq!(with_flag.stdout, without.stdout);
}

#[test]
fn policy_inspect_of_a_file_that_is_not_wasm_exits_1_and_of_a_device_2() {
    let dir = scratch("inspect_not_wasm");
    let text = write(&dir, "notes.wasm", "private notes");
    let output = leasebox(&["policy", "inspect", text.to_str().expect("utf-8 path")]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("is not a WebAssembly file") && !stderr.contains("private"),
        "{stderr}"
    );
    let output = leasebox(&["policy", "inspect", "/dev/zero"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("a character device"));
}

#[test]
fn policy_flag_with_a_file_that_is_not_a_module_exits_2() {
    let dir = scratch("policy_garbage");
    let module = write(&dir, "garbage.wasm", "not wasm");
    let output = leasebox(&["schema", "--policy", module.to_str().expect("utf-8 path")]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("is not a WebAssembly file") && !stderr.contains("not wasm"),
        "refused before compiling, naming what is wrong and quoting none of the file: {stderr}"
    );
}

#[test]
fn policy_flag_with_a_missing_file_exits_2() {
    let output = leasebox(&["schema", "--policy", "/nonexistent/policy.wasm"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("/nonexistent/policy.wasm"));
}

mod no_cluster;
#[path = "../support/npm_package.rs"]
mod npm_package;
mod paperclip_plugin;
mod serve;
mod serve_bounds;
mod typescript_client;

#[test]
fn rbac_prints_the_deployed_rbac() {
    let output = leasebox(&["rbac"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let deployed = include_str!("../../deploy/rbac.yaml");
    assert_eq!(String::from_utf8_lossy(&output.stdout), deployed);
}

#[test]
fn settings_with_a_fence_into_kube_system_exit_2_naming_the_field() {
    let dir = scratch("settings_kube_prefix");
    let settings = write(&dir, "settings.yaml", "fence:\n  namespacePrefix: kube-\n");
    let output = leasebox(&[
        "sweep",
        "--settings",
        settings.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("fence.namespacePrefix"), "{stderr}");
    assert!(stderr.contains("kube-"), "{stderr}");
}

#[test]
fn settings_with_an_unknown_field_exit_2_naming_it() {
    let dir = scratch("settings_unknown_field");
    let settings = write(&dir, "settings.yaml", "guest:\n  memoryMB: 64\n");
    let output = leasebox(&[
        "sweep",
        "--settings",
        settings.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("memoryMB"), "{stderr}");
}
