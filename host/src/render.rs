//! The JSON shape of every answer the host prints (CLI) or sends (`serve`):
//! one function per record, camelCase keys. The lease record itself is in
//! [`crate::contract::lease_json`].

use serde_json::{Value, json};

use crate::contract::lease_json;
use crate::contract::{
    ExecStatus, FileEntry, FileType, Issue, LeasePhase, LeaseStatus, PoolReport, ProbeReport,
    ProcessInfo, ReleaseReport, SweepReport, ValidationReport,
};

/// Issues as `[{"path","message"}]`.
pub fn issues(issues: &[Issue]) -> Value {
    Value::Array(
        issues
            .iter()
            .map(|i| json!({"path": i.path, "message": i.message}))
            .collect(),
    )
}

/// `{"ok","errors","warnings","normalizedConfig"}`; an error when the
/// module's normalized configuration is not JSON.
pub fn validation_report(report: &ValidationReport) -> Result<Value, String> {
    let normalized = match &report.normalized_config {
        Some(text) if report.ok => serde_json::from_str(text).map_err(|e| {
            format!("the policy module returned a normalized configuration that is not JSON: {e}")
        })?,
        _ => Value::Null,
    };
    Ok(json!({
        "ok": report.ok,
        "errors": issues(&report.errors),
        "warnings": issues(&report.warnings),
        "normalizedConfig": normalized,
    }))
}

/// `{"ok","checks":[{"name","ok","detail"}]}`.
pub fn probe_report(report: &ProbeReport) -> Value {
    let checks = report
        .checks
        .iter()
        .map(|c| json!({"name": c.name, "ok": c.ok, "detail": c.detail}))
        .collect::<Vec<_>>();
    json!({"ok": report.ok, "checks": checks})
}

/// `{"namespace","pool","size","ready","starting","created":[objects],
/// "replaced":[objects]}`.
pub fn pool_report(report: &PoolReport) -> Value {
    let objects = |list: &[crate::contract::ObjectRef]| {
        list.iter().map(lease_json::object_json).collect::<Vec<_>>()
    };
    json!({
        "namespace": report.namespace,
        "pool": report.pool,
        "size": report.size,
        "ready": report.ready,
        "starting": report.starting,
        "created": objects(&report.created),
        "replaced": objects(&report.replaced),
    })
}

/// `{"deleted":[objects],"alreadyGone"}`.
pub fn release_report(report: &ReleaseReport) -> Value {
    json!({
        "deleted": report.deleted.iter().map(lease_json::object_json).collect::<Vec<_>>(),
        "alreadyGone": report.already_gone,
    })
}

/// `{"expired":[objects],"kept"}`.
pub fn sweep_report(report: &SweepReport) -> Value {
    json!({
        "expired": report.expired.iter().map(lease_json::object_json).collect::<Vec<_>>(),
        "kept": report.kept,
    })
}

/// `{"exitCode","signal","timedOut","stdoutTruncated","stderrTruncated",
/// "message"}`.
pub fn exec_status(status: &ExecStatus) -> Value {
    json!({
        "exitCode": status.exit_code,
        "signal": status.signal,
        "timedOut": status.timed_out,
        "stdoutTruncated": status.stdout_truncated,
        "stderrTruncated": status.stderr_truncated,
        "message": status.message,
    })
}

/// `pending`, `ready`, `finished`, `failed` or `terminating`.
pub fn phase_name(phase: LeasePhase) -> &'static str {
    match phase {
        LeasePhase::Pending => "pending",
        LeasePhase::Ready => "ready",
        LeasePhase::Finished => "finished",
        LeasePhase::Failed => "failed",
        LeasePhase::Terminating => "terminating",
    }
}

/// `{"phase","ready","message","lease"}`.
pub fn lease_status(status: &LeaseStatus) -> Value {
    json!({
        "phase": phase_name(status.phase),
        "ready": status.ready,
        "message": status.message,
        "lease": lease_json::to_json(&status.lease),
    })
}

/// `{"id","argv","startedAt","running","exitCode","stdoutBytes",
/// "stderrBytes","stdoutDropped","stderrDropped"}`.
pub fn process_info(process: &ProcessInfo) -> Value {
    let ProcessInfo {
        id,
        argv,
        started_at,
        running,
        exit_code,
        stdout_bytes,
        stderr_bytes,
        stdout_dropped,
        stderr_dropped,
    } = process;
    json!({
        "id": id,
        "argv": argv,
        "startedAt": started_at,
        "running": running,
        "exitCode": exit_code,
        "stdoutBytes": stdout_bytes,
        "stderrBytes": stderr_bytes,
        "stdoutDropped": stdout_dropped,
        "stderrDropped": stderr_dropped,
    })
}

/// `file`, `directory`, `symlink` or `other`.
pub fn file_type_name(file_type: FileType) -> &'static str {
    match file_type {
        FileType::File => "file",
        FileType::Directory => "directory",
        FileType::Symlink => "symlink",
        FileType::Other => "other",
    }
}

/// `{"path","type","size","mode","modified","linkTarget"}`; `mode` as the
/// octal text (`"0644"`).
pub fn file_entry(entry: &FileEntry) -> Value {
    let FileEntry {
        path,
        file_type,
        size,
        mode,
        modified,
        link_target,
    } = entry;
    json!({
        "path": path,
        "type": file_type_name(*file_type),
        "size": size,
        "mode": format!("{mode:04o}"),
        "modified": modified,
        "linkTarget": link_target,
    })
}
