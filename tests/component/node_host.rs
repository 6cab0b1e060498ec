//! A second host gives the same answers: the default module transpiled with
//! jco (`tests/node/`, pinned by its `package-lock.json`) and run in Node by
//! `tests/node/host.mjs` returns, for every configuration of
//! `tests/fixtures/config/` and `examples/`, a broken configuration and a
//! refused image, the same `validate-config` report (field by field), the
//! same `config-schema` text and the same `plan` manifests (byte for byte)
//! or the same `policy-error` as the wasmtime host.
//!
//! Node and `npm ci --prefix tests/node` are part of the test command: when
//! either is missing these tests fail, naming the fix.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;

use leasebox::contract as wit;
use serde_json::{Value, json};

use crate::support::{default_policy, offline};

const LEASE_ID: &str = "lb-01jd5z8k9m0000000000000000";
const NOW: &str = "2025-01-02T03:04:05Z";
const FIX: &str = "run `npm ci --prefix tests/node` (Node 20+ on PATH) before `cargo test`";

/// One configuration run through both hosts: its validate report and its
/// plan for `request`.
struct Case {
    name: String,
    /// The `lease-request` in jco's JS shape (camelCase, `{tag, val}`).
    request: Value,
}

/// What the Node host returned for each case, and for `config-schema`.
struct NodeAnswers {
    schema: Value,
    /// Per case: (validate-config, plan).
    cases: Vec<(Value, Value)>,
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

fn request(config: String, image_override: Option<&str>) -> Value {
    let mut request = json!({
        "config": config,
        "companyId": "Acme Corp",
        "runId": "run-1",
        "leaseId": LEASE_ID,
        "now": NOW,
        "command": {"tag": "argv", "val": ["sh", "-c", "echo hi"]},
    });
    if let Some(image) = image_override {
        request["imageOverride"] = json!(image);
    }
    request
}

/// Every configuration file of the fixtures and examples, one broken
/// configuration and one image outside the allow-list.
fn cases() -> &'static [Case] {
    static CASES: OnceLock<Vec<Case>> = OnceLock::new();
    CASES.get_or_init(|| {
        let mut files = Vec::new();
        for dir in ["tests/fixtures/config", "examples"] {
            let entries = std::fs::read_dir(workspace().join(dir))
                .unwrap_or_else(|e| panic!("cannot list {dir}: {e}"));
            for entry in entries {
                let path = entry.expect("a directory entry").path();
                if path.extension().is_some_and(|e| e == "json") {
                    files.push(path);
                }
            }
        }
        files.sort();
        assert!(files.len() >= 8, "fixture configurations not found");
        let mut cases: Vec<Case> = files
            .iter()
            .map(|path| Case {
                name: path
                    .strip_prefix(workspace())
                    .expect("under the workspace")
                    .display()
                    .to_string(),
                request: request(
                    std::fs::read_to_string(path)
                        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display())),
                    None,
                ),
            })
            .collect();
        cases.push(Case {
            name: "broken: unknown backend, bad CIDR, unknown field".into(),
            request: request(
                json!({"backend": "vm", "egressAllowCidrs": ["10.0.0.0/33"], "surprise": true})
                    .to_string(),
                None,
            ),
        });
        cases.push(Case {
            name: "refused: image outside the allow-list".into(),
            request: request(
                json!({"inCluster": true, "imageAllowList": ["ghcr.io/acme/*"]}).to_string(),
                Some("docker.io/evil/agent:1"),
            ),
        });
        cases
    })
}

/// The JS-shaped request as the wasmtime host's record.
fn lease_request(js: &Value) -> wit::LeaseRequest {
    let text = |key: &str| js[key].as_str().map(str::to_string);
    let command = match (js["command"]["tag"].as_str(), &js["command"]["val"]) {
        (Some("argv"), Value::Array(argv)) => Some(wit::Command::Argv(
            argv.iter()
                .map(|a| a.as_str().expect("argv is strings").to_string())
                .collect(),
        )),
        (Some("shell"), Value::String(s)) => Some(wit::Command::Shell(s.clone())),
        _ => None,
    };
    wit::LeaseRequest {
        config: text("config").expect("config"),
        company_id: text("companyId").expect("companyId"),
        run_id: text("runId").expect("runId"),
        lease_id: text("leaseId").expect("leaseId"),
        now: text("now").expect("now"),
        adapter_type: text("adapterType"),
        image_override: text("imageOverride"),
        command,
    }
}

