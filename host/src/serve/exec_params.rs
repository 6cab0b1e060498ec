//! The params of a command (`exec`, `process.start`): what runs, where and
//! how, as the lifecycle's [`CommandSpec`].

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::rpc::{INVALID_PARAMS, RpcError};
use crate::contract::Command;
use crate::lifecycle::CommandSpec;

/// A command and how it runs.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct ExecParams {
    pub(super) lease_id: String,
    pub(super) namespace: Option<String>,
    command: Option<Vec<String>>,
    shell: Option<String>,
    cwd: Option<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    timeout_ms: Option<u64>,
    /// The caller sends stdin with `exec/stdin` notifications, ended by
    /// `exec/stdinEnd`.
    #[serde(default)]
    pub(super) stdin: bool,
    max_stdout_bytes: Option<u64>,
    max_stderr_bytes: Option<u64>,
}

impl ExecParams {
    pub(super) fn spec(&self) -> Result<CommandSpec, RpcError> {
        let command = match (&self.command, &self.shell) {
            (Some(argv), None) if !argv.is_empty() => Command::Argv(argv.clone()),
            (None, Some(script)) => Command::Shell(script.clone()),
            _ => {
                return Err(RpcError::new(
                    INVALID_PARAMS,
                    "invalid-params",
                    "params: give exactly one of `command` (a non-empty argv) and `shell` (a \
                     string)",
                ));
            }
        };
        Ok(CommandSpec {
            command,
            cwd: self.cwd.clone(),
            env: self.env.clone().into_iter().collect(),
            timeout: self.timeout_ms.map(Duration::from_millis),
            forward_stdin: self.stdin,
            max_stdout_bytes: self.max_stdout_bytes,
            max_stderr_bytes: self.max_stderr_bytes,
        })
    }
}
