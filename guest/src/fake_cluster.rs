//! An in-memory cluster for native tests of the lifecycle, and (through a
//! thin adapter of the host's tests) for the real module in the host
//! runtime: the one fake Kubernetes of the workspace.
//!
//! It stores objects keyed by (apiVersion, kind, namespace, name), assigns
//! uids and resource versions, honours uid preconditions, selects by label
//! and field, keeps the values of host-filled Secrets, and plays back what
//! a test scripts: watch timelines and controller changes per kind, exec
//! exit statuses and output, log streams, access-review answers, injected
//! failures, cancellation. Time is a fake clock that only moves when a
//! watch, exec or log wait runs out of scripted input, so timeouts are
//! tested instantly (a host adapter turns those moves into real waits).
//!
//! Every call is recorded as a [`Call`], readable as a line (`apply
//! Namespace/leasebox-acme`, `delete Pod/leasebox-acme/lb-...`) for order
//! assertions. Clones share the state and are `Send + Sync`.
//!
//! Here is what a test sees of it: [`FakeCluster`], what it recorded and
//! what it may script. Underneath, one file per concept: `state` (the
//! store), `api_server` (each [`Cluster`](crate::cluster::Cluster) call
//! answered from it), `sessions` (watches, execs, logs), `scripts` (what a
//! test scripts for them), `faults` (injected failures, cancellation),
//! `selector` and `calls`.

mod api_server;
mod calls;
mod faults;
mod scripts;
mod selector;
mod sessions;
mod state;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;

use crate::cluster::{
    DeleteOptions, EventType, ExecSpec, HostSecretRequest, KubeError, Level, LogsRequest,
    OutputStream, WatchEvent, WatchRequest,
};
use crate::lease::ObjectRef;

pub use calls::Call;
use calls::target_of;
pub use scripts::{CallerStreams, ExecRecord, ExecScript, LogScript};
pub use selector::{matches_field_selector, matches_label_selector};
pub use sessions::{FakeExec, FakeLogs, FakeWatch};
pub use state::{DEFAULT_NOW, DEFAULT_VERSION};
use state::{State, key, lock};

/// An in-memory cluster. Clones share the same state, so a test keeps one
/// handle for assertions while the lifecycle uses another.
#[derive(Clone, Default)]
pub struct FakeCluster {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for FakeCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeCluster")
            .field("calls", &self.calls())
            .finish()
    }
}

impl FakeCluster {
    /// An empty cluster.
    pub fn new() -> FakeCluster {
        FakeCluster::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Every call so far, one line each (`apply Secret/ns/name`).
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.iter().map(Call::to_string).collect()
    }