fn issues(issues: &[wit::Issue]) -> Value {
    issues
        .iter()
        .map(|i| json!({"path": i.path, "message": i.message}))
        .collect()
}

/// The report in jco's JS shape.
fn report_json(report: &wit::ValidationReport) -> Value {
    json!({
        "ok": report.ok,
        "errors": issues(&report.errors),
        "warnings": issues(&report.warnings),
        "normalizedConfig": report.normalized_config,
    })
}

/// The error in jco's JS shape (`{tag, val}`).
fn error_json(error: &wit::PolicyError) -> Value {
    use wit::PolicyError as E;
    let (tag, val) = match error {
        E::InvalidConfig(list) => ("invalid-config", issues(list)),
        E::NotAllowed(m) => ("not-allowed", json!(m)),
        E::LeaseNotFound(m) => ("lease-not-found", json!(m)),
        E::BadRequest(m) => ("bad-request", json!(m)),
        // `plan` does no I/O, so it never fails a step nor is cancelled;
        // should it, the mismatch shows both sides.
        E::Failed(f) => ("failed", json!(format!("{f:?}"))),
        E::Cancelled(f) => ("cancelled", json!(format!("{f:?}"))),
    };
    json!({"tag": tag, "val": val})
}

/// Runs `node` with `args` from the workspace root; its stdout.
fn node(args: &[&str]) -> Vec<u8> {
    let output = Command::new("node")
        .args(args)
        .current_dir(workspace())
        .output()
        .unwrap_or_else(|e| panic!("cannot run `node` ({e}): {FIX}"));
    assert!(
        output.status.success(),
        "`node {}` failed ({}):\n{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// Transpiles the default module once and runs every request of the cases
/// in one Node process (a fresh instance per call).
fn node_answers() -> &'static NodeAnswers {
    static ANSWERS: OnceLock<NodeAnswers> = OnceLock::new();
    ANSWERS.get_or_init(|| {
        let jco = workspace().join("tests/node/node_modules/@bytecodealliance/jco");
        assert!(jco.is_dir(), "{} is missing: {FIX}", jco.display());
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("node-host-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let module = dir.join("policy.wasm");
        std::fs::write(&module, leasebox::runtime::DEFAULT_MODULE).expect("module written");
        let out = dir.join("out");

        let started = Instant::now();
        node(&[
            "tests/node/node_modules/.bin/jco",
            "transpile",
            module.to_str().expect("UTF-8 path"),
            "-o",
            out.to_str().expect("UTF-8 path"),
            "--name",
            "policy",
            "--instantiation",
            "async",
            "--no-typescript",
            "--quiet",
        ]);
        eprintln!("node host: jco transpile took {:?}", started.elapsed());

        let mut requests = vec![json!({"call": "config-schema"})];
        for case in cases() {
            requests.push(json!({"call": "validate-config", "config": case.request["config"]}));
            requests.push(json!({"call": "plan", "request": case.request}));
        }
        let calls = requests.len();
        let requests_file = dir.join("requests.json");
        std::fs::write(&requests_file, Value::from(requests).to_string()).expect("requests");

        let started = Instant::now();
        let stdout = node(&[
            "tests/node/host.mjs",
            out.to_str().expect("UTF-8 path"),
            "policy",
            requests_file.to_str().expect("UTF-8 path"),
        ]);
        eprintln!("node host: {calls} calls took {:?}", started.elapsed());
        let _ = std::fs::remove_dir_all(&dir);

        let answers: Vec<Value> =
            serde_json::from_slice(&stdout).expect("the Node host prints a JSON array");
        assert_eq!(answers.len(), calls, "one answer per request");
        let mut answers = answers.into_iter();
        let schema = answers.next().expect("schema answer");
        let mut cases = Vec::new();
        while let (Some(validate), Some(plan)) = (answers.next(), answers.next()) {
            cases.push((validate, plan));
        }
        NodeAnswers { schema, cases }
    })
}

/// `{"ok": v}` -> `v`; anything else (an error or a trap) is a mismatch.
fn ok<'a>(answer: &'a Value, what: &str, mismatches: &mut Vec<String>) -> Option<&'a Value> {
    let value = answer.get("ok");
    if value.is_none() {
        mismatches.push(format!(
            "{what}: the Node host did not return a value: {answer}"
        ));
    }
    value
}

