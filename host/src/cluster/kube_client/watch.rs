//! Watches: kube-runtime's `watcher` (list, then watch from the list's
//! resourceVersion, bookmarks, re-list on 410 Gone, backoff on errors) on a
//! background task, feeding a channel that [`KubeWatch::next`] reads.
//!
//! The watcher reports `Init`/`InitApply`/`InitDone` for every (re-)list and
//! `Apply`/`Delete` afterwards; [`Tracker`] turns that into added / modified
//! / deleted by remembering each object's uid and resourceVersion: a re-list
//! after 410 Gone emits only what changed meanwhile, and a deleted event for
//! every object that disappeared while the watch was broken.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use kube::core::DynamicObject;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::Ctx;
use super::objects::{api, to_json};
use crate::contract::{EventType, KubeError, WatchEvent, WatchRequest, WatchStream};

/// Events buffered between the watcher task and the reader.
const CHANNEL_DEPTH: usize = 256;

/// Consecutive recoverable watcher errors before the watch gives up.
const MAX_CONSECUTIVE_ERRORS: u32 = 5;

/// What the tracker remembers of one object.
#[derive(Debug, Clone)]
struct Seen {
    uid: String,
    resource_version: String,
    json: String,
}

/// Turns watcher events into added / modified / deleted.
#[derive(Debug, Default)]
struct Tracker {
    api_version: String,
    kind: String,
    known: BTreeMap<String, Seen>,
    /// Objects of a (re-)list in progress, in list order.
    listing: Option<Vec<(String, Seen)>>,
}

impl Tracker {
    /// A tracker for objects of this kind (list items lack apiVersion/kind).
    fn new(api_version: &str, kind: &str) -> Tracker {
        Tracker {
            api_version: api_version.into(),
            kind: kind.into(),
            ..Tracker::default()
        }
    }

    fn seen(&self, object: DynamicObject) -> Result<(String, Seen), KubeError> {
        let key = format!(
            "{}/{}",
            object.metadata.namespace.clone().unwrap_or_default(),
            object.metadata.name.clone().unwrap_or_default()
        );
        let uid = object.metadata.uid.clone().unwrap_or_default();
        let resource_version = object.metadata.resource_version.clone().unwrap_or_default();
        let json = to_json(object, &self.api_version, &self.kind)?;
        Ok((
            key,
            Seen {
                uid,
                resource_version,
                json,
            },
        ))
    }

    /// The events one watcher event stands for.
    fn on_event(&mut self, event: Event<DynamicObject>) -> Result<Vec<WatchEvent>, KubeError> {
        let ev = |event_type, json: &str| WatchEvent {
            event_type,
            object: json.to_string(),
        };
        let mut out = Vec::new();
        match event {
            Event::Init => self.listing = Some(Vec::new()),
            Event::InitApply(object) => {
                let entry = self.seen(object)?;
                self.listing.get_or_insert_with(Vec::new).push(entry);
            }
            Event::InitDone => {
                let listed = self.listing.take().unwrap_or_default();
                let mut fresh = BTreeMap::new();
                for (key, now) in listed {
                    match self.known.remove(&key) {
                        None => out.push(ev(EventType::Added, &now.json)),
                        Some(before) if before.uid != now.uid => {
                            out.push(ev(EventType::Deleted, &before.json));
                            out.push(ev(EventType::Added, &now.json));
                        }
                        Some(before) if before.resource_version != now.resource_version => {
                            out.push(ev(EventType::Modified, &now.json));
                        }
                        Some(_) => {}
                    }
                    fresh.insert(key, now);
                }
                for gone in self.known.values() {
                    out.push(ev(EventType::Deleted, &gone.json));
                }
                self.known = fresh;
            }
            Event::Apply(object) => {
                let (key, now) = self.seen(object)?;
                match self.known.get(&key) {
                    Some(before) if before.uid == now.uid => {
                        out.push(ev(EventType::Modified, &now.json))
                    }
                    Some(before) => {
                        out.push(ev(EventType::Deleted, &before.json));
                        out.push(ev(EventType::Added, &now.json));
                    }
                    None => out.push(ev(EventType::Added, &now.json)),
                }
                self.known.insert(key, now);
            }
            Event::Delete(object) => {
                let (key, now) = self.seen(object)?;
                self.known.remove(&key);
                out.push(ev(EventType::Deleted, &now.json));
            }
        }
        Ok(out)
    }
}

