//! The methods of contract 0.3.0: `terminal.open`, `process.start`,
//! `process.list`, `process.attach`, `process.kill`, `files.stat`,
//! `files.list`, `files.remove`, and the file transfers of `transfers.rs`.
//!
//! A terminal's input comes as `exec/stdin` notifications (as an exec's),
//! its window sizes as `terminal/resize {id, rows, cols}`, its output as
//! `exec/output` notifications (stdout only: a terminal merges its
//! streams); `$/cancelRequest` ends it with its process tree.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use super::call::{Call, parse, rpc_error};
use super::exec_params::ExecParams;
use super::rpc::{METHOD_NOT_FOUND, RpcError};
use crate::contract::{Command, WindowSize};
use crate::lifecycle::{AttachFrom, TerminalSpec};
use crate::render;

/// The methods here.
pub const METHODS: &[&str] = &[
    "terminal.open",
    "process.start",
    "process.list",
    "process.attach",
    "process.kill",
    "files.stat",
    "files.list",
    "files.remove",
];

/// Runs `method`, one of [`METHODS`].
pub fn call(call: &Call<'_>, method: &str, params: Value) -> Result<Value, RpcError> {
    match method {
        "terminal.open" => terminal(call, parse(params)?),
        "process.start" => start(call, parse(params)?),
        "process.list" => processes(call, parse(params)?),
        "process.attach" => attach(call, parse(params)?),
        "process.kill" => kill(call, parse(params)?),
        "files.stat" => stat(call, parse(params)?),
        "files.list" => list_directory(call, parse(params)?),
        "files.remove" => remove(call, parse(params)?),
        other => Err(RpcError::new(
            METHOD_NOT_FOUND,
            "method-not-found",
            format!("no method `{other}` here"),
        )),
    }
}

/// A terminal to open.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct TerminalParams {
    lease_id: String,
    namespace: Option<String>,
    /// Argv; none: the module's default (the login shell).
    command: Option<Vec<String>>,
    cwd: Option<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    rows: u16,
    cols: u16,
    #[serde(default)]
    term: String,
}

fn terminal(call: &Call<'_>, p: TerminalParams) -> Result<Value, RpcError> {
    if p.rows == 0 || p.cols == 0 {
        return Err(RpcError::invalid_params(
            "params: `rows` and `cols` must be at least 1 (the client's window size)",
        ));
    }
    let spec = TerminalSpec {
        command: match p.command {
            Some(argv) if argv.is_empty() => {
                return Err(RpcError::invalid_params(
                    "params: `command` must be a non-empty argv, or left out for the login shell",
                ));
            }
            argv => argv.map(Command::Argv),
        },
        cwd: p.cwd,
        env: p.env.into_iter().collect(),
        size: WindowSize {
            rows: p.rows,
            cols: p.cols,
        },
        term: p.term,
    };
    let (call, lease) = call.leased(&p.lease_id, p.namespace.as_deref())?;
    let status = call
        .lifecycle()
        .terminal(&call.context(), lease, &spec)
        .map_err(rpc_error)?;
    Ok(render::exec_status(&status))
}

fn start(call: &Call<'_>, p: ExecParams) -> Result<Value, RpcError> {
    if p.stdin {
        return Err(RpcError::invalid_params(
            "params: a detached process reads no input; leave `stdin` out",
        ));
    }
    let spec = p.spec()?;
    let (call, lease) = call.leased(&p.lease_id, p.namespace.as_deref())?;
    let process = call
        .lifecycle()
        .start_process(&call.context(), lease, &spec)
        .map_err(rpc_error)?;
    Ok(render::process_info(&process))
}

/// A lease.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LeaseParams {
    lease_id: String,
    namespace: Option<String>,
}

fn processes(call: &Call<'_>, p: LeaseParams) -> Result<Value, RpcError> {
    let (call, lease) = call.leased(&p.lease_id, p.namespace.as_deref())?;
    let list = call
        .lifecycle()
        .processes(&call.context(), &lease)
        .map_err(rpc_error)?;
    Ok(Value::Array(
        list.iter().map(render::process_info).collect(),
    ))
}

/// Which process, and from where its output is sent.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AttachParams {
    lease_id: String,
    namespace: Option<String>,
    process_id: String,
    #[serde(default)]
    stdout_offset: u64,
    #[serde(default)]
    stderr_offset: u64,
    #[serde(default = "follow_by_default")]
    follow: bool,
}

fn follow_by_default() -> bool {
    true
}

fn attach(call: &Call<'_>, p: AttachParams) -> Result<Value, RpcError> {
    let (call, lease) = call.leased(&p.lease_id, p.namespace.as_deref())?;
    let from = AttachFrom {
        stdout_offset: p.stdout_offset,
        stderr_offset: p.stderr_offset,
        follow: p.follow,
    };
    let status = call
        .lifecycle()
        .attach(&call.context(), lease, &p.process_id, from)
        .map_err(rpc_error)?;
    Ok(render::exec_status(&status))
}

/// Which process to end, and the signal sent first.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct KillParams {
    lease_id: String,
    namespace: Option<String>,
    process_id: String,
    signal: Option<u32>,
}

fn kill(call: &Call<'_>, p: KillParams) -> Result<Value, RpcError> {
    if p.signal.is_some_and(|s| !(1..=64).contains(&s)) {
        return Err(RpcError::invalid_params("params: `signal` must be 1-64"));
    }
    let (call, lease) = call.leased(&p.lease_id, p.namespace.as_deref())?;
    let process = call
        .lifecycle()
        .kill(&call.context(), &lease, &p.process_id, p.signal)
        .map_err(rpc_error)?;
    Ok(render::process_info(&process))
}

/// A path in a lease.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PathParams {
    lease_id: String,
    namespace: Option<String>,
    path: String,
}

/// A path in a lease to remove.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RemoveParams {
    lease_id: String,
    namespace: Option<String>,
    path: String,
    #[serde(default)]
    recursive: bool,
}

fn stat(call: &Call<'_>, p: PathParams) -> Result<Value, RpcError> {
    let (call, lease) = call.leased(&p.lease_id, p.namespace.as_deref())?;
    let entry = call
        .lifecycle()
        .stat(&call.context(), &lease, &p.path)
        .map_err(rpc_error)?;
    Ok(entry.as_ref().map_or(Value::Null, render::file_entry))
}

fn list_directory(call: &Call<'_>, p: PathParams) -> Result<Value, RpcError> {
    let (call, lease) = call.leased(&p.lease_id, p.namespace.as_deref())?;
    let entries = call
        .lifecycle()
        .list_directory(&call.context(), &lease, &p.path)
        .map_err(rpc_error)?;
    Ok(Value::Array(
        entries.iter().map(render::file_entry).collect(),
    ))
}

fn remove(call: &Call<'_>, p: RemoveParams) -> Result<Value, RpcError> {
    let (call, lease) = call.leased(&p.lease_id, p.namespace.as_deref())?;
    let removed = call
        .lifecycle()
        .remove(&call.context(), &lease, &p.path, p.recursive)
        .map_err(rpc_error)?;
    Ok(json!({ "removed": removed }))
}
