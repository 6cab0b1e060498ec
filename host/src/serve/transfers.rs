//! The file transfers of `serve`: `files.syncIn` and `files.syncOut` (lists
//! of mappings, the shape of a platform's workspace sync), `files.write`
//! and `files.read` (one file's bytes in the message). Paths on the
//! server's side are the server's own files: the client is the platform
//! that runs serve (README, Security model).

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use serde_json::{Value, json};

use super::call::{Call, parse, rpc_error};
use super::rpc::{INVALID_PARAMS, METHOD_NOT_FOUND, RpcError};
use crate::contract::{Command, FileType};
use crate::files::Report;
use crate::lifecycle::{CommandSpec, Download, Landing, LifecycleError, Upload};
use crate::render;

/// The methods here.
pub const METHODS: &[&str] = &["files.syncIn", "files.syncOut", "files.write", "files.read"];

/// The largest file `files.read` answers in its message (bigger ones go
/// with `files.syncOut`).
pub const MAX_READ_BYTES: u64 = 8 << 20;

/// Runs `method`, one of [`METHODS`].
pub fn call(call: &Call<'_>, method: &str, params: Value) -> Result<Value, RpcError> {
    match method {
        "files.syncIn" => sync_in(call, parse(params)?),
        "files.syncOut" => sync_out(call, parse(params)?),
        "files.write" => write(call, parse(params)?),
        "files.read" => read(call, parse(params)?),
        other => Err(RpcError::new(
            METHOD_NOT_FOUND,
            "method-not-found",
            format!("no method `{other}` here"),
        )),
    }
}

/// Whether a mapping is one file or a tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    File,
    Directory,
}

/// One path copied: `sourcePath` on the sending side, `targetPath` on the
/// receiving side.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Mapping {
    source_path: String,
    target_path: String,
    kind: Kind,
    /// The mode of the regular files copied: a number (`384`) or octal
    /// text (`"0600"`).
    mode: Option<Value>,
    #[serde(default)]
    exclude: Vec<String>,
    #[serde(default)]
    follow_symlinks: bool,
}

/// A command run after an operation's files have landed.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PostCommand {
    /// Run with `sh -lc`, as it is.
    command: String,
    cwd: Option<String>,
    timeout_ms: Option<u64>,
}

/// A group of mappings copied together, with its counts.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Operation {
    operation_id: String,
    files: Vec<Mapping>,
    #[serde(default)]
    post_upload_commands: Vec<PostCommand>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SyncParams {
    lease_id: String,
    namespace: Option<String>,
    operations: Vec<Operation>,
}

/// The mode in param `field`: `384`, `"0600"` or `"600"`; at most
/// `0o7777`.
fn mode_of(value: Option<&Value>, field: &str) -> Result<Option<u32>, RpcError> {
    let bad = || {
        RpcError::invalid_params(format!(
            "params: {field} must be a permission mode, a number (384) or octal text \
             (\"0600\")"
        ))
    };
    let mode = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Some(Value::String(text)) => u32::from_str_radix(text.trim_start_matches("0o"), 8).ok(),
        Some(_) => None,
    };
    match mode {
        Some(mode) if mode <= 0o7777 => Ok(Some(mode)),
        _ => Err(bad()),
    }
}

/// A local path of a mapping must be absolute: serve's working directory
/// is nobody's business.
fn local_path(text: &str, at: &str) -> Result<PathBuf, RpcError> {
    let path = PathBuf::from(text);
    if path.is_absolute() {
        Ok(path)
    } else {
        Err(RpcError::invalid_params(format!(
            "params: {at} must be an absolute path on the server's machine, got {text:?}"
        )))
    }
}

/// The counts of one operation.
fn operation_json(id: &str, reports: &[Report]) -> Value {
    let files: u64 = reports
        .iter()
        .map(|r| r.counts.files + r.counts.symlinks)
        .sum();
    let bytes: u64 = reports.iter().map(|r| r.counts.bytes).sum();
    let skipped: u64 = reports.iter().map(|r| r.counts.skipped).sum();
    json!({
        "operationId": id,
        "filesTransferred": files,
        "bytesTransferred": bytes,
        "skipped": skipped,
    })
}

/// The uploads of every operation of a `files.syncIn`, each mapping
/// checked (absolute local path, its kind, its mode) before anything is
/// copied.
fn uploads(p: &SyncParams) -> Result<Vec<Vec<Upload>>, RpcError> {
    p.operations
        .iter()
        .enumerate()
        .map(|(o, operation)| {
            operation
                .files
                .iter()
                .enumerate()
                .map(|(m, mapping)| {
                    let at = format!("operations[{o}].files[{m}]");
                    let local = local_path(&mapping.source_path, &format!("{at}.sourcePath"))?;
                    check_local_kind(&local, mapping.kind, &at)?;
                    Ok(Upload {
                        local,
                        remote: mapping.target_path.clone(),
                        mode: mode_of(mapping.mode.as_ref(), &format!("{at}.mode"))?,
                        exclude: mapping.exclude.clone(),
                        follow_symlinks: mapping.follow_symlinks,
                        landing: Landing::Exact,
                    })
                })
                .collect()
        })
        .collect()
}