/// Whether a watcher error ends the watch at once (refused, unknown kind,
/// bad selector) rather than being retried.
fn is_fatal(err: &KubeError) -> bool {
    matches!(
        err,
        KubeError::Forbidden(_)
            | KubeError::NotFound(_)
            | KubeError::Invalid(_)
            | KubeError::BadArgument(_)
    )
}

/// Maps a watcher error; `None` for 410 Gone, which the watcher handles by
/// re-listing.
fn map_watcher_error(step: &str, err: &watcher::Error) -> Option<KubeError> {
    match err {
        watcher::Error::WatchError(status) if status.code == 410 => None,
        watcher::Error::WatchError(status) => Some(super::error::from_status(
            step,
            status.code,
            &status.message,
        )),
        watcher::Error::InitialListFailed(e)
        | watcher::Error::WatchStartFailed(e)
        | watcher::Error::WatchFailed(e) => Some(super::error::from_kube(step, e)),
        other => Some(KubeError::Transport(format!("{step}: {other}"))),
    }
}

/// Starts the watcher task for `request`.
pub(crate) async fn start(
    ctx: &Ctx,
    request: &WatchRequest,
) -> Result<
    (
        mpsc::Receiver<Result<WatchEvent, KubeError>>,
        JoinHandle<()>,
    ),
    KubeError,
> {
    let resolved = ctx
        .resolver
        .resolve(&ctx.client, &request.api_version, &request.kind)
        .await?;
    let namespace = Some(request.namespace.as_str()).filter(|ns| !ns.is_empty());
    let api = api(ctx, &resolved, namespace);
    let mut config = watcher::Config::default();
    if !request.label_selector.is_empty() {
        config = config.labels(&request.label_selector);
    }
    if !request.field_selector.is_empty() {
        config = config.fields(&request.field_selector);
    }
    let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
    let step = format!("watch {}", request.kind);
    let mut tracker = Tracker::new(&request.api_version, &request.kind);
    let task = tokio::spawn(async move {
        let mut events = watcher::watcher(api, config).default_backoff().boxed();
        let mut errors = 0;
        while let Some(item) = events.next().await {
            let mapped = match item {
                Ok(event) => {
                    errors = 0;
                    match tracker.on_event(event) {
                        Ok(out) => out.into_iter().map(Ok).collect(),
                        Err(e) => vec![Err(e)],
                    }
                }
                Err(err) => match map_watcher_error(&step, &err) {
                    None => Vec::new(),
                    Some(e) => {
                        errors += 1;
                        if is_fatal(&e) || errors >= MAX_CONSECUTIVE_ERRORS {
                            let _ = tx.send(Err(e)).await;
                            return;
                        }
                        Vec::new()
                    }
                },
            };
            for item in mapped {
                if tx.send(item).await.is_err() {
                    return;
                }
            }
        }
    });
    Ok((rx, task))
}

/// A running watch (the task stops when this is dropped).
pub(crate) struct KubeWatch {
    handle: Handle,
    rx: mpsc::Receiver<Result<WatchEvent, KubeError>>,
    task: JoinHandle<()>,
}

impl KubeWatch {
    /// Wraps the receiver and task from [`start`].
    pub(crate) fn new(
        handle: Handle,
        (rx, task): (
            mpsc::Receiver<Result<WatchEvent, KubeError>>,
            JoinHandle<()>,
        ),
    ) -> KubeWatch {
        KubeWatch { handle, rx, task }
    }
}