fn assert_no_mismatch(mismatches: Vec<String>) {
    assert!(
        mismatches.is_empty(),
        "the Node host differs from the wasmtime host:\n- {}",
        mismatches.join("\n- ")
    );
}

#[test]
fn node_host_validate_reports_equal_wasmtime_field_by_field() {
    let mut mismatches = Vec::new();
    for (case, (answer, _)) in cases().iter().zip(&node_answers().cases) {
        let config = case.request["config"].as_str().expect("config text");
        let native = default_policy()
            .validate_config(&offline(), config)
            .expect("wasmtime: no trap");
        let what = format!("{}: validate-config", case.name);
        let (Some(Value::Object(node)), Value::Object(native)) =
            (ok(answer, &what, &mut mismatches), report_json(&native))
        else {
            continue;
        };
        let fields: BTreeSet<&String> = node.keys().chain(native.keys()).collect();
        for field in fields {
            if node.get(field) != native.get(field) {
                mismatches.push(format!(
                    "{what}: field `{field}`: node {:?}, wasmtime {:?}",
                    node.get(field),
                    native.get(field)
                ));
            }
        }
    }
    assert_no_mismatch(mismatches);
}

#[test]
fn node_host_config_schema_is_byte_identical() {
    let native = default_policy()
        .config_schema(&offline())
        .expect("wasmtime: no trap");
    let mut mismatches = Vec::new();
    if let Some(node) = ok(&node_answers().schema, "config-schema", &mut mismatches)
        && node.as_str() != Some(native.as_str())
    {
        mismatches.push("config-schema: the texts differ".into());
    }
    assert_no_mismatch(mismatches);
}

#[test]
fn node_host_plans_are_byte_identical_and_refusals_the_same_variant() {
    let mut mismatches = Vec::new();
    let mut refused = Vec::new();
    for (case, (_, answer)) in cases().iter().zip(&node_answers().cases) {
        let what = format!("{}: plan", case.name);
        let native = default_policy()
            .plan(&offline(), &lease_request(&case.request))
            .expect("wasmtime: no trap");
        match native {
            Ok(manifests) => {
                let Some(node) = ok(answer, &what, &mut mismatches) else {
                    continue;
                };
                let node: Vec<&str> = node
                    .as_array()
                    .map(|items| items.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                if node.len() != manifests.len() {
                    mismatches.push(format!(
                        "{what}: node planned {} manifests, wasmtime {}",
                        node.len(),
                        manifests.len()
                    ));
                }
                for (i, (node, native)) in node.iter().zip(&manifests).enumerate() {
                    if node != native {
                        mismatches.push(format!(
                            "{what}: manifest #{i} differs:\n  node     {node}\n  wasmtime {native}"
                        ));
                    }
                }
            }
            Err(error) => {
                let native = error_json(&error);
                refused.push(format!("{}: {}", case.name, native["tag"]));
                if answer.get("err") != Some(&native) {
                    mismatches.push(format!("{what}: node {answer}, wasmtime error {native}"));
                }
            }
        }
    }
    assert_no_mismatch(mismatches);
    // The refusals compared above are the two cases built to be refused.
    assert_eq!(
        refused,
        [
            "broken: unknown backend, bad CIDR, unknown field: \"invalid-config\"",
            "refused: image outside the allow-list: \"not-allowed\"",
        ]
    );
}
