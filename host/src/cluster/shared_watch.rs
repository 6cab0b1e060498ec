//! Shared watches: one watch per namespace and kind, however many waits.
//!
//! A long-running host (`serve`) has many acquires waiting for readiness at
//! once, most of them in the same tenant namespace. [`SharedWatches`] wraps
//! any [`ClusterIo`] and, rather than one watch per wait, keeps one feed per
//! (apiVersion, kind, namespace): a watch of the cluster below without
//! selectors, read by a thread of its own, which remembers the latest form
//! of every object it has reported. Each wait subscribes with its own
//! selectors, which the feed applies itself:
//! - a label selector of `key=value` terms joined by commas (or none);
//! - a field selector `metadata.name=NAME` (or none).
//!
//! Other requests (any other selector, or no namespace) get a watch of
//! their own.
//!
//! A new subscriber first receives `added` for every object it matches that
//! the feed already knows (what a list of its own would have said), then
//! every change, in order. A subscriber that falls [`SUBSCRIBER_DEPTH`]
//! events behind is dropped (its stream ends with an error, like a broken
//! watch). When the watch below fails, every subscriber's stream ends with
//! its error, and the next wait starts a new watch.
//!
//! A feed whose last subscriber has left lingers (for [`LINGER`] unless
//! told otherwise) before its watch is closed, and a wait that comes
//! meanwhile joins it. Starting a
//! feed lists every object of its kind in the namespace, so a feed that
//! stopped each time its waits happened to run out would list the
//! namespace again for nearly every acquire of a busy tenant.
//!
//! The sharing sits below the guard: the guard checks each wait's own
//! request, and a feed only narrows what it read for it.

use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::cluster::io::{CallerIo, ClusterIo};
use crate::cluster::manifest::Manifest;
use crate::contract::{
    DeleteOptions, EventType, ExecSpec, ExecStream, HandOverRequest, HostSecretRequest, KubeError,
    LogFollow, LogsRequest, ObjectRef, WatchEvent, WatchRequest, WatchStream,
};
use crate::locks::lock;

/// Events buffered for one subscriber before it counts as fallen behind.
const SUBSCRIBER_DEPTH: usize = 1024;

/// How long a feed stays open without a subscriber, unless told
/// otherwise ([`SharedWatches::lingering`]; `serve.watchLingerSec`).
pub const LINGER: Duration = Duration::from_secs(30);

/// How long a feed's thread waits for an event before it looks whether
/// it has lingered long enough: the linger, between these two.
const IDLE_CHECK: Duration = Duration::from_secs(1);
const IDLE_CHECK_MIN: Duration = Duration::from_millis(100);

/// What a feed is for: apiVersion, kind, namespace.
type FeedKey = (String, String, String);

/// Every feed, by what it is for. A feed is here exactly while it runs.
type Feeds = Mutex<HashMap<FeedKey, Arc<Feed>>>;

/// A [`ClusterIo`] whose waits share one watch per namespace and kind.
pub struct SharedWatches {
    inner: Arc<dyn ClusterIo>,
    feeds: Arc<Feeds>,
    linger: Duration,
}

impl SharedWatches {
    /// Shares the watches of `inner`.
    pub fn new(inner: Arc<dyn ClusterIo>) -> SharedWatches {
        SharedWatches {
            inner,
            feeds: Arc::default(),
            linger: LINGER,
        }
    }

    /// Feeds without a subscriber close after `linger` instead of
    /// [`LINGER`].
    pub fn lingering(mut self, linger: Duration) -> SharedWatches {
        self.linger = linger;
        self
    }

    /// How many shared watches are open (one per feed).
    pub fn open(&self) -> usize {
        lock(&self.feeds).len()
    }

    /// Subscribes `filter` to the feed of `request`'s namespace and kind,
    /// starting the feed when there is none.
    fn subscribe(
        &self,
        request: &WatchRequest,
        filter: Filter,
    ) -> Result<Box<dyn WatchStream>, KubeError> {
        let key = (
            request.api_version.clone(),
            request.kind.clone(),
            request.namespace.clone(),
        );
        let (tx, rx) = sync_channel(SUBSCRIBER_DEPTH);
        let mut feeds = lock(&self.feeds);
        let (feed, start) = match feeds.get(&key) {
            Some(feed) => (feed.clone(), false),
            None => {
                let feed = Arc::new(Feed {
                    key: key.clone(),
                    state: Mutex::default(),
                });
                feeds.insert(key, feed.clone());
                (feed, true)
            }
        };
        let id = feed.join(&request.kind, filter, tx)?;
        drop(feeds);
        let subscribed = SharedWatch {
            rx,
            feed: feed.clone(),
            id,
        };
        if start {
            // Everything of this kind in the namespace; the feed filters.
            let everything = WatchRequest {
                label_selector: String::new(),
                field_selector: String::new(),
                ..request.clone()
            };
            let started = self.inner.watch(&everything).and_then(|stream| {
                let feeds = Arc::downgrade(&self.feeds);
                let feed = feed.clone();
                let linger = self.linger;
                std::thread::Builder::new()
                    .name("leasebox-watch".into())
                    .spawn(move || run_feed(&feeds, &feed, stream, linger))
                    .map_err(|e| {
                        KubeError::Transport(format!(
                            "watch {}: cannot start the thread of a shared watch: {e}",
                            request.kind
                        ))
                    })
            });
            if let Err(error) = started {
                fail(&self.feeds, &feed, &error);
                return Err(error);
            }
        }
        Ok(Box::new(subscribed))
    }
}