impl Drop for KubeWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl WatchStream for KubeWatch {
    fn next(&mut self, timeout: Duration) -> Result<Option<WatchEvent>, KubeError> {
        let rx = &mut self.rx;
        match (self.handle).block_on(async { tokio::time::timeout(timeout, rx.recv()).await }) {
            Err(_elapsed) => Ok(None),
            Ok(Some(item)) => item.map(Some),
            Ok(None) => Err(KubeError::Transport(
                "the watch ended after an error; start a new one".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(name: &str, uid: &str, rv: &str) -> DynamicObject {
        let value = serde_json::json!({
            "metadata": {"name": name, "namespace": "t", "uid": uid, "resourceVersion": rv}
        });
        serde_json::from_value(value).unwrap_or_else(|e| panic!("{e}"))
    }

    fn kinds(tracker: &mut Tracker, events: Vec<Event<DynamicObject>>) -> Vec<(EventType, String)> {
        let mut out = Vec::new();
        for event in events {
            for e in tracker.on_event(event).unwrap_or_else(|e| panic!("{e}")) {
                let v: serde_json::Value = serde_json::from_str(&e.object).unwrap_or_default();
                let name = v["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                out.push((
                    e.event_type,
                    format!(
                        "{name}@{}",
                        v["metadata"]["resourceVersion"]
                            .as_str()
                            .unwrap_or_default()
                    ),
                ));
            }
        }
        out
    }

    #[test]
    fn initial_list_items_are_added_with_type_meta() {
        let mut t = Tracker::new("v1", "Pod");
        let out = t.on_event(Event::InitApply(object("a", "u", "1")));
        assert_eq!(out.map(|v| v.len()), Ok(0));
        let done = t.on_event(Event::InitDone).unwrap_or_default();
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].event_type, EventType::Added);
        assert!(done[0].object.contains(r#""kind":"Pod""#));
    }

    #[test]
    fn apply_of_a_known_object_is_modified() {
        let mut t = Tracker::new("v1", "Pod");
        let out = kinds(
            &mut t,
            vec![
                Event::Init,
                Event::InitDone,
                Event::Apply(object("a", "u", "1")),
                Event::Apply(object("a", "u", "2")),
                Event::Delete(object("a", "u", "3")),
            ],
        );
        assert_eq!(
            out,
            vec![
                (EventType::Added, "a@1".into()),
                (EventType::Modified, "a@2".into()),
                (EventType::Deleted, "a@3".into())
            ]
        );
    }

    #[test]
    fn relist_after_gone_reports_only_changes_and_deletions() {
        let mut t = Tracker::new("v1", "Pod");
        let first = vec![
            Event::Init,
            Event::InitApply(object("a", "ua", "1")),
            Event::InitApply(object("b", "ub", "2")),
            Event::InitApply(object("c", "uc", "3")),
            Event::InitDone,
        ];
        assert_eq!(kinds(&mut t, first).len(), 3);
        let relist = vec![
            Event::Init,
            Event::InitApply(object("b", "ub", "2")),
            Event::InitApply(object("c", "uc", "9")),
            Event::InitApply(object("d", "ud", "10")),
            Event::InitDone,
        ];
        assert_eq!(
            kinds(&mut t, relist),
            vec![
                (EventType::Modified, "c@9".into()),
                (EventType::Added, "d@10".into()),
                (EventType::Deleted, "a@1".into())
            ]
        );
    }

    #[test]
    fn recreated_object_is_deleted_then_added() {
        let mut t = Tracker::new("v1", "Pod");
        let out = kinds(
            &mut t,
            vec![
                Event::Apply(object("a", "u1", "1")),
                Event::Apply(object("a", "u2", "5")),
            ],
        );
        assert_eq!(
            out,
            vec![
                (EventType::Added, "a@1".into()),
                (EventType::Deleted, "a@1".into()),
                (EventType::Added, "a@5".into())
            ]
        );
    }
}
