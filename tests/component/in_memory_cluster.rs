//! A [`ClusterIo`] held in memory, so that the real policy module can be
//! driven through the host runtime without a cluster.
//!
//! Objects are stored by apiVersion/kind/namespace/name; apply assigns a
//! uid, a resourceVersion and a creationTimestamp (server-side apply is
//! simplified to "replace the stored fields, keep the identity"). Watches
//! first list the matching stored objects as `Added`, then deliver the
//! events a test scripted for the kind, then block for the timeout they are
//! given. Exec sessions record what they were sent and end with a scripted
//! status. Every call is recorded, in order.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{Read, Write};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use leasebox::cluster_io::{
    CallerIo, ClusterIo, DeleteOptions, EventType, ExecSpec, ExecStatus, ExecStream,
    HostSecretRequest, KubeError, LogFollow, LogsRequest, ObjectRef, OutputStream, WatchEvent,
    WatchRequest, WatchStream,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// `gitVersion` the in-memory server reports.
pub const SERVER_VERSION: &str = "v1.20.2";

/// `creationTimestamp` of every stored object.
pub const CREATION_TIMESTAMP: &str = "2025-01-02T03:04:05Z";

/// One call the module made, in the order it made them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// Server-side apply of an object.
    Apply {
        /// Kind.
        kind: String,
        /// Namespace.
        namespace: Option<String>,
        /// Name.
        name: String,
    },
    /// Plain create.
    Create {
        /// Kind.
        kind: String,
    },
    /// Server version.
    ServerVersion,
    /// Read of one object.
    Get(ObjectRef),
    /// List.
    List {
        /// Kind.
        kind: String,
        /// Namespace.
        namespace: Option<String>,
        /// Label selector.
        label_selector: String,
    },
    /// Delete, with its options.
    Delete {
        /// The object.
        target: ObjectRef,
        /// The options.
        options: DeleteOptions,
    },
    /// Watch.
    Watch(WatchRequest),
    /// Exec.
    Exec(ExecSpec),
    /// Logs.
    Logs(LogsRequest),
    /// Host-filled Secret: which keys were asked for and filled (never the
    /// values).
    ApplyHostSecret {
        /// Namespace.
        namespace: Option<String>,
        /// Name.
        name: String,
        /// Keys asked to be random.
        random_keys: Vec<String>,
        /// Keys asked to come from the host.
        host_keys: Vec<String>,
        /// Keys filled.
        filled: Vec<String>,
    },
}

/// How a scripted exec session ends, and what it prints.
#[derive(Debug, Clone, Default)]
pub struct ScriptedExec {
    /// The status `wait` returns; none: the command runs until it is
    /// killed (`wait` answers "still running" until then).
    pub status: Option<ExecStatus>,
    /// Printed to stdout.
    pub stdout: Vec<u8>,
    /// Printed to stderr.
    pub stderr: Vec<u8>,
}

impl ScriptedExec {
    /// A command that exits with `code` and prints nothing.
    pub fn exits(code: i32) -> ScriptedExec {
        ScriptedExec {
            status: Some(ExecStatus {
                exit_code: Some(code),
                signal: None,
                timed_out: false,
                stdout_truncated: false,
                stderr_truncated: false,
                message: String::new(),
            }),
            ..ScriptedExec::default()
        }
    }

    /// A command that runs until it is killed.
    pub fn runs_until_killed() -> ScriptedExec {
        ScriptedExec::default()
    }
}

/// What one exec session was sent.
#[derive(Debug, Clone, Default)]
pub struct ExecRecord {
    /// The spec it was started with.
    pub spec: Option<ExecSpec>,
    /// Every byte written to stdin: the module's writes, then the caller's
    /// forwarded stdin (framed when the spec asks).
    pub stdin: Vec<u8>,
    /// Stdin was closed (or handed over).
    pub stdin_closed: bool,
    /// The session was killed.
    pub killed: bool,
}

type Key = (String, String, String, String);