impl Drop for SharedWatches {
    /// Lets go of what the feeds know at once; their threads close the
    /// watches within [`IDLE_CHECK`].
    fn drop(&mut self) {
        for feed in lock(&self.feeds).values() {
            lock(&feed.state).known = BTreeMap::new();
        }
    }
}

impl ClusterIo for SharedWatches {
    fn apply(&self, manifest: Manifest) -> Result<String, KubeError> {
        self.inner.apply(manifest)
    }

    fn create(&self, manifest: Manifest) -> Result<String, KubeError> {
        self.inner.create(manifest)
    }

    fn server_version(&self) -> Result<String, KubeError> {
        self.inner.server_version()
    }

    fn get(&self, target: &ObjectRef) -> Result<Option<String>, KubeError> {
        self.inner.get(target)
    }

    fn list(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        label_selector: &str,
    ) -> Result<Vec<String>, KubeError> {
        self.inner
            .list(api_version, kind, namespace, label_selector)
    }

    fn delete(&self, target: &ObjectRef, options: &DeleteOptions) -> Result<bool, KubeError> {
        self.inner.delete(target, options)
    }

    fn watch(&self, request: &WatchRequest) -> Result<Box<dyn WatchStream>, KubeError> {
        match Filter::of(request) {
            Some(filter) if !request.namespace.is_empty() => self.subscribe(request, filter),
            _ => self.inner.watch(request),
        }
    }

    fn exec(&self, spec: &ExecSpec, caller: &CallerIo) -> Result<Box<dyn ExecStream>, KubeError> {
        self.inner.exec(spec, caller)
    }

    fn logs(
        &self,
        request: &LogsRequest,
        caller: &CallerIo,
    ) -> Result<Box<dyn LogFollow>, KubeError> {
        self.inner.logs(request, caller)
    }

    fn apply_host_secret(
        &self,
        request: &HostSecretRequest,
    ) -> Result<(String, Vec<String>), KubeError> {
        self.inner.apply_host_secret(request)
    }

    fn hand_over_secret(&self, request: &HandOverRequest) -> Result<(), KubeError> {
        self.inner.hand_over_secret(request)
    }
}

/// What a subscriber asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Filter {
    labels: Vec<(String, String)>,
    name: Option<String>,
}

impl Filter {
    /// The filter of `request`, when its selectors are ones a feed applies.
    fn of(request: &WatchRequest) -> Option<Filter> {
        let simple = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
        };
        let labels = request
            .label_selector
            .split(',')
            .map(str::trim)
            .filter(|term| !term.is_empty())
            .map(|term| {
                let (key, value) = term.split_once('=')?;
                (simple(key) && simple(value)).then(|| (key.to_string(), value.to_string()))
            })
            .collect::<Option<Vec<_>>>()?;
        let field = request.field_selector.trim();
        let name = if field.is_empty() {
            None
        } else {
            let name = field.strip_prefix("metadata.name=")?;
            if name.is_empty() || name.contains([',', '=', '!']) {
                return None;
            }
            Some(name.to_string())
        };
        Some(Filter { labels, name })
    }

    fn matches(&self, name: &str, labels: &BTreeMap<String, String>) -> bool {
        self.name.as_deref().is_none_or(|wanted| wanted == name)
            && (self.labels.iter()).all(|(key, value)| labels.get(key) == Some(value))
    }
}

/// Of an object, what a feed filters on.
#[derive(Deserialize)]
struct Head {
    #[serde(default)]
    metadata: HeadMetadata,
}

