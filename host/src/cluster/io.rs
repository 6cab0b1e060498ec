//! The host side of the `kube` interface, as plain Rust.
//!
//! The records are the contract's generated types (`wit/kube.wit`), used as
//! they are; the wasm import glue (`runtime/imports/kube.rs`) passes them to
//! a [`ClusterIo`]; implementations are the real kube-rs client
//! (`kube_client/`), the "no cluster" stand-in used by `plan`/`validate`, and
//! in-memory clusters in tests. Calls are blocking: the guest runs on a
//! blocking thread, and async implementations block on their runtime.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use crate::cluster::manifest::Manifest;
use crate::contract::{
    DeleteOptions, ExecSpec, ExecStream, HandOverRequest, HostSecretRequest, KubeError, LogFollow,
    LogsRequest, ObjectRef, WatchRequest, WatchStream, WindowSize,
};

/// The caller's streams, where forwarded output goes and forwarded stdin
/// comes from.
#[derive(Clone)]
pub struct CallerIo {
    /// Caller's stdout.
    pub stdout: Arc<Mutex<dyn Write + Send>>,
    /// Caller's stderr.
    pub stderr: Arc<Mutex<dyn Write + Send>>,
    /// Caller's stdin (taken by the first exec that forwards it).
    pub stdin: Arc<Mutex<Option<Box<dyn Read + Send>>>>,
    /// The caller's terminal window sizes as they change (taken by the
    /// first exec with a terminal, which sends each to the terminal);
    /// none when the caller has no terminal or its size never changes.
    pub window_sizes: Arc<Mutex<Option<std::sync::mpsc::Receiver<WindowSize>>>>,
}

impl CallerIo {
    /// The process's own stdout, stderr and stdin.
    pub fn process() -> CallerIo {
        CallerIo {
            stdout: Arc::new(Mutex::new(std::io::stdout())),
            stderr: Arc::new(Mutex::new(std::io::stderr())),
            stdin: Arc::new(Mutex::new(Some(Box::new(std::io::stdin())))),
            window_sizes: Arc::new(Mutex::new(None)),
        }
    }

    /// No caller: output is dropped, there is no stdin (background calls).
    pub fn none() -> CallerIo {
        CallerIo {
            stdout: Arc::new(Mutex::new(std::io::sink())),
            stderr: Arc::new(Mutex::new(std::io::sink())),
            stdin: Arc::new(Mutex::new(None)),
            window_sizes: Arc::new(Mutex::new(None)),
        }
    }
}

impl std::fmt::Debug for CallerIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CallerIo")
    }
}

/// Whom one call of a policy module is for, as the host knows it from the
/// call's own arguments (never from what the module says): the company of
/// an acquire, a probe or a company's list, and the lease of an acquire or
/// of any call about one lease. The capability guard narrows what the call
/// may touch to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallScope {
    /// The company the call is for.
    pub company: Option<String>,
    /// The lease the call is about.
    pub lease: Option<String>,
    /// For a sweep (a call for no company and no lease that deletes expired
    /// leases): the host's `now`, by which a lease must have expired for
    /// the sweep to delete it.
    pub sweep_now: Option<jiff::Timestamp>,
    /// For `ensure-pool` (a call for a company and no lease): the most
    /// unclaimed pool pods the tenant may hold (host settings `pools`).
    pub pool_max: Option<u32>,
}

impl CallScope {
    /// A call for company `company`.
    pub fn company(company: &str) -> CallScope {
        CallScope {
            company: Some(company.to_string()),
            ..CallScope::default()
        }
    }

    /// An acquire: for company `company`, about the lease `lease` the host
    /// minted.
    pub fn acquire(company: &str, lease: &str) -> CallScope {
        CallScope {
            company: Some(company.to_string()),
            lease: Some(lease.to_string()),
            ..CallScope::default()
        }
    }

    /// A sweep at `now`.
    pub fn sweep(now: jiff::Timestamp) -> CallScope {
        CallScope {
            sweep_now: Some(now),
            ..CallScope::default()
        }
    }

    /// `ensure-pool` for company `company`, allowed `max_pods` unclaimed
    /// pool pods.
    pub fn pool(company: &str, max_pods: u32) -> CallScope {
        CallScope {
            company: Some(company.to_string()),
            pool_max: Some(max_pods),
            ..CallScope::default()
        }
    }