#[derive(Default)]
struct State {
    objects: BTreeMap<Key, Value>,
    next_uid: u64,
    next_resource_version: u64,
    calls: Vec<Call>,
    watch_scripts: HashMap<String, VecDeque<(EventType, Value)>>,
    exec_scripts: VecDeque<ScriptedExec>,
    execs: Vec<Arc<Mutex<ExecRecord>>>,
    log_script: Vec<u8>,
    secret_values: BTreeMap<Key, BTreeMap<String, String>>,
}

/// The in-memory cluster. Share it as `Arc<InMemoryCluster>` (and hand a
/// clone to the [`leasebox::runtime::CallEnv`]) to inspect it afterwards.
#[derive(Default)]
pub struct InMemoryCluster {
    state: Arc<Mutex<State>>,
    host_values: HashMap<String, String>,
}

fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

fn parse(manifest: &str) -> Result<Value, KubeError> {
    serde_json::from_str(manifest)
        .map_err(|e| KubeError::BadArgument(format!("manifest is not JSON: {e}")))
}

fn key_of(object: &Value) -> Result<Key, KubeError> {
    let field = |pointer: &str| {
        str_at(object, pointer)
            .map(str::to_string)
            .ok_or_else(|| KubeError::Invalid(format!("the object has no {pointer}")))
    };
    Ok((
        field("/apiVersion")?,
        field("/kind")?,
        str_at(object, "/metadata/namespace")
            .unwrap_or("")
            .to_string(),
        field("/metadata/name")?,
    ))
}

fn key_of_ref(target: &ObjectRef) -> Key {
    (
        target.api_version.clone(),
        target.kind.clone(),
        target.namespace.clone().unwrap_or_default(),
        target.name.clone(),
    )
}

/// Equality-only selector `a=b,c=d` (also `a==b`) over the object's
/// labels; empty matches everything.
fn labels_match(object: &Value, selector: &str) -> bool {
    selector
        .split(',')
        .map(str::trim)
        .filter(|term| !term.is_empty())
        .all(|term| {
            let (k, v) = term
                .split_once("==")
                .or_else(|| term.split_once('='))
                .unwrap_or((term, ""));
            object
                .pointer("/metadata/labels")
                .and_then(|labels| labels.get(k.trim()))
                .and_then(Value::as_str)
                == Some(v.trim())
        })
}

/// Field selector: only `metadata.name=<name>` and
/// `metadata.namespace=<ns>` are understood; empty matches everything.
fn fields_match(object: &Value, selector: &str) -> bool {
    selector
        .split(',')
        .map(str::trim)
        .filter(|term| !term.is_empty())
        .all(|term| match term.split_once('=') {
            Some(("metadata.name", name)) => str_at(object, "/metadata/name") == Some(name),
            Some(("metadata.namespace", ns)) => str_at(object, "/metadata/namespace") == Some(ns),
            _ => false,
        })
}

fn watch_matches(request: &WatchRequest, object: &Value) -> bool {
    str_at(object, "/apiVersion") == Some(request.api_version.as_str())
        && str_at(object, "/kind") == Some(request.kind.as_str())
        && str_at(object, "/metadata/namespace").unwrap_or("") == request.namespace
        && labels_match(object, &request.label_selector)
        && fields_match(object, &request.field_selector)
}

fn set_metadata(object: &mut Value, field: &str, value: Value) {
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.insert(field.to_string(), value);
    }
}

impl State {
    fn store(&mut self, mut object: Value) -> Result<Value, KubeError> {
        let key = key_of(&object)?;
        self.next_resource_version += 1;
        let previous = self.objects.get(&key);
        let uid = match previous.and_then(|p| str_at(p, "/metadata/uid")) {
            Some(uid) => uid.to_string(),
            None => {
                self.next_uid += 1;
                format!("00000000-0000-4000-8000-{:012}", self.next_uid)
            }
        };
        // Apply does not manage status: what a controller set stays.
        if object.get("status").is_none()
            && let Some(status) = previous.and_then(|p| p.get("status")).cloned()
            && let Some(map) = object.as_object_mut()
        {
            map.insert("status".into(), status);
        }
        set_metadata(&mut object, "uid", json!(uid));
        set_metadata(
            &mut object,
            "resourceVersion",
            json!(self.next_resource_version.to_string()),
        );
        set_metadata(&mut object, "creationTimestamp", json!(CREATION_TIMESTAMP));
        self.objects.insert(key, object.clone());
        Ok(object)
    }

