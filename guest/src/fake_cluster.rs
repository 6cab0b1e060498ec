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

mod calls;
mod selector;
mod sessions;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::cluster::{
    Cluster, DeleteOptions, EventType, ExecSession, ExecSpec, ExecStatus, HostSecretRequest,
    KubeError, Level, LogStream, LogsRequest, OutputStream, Watch, WatchEvent, WatchRequest,
};
use crate::lease::ObjectRef;

pub use calls::Call;
use calls::target_of;
pub use selector::{matches_field_selector, matches_label_selector};
pub use sessions::{FakeExec, FakeLogs, FakeWatch};

/// The `creationTimestamp` of objects the fake creates, unless changed
/// with [`FakeCluster::set_now`].
pub const DEFAULT_NOW: &str = "2026-11-23T10:00:00Z";
/// The server version the fake reports by default.
pub const DEFAULT_VERSION: &str = "v1.20.15";

type Key = (String, String, String, String);

/// What an exec does, scripted by a test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecScript {
    /// How it ends.
    pub status: ExecStatus,
    /// Fake milliseconds it runs; `None` runs until killed.
    pub runs_ms: Option<u64>,
    /// Its output: returned by `read`, or sent to the caller when the
    /// session forwards output.
    pub output: Vec<(OutputStream, Vec<u8>)>,
}

impl ExecScript {
    /// Ends at once with `code`.
    pub fn exits(code: i32) -> ExecScript {
        ExecScript {
            status: ExecStatus {
                exit_code: Some(code),
                ..ExecStatus::empty()
            },
            runs_ms: Some(0),
            output: Vec::new(),
        }
    }

    /// Never ends on its own: `wait` answers "still running" until the
    /// session is killed.
    pub fn hangs() -> ExecScript {
        ExecScript {
            status: ExecStatus::empty(),
            runs_ms: None,
            output: Vec::new(),
        }
    }
}

/// One exec the fake ran, with what was written to its stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecRecord {
    /// The request.
    pub spec: ExecSpec,
    /// Bytes written with `write_stdin`, then the caller's forwarded stdin
    /// (framed when the spec asks).
    pub stdin: Vec<u8>,
    /// `close_stdin` was called.
    pub stdin_closed: bool,
    /// `kill` was called.
    pub killed: bool,
}

/// A log stream, scripted by a test.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogScript {
    /// Chunks returned by `read`, or sent to the caller when the stream
    /// forwards output.
    pub chunks: Vec<Vec<u8>>,
    /// The log ends (the container stopped); false: `wait_end` never ends.
    pub ends: bool,
}

/// The host caller's streams, as a session that forwards them sees them
/// (a host adapter wires its caller's stdout, stderr and stdin here).
pub trait CallerStreams: Send {
    /// Passes forwarded output on.
    fn output(&mut self, stream: OutputStream, data: &[u8]) -> Result<(), KubeError>;
    /// The caller's whole stdin; none when another session took it.
    fn take_stdin(&mut self) -> Result<Option<Vec<u8>>, KubeError>;
}

struct Injected {
    verb: String,
    kind: String,
    error: KubeError,
}

#[derive(Default)]
struct State {
    objects: BTreeMap<Key, Value>,
    secret_values: BTreeMap<Key, BTreeMap<String, String>>,
    next_uid: u64,
    next_resource_version: u64,
    clock_ms: u64,
    now: String,
    version: Option<Result<String, KubeError>>,
    calls: Vec<Call>,
    failures: Vec<Injected>,
    unserved: BTreeSet<(String, String)>,
    timelines: BTreeMap<String, Vec<WatchEvent>>,
    changes: BTreeMap<String, VecDeque<WatchEvent>>,
    exec_scripts: VecDeque<ExecScript>,
    execs: Vec<ExecRecord>,
    forwarded: Vec<(OutputStream, Vec<u8>)>,
    log_scripts: VecDeque<LogScript>,
    denied_access: BTreeSet<(String, String)>,
    reviews: Vec<Value>,
    host_values: Option<BTreeMap<String, String>>,
    missing_host_keys: BTreeSet<String>,
    messages: Vec<(Level, String, String)>,
    cancel_after: Option<usize>,
    cancel_on_wait: bool,
    cancelled_at: Option<usize>,
}

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

