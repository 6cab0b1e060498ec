//! The file calls: `write-files`, `read-files`, `stat-path`,
//! `list-directory`, `remove-path`. Each reads what the lease allows
//! (`lease_access`), confines its path lexically (`roots`), then runs one
//! script in the pod (`scripts`) that confines it again after symbolic
//! links before it reads or writes anything. Tar streams go between the
//! pod and the host's caller without entering the guest; stat and list
//! answers are parsed here (`entries`).
//!
//! Exclusion (`files-out-request.exclude`) is passed to `tar --exclude`
//! when the image's tar has it; busybox's has not, and then everything
//! under the source is sent: the host filters what it unpacks.

mod entries;
mod roots;
mod scripts;

use super::exec_target::ensure_exec_target;
use super::lease_access::{self, LeaseAccess};
use super::pod_script::{ScriptOutput, forward_script, read_script};
use crate::cluster::Cluster;
use crate::error::PolicyError;
use crate::lease::{ExecStatus, FileEntry, FilesInRequest, FilesOutRequest, Lease};
use crate::sandbox_path;

use scripts::{
    EXIT_IS_ROOT, EXIT_NO_STAT, EXIT_NO_TAR, EXIT_NOT_DIRECTORY, EXIT_NOT_EMPTY, EXIT_NOT_FOUND,
    EXIT_OUTSIDE_ROOTS,
};

/// How long stat and list scripts may run.
const READ_TIMEOUT_MS: u64 = 120_000;
/// How long a removal may run (a large tree takes a while).
const REMOVE_TIMEOUT_MS: u64 = 600_000;

/// The lease's access, after checking it can be exec'd into.
fn access(cluster: &dyn Cluster, lease: &Lease, step: &str) -> Result<LeaseAccess, PolicyError> {
    ensure_exec_target(cluster, lease, step)?;
    lease_access::read(cluster, lease, step)
}

/// The clear error of a missing tool.
fn tool_missing(step: &str, tool: &str) -> PolicyError {
    PolicyError::step(
        step,
        "ToolMissing",
        format!(
            "the image has no `{tool}`, which {step} runs in the sandbox; use an image that \
             has `sh` and `{tool}` (any Debian or Alpine based image has them)"
        ),
    )
}

/// A forwarded script's status as the call's answer.
fn forwarded_result(
    step: &str,
    status: ExecStatus,
    path: &str,
    roots: &[String],
) -> Result<(), PolicyError> {
    match status.exit_code {
        Some(0) => Ok(()),
        Some(EXIT_OUTSIDE_ROOTS) => Err(roots::refused_in_pod(path, roots)),
        Some(EXIT_NO_TAR) => Err(tool_missing(step, "tar")),
        Some(EXIT_NOT_FOUND) => Err(PolicyError::step(
            step,
            "NotFound",
            format!("`{path}` does not exist in the sandbox"),
        )),
        code => Err(PolicyError::step(
            step,
            "TarFailed",
            format!(
                "tar for `{path}` ended with {}; its messages went to the caller's stderr{}",
                code.map_or("no exit code".to_string(), |c| format!("exit code {c}")),
                if status.message.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", status.message)
                }
            ),
        )),
    }
}

/// A read script's failure that no call answers as a value.
fn script_failure(step: &str, path: &str, roots: &[String], output: &ScriptOutput) -> PolicyError {
    match output.code {
        EXIT_OUTSIDE_ROOTS => roots::refused_in_pod(path, roots),
        EXIT_NO_STAT => tool_missing(step, "stat"),
        EXIT_NO_TAR => tool_missing(step, "tar"),
        code => PolicyError::step(
            step,
            "ScriptFailed",
            format!(
                "the {step} script for `{path}` ended with exit code {code}: {}",
                output.stderr_text()
            ),
        ),
    }
}

/// See [`super::write_files`].
pub(crate) fn write_files(
    cluster: &dyn Cluster,
    request: &FilesInRequest,
) -> Result<(), PolicyError> {
    const STEP: &str = "write-files";
    let roots = access(cluster, &request.lease, STEP)?.file_roots;
    let target = roots::confine(&request.target, &roots)?;
    let mut args = roots::script_args(&roots);
    args.push(target.clone());
    let body = scripts::with_prelude(scripts::WRITE_SCRIPT);
    let status = forward_script(
        cluster,
        &request.lease,
        (scripts::WRITE_NAME, &body),
        &args,
        true,
    )?;
    forwarded_result(STEP, status, &target, &roots)
}

