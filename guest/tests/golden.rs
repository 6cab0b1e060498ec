//! Golden manifests: `tests/golden/<backend>/<case>.yaml` is the `plan`
//! output, as multi-document YAML, for `tests/fixtures/config/<case>.json`
//! (the configuration's `backend`, default `sandbox-cr`, picks the folder).
//! Every plan uses the fixed inputs of `support/plan_inputs.rs`.
//!
//! A mismatch fails with a line diff. After an intended change, regenerate
//! and review the diff:
//!
//! ```text
//! LEASEBOX_BLESS=1 cargo test -p leasebox-policy --test golden
//! ```

#[path = "support/line_diff.rs"]
mod line_diff;
#[path = "support/plan_inputs.rs"]
mod plan_inputs;

use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Value, json};

use line_diff::line_diff;
use plan_inputs::{LEASE_ID, NOW, json_files, plan_of, repo_path, shown, stem};

/// Environment variable that makes the test rewrite the golden files.
const BLESS_VAR: &str = "LEASEBOX_BLESS";
/// Fixture folder, relative to the repository root.
const FIXTURES: &str = "tests/fixtures/config";
/// Golden folder, relative to the repository root.
const GOLDEN: &str = "tests/golden";
/// The backends, i.e. the golden sub-folders.
const BACKENDS: [&str; 3] = ["sandbox-cr", "job", "pod"];

fn blessing() -> bool {
    std::env::var(BLESS_VAR).is_ok_and(|v| v == "1")
}

/// The backend folder of a configuration document.
fn backend_of(config: &Value) -> Result<&str, String> {
    let backend = match config.get("backend") {
        None => "sandbox-cr",
        Some(Value::String(b)) => b.as_str(),
        Some(other) => return Err(format!("`backend` is not a string: {other}")),
    };
    if BACKENDS.contains(&backend) {
        Ok(backend)
    } else {
        Err(format!("unknown backend `{backend}`"))
    }
}

/// Multi-document YAML of planned objects, with a header naming the
/// fixture and how to regenerate.
fn render(case: &str, objects: &[Value]) -> Result<String, String> {
    let mut out = format!(
        "# plan of {FIXTURES}/{case}.json (lease {LEASE_ID}, now {NOW}).\n\
         # Generated: LEASEBOX_BLESS=1 cargo test -p leasebox-policy --test golden\n"
    );
    for object in objects {
        let yaml = serde_yaml::to_string(object).map_err(|e| format!("rendering YAML: {e}"))?;
        out.push_str("---\n");
        out.push_str(&yaml);
    }
    Ok(out)
}

/// Every document of a YAML text, ignoring the comment header.
fn parse_yaml(text: &str) -> Result<Vec<Value>, String> {
    let mut documents = Vec::new();
    for document in serde_yaml::Deserializer::from_str(text) {
        let value = Value::deserialize(document).map_err(|e| e.to_string())?;
        if !value.is_null() {
            documents.push(value);
        }
    }
    Ok(documents)
}

fn golden_path(backend: &str, case: &str) -> PathBuf {
    repo_path(GOLDEN).join(backend).join(format!("{case}.yaml"))
}

/// Compares (or, when blessing, writes) the golden file of one fixture;
/// `Err` describes the mismatch.
fn check_fixture(fixture: &Path, bless: bool) -> Result<(), String> {
    let case = stem(fixture);
    let text = fs::read_to_string(fixture).map_err(|e| format!("reading fixture: {e}"))?;
    let config: Value =
        serde_json::from_str(&text).map_err(|e| format!("fixture is not JSON: {e}"))?;
    let backend = backend_of(&config)?;
    let objects = plan_of(&text).map_err(|e| format!("plan failed: {e}"))?;
    let actual = render(&case, &objects)?;
    let path = golden_path(backend, &case);
    if bless {
        if let Some(folder) = path.parent() {
            fs::create_dir_all(folder)
                .map_err(|e| format!("creating {}: {e}", folder.display()))?;
        }
        return fs::write(&path, &actual).map_err(|e| format!("writing {}: {e}", path.display()));
    }
    let expected =
        fs::read_to_string(&path).map_err(|e| format!("no golden file {} ({e})", shown(&path)))?;
    if expected == actual {
        return Ok(());
    }
    let diff = line_diff(&expected, &actual);
    let diff = if diff.is_empty() {
        "(only line endings or the final newline differ)".to_string()
    } else {
        diff
    };
    Err(format!(
        "{} differs from plan output:\n{diff}",
        shown(&path)
    ))
}

