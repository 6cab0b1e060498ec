//! An in-memory [`Cluster`] for native tests of the lifecycle.
//!
//! It stores objects keyed by (apiVersion, kind, namespace, name), assigns
//! uids and resource versions, honours uid preconditions, selects by label,
//! and plays back what a test scripts: watch events per kind, exec exit
//! statuses, log streams, access-review answers, injected failures. Time
//! is a fake clock that only moves when a watch, exec or log wait runs out
//! of scripted input, so timeouts are tested instantly.
//!
//! Every call is recorded as a line (`apply Namespace/leasebox-acme`,
//! `delete Pod/leasebox-acme/lb-...`) for order assertions.

mod selector;
mod sessions;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use serde_json::{Value, json};

use crate::cluster::{
    Cluster, DeleteOptions, ExecSession, ExecStatus, HostSecretRequest, KubeError, Level,
    LogStream, LogsRequest, OutputStream, Watch, WatchEvent, WatchRequest,
};
use crate::lease::ObjectRef;

pub use selector::{matches_field_selector, matches_label_selector};
use sessions::{FakeExec, FakeLogs, FakeWatch};

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
    /// Output returned by `read` (when not forwarded).
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

    /// Never ends on its own.
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
    pub spec: crate::cluster::ExecSpec,
    /// Bytes written with `write_stdin`.
    pub stdin: Vec<u8>,
    /// `close_stdin` was called.
    pub stdin_closed: bool,
    /// `kill` was called.
    pub killed: bool,
}

/// A log stream, scripted by a test.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogScript {
    /// Chunks returned by `read`.
    pub chunks: Vec<Vec<u8>>,
    /// The log ends (the container stopped); false: `wait_end` never ends.
    pub ends: bool,
}

struct Injected {
    verb: String,
    kind: String,
    error: KubeError,
}

#[derive(Default)]
struct State {
    objects: BTreeMap<Key, Value>,
    next_uid: u64,
    next_resource_version: u64,
    clock_ms: u64,
    now: String,
    version: Option<Result<String, KubeError>>,
    calls: Vec<String>,
    deletes: Vec<(ObjectRef, DeleteOptions)>,
    failures: Vec<Injected>,
    unserved: BTreeSet<(String, String)>,
    timelines: BTreeMap<String, Vec<WatchEvent>>,
    watches: Vec<WatchRequest>,
    exec_scripts: std::collections::VecDeque<ExecScript>,
    execs: Vec<ExecRecord>,
    log_scripts: std::collections::VecDeque<LogScript>,
    log_requests: Vec<LogsRequest>,
    denied_access: BTreeSet<(String, String)>,
    reviews: Vec<Value>,
    host_secrets: Vec<HostSecretRequest>,
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
    state: Rc<RefCell<State>>,
}

impl std::fmt::Debug for FakeCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeCluster")
            .field("calls", &self.state.borrow().calls)
            .finish()
    }
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