    /// Every call so far, with its arguments.
    pub fn call_records(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// Calls whose line starts with `verb ` (`"delete"`).
    pub fn calls_of(&self, verb: &str) -> Vec<String> {
        let prefix = format!("{verb} ");
        self.calls()
            .into_iter()
            .filter(|c| c.starts_with(&prefix))
            .collect()
    }

    /// The calls' records picked by `pick`, in order.
    fn picked<T>(&self, pick: impl Fn(&Call) -> Option<T>) -> Vec<T> {
        self.lock().calls.iter().filter_map(pick).collect()
    }

    /// The kinds written (apply, create and host-filled Secret), in order.
    pub fn written_kinds(&self) -> Vec<String> {
        self.picked(|call| match call {
            Call::Apply(target) | Call::Create { target, .. } => Some(target.kind.clone()),
            Call::ApplyHostSecret(request) => Some(target_of(&request.manifest).kind),
            _ => None,
        })
    }

    /// Every delete with its options.
    pub fn deletes(&self) -> Vec<(ObjectRef, DeleteOptions)> {
        self.picked(|call| match call {
            Call::Delete { target, options } => Some((target.clone(), options.clone())),
            _ => None,
        })
    }

    /// Every exec, with what was written to its stdin.
    pub fn execs(&self) -> Vec<ExecRecord> {
        self.lock().execs.clone()
    }

    /// Output of every session that forwarded it, in order.
    pub fn forwarded(&self) -> Vec<(OutputStream, Vec<u8>)> {
        self.lock().forwarded.clone()
    }

    /// Every log request.
    pub fn log_requests(&self) -> Vec<LogsRequest> {
        self.picked(|call| match call {
            Call::Logs(request) => Some(request.clone()),
            _ => None,
        })
    }

    /// Every watch request.
    pub fn watches(&self) -> Vec<WatchRequest> {
        self.picked(|call| match call {
            Call::Watch(request) => Some(request.clone()),
            _ => None,
        })
    }

    /// Every host-filled Secret request.
    pub fn host_secrets(&self) -> Vec<HostSecretRequest> {
        self.picked(|call| match call {
            Call::ApplyHostSecret(request) => Some(request.clone()),
            _ => None,
        })
    }

    /// Every access review created.
    pub fn reviews(&self) -> Vec<Value> {
        self.lock().reviews.clone()
    }

    /// Every message logged through [`Cluster::log`](crate::cluster::Cluster::log).
    pub fn messages(&self) -> Vec<(Level, String, String)> {
        self.lock().messages.clone()
    }

    /// Every stored object.
    pub fn objects(&self) -> Vec<Value> {
        self.lock().objects.values().cloned().collect()
    }

    /// Every stored object of `kind` (any apiVersion and namespace).
    pub fn objects_of_kind(&self, kind: &str) -> Vec<Value> {
        self.lock()
            .objects
            .iter()
            .filter(|((_, k, _, _), _)| k == kind)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// The stored object `kind` named `name` in `namespace` (any
    /// apiVersion).
    pub fn object(&self, kind: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        let ns = namespace.unwrap_or("");
        self.lock()
            .objects
            .iter()
            .find(|((_, k, n, m), _)| k == kind && n == ns && m == name)
            .map(|(_, v)| v.clone())
    }

    /// The stored object at exactly this apiVersion, kind, namespace and
    /// name.
    pub fn object_at(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let key = key(api_version, kind, namespace, name);
        self.lock().objects.get(&key).cloned()
    }

    /// The values the host filled into the Secret `name` in `namespace`
    /// (random, host and literal keys); empty when there is none.
    pub fn secret_values(&self, namespace: &str, name: &str) -> BTreeMap<String, String> {
        let key = key("v1", "Secret", Some(namespace), name);
        self.lock()
            .secret_values
            .get(&key)
            .cloned()
            .unwrap_or_default()
    }

    /// Stores an object directly (not recorded as a call); uid and
    /// creationTimestamp are kept when given, assigned otherwise.
    pub fn put(&self, object: Value) -> Value {
        match self.lock().store(object.clone()) {
            Ok(stored) => stored,
            Err(_) => object,
        }
    }

    /// Replaces the `status` of a stored object, as a controller would
    /// (not recorded as a call); false when there is no such object.
    pub fn set_status(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
        status: Value,
    ) -> bool {
        let key = key(api_version, kind, namespace, name);
        self.lock().set_status(&key, status).is_some()
    }

    /// Every later call of `verb` (`apply`, `create`, `get`, `list`,
    /// `delete`, `watch`, `exec`, `logs`) on `kind` (`*`: any) fails with
    /// `error`. `apply_host_secret` counts as `apply` of a `Secret`;
    /// `exec-wait` on `Pod` fails the waits of exec sessions (a stream
    /// lost after the command started).
    pub fn fail_on(&self, verb: &str, kind: &str, error: KubeError) {
        self.lock().faults.fail_on(verb, kind, error);
    }

    /// Removes every injected failure.
    pub fn clear_failures(&self) {
        self.lock().faults.clear_failures();
    }

    /// The server does not serve `kind` at `api_version` (a CRD that is
    /// not installed): list, watch and apply answer 404.
    pub fn unserve(&self, api_version: &str, kind: &str) {
        self.lock().faults.unserve(api_version, kind);
    }

    /// Appends events to the timeline of `kind`. Every watch of that kind
    /// (opened before or after) sees the stored objects that match it as
    /// `Added`, then the timeline events that match its selectors. The
    /// store is left as it is.
    pub fn script_watch(&self, kind: &str, events: Vec<WatchEvent>) {
        self.lock()
            .timelines
            .entry(kind.into())
            .or_default()
            .extend(events);
    }

    /// Queues a change a controller makes to an object of `kind`: the
    /// first later watch it matches (after its listing and timeline)
    /// delivers it once, and the store follows: `Deleted` removes the
    /// object, other events set its `status` or store it when it is new.
    /// The event carries the stored object (with its uid).
    pub fn script_watch_event(&self, kind: &str, event_type: EventType, object: Value) {
        self.lock()
            .changes
            .entry(kind.into())
            .or_default()
            .push_back(WatchEvent { event_type, object });
    }

    /// Queues how the next exec behaves (default: exits 0 at once).
    pub fn script_exec(&self, script: ExecScript) {
        self.lock().exec_scripts.push_back(script);
    }

    /// Queues the next log stream (default: empty, ended).
    pub fn script_logs(&self, script: LogScript) {
        self.lock().log_scripts.push_back(script);
    }

    /// Access reviews of `verb` on `resource` (`pods/exec`) answer denied.
    pub fn deny_access(&self, verb: &str, resource: &str) {
        self.lock()
            .denied_access
            .insert((verb.into(), resource.into()));
    }

    /// The host has no value for `key` (left out of the filled keys).
    pub fn host_lacks(&self, key: &str) {
        self.lock().missing_host_keys.insert(key.into());
    }

    /// The host's own values: from now on exactly these host keys are
    /// filled, with these values (by default every host key is filled
    /// with `host:<key>`, except those of [`FakeCluster::host_lacks`]).
    pub fn set_host_values(&self, values: BTreeMap<String, String>) {
        self.lock().host_values = Some(values);
    }

    /// What `server_version` answers.
    pub fn set_server_version(&self, version: Result<String, KubeError>) {
        self.lock().version = Some(version);
    }

    /// The `creationTimestamp` of objects created from now on.
    pub fn set_now(&self, now: &str) {
        self.lock().now = now.into();
    }

    /// Moves the fake clock.
    pub fn advance(&self, ms: u64) {
        self.lock().clock_ms += ms;
    }

    /// The fake clock.
    pub fn clock_ms(&self) -> u64 {
        self.lock().clock_ms
    }

    /// The host cancels the lease call right after the `calls`-th call:
    /// from then on `apply`, `create` and `apply_host_secret` answer
    /// `cancelled`, and so does every wait on a handle opened before;
    /// `get`, `list`, `delete`, `exec`, `kill` and handles opened afterwards
    /// keep working (see "Cancellation" in `wit/kube.wit`).
    pub fn cancel_after_calls(&self, calls: usize) {
        self.lock().faults.cancel_after_calls(calls);
    }

    /// The host cancels the lease call at its first wait on a watch, exec
    /// session or log stream (see [`FakeCluster::cancel_after_calls`]).
    pub fn cancel_at_first_wait(&self) {
        self.lock().faults.cancel_at_first_wait();
    }

    /// True once the host has cancelled the call.
    pub fn cancelled(&self) -> bool {
        self.lock().faults.cancelled()
    }

    /// Records `call`, and cancels when the test asked for it after this
    /// many calls; returns the state, locked.
    fn record(&self, call: Call) -> MutexGuard<'_, State> {
        let mut state = self.lock();
        state.calls.push(call);
        let calls = state.calls.len();
        state.faults.after_call(calls);
        state
    }

    /// Opens a watch (as [`Cluster::watch`](crate::cluster::Cluster::watch), without the box).
    pub fn open_watch(&self, request: &WatchRequest) -> Result<FakeWatch, KubeError> {
        let state = self.record(Call::Watch(request.clone()));
        state.faults.check("watch", &request.kind)?;
        state
            .faults
            .check_served(&request.api_version, &request.kind)?;
        let mut initial = Vec::new();
        let namespace = (!request.namespace.is_empty()).then_some(request.namespace.as_str());
        // A watch of one name in one namespace (a pod's readiness) reads
        // that key alone, as the API server's index would.
        let one_name = request
            .field_selector
            .strip_prefix("metadata.name=")
            .filter(|name| !name.contains([',', '=', '!']));
        let candidates: Box<dyn Iterator<Item = &Value>> = match (namespace, one_name) {
            (Some(ns), Some(name)) => Box::new(
                state
                    .objects
                    .get(&(
                        request.api_version.clone(),
                        request.kind.clone(),
                        ns.to_string(),
                        name.to_string(),
                    ))
                    .into_iter(),
            ),
            _ => Box::new(state.of_kind(&request.api_version, &request.kind, namespace)),
        };
        for object in candidates {
            if selector::watch_matches(request, object)? {
                initial.push(object.clone());
            }
        }
        let opened_at = state.calls.len();
        drop(state);
        Ok(FakeWatch::new(
            self.state.clone(),
            request.clone(),
            initial,
            opened_at,
        ))
    }

    /// Starts a command (as [`Cluster::exec`](crate::cluster::Cluster::exec), without the box);
    /// forwarded output and stdin use `caller` when given.
    pub fn open_exec(
        &self,
        spec: &ExecSpec,
        caller: Option<Box<dyn CallerStreams>>,
    ) -> Result<FakeExec, KubeError> {
        let mut state = self.record(Call::Exec(spec.clone()));
        state.faults.check("exec", "Pod")?;
        let script = state
            .exec_scripts
            .pop_front()
            .unwrap_or_else(|| ExecScript::exits(0));
        state.execs.push(ExecRecord {
            spec: spec.clone(),
            stdin: Vec::new(),
            stdin_closed: false,
            killed: false,
        });
        let index = state.execs.len() - 1;
        let opened_at = state.calls.len();
        drop(state);
        Ok(FakeExec::new(
            self.state.clone(),
            index,
            script,
            opened_at,
            caller,
        ))
    }

    /// Opens a log (as [`Cluster::logs`](crate::cluster::Cluster::logs), without the box), cut at the
    /// request's `max_bytes`; a forwarded log goes to `caller` (when
    /// given) and the record at once.
    pub fn open_logs(
        &self,
        request: &LogsRequest,
        caller: Option<Box<dyn CallerStreams>>,
    ) -> Result<FakeLogs, KubeError> {
        let mut state = self.record(Call::Logs(request.clone()));
        state.faults.check("logs", "Pod")?;
        let script = state.log_scripts.pop_front().unwrap_or(LogScript {
            chunks: Vec::new(),
            ends: true,
        });
        let mut room = request
            .max_bytes
            .and_then(|max| usize::try_from(max).ok())
            .unwrap_or(usize::MAX);
        let mut chunks = Vec::new();
        for mut chunk in script.chunks {
            chunk.truncate(room);
            room -= chunk.len();
            if !chunk.is_empty() {
                chunks.push(chunk);
            }
        }
        let opened_at = state.calls.len();
        if request.forward_output {
            let forwarded = std::mem::take(&mut chunks);
            let records = forwarded.iter().map(|c| (OutputStream::Stdout, c.clone()));
            state.forwarded.extend(records);
            drop(state);
            if let Some(mut caller) = caller {
                for chunk in &forwarded {
                    caller.output(OutputStream::Stdout, chunk)?;
                }
            }
        } else {
            drop(state);
        }
        Ok(FakeLogs::new(
            self.state.clone(),
            chunks,
            script.ends,
            opened_at,
        ))
    }
}

#[cfg(test)]
mod tests;