/// See [`super::read_files`].
pub(crate) fn read_files(
    cluster: &dyn Cluster,
    request: &FilesOutRequest,
) -> Result<(), PolicyError> {
    const STEP: &str = "read-files";
    let roots = access(cluster, &request.lease, STEP)?.file_roots;
    let source = roots::confine(&request.source, &roots)?;
    if request.exclude.iter().any(|g| g.contains('\0')) {
        return Err(PolicyError::BadRequest(
            "exclude: a glob contains a NUL byte; remove it".into(),
        ));
    }
    let whole = request.follow_symlinks || roots::is_root(&source, &roots);
    let mut args = roots::script_args(&roots);
    args.push(source.clone());
    args.push(if whole { "1" } else { "0" }.into());
    args.push(if request.follow_symlinks { "1" } else { "0" }.into());
    args.extend(request.exclude.iter().cloned());
    let body = scripts::with_prelude(scripts::READ_SCRIPT);
    let status = forward_script(
        cluster,
        &request.lease,
        (scripts::READ_NAME, &body),
        &args,
        false,
    )?;
    forwarded_result(STEP, status, &source, &roots)
}

/// See [`super::stat_path`].
pub(crate) fn stat_path(
    cluster: &dyn Cluster,
    lease: &Lease,
    path: &str,
) -> Result<Option<FileEntry>, PolicyError> {
    const STEP: &str = "stat-path";
    let roots = access(cluster, lease, STEP)?.file_roots;
    let normal = roots::confine(path, &roots)?;
    let follow = roots::is_root(&normal, &roots);
    let mut args = roots::script_args(&roots);
    args.push(normal.clone());
    args.push(if follow { "1" } else { "0" }.into());
    let body = scripts::with_prelude(scripts::STAT_SCRIPT);
    let output = read_script(
        cluster,
        lease,
        STEP,
        (scripts::STAT_NAME, &body),
        &args,
        READ_TIMEOUT_MS,
    )?;
    match output.code {
        0 => {}
        EXIT_NOT_FOUND => return Ok(None),
        _ => return Err(script_failure(STEP, &normal, &roots, &output)),
    }
    let mut entries = entries::parse(&output.stdout, |_| normal.clone())
        .map_err(|m| unreadable(STEP, &normal, m))?;
    match (entries.pop(), entries.is_empty()) {
        (Some(entry), true) => Ok(Some(entry)),
        _ => Err(unreadable(STEP, &normal, "not exactly one record".into())),
    }
}

/// See [`super::list_directory`].
pub(crate) fn list_directory(
    cluster: &dyn Cluster,
    lease: &Lease,
    path: &str,
) -> Result<Vec<FileEntry>, PolicyError> {
    const STEP: &str = "list-directory";
    let roots = access(cluster, lease, STEP)?.file_roots;
    let dir = roots::confine(path, &roots)?;
    let mut args = roots::script_args(&roots);
    args.push(dir.clone());
    let body = scripts::with_prelude(scripts::LIST_SCRIPT);
    let output = read_script(
        cluster,
        lease,
        STEP,
        (scripts::LIST_NAME, &body),
        &args,
        READ_TIMEOUT_MS,
    )?;
    match output.code {
        0 => {}
        EXIT_NOT_FOUND => {
            return Err(PolicyError::step(
                STEP,
                "NotFound",
                format!("directory `{dir}` does not exist in the sandbox"),
            ));
        }
        EXIT_NOT_DIRECTORY => {
            return Err(PolicyError::BadRequest(format!(
                "path `{dir}` is not a directory; use stat-path for a file"
            )));
        }
        _ => return Err(script_failure(STEP, &dir, &roots, &output)),
    }
    let prefix = if dir == "/" {
        String::new()
    } else {
        dir.clone()
    };
    let mut entries = entries::parse(&output.stdout, |name| format!("{prefix}/{name}"))
        .map_err(|m| unreadable(STEP, &dir, m))?;
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(entries)
}

/// See [`super::remove_path`].
pub(crate) fn remove_path(
    cluster: &dyn Cluster,
    lease: &Lease,
    path: &str,
    recursive: bool,
) -> Result<bool, PolicyError> {
    const STEP: &str = "remove-path";
    let roots = access(cluster, lease, STEP)?.file_roots;
    let normal = roots::confine(path, &roots)?;
    if roots::is_root(&normal, &roots) || sandbox_path::split_last(&normal).is_none() {
        return Err(roots::root_not_removable(&normal, &roots));
    }
    let mut args = roots::script_args(&roots);
    args.push(normal.clone());
    args.push(if recursive { "1" } else { "0" }.into());
    let body = scripts::with_prelude(scripts::REMOVE_SCRIPT);
    let output = read_script(
        cluster,
        lease,
        STEP,
        (scripts::REMOVE_NAME, &body),
        &args,
        REMOVE_TIMEOUT_MS,
    )?;
    match output.code {
        0 => Ok(true),
        EXIT_NOT_FOUND => Ok(false),
        EXIT_IS_ROOT => Err(roots::root_not_removable(&normal, &roots)),
        EXIT_NOT_EMPTY => Err(PolicyError::BadRequest(format!(
            "directory `{normal}` is not empty; pass recursive to remove it with everything in it"
        ))),
        _ => Err(script_failure(STEP, &normal, &roots, &output)),
    }
}

fn unreadable(step: &str, path: &str, problem: String) -> PolicyError {
    PolicyError::step(
        step,
        "UnreadableOutput",
        format!("the {step} script's answer for `{path}` does not read: {problem}"),
    )
}

#[cfg(test)]
mod tests;
