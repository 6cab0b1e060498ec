//! The lifecycle calls of contract 0.3.0 that outlive one exec or move no
//! files: terminals, detached processes, and single paths. Files in and out
//! (tar streams packed and unpacked here) are in `files.rs`.

use super::request::env_vars;
use super::{Budget, CallContext, CommandSpec, Lifecycle, LifecycleError, answer};
use crate::contract::{
    AttachRequest, Command, ExecStatus, FileEntry, Lease, ProcessInfo, TerminalRequest, WindowSize,
};

/// A terminal a front end asks for in a lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalSpec {
    /// What to run; none: the module's default (the image's login shell).
    pub command: Option<Command>,
    /// Working directory; none: the module's default.
    pub cwd: Option<String>,
    /// Environment variables, in order.
    pub env: Vec<(String, String)>,
    /// The caller's window at the start.
    pub size: WindowSize,
    /// The caller's `TERM`; empty: the module's default.
    pub term: String,
}

impl TerminalSpec {
    /// The contract's request to open this terminal in `lease`.
    pub fn request(&self, lease: Lease) -> TerminalRequest {
        TerminalRequest {
            lease,
            command: self.command.clone(),
            cwd: self.cwd.clone(),
            env: env_vars(&self.env),
            size: self.size,
            term: self.term.clone(),
        }
    }
}

/// Which output of a detached process an attach sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AttachFrom {
    /// Bytes of kept stdout the caller already has.
    pub stdout_offset: u64,
    /// Bytes of kept stderr the caller already has.
    pub stderr_offset: u64,
    /// Follow the process to its end.
    pub follow: bool,
}

impl Lifecycle<'_> {
    /// `open-terminal`: a command on a terminal, the caller's input, output
    /// and window sizes wired to it (`ctx.caller`), until it ends.
    pub fn terminal(
        &self,
        ctx: &CallContext,
        lease: Lease,
        spec: &TerminalSpec,
    ) -> Result<ExecStatus, LifecycleError> {
        let env = self.guarded(ctx, Budget::Exec(None))?;
        answer(self.loaded.policy.open_terminal(&env, &spec.request(lease)))
    }

    /// `start-process`: `command` detached in `lease`; returns at once.
    pub fn start_process(
        &self,
        ctx: &CallContext,
        lease: Lease,
        command: &CommandSpec,
    ) -> Result<ProcessInfo, LifecycleError> {
        let env = self.guarded(ctx, Budget::Lookup)?;
        answer(
            self.loaded
                .policy
                .start_process(&env, &command.request(lease)),
        )
    }

    /// `list-processes`: the detached processes of `lease`.
    pub fn processes(
        &self,
        ctx: &CallContext,
        lease: &Lease,
    ) -> Result<Vec<ProcessInfo>, LifecycleError> {
        let env = self.guarded(ctx, Budget::Lookup)?;
        answer(self.loaded.policy.list_processes(&env, lease))
    }

    /// `attach-process`: the process's kept output to the caller from
    /// `from`, and how it ended.
    pub fn attach(
        &self,
        ctx: &CallContext,
        lease: Lease,
        process: &str,
        from: AttachFrom,
    ) -> Result<ExecStatus, LifecycleError> {
        let budget = if from.follow {
            Budget::Exec(None)
        } else {
            Budget::Lookup
        };
        let env = self.guarded(ctx, budget)?;
        let request = AttachRequest {
            lease,
            process: process.to_string(),
            stdout_offset: from.stdout_offset,
            stderr_offset: from.stderr_offset,
            follow: from.follow,
        };
        answer(self.loaded.policy.attach_process(&env, &request))
    }

    /// `kill-process`: `signal` (none: the module's default, SIGTERM) to
    /// the process's tree, then SIGKILL after the module's grace period.
    pub fn kill(
        &self,
        ctx: &CallContext,
        lease: &Lease,
        process: &str,
        signal: Option<u32>,
    ) -> Result<ProcessInfo, LifecycleError> {
        let env = self.guarded(ctx, Budget::Lookup)?;
        answer(
            self.loaded
                .policy
                .kill_process(&env, lease, process, signal.unwrap_or(0)),
        )
    }

    /// `stat-path`: one path in `lease`; none when it does not exist.
    pub fn stat(
        &self,
        ctx: &CallContext,
        lease: &Lease,
        path: &str,
    ) -> Result<Option<FileEntry>, LifecycleError> {
        let env = self.guarded(ctx, Budget::Lookup)?;
        answer(self.loaded.policy.stat_path(&env, lease, path))
    }

    /// `list-directory`: the entries of a directory in `lease`.
    pub fn list_directory(
        &self,
        ctx: &CallContext,
        lease: &Lease,
        path: &str,
    ) -> Result<Vec<FileEntry>, LifecycleError> {
        let env = self.guarded(ctx, Budget::Lookup)?;
        answer(self.loaded.policy.list_directory(&env, lease, path))
    }

    /// `remove-path`: false when `path` did not exist.
    pub fn remove(
        &self,
        ctx: &CallContext,
        lease: &Lease,
        path: &str,
        recursive: bool,
    ) -> Result<bool, LifecycleError> {
        let env = self.guarded(ctx, Budget::Lookup)?;
        answer(self.loaded.policy.remove_path(&env, lease, path, recursive))
    }
}