/// The downloads of every operation of a `files.syncOut`, each mapping
/// checked (absolute local path, its mode, no commands) before anything is
/// copied.
fn downloads(p: &SyncParams) -> Result<Vec<Vec<Download>>, RpcError> {
    p.operations
        .iter()
        .enumerate()
        .map(|(o, operation)| {
            if !operation.post_upload_commands.is_empty() {
                return Err(RpcError::invalid_params(format!(
                    "params: operations[{o}].postUploadCommands: commands run after files land \
                     in the sandbox, so only files.syncIn takes them"
                )));
            }
            operation
                .files
                .iter()
                .enumerate()
                .map(|(m, mapping)| {
                    let at = format!("operations[{o}].files[{m}]");
                    let local = local_path(&mapping.target_path, &format!("{at}.targetPath"))?;
                    Ok(Download {
                        remote: mapping.source_path.clone(),
                        local,
                        mode: mode_of(mapping.mode.as_ref(), &format!("{at}.mode"))?,
                        exclude: mapping.exclude.clone(),
                        follow_symlinks: mapping.follow_symlinks,
                        landing: Landing::Exact,
                    })
                })
                .collect()
        })
        .collect()
}

fn sync_in(call: &Call<'_>, p: SyncParams) -> Result<Value, RpcError> {
    let uploads = uploads(&p)?;
    let (call, lease) = call.leased(&p.lease_id, p.namespace.as_deref())?;
    let ctx = call.context();
    let mut done = Vec::new();
    for (operation, uploads) in p.operations.iter().zip(uploads) {
        let mut reports = Vec::new();
        for upload in &uploads {
            let report = call
                .lifecycle()
                .put(&ctx, &lease, upload, |_| {})
                .map_err(|e| in_operation(e, &operation.operation_id))?;
            reports.push(report);
        }
        let root = operation.files.first().map(|m| match m.kind {
            Kind::Directory => m.target_path.clone(),
            Kind::File => parent_of(&m.target_path),
        });
        let mut commands = Vec::new();
        for command in &operation.post_upload_commands {
            let spec = CommandSpec {
                command: Command::Shell(command.command.clone()),
                cwd: command.cwd.clone().or_else(|| root.clone()),
                env: Vec::new(),
                timeout: command.timeout_ms.map(Duration::from_millis),
                forward_stdin: false,
                max_stdout_bytes: None,
                max_stderr_bytes: None,
            };
            let status = call
                .lifecycle()
                .exec(&ctx, lease.clone(), &spec)
                .map_err(|e| in_operation(e, &operation.operation_id))?;
            let failed = status.exit_code != Some(0);
            commands.push(render::exec_status(&status));
            if failed {
                let mut answer = operation_json(&operation.operation_id, &reports);
                answer["postUploadCommands"] = Value::Array(commands);
                done.push(answer);
                return Ok(json!({
                    "operations": done,
                    "failedCommand": {
                        "operationId": operation.operation_id,
                        "command": command.command,
                        "exitCode": status.exit_code,
                        "timedOut": status.timed_out,
                    },
                }));
            }
        }
        let mut answer = operation_json(&operation.operation_id, &reports);
        answer["postUploadCommands"] = Value::Array(commands);
        done.push(answer);
    }
    Ok(json!({ "operations": done }))
}

fn sync_out(call: &Call<'_>, p: SyncParams) -> Result<Value, RpcError> {
    let downloads = downloads(&p)?;
    let (call, lease) = call.leased(&p.lease_id, p.namespace.as_deref())?;
    let ctx = call.context();
    let mut done = Vec::new();
    for (o, (operation, downloads)) in p.operations.iter().zip(downloads).enumerate() {
        let mut reports = Vec::new();
        for (m, (mapping, download)) in operation.files.iter().zip(&downloads).enumerate() {
            let remote = call
                .lifecycle()
                .stat(&ctx, &lease, &download.remote)
                .map_err(|e| in_operation(e, &operation.operation_id))?;
            let at = format!("operations[{o}].files[{m}]");
            check_remote_kind(remote.as_ref().map(|e| e.file_type), mapping, &at)?;
            let report = call
                .lifecycle()
                .get(&ctx, &lease, download, |_| {})
                .map_err(|e| in_operation(e, &operation.operation_id))?;
            reports.push(report);
        }
        done.push(operation_json(&operation.operation_id, &reports));
    }
    Ok(json!({ "operations": done }))
}

