//! The fixed inputs of the plan tests (schema checks and golden files):
//! one lease id, one `now`, one tenant and run, so plans are reproducible.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

use leasebox_policy::error::PolicyError;
use leasebox_policy::lease::{Command, LeaseRequest};
use leasebox_policy::plan::plan;
use serde_json::Value;

/// Lease id of every planned lease (`lb-` + 26 lowercase Crockford base32).
pub const LEASE_ID: &str = "lb-01jd0000000000000000000000";
/// `now` of every planned lease.
pub const NOW: &str = "2026-11-23T10:00:00Z";
/// Tenant of every planned lease (not a valid label value as given: it
/// exercises the sanitizing).
pub const COMPANY_ID: &str = "Acme Corp";
/// Run of every planned lease.
pub const RUN_ID: &str = "run-42";
/// Repository root (the workspace), from the guest crate.
pub const REPO_ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// The command a `job` lease runs (ignored by the other backends).
pub fn job_command() -> Command {
    Command::Argv(vec!["sh".into(), "-c".into(), "echo hello".into()])
}

/// The lease request of a configuration document.
pub fn request(config: &str) -> LeaseRequest {
    LeaseRequest {
        config: config.to_string(),
        company_id: COMPANY_ID.into(),
        run_id: RUN_ID.into(),
        lease_id: LEASE_ID.into(),
        now: NOW.into(),
        adapter_type: None,
        image_override: None,
        command: Some(job_command()),
    }
}

/// Every manifest `plan` renders for a configuration document.
// `PolicyError` is the generated WIT variant, returned as is by `plan`.
#[allow(clippy::result_large_err)]
pub fn plan_of(config: &str) -> Result<Vec<Value>, PolicyError> {
    plan(&request(config))
}

/// A folder under the repository root.
pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(REPO_ROOT).join(relative)
}

/// The `*.json` files of a folder, sorted by name (an unreadable or missing
/// folder is an error: the tests must not pass on nothing).
pub fn json_files(folder: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files: Vec<PathBuf> = fs::read_dir(folder)
        .map_err(|e| format!("reading {}: {e}", folder.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("json"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("no *.json file in {}", folder.display()));
    }
    Ok(files)
}

/// A path relative to the repository root, for messages.
pub fn shown(path: &Path) -> String {
    path.strip_prefix(REPO_ROOT)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The file stem (`job-standard` of `.../job-standard.json`).
pub fn stem(path: &Path) -> String {
    path.file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_string()
}
