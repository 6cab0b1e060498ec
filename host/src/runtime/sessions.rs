//! The calls contract 0.3.0 added: terminals, detached processes, files.
//! Each is one export of a 0.3.0 (or newer) module, in a fresh instance
//! like every other call, for the lease it names; modules of older
//! contracts answer
//! [`RuntimeError::Unsupported`](super::RuntimeError::Unsupported).

use super::{CallEnv, CallResult, Policy, V0_4};
use crate::cluster::io::CallScope;
use crate::contract::{
    AttachRequest, Contract, ExecRequest, ExecStatus, FileEntry, FilesInRequest, FilesOutRequest,
    Lease, ProcessInfo, TerminalRequest,
};

impl Policy {
    /// `open-terminal`: a command on a terminal until it ends.
    pub fn open_terminal(
        &self,
        env: &CallEnv,
        request: &TerminalRequest,
    ) -> CallResult<ExecStatus> {
        let (call, scope) = ("open-terminal", Some(CallScope::lease(&request.lease.id)));
        match self.contract {
            Contract::V0_4 | Contract::V0_3 => self.call(call, env, scope, |e, s| {
                e.call(s, V0_4::func_open_terminal, (request,))
            }),
            Contract::V0_2 | Contract::V0_1 => self.unsupported(call),
        }
    }

    /// `start-process`: a detached command.
    pub fn start_process(&self, env: &CallEnv, request: &ExecRequest) -> CallResult<ProcessInfo> {
        let (call, scope) = ("start-process", Some(CallScope::lease(&request.lease.id)));
        match self.contract {
            Contract::V0_4 | Contract::V0_3 => self.call(call, env, scope, |e, s| {
                e.call(s, V0_4::func_start_process, (request,))
            }),
            Contract::V0_2 | Contract::V0_1 => self.unsupported(call),
        }
    }

    /// `list-processes`: the detached processes of a lease.
    pub fn list_processes(&self, env: &CallEnv, lease: &Lease) -> CallResult<Vec<ProcessInfo>> {
        let (call, scope) = ("list-processes", Some(CallScope::lease(&lease.id)));
        match self.contract {
            Contract::V0_4 | Contract::V0_3 => self.call(call, env, scope, |e, s| {
                e.call(s, V0_4::func_list_processes, (lease,))
            }),
            Contract::V0_2 | Contract::V0_1 => self.unsupported(call),
        }
    }

    /// `attach-process`: a detached process's output, and how it ended.
    pub fn attach_process(&self, env: &CallEnv, request: &AttachRequest) -> CallResult<ExecStatus> {
        let (call, scope) = ("attach-process", Some(CallScope::lease(&request.lease.id)));
        match self.contract {
            Contract::V0_4 | Contract::V0_3 => self.call(call, env, scope, |e, s| {
                e.call(s, V0_4::func_attach_process, (request,))
            }),
            Contract::V0_2 | Contract::V0_1 => self.unsupported(call),
        }
    }

    /// `kill-process`: ends a detached process and its tree.
    pub fn kill_process(
        &self,
        env: &CallEnv,
        lease: &Lease,
        process: &str,
        signal: u32,
    ) -> CallResult<ProcessInfo> {
        let (call, scope) = ("kill-process", Some(CallScope::lease(&lease.id)));
        match self.contract {
            Contract::V0_4 | Contract::V0_3 => self.call(call, env, scope, |e, s| {
                e.call(s, V0_4::func_kill_process, (lease, process, signal))
            }),
            Contract::V0_2 | Contract::V0_1 => self.unsupported(call),
        }
    }

    /// `write-files`: the caller's stdin (tar) under `request.target`.
    pub fn write_files(&self, env: &CallEnv, request: &FilesInRequest) -> CallResult<()> {
        let (call, scope) = ("write-files", Some(CallScope::lease(&request.lease.id)));
        match self.contract {
            Contract::V0_4 | Contract::V0_3 => self.call(call, env, scope, |e, s| {
                e.call(s, V0_4::func_write_files, (request,))
            }),
            Contract::V0_2 | Contract::V0_1 => self.unsupported(call),
        }
    }

    /// `read-files`: a tar of `request.source` to the caller's stdout.
    pub fn read_files(&self, env: &CallEnv, request: &FilesOutRequest) -> CallResult<()> {
        let (call, scope) = ("read-files", Some(CallScope::lease(&request.lease.id)));
        match self.contract {
            Contract::V0_4 | Contract::V0_3 => self.call(call, env, scope, |e, s| {
                e.call(s, V0_4::func_read_files, (request,))
            }),
            Contract::V0_2 | Contract::V0_1 => self.unsupported(call),
        }
    }

    /// `stat-path`: one path in the lease.
    pub fn stat_path(
        &self,
        env: &CallEnv,
        lease: &Lease,
        path: &str,
    ) -> CallResult<Option<FileEntry>> {
        let (call, scope) = ("stat-path", Some(CallScope::lease(&lease.id)));
        match self.contract {
            Contract::V0_4 | Contract::V0_3 => self.call(call, env, scope, |e, s| {
                e.call(s, V0_4::func_stat_path, (lease, path))
            }),
            Contract::V0_2 | Contract::V0_1 => self.unsupported(call),
        }
    }

    /// `list-directory`: a directory's entries in the lease.
    pub fn list_directory(
        &self,
        env: &CallEnv,
        lease: &Lease,
        path: &str,
    ) -> CallResult<Vec<FileEntry>> {
        let (call, scope) = ("list-directory", Some(CallScope::lease(&lease.id)));
        match self.contract {
            Contract::V0_4 | Contract::V0_3 => self.call(call, env, scope, |e, s| {
                e.call(s, V0_4::func_list_directory, (lease, path))
            }),
            Contract::V0_2 | Contract::V0_1 => self.unsupported(call),
        }
    }

    /// `remove-path`: removes a path in the lease; false when it was gone.
    pub fn remove_path(
        &self,
        env: &CallEnv,
        lease: &Lease,
        path: &str,
        recursive: bool,
    ) -> CallResult<bool> {
        let (call, scope) = ("remove-path", Some(CallScope::lease(&lease.id)));
        match self.contract {
            Contract::V0_4 | Contract::V0_3 => self.call(call, env, scope, |e, s| {
                e.call(s, V0_4::func_remove_path, (lease, path, recursive))
            }),
            Contract::V0_2 | Contract::V0_1 => self.unsupported(call),
        }
    }
}
