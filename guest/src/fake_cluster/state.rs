//! The fake's store: objects keyed by (apiVersion, kind, namespace, name)
//! with the uids, resource versions and statuses a server keeps, the
//! values of host-filled Secrets, the fake clock, and every call and
//! script a test reads or plays back.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Mutex, MutexGuard};

use serde_json::{Value, json};

use super::calls::Call;
use super::faults::Faults;
use super::scripts::{ExecRecord, ExecScript, LogScript};
use super::selector::watch_matches;
use crate::cluster::{EventType, KubeError, Level, OutputStream, WatchEvent, WatchRequest};
use crate::lease::ObjectRef;

/// The `creationTimestamp` of objects the fake creates, unless changed
/// with [`super::FakeCluster::set_now`].
pub const DEFAULT_NOW: &str = "2026-11-23T10:00:00Z";
/// The server version the fake reports by default.
pub const DEFAULT_VERSION: &str = "v1.20.15";

/// Where an object is stored: apiVersion, kind, namespace, name.
pub(super) type Key = (String, String, String, String);

#[derive(Default)]
pub(super) struct State {
    pub(super) objects: BTreeMap<Key, Value>,
    pub(super) secret_values: BTreeMap<Key, BTreeMap<String, String>>,
    pub(super) next_uid: u64,
    pub(super) next_resource_version: u64,
    pub(super) clock_ms: u64,
    pub(super) now: String,
    pub(super) version: Option<Result<String, KubeError>>,
    pub(super) calls: Vec<Call>,
    pub(super) timelines: BTreeMap<String, Vec<WatchEvent>>,
    pub(super) changes: BTreeMap<String, VecDeque<WatchEvent>>,
    pub(super) exec_scripts: VecDeque<ExecScript>,
    pub(super) execs: Vec<ExecRecord>,
    pub(super) forwarded: Vec<(OutputStream, Vec<u8>)>,
    pub(super) log_scripts: VecDeque<LogScript>,
    pub(super) denied_access: BTreeSet<(String, String)>,
    pub(super) reviews: Vec<Value>,
    pub(super) host_values: Option<BTreeMap<String, String>>,
    pub(super) missing_host_keys: BTreeSet<String>,
    pub(super) messages: Vec<(Level, String, String)>,
    pub(super) faults: Faults,
}

/// The state, also after a test thread panicked holding it.
pub(super) fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(super) fn key_of(object: &Value) -> Result<Key, KubeError> {
    let r = ObjectRef::of(object).ok_or_else(|| {
        KubeError::BadArgument(
            "object needs apiVersion, kind and metadata.name; add the missing field".into(),
        )
    })?;
    Ok(key_of_ref(&r))
}

pub(super) fn key_of_ref(r: &ObjectRef) -> Key {
    (
        r.api_version.clone(),
        r.kind.clone(),
        r.namespace.clone().unwrap_or_default(),
        r.name.clone(),
    )
}

pub(super) fn key(api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> Key {
    (
        api_version.into(),
        kind.into(),
        namespace.unwrap_or_default().into(),
        name.into(),
    )
}

impl State {
    /// A wait on a handle opened by call number `opened_at` (see
    /// [`Faults::check_wait`]).
    pub(super) fn check_wait(&mut self, opened_at: usize) -> Result<(), KubeError> {
        let calls = self.calls.len();
        self.faults.check_wait(opened_at, calls)
    }

    pub(super) fn now(&self) -> String {
        if self.now.is_empty() {
            DEFAULT_NOW.to_string()
        } else {
            self.now.clone()
        }
    }

    pub(super) fn next_resource_version(&mut self) -> String {
        self.next_resource_version += 1;
        (1000 + self.next_resource_version).to_string()
    }

    /// Stores `object`, keeping uid, creationTimestamp and status of an
    /// existing one (server-side apply never drops them).
    /// [`State::store`] as a server-side apply does it: a `resourceVersion`
    /// in the manifest is a precondition (`conflict` when the stored
    /// object has another), and a manifest of metadata alone (no `spec`)
    /// over an object with one merges its labels and annotations in and
    /// keeps the rest.
    pub(super) fn store_applied(&mut self, mut object: Value) -> Result<Value, KubeError> {
        let key = key_of(&object)?;
        let existing = self.objects.get(&key).cloned();
        if let Some(old) = &existing {
            let asked = object["metadata"]["resourceVersion"].as_str();
            if asked.is_some_and(|rv| Some(rv) != old["metadata"]["resourceVersion"].as_str()) {
                return Err(KubeError::Conflict(format!(
                    "Operation cannot be fulfilled on {}: the object has been modified",
                    key.3
                )));
            }
            // Server-side apply of metadata alone keeps the rest.
            if object.get("spec").is_none() && old.get("spec").is_some() {
                let mut merged = old.clone();
                for map in ["labels", "annotations"] {
                    if let Some(entries) = object["metadata"][map].as_object() {
                        for (k, v) in entries {
                            merged["metadata"][map][k] = v.clone();
                        }
                    }
                }
                object = merged;
            }
        }
        self.store(object)
    }

    pub(super) fn store(&mut self, mut object: Value) -> Result<Value, KubeError> {
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
    pub(super) fn of_kind<'a>(
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
    pub(super) fn set_status(&mut self, key: &Key, status: Value) -> Option<Value> {
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
    pub(super) fn take_change(
        &mut self,
        request: &WatchRequest,
    ) -> Result<Option<WatchEvent>, KubeError> {
        let Some(queue) = self.changes.get_mut(&request.kind) else {
            return Ok(None);
        };
        let mut found = None;
        for (i, event) in queue.iter().enumerate() {
            if watch_matches(request, &event.object)? {
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