    /// A call about lease `lease` (its company unknown to the host).
    pub fn lease(lease: &str) -> CallScope {
        CallScope {
            lease: Some(lease.to_string()),
            ..CallScope::default()
        }
    }
}

/// Kubernetes I/O performed for a policy module.
pub trait ClusterIo: Send + Sync {
    /// This cluster narrowed to one call for `scope`, when it narrows calls
    /// at all (the capability guard does); `None` uses it as it is.
    fn scoped(&self, scope: &CallScope) -> Option<Arc<dyn ClusterIo>> {
        let _ = scope;
        None
    }
    /// Server-side apply; returns the stored object.
    fn apply(&self, manifest: Manifest) -> Result<String, KubeError>;
    /// Plain create (review objects); returns the answer.
    fn create(&self, manifest: Manifest) -> Result<String, KubeError>;
    /// Server `gitVersion`.
    fn server_version(&self) -> Result<String, KubeError>;
    /// Reads one object.
    fn get(&self, target: &ObjectRef) -> Result<Option<String>, KubeError>;
    /// Lists objects.
    fn list(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        label_selector: &str,
    ) -> Result<Vec<String>, KubeError>;
    /// Deletes; false when already gone.
    fn delete(&self, target: &ObjectRef, options: &DeleteOptions) -> Result<bool, KubeError>;
    /// Starts a watch.
    fn watch(&self, request: &WatchRequest) -> Result<Box<dyn WatchStream>, KubeError>;
    /// Starts a command; forwarded streams use `caller`.
    fn exec(&self, spec: &ExecSpec, caller: &CallerIo) -> Result<Box<dyn ExecStream>, KubeError>;
    /// Opens a container log; forwarded output uses `caller`.
    fn logs(
        &self,
        request: &LogsRequest,
        caller: &CallerIo,
    ) -> Result<Box<dyn LogFollow>, KubeError>;
    /// Applies a host-filled Secret; returns the stored object without
    /// values and the keys filled.
    fn apply_host_secret(
        &self,
        request: &HostSecretRequest,
    ) -> Result<(String, Vec<String>), KubeError>;
    /// Writes the values of a lease's Secret into a file of its running
    /// pod (`wit/kube.wit`, `hand-over-secret`): read by the host, sent
    /// over exec stdin, never returned.
    fn hand_over_secret(&self, request: &HandOverRequest) -> Result<(), KubeError>;
}

/// The stand-in used when no cluster is configured: every call fails with
/// [`KubeError::NoCluster`], naming what would have been needed.
#[derive(Debug, Clone, Default)]
pub struct NoCluster;

impl NoCluster {
    fn err<T>(what: &str) -> Result<T, KubeError> {
        Err(KubeError::NoCluster(format!(
            "{what} needs a cluster: set KUBECONFIG, pass --kubeconfig, or run in a pod"
        )))
    }
}

impl ClusterIo for NoCluster {
    fn apply(&self, _: Manifest) -> Result<String, KubeError> {
        Self::err("apply")
    }
    fn create(&self, _: Manifest) -> Result<String, KubeError> {
        Self::err("create")
    }
    fn server_version(&self) -> Result<String, KubeError> {
        Self::err("server version")
    }
    fn get(&self, _: &ObjectRef) -> Result<Option<String>, KubeError> {
        Self::err("get")
    }
    fn list(&self, _: &str, _: &str, _: Option<&str>, _: &str) -> Result<Vec<String>, KubeError> {
        Self::err("list")
    }
    fn delete(&self, _: &ObjectRef, _: &DeleteOptions) -> Result<bool, KubeError> {
        Self::err("delete")
    }
    fn watch(&self, _: &WatchRequest) -> Result<Box<dyn WatchStream>, KubeError> {
        Self::err("watch")
    }
    fn exec(&self, _: &ExecSpec, _: &CallerIo) -> Result<Box<dyn ExecStream>, KubeError> {
        Self::err("exec")
    }
    fn logs(&self, _: &LogsRequest, _: &CallerIo) -> Result<Box<dyn LogFollow>, KubeError> {
        Self::err("logs")
    }
    fn apply_host_secret(&self, _: &HostSecretRequest) -> Result<(String, Vec<String>), KubeError> {
        Self::err("secret")
    }
    fn hand_over_secret(&self, _: &HandOverRequest) -> Result<(), KubeError> {
        Self::err("hand-over-secret")
    }
}