/// Golden files with no fixture of their backend (stale after a fixture
/// was renamed, removed or moved to another backend), and non-YAML files.
fn orphan_golden_files() -> Vec<String> {
    let mut orphans = Vec::new();
    for backend in BACKENDS {
        let folder = repo_path(GOLDEN).join(backend);
        let Ok(entries) = fs::read_dir(&folder) else {
            continue;
        };
        for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
            let case = stem(&path);
            let fixture = repo_path(FIXTURES).join(format!("{case}.json"));
            let fixture_backend = fs::read_to_string(&fixture)
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .and_then(|c| backend_of(&c).ok().map(str::to_string));
            let is_yaml = path.extension().and_then(|e| e.to_str()) == Some("yaml");
            if !is_yaml || fixture_backend.as_deref() != Some(backend) {
                orphans.push(format!(
                    "{}: no fixture {FIXTURES}/{case}.json with backend `{backend}`; delete it or \
                     add the fixture",
                    shown(&path)
                ));
            }
        }
    }
    orphans
}

#[test]
fn plan_output_matches_the_golden_manifests() {
    let bless = blessing();
    let fixtures = json_files(&repo_path(FIXTURES)).unwrap_or_else(|e| panic!("{e}"));
    let mut failures: Vec<String> = fixtures
        .iter()
        .filter_map(|fixture| {
            check_fixture(fixture, bless)
                .err()
                .map(|e| format!("{}: {e}", shown(fixture)))
        })
        .collect();
    // After blessing, so that a fresh checkout's first bless run is clean.
    failures.extend(orphan_golden_files());
    assert!(
        failures.is_empty(),
        "{} problems with the {} golden cases:\n\n{}\n\nIf the change is intended, regenerate with \
         `{BLESS_VAR}=1 cargo test -p leasebox-policy --test golden` and review the diff.",
        failures.len(),
        fixtures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn every_backend_has_a_golden_case() {
    let fixtures = json_files(&repo_path(FIXTURES)).unwrap_or_else(|e| panic!("{e}"));
    for backend in BACKENDS {
        let covered = fixtures.iter().any(|f| {
            fs::read_to_string(f)
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .is_some_and(|c| backend_of(&c) == Ok(backend))
        });
        assert!(covered, "no fixture in {FIXTURES} uses backend `{backend}`");
    }
}

#[test]
fn plan_is_byte_identical_for_the_same_inputs() {
    let fixtures = json_files(&repo_path(FIXTURES)).unwrap_or_else(|e| panic!("{e}"));
    for fixture in fixtures {
        let text = fs::read_to_string(&fixture).unwrap_or_else(|e| panic!("{e}"));
        let first = plan_of(&text).unwrap_or_else(|e| panic!("{}: {e}", fixture.display()));
        let second = plan_of(&text).unwrap_or_else(|e| panic!("{}: {e}", fixture.display()));
        assert_eq!(
            render("x", &first),
            render("x", &second),
            "{}",
            fixture.display()
        );
    }
}

#[test]
fn rendered_yaml_reads_back_as_the_same_objects() {
    let objects = vec![
        json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": "leasebox-acme" } }),
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": { "name": "x-env", "annotations": { "leasebox.dev/created-at": NOW } },
            "stringData": { "A": "on", "B": "0755", "C": "" }
        }),
    ];
    let text = render("sample", &objects).unwrap_or_else(|e| panic!("{e}"));
    assert!(text.starts_with("# plan of tests/fixtures/config/sample.json"));
    assert_eq!(text.matches("\n---\n").count(), 2, "{text}");
    assert_eq!(parse_yaml(&text), Ok(objects));
}

#[test]
fn backend_folder_defaults_to_sandbox_cr() {
    assert_eq!(backend_of(&json!({ "inCluster": true })), Ok("sandbox-cr"));
    assert_eq!(backend_of(&json!({ "backend": "job" })), Ok("job"));
    assert!(backend_of(&json!({ "backend": "vm" })).is_err());
}

#[test]
fn line_diff_marks_removed_and_added_lines_with_context() {
    let expected = "a\nb\nc\nd\ne\nf\ng\nh\ni\n";
    let actual = "a\nb\nc\nd\nE\nf\ng\nh\ni\nj\n";
    let diff = line_diff(expected, actual);
    assert!(diff.contains("-e\n+E\n"), "{diff}");
    assert!(diff.contains("+j\n"), "{diff}");
    assert!(diff.contains(" d\n"), "context before the change: {diff}");
    assert!(!diff.contains(" a\n"), "far context is cut: {diff}");
    assert_eq!(line_diff(expected, expected), "");
}