/// The state, also after a test thread panicked holding it.
fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn key_of(object: &Value) -> Result<Key, KubeError> {
    let r = ObjectRef::of(object).ok_or_else(|| {
        KubeError::BadArgument(
            "object needs apiVersion, kind and metadata.name; add the missing field".into(),
        )
    })?;
    Ok(key_of_ref(&r))
}

fn key_of_ref(r: &ObjectRef) -> Key {
    (
        r.api_version.clone(),
        r.kind.clone(),
        r.namespace.clone().unwrap_or_default(),
        r.name.clone(),
    )
}

fn key(api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> Key {
    (
        api_version.into(),
        kind.into(),
        namespace.unwrap_or_default().into(),
        name.into(),
    )
}

fn labels_of(object: &Value) -> BTreeMap<String, String> {
    object
        .get("metadata")
        .and_then(|m| m.get("labels"))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// The value the fake host generates for a random key: 64 hex digits,
/// fixed per Secret and key.
fn random_value(key: &Key, name: &str) -> String {
    let digest = Sha256::digest(format!("{}/{}/{name}", key.2, key.3).as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl State {
    /// `apply`, `create` and `apply_host_secret` answer `cancelled` once
    /// the host has cancelled the call.
    fn check_writable(&self) -> Result<(), KubeError> {
        match self.cancelled_at {
            Some(_) => Err(KubeError::Cancelled(
                "the caller cancelled the lease call".into(),
            )),
            None => Ok(()),
        }
    }

    /// A wait on a handle opened by call number `opened_at`: `cancelled`
    /// when the handle predates the cancellation. The first wait cancels
    /// the call when the test asked for that.
    fn check_wait(&mut self, opened_at: usize) -> Result<(), KubeError> {
        if self.cancel_on_wait && self.cancelled_at.is_none() {
            self.cancelled_at = Some(self.calls.len());
        }
        match self.cancelled_at {
            Some(at) if opened_at <= at => Err(KubeError::Cancelled(
                "the caller cancelled the lease call".into(),
            )),
            _ => Ok(()),
        }
    }

    fn check(&self, verb: &str, kind: &str) -> Result<(), KubeError> {
        match self
            .failures
            .iter()
            .find(|f| f.verb == verb && (f.kind == kind || f.kind == "*"))
        {
            Some(f) => Err(f.error.clone()),
            None => Ok(()),
        }
    }

    fn check_served(&self, api_version: &str, kind: &str) -> Result<(), KubeError> {
        if self
            .unserved
            .contains(&(api_version.to_string(), kind.to_string()))
        {
            Err(KubeError::NotFound(format!(
                "the server could not find the requested resource ({kind} {api_version})"
            )))
        } else {
            Ok(())
        }
    }

    fn now(&self) -> String {
        if self.now.is_empty() {
            DEFAULT_NOW.to_string()
        } else {
            self.now.clone()
        }
    }

    fn next_resource_version(&mut self) -> String {
        self.next_resource_version += 1;
        (1000 + self.next_resource_version).to_string()
    }

    /// Stores `object`, keeping uid, creationTimestamp and status of an
    /// existing one (server-side apply never drops them).
    fn store(&mut self, mut object: Value) -> Result<Value, KubeError> {
        let key = key_of(&object)?;
        let existing = self.objects.get(&key).cloned();
        let rv = self.next_resource_version();
        let (uid, created) = match &existing {
            Some(old) => (
                old["metadata"]["uid"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                old["metadata"]["creationTimestamp"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            ),
            None => {
                self.next_uid += 1;
                let uid = object["metadata"]["uid"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("00000000-0000-4000-8000-{:012x}", self.next_uid));
                let created = object["metadata"]["creationTimestamp"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| self.now());
                (uid, created)
            }
        };
        if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("uid".into(), json!(uid));
            meta.insert("creationTimestamp".into(), json!(created));
            meta.insert("resourceVersion".into(), json!(rv));
        }
        if let (Some(old), Some(obj)) = (&existing, object.as_object_mut())
            && !obj.contains_key("status")
            && let Some(status) = old.get("status")
        {
            obj.insert("status".into(), status.clone());
        }
        self.objects.insert(key, object.clone());
        Ok(object)
    }

    /// The stored objects of `kind` at `api_version`, in `namespace` or in
    /// any, in key order: a range of the store, so a watch or list costs
    /// what it finds, not the size of the store.
    fn of_kind<'a>(
        &'a self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
    ) -> impl Iterator<Item = &'a Value> + 'a {
        let from: Key = (
            api_version.to_string(),
            kind.to_string(),
            namespace.unwrap_or("").to_string(),
            String::new(),
        );
        let (api_version, kind) = (api_version.to_string(), kind.to_string());
        let namespace = namespace.map(str::to_string);
        self.objects
            .range(from..)
            .take_while(move |((a, k, n, _), _)| {
                *a == api_version && *k == kind && namespace.as_ref().is_none_or(|ns| ns == n)
            })
            .map(|(_, object)| object)
    }

    /// Replaces the status of the stored object at `key`, with a new
    /// resource version; returns the stored object.
    fn set_status(&mut self, key: &Key, status: Value) -> Option<Value> {
        let rv = self.next_resource_version();
        let stored = self.objects.get_mut(key)?;
        stored.as_object_mut()?.insert("status".into(), status);
        if let Some(meta) = stored.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("resourceVersion".into(), json!(rv));
        }
        Some(stored.clone())
    }

    /// Takes the first scripted change of the watched kind that `request`
    /// matches and carries it out on the store: `Deleted` removes the
    /// object; otherwise the event's status replaces the stored one, or
    /// the object is stored when it is new (a pod a controller created).
    /// The event carries the stored object, with its uid.
    fn take_change(&mut self, request: &WatchRequest) -> Result<Option<WatchEvent>, KubeError> {
        let Some(queue) = self.changes.get_mut(&request.kind) else {
            return Ok(None);
        };
        let mut found = None;
        for (i, event) in queue.iter().enumerate() {
            if sessions::watch_matches(request, &event.object)? {
                found = Some(i);
                break;
            }
        }
        let Some(WatchEvent { event_type, object }) = found.and_then(|i| queue.remove(i)) else {
            return Ok(None);
        };
        let Ok(key) = key_of(&object) else {
            return Ok(Some(WatchEvent { event_type, object }));
        };
        let object = if event_type == EventType::Deleted {
            self.secret_values.remove(&key);
            self.objects.remove(&key).unwrap_or(object)
        } else if self.objects.contains_key(&key) {
            match object.get("status") {
                Some(status) => self.set_status(&key, status.clone()),
                None => self.objects.get(&key).cloned(),
            }
            .unwrap_or(object)
        } else {
            self.store(object.clone()).unwrap_or(object)
        };
        Ok(Some(WatchEvent { event_type, object }))
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

    /// Every message logged through [`Cluster::log`].
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
        self.lock().failures.push(Injected {
            verb: verb.into(),
            kind: kind.into(),
            error,
        });
    }

    /// Removes every injected failure.
    pub fn clear_failures(&self) {
        self.lock().failures.clear();
    }

    /// The server does not serve `kind` at `api_version` (a CRD that is
    /// not installed): list, watch and apply answer 404.
    pub fn unserve(&self, api_version: &str, kind: &str) {
        self.lock()
            .unserved
            .insert((api_version.into(), kind.into()));
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
        self.lock().cancel_after = Some(calls);
    }

    /// The host cancels the lease call at its first wait on a watch, exec
    /// session or log stream (see [`FakeCluster::cancel_after_calls`]).
    pub fn cancel_at_first_wait(&self) {
        self.lock().cancel_on_wait = true;
    }

    /// True once the host has cancelled the call.
    pub fn cancelled(&self) -> bool {
        self.lock().cancelled_at.is_some()
    }

    /// Records `call`, and cancels when the test asked for it after this
    /// many calls; returns the state, locked.
    fn record(&self, call: Call) -> MutexGuard<'_, State> {
        let mut state = self.lock();
        state.calls.push(call);
        if state.cancelled_at.is_none()
            && let Some(after) = state.cancel_after
            && state.calls.len() > after
        {
            state.cancelled_at = Some(after);
        }
        state
    }

    /// Opens a watch (as [`Cluster::watch`], without the box).
    pub fn open_watch(&self, request: &WatchRequest) -> Result<FakeWatch, KubeError> {
        let state = self.record(Call::Watch(request.clone()));
        state.check("watch", &request.kind)?;
        state.check_served(&request.api_version, &request.kind)?;
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
            if sessions::watch_matches(request, object)? {
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

    /// Starts a command (as [`Cluster::exec`], without the box);
    /// forwarded output and stdin use `caller` when given.
    pub fn open_exec(
        &self,
        spec: &ExecSpec,
        caller: Option<Box<dyn CallerStreams>>,
    ) -> Result<FakeExec, KubeError> {
        let mut state = self.record(Call::Exec(spec.clone()));
        state.check("exec", "Pod")?;
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

    /// Opens a log (as [`Cluster::logs`], without the box), cut at the
    /// request's `max_bytes`; a forwarded log goes to `caller` (when
    /// given) and the record at once.
    pub fn open_logs(
        &self,
        request: &LogsRequest,
        caller: Option<Box<dyn CallerStreams>>,
    ) -> Result<FakeLogs, KubeError> {
        let mut state = self.record(Call::Logs(request.clone()));
        state.check("logs", "Pod")?;
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

impl Cluster for FakeCluster {
    fn apply(&self, manifest: &Value) -> Result<Value, KubeError> {
        let mut state = self.record(Call::Apply(target_of(manifest)));
        let kind = manifest["kind"].as_str().unwrap_or_default();
        let api_version = manifest["apiVersion"].as_str().unwrap_or_default();
        state.check_writable()?;
        state.check("apply", kind)?;
        state.check_served(api_version, kind)?;
        state.store(manifest.clone())
    }

    fn create(&self, manifest: &Value) -> Result<Value, KubeError> {
        let kind = manifest["kind"].as_str().unwrap_or_default().to_string();
        if kind == "SelfSubjectAccessReview" {
            let attrs = &manifest["spec"]["resourceAttributes"];
            let verb = attrs["verb"].as_str().unwrap_or_default().to_string();
            let mut resource = attrs["resource"].as_str().unwrap_or_default().to_string();
            if let Some(sub) = attrs["subresource"].as_str().filter(|s| !s.is_empty()) {
                resource = format!("{resource}/{sub}");
            }
            let mut state = self.record(Call::Create {
                target: target_of(manifest),
                review: Some(format!("{verb} {resource}")),
            });
            state.check_writable()?;
            state.check("create", &kind)?;
            let allowed = !state.denied_access.contains(&(verb, resource));
            let mut answer = manifest.clone();
            answer["status"] = if allowed {
                json!({"allowed": true, "reason": "RBAC: allowed by ClusterRoleBinding \"leasebox-host\""})
            } else {
                json!({"allowed": false})
            };
            state.reviews.push(answer.clone());
            return Ok(answer);
        }
        let target = target_of(manifest);
        let mut state = self.record(Call::Create {
            target: target.clone(),
            review: None,
        });
        state.check_writable()?;
        state.check("create", &kind)?;
        let key = key_of(manifest)?;
        if state.objects.contains_key(&key) {
            return Err(KubeError::Conflict(format!(
                "{} already exists",
                target.display()
            )));
        }
        state.store(manifest.clone())
    }

    fn server_version(&self) -> Result<String, KubeError> {
        let state = self.record(Call::ServerVersion);
        match &state.version {
            Some(v) => v.clone(),
            None => Ok(DEFAULT_VERSION.into()),
        }
    }

    fn monotonic_ms(&self) -> u64 {
        self.clock_ms()
    }

    fn get(&self, target: &ObjectRef) -> Result<Option<Value>, KubeError> {
        let state = self.record(Call::Get(target.clone()));
        state.check("get", &target.kind)?;
        Ok(state.objects.get(&key_of_ref(target)).cloned())
    }

    fn list(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        label_selector: &str,
    ) -> Result<Vec<Value>, KubeError> {
        let state = self.record(Call::List {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: namespace.map(str::to_string),
            label_selector: label_selector.into(),
        });
        state.check("list", kind)?;
        state.check_served(api_version, kind)?;
        let mut out = Vec::new();
        for object in state.of_kind(api_version, kind, namespace) {
            if matches_label_selector(label_selector, &labels_of(object))? {
                out.push(object.clone());
            }
        }
        Ok(out)
    }

    fn delete(&self, target: &ObjectRef, options: &DeleteOptions) -> Result<bool, KubeError> {
        let mut state = self.record(Call::Delete {
            target: target.clone(),
            options: options.clone(),
        });
        state.check("delete", &target.kind)?;
        let key = key_of_ref(target);
        let Some(existing) = state.objects.get(&key) else {
            return Ok(false);
        };
        if let Some(want) = &options.precondition_uid {
            let have = existing["metadata"]["uid"].as_str().unwrap_or_default();
            if have != want {
                return Err(KubeError::Conflict(format!(
                    "Precondition failed: UID in precondition: {want}, UID in object meta: {have}"
                )));
            }
        }
        state.objects.remove(&key);
        state.secret_values.remove(&key);
        Ok(true)
    }

    fn watch(&self, request: &WatchRequest) -> Result<Box<dyn Watch>, KubeError> {
        Ok(Box::new(self.open_watch(request)?))
    }

    fn exec(&self, spec: &ExecSpec) -> Result<Box<dyn ExecSession>, KubeError> {
        Ok(Box::new(self.open_exec(spec, None)?))
    }

    fn logs(&self, request: &LogsRequest) -> Result<Box<dyn LogStream>, KubeError> {
        Ok(Box::new(self.open_logs(request, None)?))
    }

    fn apply_host_secret(
        &self,
        request: &HostSecretRequest,
    ) -> Result<(Value, Vec<String>), KubeError> {
        let mut state = self.record(Call::ApplyHostSecret(request.clone()));
        state.check_writable()?;
        state.check("apply", "Secret")?;
        let mut manifest = request.manifest.clone();
        if let Some(map) = manifest.as_object_mut() {
            map.remove("data");
            map.remove("stringData");
        }
        let stored = state.store(manifest)?;
        let key = key_of(&stored)?;
        let mut values = BTreeMap::new();
        let mut filled = Vec::new();
        for name in &request.random_keys {
            values.insert(name.clone(), random_value(&key, name));
            filled.push(name.clone());
        }
        for name in &request.host_keys {
            if state.missing_host_keys.contains(name) {
                continue;
            }
            let value = match &state.host_values {
                Some(host) => host.get(name).cloned(),
                None => Some(format!("host:{name}")),
            };
            if let Some(value) = value {
                values.insert(name.clone(), value);
                filled.push(name.clone());
            }
        }
        for literal in &request.literal {
            values.insert(literal.name.clone(), literal.value.clone());
            filled.push(literal.name.clone());
        }
        state.secret_values.insert(key, values);
        Ok((stored, filled))
    }

    fn log(&self, level: Level, context: &str, message: &str) {
        self.lock()
            .messages
            .push((level, context.into(), message.into()));
    }
}

#[cfg(test)]
mod tests;