    /// A scripted event applied to the store: `Deleted` removes the
    /// object; otherwise the event's `status` replaces the stored one, or
    /// the object is stored when it is new (a pod a controller created).
    /// The object delivered is the stored one, so it carries the stored
    /// uid.
    fn apply_event(&mut self, event_type: EventType, object: Value) -> Value {
        let Ok(key) = key_of(&object) else {
            return object;
        };
        if event_type == EventType::Deleted {
            self.secret_values.remove(&key);
            return self.objects.remove(&key).unwrap_or(object);
        }
        match self.objects.get_mut(&key) {
            Some(stored) => {
                if let (Some(map), Some(status)) = (stored.as_object_mut(), object.get("status")) {
                    map.insert("status".into(), status.clone());
                }
                self.next_resource_version += 1;
                let version = self.next_resource_version.to_string();
                set_metadata(stored, "resourceVersion", json!(version));
                stored.clone()
            }
            None => self.store(object.clone()).unwrap_or(object),
        }
    }
}

impl InMemoryCluster {
    /// An empty cluster; host keys of Secrets are filled from
    /// `host_values`.
    pub fn new(host_values: HashMap<String, String>) -> InMemoryCluster {
        InMemoryCluster {
            state: Arc::default(),
            host_values,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Scripts an event on every later watch of `kind`, after its initial
    /// listing. The object needs apiVersion, kind and metadata name and
    /// namespace; the watch delivers it only if it matches the watch.
    pub fn script_watch_event(&self, kind: &str, event_type: EventType, object: Value) {
        self.state()
            .watch_scripts
            .entry(kind.to_string())
            .or_default()
            .push_back((event_type, object));
    }

    /// Scripts how the next exec session ends.
    pub fn script_exec(&self, exec: ScriptedExec) {
        self.state().exec_scripts.push_back(exec);
    }

    /// Replaces the `status` of a stored object, as a controller would;
    /// false when there is no such object.
    pub fn set_status(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
        status: Value,
    ) -> bool {
        let key = (
            api_version.to_string(),
            kind.to_string(),
            namespace.to_string(),
            name.to_string(),
        );
        let mut state = self.state();
        let Some(map) = state.objects.get_mut(&key).and_then(Value::as_object_mut) else {
            return false;
        };
        map.insert("status".into(), status);
        true
    }

    /// Scripts the content of every log opened.
    pub fn script_logs(&self, content: &[u8]) {
        self.state().log_script = content.to_vec();
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.state().calls.clone()
    }

    /// The kinds written (apply and host-filled Secret), in order.
    pub fn written_kinds(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter_map(|call| match call {
                Call::Apply { kind, .. } => Some(kind),
                Call::ApplyHostSecret { .. } => Some("Secret".to_string()),
                _ => None,
            })
            .collect()
    }

    /// The deletes so far, in order.
    pub fn deletes(&self) -> Vec<(ObjectRef, DeleteOptions)> {
        self.calls()
            .into_iter()
            .filter_map(|call| match call {
                Call::Delete { target, options } => Some((target, options)),
                _ => None,
            })
            .collect()
    }

    /// The stored object, if any.
    pub fn object(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Option<Value> {
        let key = (
            api_version.to_string(),
            kind.to_string(),
            namespace.to_string(),
            name.to_string(),
        );
        self.state().objects.get(&key).cloned()
    }

    /// Every stored object of `kind`.
    pub fn objects_of_kind(&self, kind: &str) -> Vec<Value> {
        self.state()
            .objects
            .iter()
            .filter(|((_, k, _, _), _)| k == kind)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// The values stored in a host-filled Secret.
    pub fn secret_values(&self, namespace: &str, name: &str) -> BTreeMap<String, String> {
        let key = (
            "v1".to_string(),
            "Secret".to_string(),
            namespace.to_string(),
            name.to_string(),
        );
        self.state()
            .secret_values
            .get(&key)
            .cloned()
            .unwrap_or_default()
    }

    /// What every exec session so far was sent, in order.
    pub fn execs(&self) -> Vec<ExecRecord> {
        self.state()
            .execs
            .iter()
            .map(|record| lock(record).clone())
            .collect()
    }

    fn record(&self, call: Call) {
        self.state().calls.push(call);
    }
}

impl ClusterIo for InMemoryCluster {
    fn apply(&self, manifest: &str) -> Result<String, KubeError> {
        let object = parse(manifest)?;
        let (_, kind, namespace, name) = key_of(&object)?;
        let mut state = self.state();
        state.calls.push(Call::Apply {
            kind,
            namespace: (!namespace.is_empty()).then_some(namespace),
            name,
        });
        let stored = state.store(object)?;
        Ok(stored.to_string())
    }

    fn create(&self, manifest: &str) -> Result<String, KubeError> {
        let mut object = parse(manifest)?;
        let kind = str_at(&object, "/kind").unwrap_or("").to_string();
        let mut state = self.state();
        state.calls.push(Call::Create { kind: kind.clone() });
        if kind == "SelfSubjectAccessReview" {
            if let Some(map) = object.as_object_mut() {
                map.insert("status".into(), json!({"allowed": true}));
            }
            return Ok(object.to_string());
        }
        let key = key_of(&object)?;
        if state.objects.contains_key(&key) {
            return Err(KubeError::Conflict(format!(
                "{kind} {} already exists",
                key.3
            )));
        }
        Ok(state.store(object)?.to_string())
    }

    fn server_version(&self) -> Result<String, KubeError> {
        self.record(Call::ServerVersion);
        Ok(SERVER_VERSION.to_string())
    }

    fn get(&self, target: &ObjectRef) -> Result<Option<String>, KubeError> {
        let mut state = self.state();
        state.calls.push(Call::Get(target.clone()));
        Ok(state.objects.get(&key_of_ref(target)).map(Value::to_string))
    }

    fn list(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        label_selector: &str,
    ) -> Result<Vec<String>, KubeError> {
        let mut state = self.state();
        state.calls.push(Call::List {
            kind: kind.to_string(),
            namespace: namespace.map(str::to_string),
            label_selector: label_selector.to_string(),
        });
        Ok(state
            .objects
            .iter()
            .filter(|((a, k, ns, _), object)| {
                a == api_version
                    && k == kind
                    && namespace.is_none_or(|wanted| wanted == ns)
                    && labels_match(object, label_selector)
            })
            .map(|(_, object)| object.to_string())
            .collect())
    }

    fn delete(&self, target: &ObjectRef, options: &DeleteOptions) -> Result<bool, KubeError> {
        let mut state = self.state();
        state.calls.push(Call::Delete {
            target: target.clone(),
            options: options.clone(),
        });
        let key = key_of_ref(target);
        let Some(stored) = state.objects.get(&key) else {
            return Ok(false);
        };
        if let Some(wanted) = &options.precondition_uid {
            let actual = str_at(stored, "/metadata/uid").unwrap_or("");
            if actual != wanted {
                return Err(KubeError::Conflict(format!(
                    "precondition failed: uid in precondition {wanted}, uid in object {actual}"
                )));
            }
        }
        state.objects.remove(&key);
        state.secret_values.remove(&key);
        Ok(true)
    }

    fn watch(&self, request: &WatchRequest) -> Result<Box<dyn WatchStream>, KubeError> {
        let mut state = self.state();
        state.calls.push(Call::Watch(request.clone()));
        let listed = state
            .objects
            .values()
            .filter(|object| watch_matches(request, object))
            .map(|object| WatchEvent {
                event_type: EventType::Added,
                object: object.to_string(),
            })
            .collect();
        Ok(Box::new(MemoryWatch {
            request: request.clone(),
            listed,
            state: self.state.clone(),
        }))
    }

    fn exec(&self, spec: &ExecSpec, caller: &CallerIo) -> Result<Box<dyn ExecStream>, KubeError> {
        let mut state = self.state();
        state.calls.push(Call::Exec(spec.clone()));
        let script = state
            .exec_scripts
            .pop_front()
            .unwrap_or_else(|| ScriptedExec::exits(0));
        let record = Arc::new(Mutex::new(ExecRecord {
            spec: Some(spec.clone()),
            ..ExecRecord::default()
        }));
        state.execs.push(record.clone());
        let mut output = VecDeque::new();
        if !script.stdout.is_empty() {
            output.push_back((OutputStream::Stdout, script.stdout.clone()));
        }
        if !script.stderr.is_empty() {
            output.push_back((OutputStream::Stderr, script.stderr.clone()));
        }
        Ok(Box::new(MemoryExec {
            spec: spec.clone(),
            caller: caller.clone(),
            record,
            output,
            status: script.status,
        }))
    }

    fn logs(
        &self,
        request: &LogsRequest,
        caller: &CallerIo,
    ) -> Result<Box<dyn LogFollow>, KubeError> {
        let mut state = self.state();
        state.calls.push(Call::Logs(request.clone()));
        let mut content = state.log_script.clone();
        if let Some(cap) = request.max_bytes.and_then(|c| usize::try_from(c).ok()) {
            content.truncate(cap);
        }
        if request.forward_output {
            lock(&caller.stdout)
                .write_all(&content)
                .map_err(|e| KubeError::Transport(format!("writing the log: {e}")))?;
            content.clear();
        }
        Ok(Box::new(MemoryLog {
            content: (!content.is_empty()).then_some(content),
        }))
    }

    fn apply_host_secret(
        &self,
        request: &HostSecretRequest,
    ) -> Result<(String, Vec<String>), KubeError> {
        let object = parse(&request.manifest)?;
        let key = key_of(&object)?;
        let mut values = BTreeMap::new();
        let mut filled = Vec::new();
        for name in &request.random_keys {
            let digest = Sha256::digest(format!("{}/{}/{name}", key.2, key.3).as_bytes());
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            values.insert(name.clone(), hex);
            filled.push(name.clone());
        }
        for name in &request.host_keys {
            if let Some(value) = self.host_values.get(name) {
                values.insert(name.clone(), value.clone());
                filled.push(name.clone());
            }
        }
        for literal in &request.literal {
            values.insert(literal.name.clone(), literal.value.clone());
        }
        let mut state = self.state();
        state.calls.push(Call::ApplyHostSecret {
            namespace: (!key.2.is_empty()).then(|| key.2.clone()),
            name: key.3.clone(),
            random_keys: request.random_keys.clone(),
            host_keys: request.host_keys.clone(),
            filled: filled.clone(),
        });
        let mut without_values = object;
        if let Some(map) = without_values.as_object_mut() {
            map.remove("data");
            map.remove("stringData");
        }
        let stored = state.store(without_values)?;
        state.secret_values.insert(key, values);
        Ok((stored.to_string(), filled))
    }
}

struct MemoryWatch {
    request: WatchRequest,
    listed: VecDeque<WatchEvent>,
    state: Arc<Mutex<State>>,
}

impl WatchStream for MemoryWatch {
    fn next(&mut self, timeout: Duration) -> Result<Option<WatchEvent>, KubeError> {
        if let Some(event) = self.listed.pop_front() {
            return Ok(Some(event));
        }
        {
            let mut state = lock(&self.state);
            loop {
                let scripted = state
                    .watch_scripts
                    .get_mut(&self.request.kind)
                    .and_then(VecDeque::pop_front);
                let Some((event_type, object)) = scripted else {
                    break;
                };
                if !watch_matches(&self.request, &object) {
                    continue;
                }
                let object = state.apply_event(event_type, object);
                return Ok(Some(WatchEvent {
                    event_type,
                    object: object.to_string(),
                }));
            }
        }
        // Nothing more happens in this cluster: wait as a quiet server does.
        std::thread::sleep(timeout);
        Ok(None)
    }
}

struct MemoryExec {
    spec: ExecSpec,
    caller: CallerIo,
    record: Arc<Mutex<ExecRecord>>,
    output: VecDeque<(OutputStream, Vec<u8>)>,
    status: Option<ExecStatus>,
}

fn write_frame(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(format!("{}\n", data.len()).as_bytes());
    out.extend_from_slice(data);
}

impl ExecStream for MemoryExec {
    fn write_stdin(&mut self, data: &[u8]) -> Result<(), KubeError> {
        let mut record = lock(&self.record);
        if !self.spec.stdin || record.stdin_closed {
            return Err(KubeError::BadArgument(
                "stdin of this session is not open".into(),
            ));
        }
        record.stdin.extend_from_slice(data);
        Ok(())
    }

    fn close_stdin(&mut self) -> Result<(), KubeError> {
        let mut record = lock(&self.record);
        record.stdin_closed = true;
        if !self.spec.forward_stdin {
            return Ok(());
        }
        let Some(mut source) = lock(&self.caller.stdin).take() else {
            return Ok(());
        };
        let mut forwarded = Vec::new();
        source
            .read_to_end(&mut forwarded)
            .map_err(|e| KubeError::Transport(format!("reading the caller's stdin: {e}")))?;
        if self.spec.frame_stdin {
            if !forwarded.is_empty() {
                write_frame(&mut record.stdin, &forwarded);
            }
            record.stdin.extend_from_slice(b"0\n");
        } else {
            record.stdin.extend_from_slice(&forwarded);
        }
        Ok(())
    }

    fn read(&mut self, timeout: Duration) -> Result<Option<(OutputStream, Vec<u8>)>, KubeError> {
        if self.spec.forward_output {
            std::thread::sleep(timeout);
            return Ok(None);
        }
        Ok(self.output.pop_front())
    }

    fn wait(&mut self, timeout: Duration) -> Result<Option<ExecStatus>, KubeError> {
        let Some(status) = self.status.clone() else {
            if lock(&self.record).killed {
                return Err(KubeError::Transport("the session was killed".into()));
            }
            std::thread::sleep(timeout);
            return Ok(None);
        };
        if self.spec.forward_output {
            for (kind, bytes) in self.output.drain(..) {
                let sink = match kind {
                    OutputStream::Stdout => &self.caller.stdout,
                    OutputStream::Stderr => &self.caller.stderr,
                };
                lock(sink)
                    .write_all(&bytes)
                    .map_err(|e| KubeError::Transport(format!("forwarding output: {e}")))?;
            }
        }
        Ok(Some(status))
    }

    fn kill(&mut self) -> Result<(), KubeError> {
        lock(&self.record).killed = true;
        Ok(())
    }
}

struct MemoryLog {
    content: Option<Vec<u8>>,
}

impl LogFollow for MemoryLog {
    fn read(&mut self, _timeout: Duration) -> Result<Option<Vec<u8>>, KubeError> {
        Ok(self.content.take())
    }

    fn wait_end(&mut self, _timeout: Duration) -> Result<bool, KubeError> {
        Ok(true)
    }
}

/// A writer that keeps what it is given, for the caller's streams.
#[derive(Clone, Default)]
pub struct SharedBuffer(pub Arc<Mutex<Vec<u8>>>);

impl SharedBuffer {
    /// What was written so far.
    pub fn contents(&self) -> Vec<u8> {
        lock(&self.0).clone()
    }
}

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        lock(&self.0).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// In-memory caller streams: the stdout and stderr buffers, and `stdin`
/// as the caller's stdin.
pub fn caller_io(stdin: &[u8]) -> (CallerIo, SharedBuffer, SharedBuffer) {
    let stdout = SharedBuffer::default();
    let stderr = SharedBuffer::default();
    let caller = CallerIo {
        stdout: Arc::new(Mutex::new(stdout.clone())),
        stderr: Arc::new(Mutex::new(stderr.clone())),
        stdin: Arc::new(Mutex::new(Some(
            Box::new(std::io::Cursor::new(stdin.to_vec())) as Box<dyn Read + Send>,
        ))),
    };
    (caller, stdout, stderr)
}