/// A failed transfer, naming its operation.
fn in_operation(error: LifecycleError, operation_id: &str) -> RpcError {
    let mut answer = rpc_error(error);
    answer.message = format!("operation {operation_id:?}: {}", answer.message);
    if let Some(data) = answer.data.as_object_mut() {
        data.insert("operationId".into(), json!(operation_id));
    }
    answer
}

fn check_local_kind(local: &Path, kind: Kind, at: &str) -> Result<(), RpcError> {
    let meta = std::fs::metadata(local).map_err(|e| {
        RpcError::invalid_params(format!("params: {at}.sourcePath {}: {e}", local.display()))
    })?;
    match (kind, meta.is_dir()) {
        (Kind::File, true) => Err(RpcError::invalid_params(format!(
            "params: {at}: kind is file but {} is a directory; say kind \"directory\"",
            local.display()
        ))),
        (Kind::Directory, false) => Err(RpcError::invalid_params(format!(
            "params: {at}: kind is directory but {} is not one; say kind \"file\"",
            local.display()
        ))),
        _ => Ok(()),
    }
}

fn check_remote_kind(found: Option<FileType>, mapping: &Mapping, at: &str) -> Result<(), RpcError> {
    let path = &mapping.source_path;
    let wrong = |what: &str| {
        Err(RpcError::new(
            INVALID_PARAMS,
            "invalid-params",
            format!("params: {at}.sourcePath {path} in the sandbox {what}"),
        ))
    };
    match (mapping.kind, found) {
        (_, None) => wrong("does not exist"),
        (Kind::Directory, Some(FileType::Directory)) => Ok(()),
        (Kind::Directory, Some(_)) if mapping.follow_symlinks => Ok(()),
        (Kind::Directory, Some(_)) => wrong("is not a directory; say kind \"file\""),
        (Kind::File, Some(FileType::Directory)) => wrong("is a directory; say kind \"directory\""),
        (Kind::File, Some(_)) => Ok(()),
    }
}

/// The directory a sandbox path is in.
fn parent_of(path: &str) -> String {
    match path.trim_end_matches('/').rsplit_once('/') {
        Some(("", _)) | None => "/".to_string(),
        Some((parent, _)) => parent.to_string(),
    }
}

/// One file's bytes, written to a path in the sandbox with a mode.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WriteParams {
    lease_id: String,
    namespace: Option<String>,
    path: String,
    /// The bytes, base64.
    data: String,
    mode: Option<Value>,
}