#[derive(Default, Deserialize)]
struct HeadMetadata {
    #[serde(default)]
    name: String,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

/// The latest form of one object a feed has reported.
struct Known {
    labels: BTreeMap<String, String>,
    json: Arc<str>,
}

struct Subscriber {
    id: u64,
    filter: Filter,
    tx: SyncSender<Result<WatchEvent, KubeError>>,
}

#[derive(Default)]
struct FeedState {
    /// Every object the feed has reported and not deleted, by name.
    known: BTreeMap<String, Known>,
    subscribers: Vec<Subscriber>,
    next_id: u64,
    /// Since when the feed has had no subscriber.
    idle_since: Option<Instant>,
}

impl FeedState {
    /// Starts counting the linger when the last subscriber has gone.
    fn note_idle(&mut self) {
        if self.subscribers.is_empty() && self.idle_since.is_none() {
            self.idle_since = Some(Instant::now());
        }
    }
}

/// One watch of one kind in one namespace, and who listens to it.
struct Feed {
    key: FeedKey,
    state: Mutex<FeedState>,
}

impl Feed {
    /// Adds a subscriber, first sending it `added` for every known object
    /// it matches; returns its id.
    fn join(
        &self,
        kind: &str,
        filter: Filter,
        tx: SyncSender<Result<WatchEvent, KubeError>>,
    ) -> Result<u64, KubeError> {
        let mut state = lock(&self.state);
        let known: Box<dyn Iterator<Item = (&String, &Known)>> = match &filter.name {
            Some(name) => Box::new(state.known.get_key_value(name).into_iter()),
            None => Box::new(state.known.iter()),
        };
        for (name, object) in known {
            if !filter.matches(name, &object.labels) {
                continue;
            }
            let added = WatchEvent {
                event_type: EventType::Added,
                object: object.json.to_string(),
            };
            if tx.try_send(Ok(added)).is_err() {
                return Err(KubeError::Transport(format!(
                    "watch {kind}: more than {SUBSCRIBER_DEPTH} matching objects"
                )));
            }
        }
        state.next_id += 1;
        let id = state.next_id;
        state.subscribers.push(Subscriber { id, filter, tx });
        state.idle_since = None;
        Ok(id)
    }

    /// Remembers `event` and sends it to every subscriber it matches;
    /// drops those that fell behind or left.
    fn publish(&self, event: &WatchEvent) {
        let Ok(head) = serde_json::from_str::<Head>(&event.object) else {
            return;
        };
        let name = head.metadata.name;
        let labels = head.metadata.labels.unwrap_or_default();
        let json: Arc<str> = Arc::from(event.object.as_str());
        let mut state = lock(&self.state);
        state.subscribers.retain(|s| {
            if !s.filter.matches(&name, &labels) {
                return true;
            }
            let copy = WatchEvent {
                event_type: event.event_type,
                object: json.to_string(),
            };
            s.tx.try_send(Ok(copy)).is_ok()
        });
        state.note_idle();
        if event.event_type == EventType::Deleted {
            state.known.remove(&name);
        } else {
            state.known.insert(name, Known { labels, json });
        }
    }

    /// Subscriber `id` left.
    fn leave(&self, id: u64) {
        let mut state = lock(&self.state);
        state.subscribers.retain(|s| s.id != id);
        state.note_idle();
    }

    /// Whether the feed has had no subscriber for `linger`.
    fn lingered(&self, linger: Duration) -> bool {
        lock(&self.state)
            .idle_since
            .is_some_and(|since| since.elapsed() >= linger)
    }
}

/// Takes `feed` out of `feeds` (when it is still there).
fn forget(feeds: &mut HashMap<FeedKey, Arc<Feed>>, feed: &Arc<Feed>) {
    if feeds.get(&feed.key).is_some_and(|f| Arc::ptr_eq(f, feed)) {
        feeds.remove(&feed.key);
    }
}

/// Stops `feed` because its watch failed: it leaves `feeds`, and every
/// subscriber's stream ends with `error`.
fn fail(feeds: &Feeds, feed: &Arc<Feed>, error: &KubeError) {
    let mut feeds = lock(feeds);
    forget(&mut feeds, feed);
    for subscriber in lock(&feed.state).subscribers.drain(..) {
        let _ = subscriber.tx.try_send(Err(error.clone()));
    }
}

/// The thread of one feed: reads its watch and publishes every event,
/// until the watch fails, nobody has listened for `linger`, or the
/// [`SharedWatches`] it belongs to is gone.
fn run_feed(
    feeds: &Weak<Feeds>,
    feed: &Arc<Feed>,
    mut stream: Box<dyn WatchStream>,
    linger: Duration,
) {
    loop {
        let next = stream.next(linger.clamp(IDLE_CHECK_MIN, IDLE_CHECK));
        let Some(feeds) = feeds.upgrade() else {
            return;
        };
        match next {
            Ok(Some(event)) => feed.publish(&event),
            Ok(None) => {}
            Err(error) => {
                fail(&feeds, feed, &error);
                return;
            }
        }
        if feed.lingered(linger) {
            // Under the lock `subscribe` holds to join: no wait joins
            // between the look and the end, and the watch is closed
            // before a new feed of the same key can open one.
            let mut held = lock(&feeds);
            if feed.lingered(linger) {
                forget(&mut held, feed);
                drop(stream);
                return;
            }
        }
    }
}

/// One subscriber's stream of a feed.
struct SharedWatch {
    rx: Receiver<Result<WatchEvent, KubeError>>,
    feed: Arc<Feed>,
    id: u64,
}

impl Drop for SharedWatch {
    fn drop(&mut self) {
        self.feed.leave(self.id);
    }
}

impl WatchStream for SharedWatch {
    fn next(&mut self, timeout: Duration) -> Result<Option<WatchEvent>, KubeError> {
        match self.rx.recv_timeout(timeout) {
            Ok(item) => item.map(Some),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(KubeError::Transport(
                "the shared watch dropped this stream (it fell behind, or the watch ended); \
                 start a new one"
                    .into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests;