fn display(object: &Value) -> String {
    ObjectRef::of(object)
        .map(|r| r.display())
        .unwrap_or_else(|| "<unnamed>".into())
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
    pub(super) fn check_wait(&mut self, opened_at: usize) -> Result<(), KubeError> {
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
}

impl FakeCluster {
    /// An empty cluster.
    pub fn new() -> FakeCluster {
        FakeCluster::default()
    }

    /// Every call so far, one line each (`apply Secret/ns/name`).
    pub fn calls(&self) -> Vec<String> {
        self.state.borrow().calls.clone()
    }

    /// Calls whose line starts with `verb ` (`"delete"`).
    pub fn calls_of(&self, verb: &str) -> Vec<String> {
        let prefix = format!("{verb} ");
        self.calls()
            .into_iter()
            .filter(|c| c.starts_with(&prefix))
            .collect()
    }

    /// Every delete with its options.
    pub fn deletes(&self) -> Vec<(ObjectRef, DeleteOptions)> {
        self.state.borrow().deletes.clone()
    }

    /// Every exec, with what was written to stdin.
    pub fn execs(&self) -> Vec<ExecRecord> {
        self.state.borrow().execs.clone()
    }

    /// Every log request.
    pub fn log_requests(&self) -> Vec<LogsRequest> {
        self.state.borrow().log_requests.clone()
    }

    /// Every watch request.
    pub fn watches(&self) -> Vec<WatchRequest> {
        self.state.borrow().watches.clone()
    }

    /// Every host-filled Secret request.
    pub fn host_secrets(&self) -> Vec<HostSecretRequest> {
        self.state.borrow().host_secrets.clone()
    }

    /// Every access review created.
    pub fn reviews(&self) -> Vec<Value> {
        self.state.borrow().reviews.clone()
    }

    /// Every message logged through [`Cluster::log`].
    pub fn messages(&self) -> Vec<(Level, String, String)> {
        self.state.borrow().messages.clone()
    }

    /// Every stored object.
    pub fn objects(&self) -> Vec<Value> {
        self.state.borrow().objects.values().cloned().collect()
    }

    /// The stored object `kind` named `name` in `namespace` (any
    /// apiVersion).
    pub fn object(&self, kind: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        let ns = namespace.unwrap_or("");
        self.state
            .borrow()
            .objects
            .iter()
            .find(|((_, k, n, m), _)| k == kind && n == ns && m == name)
            .map(|(_, v)| v.clone())
    }

    /// Stores an object directly (not recorded as a call); uid and
    /// creationTimestamp are kept when given, assigned otherwise.
    pub fn put(&self, object: Value) -> Value {
        match self.state.borrow_mut().store(object.clone()) {
            Ok(stored) => stored,
            Err(_) => object,
        }
    }

    /// Every later call of `verb` (`apply`, `create`, `get`, `list`,
    /// `delete`, `watch`, `exec`, `logs`) on `kind` (`*`: any) fails with
    /// `error`. `apply_host_secret` counts as `apply` of a `Secret`.
    pub fn fail_on(&self, verb: &str, kind: &str, error: KubeError) {
        self.state.borrow_mut().failures.push(Injected {
            verb: verb.into(),
            kind: kind.into(),
            error,
        });
    }

    /// Removes every injected failure.
    pub fn clear_failures(&self) {
        self.state.borrow_mut().failures.clear();
    }

    /// The server does not serve `kind` at `api_version` (a CRD that is
    /// not installed): list, watch and apply answer 404.
    pub fn unserve(&self, api_version: &str, kind: &str) {
        self.state
            .borrow_mut()
            .unserved
            .insert((api_version.into(), kind.into()));
    }

    /// Appends events to the timeline of `kind`. Every watch of that kind
    /// (opened before or after) sees the stored objects that match it as
    /// `Added`, then the timeline events that match its selectors.
    pub fn script_watch(&self, kind: &str, events: Vec<WatchEvent>) {
        self.state
            .borrow_mut()
            .timelines
            .entry(kind.into())
            .or_default()
            .extend(events);
    }

    /// Queues how the next exec behaves (default: exits 0 at once).
    pub fn script_exec(&self, script: ExecScript) {
        self.state.borrow_mut().exec_scripts.push_back(script);
    }

    /// Queues the next log stream (default: empty, ended).
    pub fn script_logs(&self, script: LogScript) {
        self.state.borrow_mut().log_scripts.push_back(script);
    }

    /// Access reviews of `verb` on `resource` (`pods/exec`) answer denied.
    pub fn deny_access(&self, verb: &str, resource: &str) {
        self.state
            .borrow_mut()
            .denied_access
            .insert((verb.into(), resource.into()));
    }

    /// The host has no value for `key` (left out of the filled keys).
    pub fn host_lacks(&self, key: &str) {
        self.state.borrow_mut().missing_host_keys.insert(key.into());
    }

    /// What `server_version` answers.
    pub fn set_server_version(&self, version: Result<String, KubeError>) {
        self.state.borrow_mut().version = Some(version);
    }

    /// The `creationTimestamp` of objects created from now on.
    pub fn set_now(&self, now: &str) {
        self.state.borrow_mut().now = now.into();
    }

    /// Moves the fake clock.
    pub fn advance(&self, ms: u64) {
        self.state.borrow_mut().clock_ms += ms;
    }

    /// The fake clock.
    pub fn clock_ms(&self) -> u64 {
        self.state.borrow().clock_ms
    }

    /// The host cancels the lease call right after the `calls`-th call:
    /// from then on `apply`, `create` and `apply_host_secret` answer
    /// `cancelled`, and so does every wait on a handle opened before;
    /// `get`, `list`, `delete`, `exec`, `kill` and handles opened afterwards
    /// keep working (see "Cancellation" in `wit/kube.wit`).
    pub fn cancel_after_calls(&self, calls: usize) {
        self.state.borrow_mut().cancel_after = Some(calls);
    }

    /// The host cancels the lease call at its first wait on a watch, exec
    /// session or log stream (see [`FakeCluster::cancel_after_calls`]).
    pub fn cancel_at_first_wait(&self) {
        self.state.borrow_mut().cancel_on_wait = true;
    }

    /// True once the host has cancelled the call.
    pub fn cancelled(&self) -> bool {
        self.state.borrow().cancelled_at.is_some()
    }

    fn record(&self, line: String) {
        let mut state = self.state.borrow_mut();
        state.calls.push(line);
        if state.cancelled_at.is_none()
            && let Some(after) = state.cancel_after
            && state.calls.len() > after
        {
            state.cancelled_at = Some(after);
        }
    }

    /// Number of calls so far: the id of a handle opened by the last one.
    fn call_count(&self) -> usize {
        self.state.borrow().calls.len()
    }
}

impl Cluster for FakeCluster {
    fn apply(&self, manifest: &Value) -> Result<Value, KubeError> {
        let line = format!("apply {}", display(manifest));
        self.record(line);
        let mut state = self.state.borrow_mut();
        let kind = manifest["kind"].as_str().unwrap_or_default().to_string();
        let api_version = manifest["apiVersion"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        state.check_writable()?;
        state.check("apply", &kind)?;
        state.check_served(&api_version, &kind)?;
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
            self.record(format!("create SelfSubjectAccessReview {verb} {resource}"));
            let mut state = self.state.borrow_mut();
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
        self.record(format!("create {}", display(manifest)));
        let mut state = self.state.borrow_mut();
        state.check_writable()?;
        state.check("create", &kind)?;
        let key = key_of(manifest)?;
        if state.objects.contains_key(&key) {
            return Err(KubeError::Conflict(format!(
                "{} already exists",
                display(manifest)
            )));
        }
        state.store(manifest.clone())
    }

    fn server_version(&self) -> Result<String, KubeError> {
        self.record("version".into());
        match &self.state.borrow().version {
            Some(v) => v.clone(),
            None => Ok(DEFAULT_VERSION.into()),
        }
    }

    fn monotonic_ms(&self) -> u64 {
        self.state.borrow().clock_ms
    }

    fn get(&self, target: &ObjectRef) -> Result<Option<Value>, KubeError> {
        self.record(format!("get {}", target.display()));
        let state = self.state.borrow();
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
        let scope = namespace.unwrap_or("*");
        self.record(format!("list {kind}/{scope}?{label_selector}"));
        let state = self.state.borrow();
        state.check("list", kind)?;
        state.check_served(api_version, kind)?;
        let mut out = Vec::new();
        for ((a, k, n, _), object) in &state.objects {
            if a != api_version || k != kind {
                continue;
            }
            if namespace.is_some_and(|ns| ns != n) {
                continue;
            }
            if !matches_label_selector(label_selector, &labels_of(object))? {
                continue;
            }
            out.push(object.clone());
        }
        Ok(out)
    }

    fn delete(&self, target: &ObjectRef, options: &DeleteOptions) -> Result<bool, KubeError> {
        self.record(format!("delete {}", target.display()));
        let mut state = self.state.borrow_mut();
        state.deletes.push((target.clone(), options.clone()));
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
        Ok(true)
    }

    fn watch(&self, request: &WatchRequest) -> Result<Box<dyn Watch>, KubeError> {
        let mut line = format!("watch {}/{}", request.kind, request.namespace);
        let selectors: Vec<&str> = [&request.label_selector, &request.field_selector]
            .into_iter()
            .map(String::as_str)
            .filter(|s| !s.is_empty())
            .collect();
        if !selectors.is_empty() {
            line.push('?');
            line.push_str(&selectors.join("&"));
        }
        self.record(line);
        let initial = {
            let mut state = self.state.borrow_mut();
            state.watches.push(request.clone());
            state.check("watch", &request.kind)?;
            state.check_served(&request.api_version, &request.kind)?;
            let mut initial = Vec::new();
            for ((a, k, n, _), object) in &state.objects {
                if a == &request.api_version
                    && k == &request.kind
                    && (request.namespace.is_empty() || n == &request.namespace)
                    && sessions::watch_matches(request, object)?
                {
                    initial.push(object.clone());
                }
            }
            initial
        };
        Ok(Box::new(FakeWatch::new(
            self.state.clone(),
            request.clone(),
            initial,
            self.call_count(),
        )))
    }

    fn exec(&self, spec: &crate::cluster::ExecSpec) -> Result<Box<dyn ExecSession>, KubeError> {
        self.record(format!(
            "exec {}/{}/{} {}",
            spec.namespace,
            spec.pod,
            spec.container,
            spec.argv.first().map(String::as_str).unwrap_or("")
        ));
        let mut state = self.state.borrow_mut();
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
        let started = state.clock_ms;
        let opened_at = state.calls.len();
        Ok(Box::new(FakeExec::new(
            self.state.clone(),
            index,
            script,
            started,
            opened_at,
        )))
    }

    fn logs(&self, request: &LogsRequest) -> Result<Box<dyn LogStream>, KubeError> {
        self.record(format!(
            "logs {}/{}/{}",
            request.namespace, request.pod, request.container
        ));
        let mut state = self.state.borrow_mut();
        state.log_requests.push(request.clone());
        state.check("logs", "Pod")?;
        let script = state.log_scripts.pop_front().unwrap_or(LogScript {
            chunks: Vec::new(),
            ends: true,
        });
        let opened_at = state.calls.len();
        Ok(Box::new(FakeLogs::new(
            self.state.clone(),
            script,
            opened_at,
        )))
    }

    fn apply_host_secret(
        &self,
        request: &HostSecretRequest,
    ) -> Result<(Value, Vec<String>), KubeError> {
        self.record(format!("apply {}", display(&request.manifest)));
        let mut state = self.state.borrow_mut();
        state.host_secrets.push(request.clone());
        state.check_writable()?;
        state.check("apply", "Secret")?;
        let stored = state.store(request.manifest.clone())?;
        let filled = request
            .random_keys
            .iter()
            .chain(
                request
                    .host_keys
                    .iter()
                    .filter(|k| !state.missing_host_keys.contains(*k)),
            )
            .cloned()
            .chain(request.literal.iter().map(|v| v.name.clone()))
            .collect();
        Ok((stored, filled))
    }

    fn log(&self, level: Level, context: &str, message: &str) {
        self.state
            .borrow_mut()
            .messages
            .push((level, context.into(), message.into()));
    }
}