fn write(call: &Call<'_>, p: WriteParams) -> Result<Value, RpcError> {
    let data = BASE64
        .decode(p.data.as_bytes())
        .map_err(|e| RpcError::invalid_params(format!("params: data is not base64: {e}")))?;
    let mode = mode_of(p.mode.as_ref(), "mode")?.unwrap_or(0o644);
    let (call, lease) = call.leased(&p.lease_id, p.namespace.as_deref())?;
    let scratch = Scratch::new().map_err(|e| local_error(&e))?;
    let local = scratch.path.join("file");
    std::fs::write(&local, &data).map_err(|e| local_error(&e))?;
    let upload = Upload {
        local,
        remote: p.path.clone(),
        mode: Some(mode),
        exclude: Vec::new(),
        follow_symlinks: false,
        landing: Landing::Exact,
    };
    let report = call
        .lifecycle()
        .put(&call.context(), &lease, &upload, |_| {})
        .map_err(rpc_error)?;
    Ok(json!({ "path": p.path, "bytes": report.counts.bytes, "mode": format!("{mode:04o}") }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ReadParams {
    lease_id: String,
    namespace: Option<String>,
    path: String,
}

fn read(call: &Call<'_>, p: ReadParams) -> Result<Value, RpcError> {
    let (call, lease) = call.leased(&p.lease_id, p.namespace.as_deref())?;
    let ctx = call.context();
    let entry = call
        .lifecycle()
        .stat(&ctx, &lease, &p.path)
        .map_err(rpc_error)?;
    let entry = match entry {
        Some(entry) if entry.file_type == FileType::File => entry,
        Some(_) => {
            return Err(RpcError::invalid_params(format!(
                "params: path {} is not a regular file; copy trees with files.syncOut",
                p.path
            )));
        }
        None => {
            return Err(RpcError::invalid_params(format!(
                "params: path {} does not exist in the sandbox",
                p.path
            )));
        }
    };
    if entry.size > MAX_READ_BYTES {
        return Err(RpcError::invalid_params(format!(
            "params: path {} holds {} bytes, more than files.read answers ({MAX_READ_BYTES}); \
             copy it with files.syncOut",
            p.path, entry.size
        )));
    }
    let scratch = Scratch::new().map_err(|e| local_error(&e))?;
    let local = scratch.path.join("file");
    let download = Download {
        remote: p.path.clone(),
        local: local.clone(),
        mode: None,
        exclude: Vec::new(),
        follow_symlinks: false,
        landing: Landing::Exact,
    };
    call.lifecycle()
        .get(&ctx, &lease, &download, |_| {})
        .map_err(rpc_error)?;
    let data = std::fs::read(&local).map_err(|e| local_error(&e))?;
    Ok(json!({
        "path": p.path,
        "data": BASE64.encode(&data),
        "size": data.len(),
        "mode": format!("{:04o}", entry.mode),
    }))
}

fn local_error(error: &std::io::Error) -> RpcError {
    RpcError::new(
        super::rpc::LOCAL_FILES,
        "local-files",
        format!("the server's scratch directory: {error}"),
    )
}

/// A private directory of the server's (0700, in the system's temporary
/// directory) for one file on its way, removed with everything in it when
/// dropped.
struct Scratch {
    path: PathBuf,
}

impl Scratch {
    fn new() -> std::io::Result<Scratch> {
        use std::os::unix::fs::DirBuilderExt;
        let mut random = [0u8; 12];
        getrandom::fill(&mut random).map_err(|e| std::io::Error::other(e.to_string()))?;
        let name: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let path = std::env::temp_dir().join(format!("leasebox-serve-{name}"));
        std::fs::DirBuilder::new().mode(0o700).create(&path)?;
        Ok(Scratch { path })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::number(Some(json!(384)), Some(0o600))]
    #[case::octal_text(Some(json!("0600")), Some(0o600))]
    #[case::prefixed(Some(json!("0o755")), Some(0o755))]
    #[case::absent(None, None)]
    fn a_mode_is_a_number_or_octal_text(#[case] value: Option<Value>, #[case] mode: Option<u32>) {
        assert_eq!(mode_of(value.as_ref(), "files[0].mode").ok(), Some(mode));
    }

    #[rstest]
    #[case::not_octal(json!("0999"))]
    #[case::too_big(json!(0o17777))]
    #[case::not_a_mode(json!(true))]
    fn a_bad_mode_names_the_field(#[case] value: Value) {
        let error = mode_of(Some(&value), "operations[0].files[1].mode").expect_err("refused");
        assert!(
            error.message.contains("operations[0].files[1].mode"),
            "{}",
            error.message
        );
    }

    /// The params of a `files.syncOut` with one operation of `files`.
    fn sync_params(files: Value) -> SyncParams {
        serde_json::from_value(json!({
            "leaseId": "lb-1",
            "operations": [{ "operationId": "out", "files": files }],
        }))
        .expect("sync params")
    }

    #[test]
    fn a_sync_out_mapping_takes_a_mode_for_the_files_it_writes() {
        let params = sync_params(json!([
            { "sourcePath": "/workspace/key", "targetPath": "/srv/key", "kind": "file",
              "mode": "0600" },
            { "sourcePath": "/workspace/out", "targetPath": "/srv/out", "kind": "directory",
              "mode": 416 },
            { "sourcePath": "/workspace/log", "targetPath": "/srv/log", "kind": "file" },
        ]));
        let downloads = downloads(&params).expect("accepted");
        let modes: Vec<_> = downloads[0].iter().map(|d| d.mode).collect();
        assert_eq!(modes, vec![Some(0o600), Some(0o640), None]);
    }

    #[test]
    fn a_bad_sync_out_mode_names_its_mapping() {
        let params = sync_params(json!([
            { "sourcePath": "/workspace/a", "targetPath": "/srv/a", "kind": "file" },
            { "sourcePath": "/workspace/b", "targetPath": "/srv/b", "kind": "file",
              "mode": "rw-------" },
        ]));
        let error = downloads(&params).expect_err("refused");
        assert_eq!(error.code, INVALID_PARAMS);
        assert!(
            error.message.contains("operations[0].files[1].mode"),
            "{}",
            error.message
        );
    }

    #[test]
    fn a_relative_local_path_is_refused() {
        assert!(local_path("rel/x", "sourcePath").is_err());
        assert!(local_path("/abs/x", "sourcePath").is_ok());
    }

    #[rstest]
    #[case("/workspace/a/b", "/workspace/a")]
    #[case("/workspace", "/")]
    #[case("/workspace/", "/")]
    fn the_parent_of_a_sandbox_path(#[case] path: &str, #[case] parent: &str) {
        assert_eq!(parent_of(path), parent);
    }
}
