//! Shared watches: one watch per namespace and kind, however many waits.
//!
//! A long-running host (`serve`) may have many acquires waiting for
//! readiness at once, most of them in the same tenant namespace. Rather than
//! one watch per wait, [`WatchHub`] keeps one [`Feed`] per (apiVersion, kind,
//! namespace): a watcher without selectors whose [`Tracker`] knows every
//! object of that kind there. Each wait subscribes with its own selectors,
//! which the feed applies itself:
//! - a label selector of `key=value` terms joined by commas (or none);
//! - a field selector `metadata.name=NAME` (or none).
//!
//! Requests with any other selector get a watch of their own
//! ([`is_shareable`] says which).
//!
//! A new subscriber first receives `added` for every object it matches that
//! the feed already knows (what its own list would have said), then every
//! change, in order. A subscriber that falls [`SUBSCRIBER_DEPTH`] events
//! behind is dropped (its stream ends with an error, like a broken watch);
//! the feed stops when its last subscriber leaves, and ends every
//! subscriber's stream with the error when the watch fails for good.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use futures::StreamExt;
use kube::core::DynamicObject;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::Ctx;
use super::objects::api;
use super::watch::{Tracker, is_fatal, map_watcher_error, receive};
use crate::cluster_io::{EventType, KubeError, WatchEvent, WatchRequest, WatchStream};

/// Events buffered for one subscriber before it counts as fallen behind.
const SUBSCRIBER_DEPTH: usize = 1024;

/// Consecutive recoverable watcher errors before the feed gives up.
const MAX_CONSECUTIVE_ERRORS: u32 = 5;

/// What a feed is for.
type FeedKey = (String, String, String);

/// What a subscriber asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Filter {
    labels: Vec<(String, String)>,
    name: Option<String>,
}

impl Filter {
    /// The filter of `request`, when its selectors are ones a feed applies.
    fn of(request: &WatchRequest) -> Option<Filter> {
        let labels = request
            .label_selector
            .split(',')
            .map(str::trim)
            .filter(|term| !term.is_empty())
            .map(|term| {
                let (key, value) = term.split_once('=')?;
                let simple = |s: &str| {
                    !s.is_empty()
                        && s.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
                };
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

    fn matches(&self, object: &serde_json::Value) -> bool {
        let metadata = &object["metadata"];
        if let Some(name) = &self.name
            && metadata["name"].as_str() != Some(name.as_str())
        {
            return false;
        }
        self.labels
            .iter()
            .all(|(key, value)| metadata["labels"][key].as_str() == Some(value.as_str()))
    }
}

/// Whether `request` can share its namespace's feed.
pub(crate) fn is_shareable(request: &WatchRequest) -> bool {
    !request.namespace.is_empty() && Filter::of(request).is_some()
}

struct Subscriber {
    id: u64,
    filter: Filter,
    tx: mpsc::Sender<Result<WatchEvent, KubeError>>,
}

#[derive(Default)]
struct FeedState {
    tracker: Tracker,
    /// Whether the first list is done (the tracker knows every object).
    listed: bool,
    subscribers: Vec<Subscriber>,
    next_id: u64,
    task: Option<JoinHandle<()>>,
    /// Set when the watch stopped (failed for good, or its last subscriber
    /// left): no new subscriber.
    failed: bool,
    /// Why it failed, told to anyone who subscribes before the feed is
    /// forgotten.
    failure: Option<KubeError>,
}

/// One watch of one kind in one namespace, and who listens to it.
struct Feed {
    key: FeedKey,
    state: Mutex<FeedState>,
    hub: Weak<WatchHubInner>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Feed {
    /// Sends `event` to every subscriber it matches; drops those that fell
    /// behind or left.
    fn publish(state: &mut FeedState, event: &WatchEvent) {
        let Ok(object) = serde_json::from_str::<serde_json::Value>(&event.object) else {
            return;
        };
        state.subscribers.retain(|s| {
            if !s.filter.matches(&object) {
                return !s.tx.is_closed();
            }
            s.tx.try_send(Ok(event.clone())).is_ok()
        });
    }

    /// Ends every subscriber's stream with `error`.
    fn fail(&self, error: KubeError) {
        let mut state = lock(&self.state);
        state.failed = true;
        state.failure = Some(error.clone());
        for subscriber in state.subscribers.drain(..) {
            let _ = subscriber.tx.try_send(Err(error.clone()));
        }
        drop(state);
        if let Some(hub) = self.hub.upgrade() {
            hub.forget(&self.key);
        }
    }

    /// Subscriber `id` left; the last one stops the watch.
    fn leave(&self, id: u64) {
        let mut state = lock(&self.state);
        state.subscribers.retain(|s| s.id != id);
        if !state.subscribers.is_empty() {
            return;
        }
        if let Some(task) = state.task.take() {
            task.abort();
        }
        state.failed = true;
        drop(state);
        if let Some(hub) = self.hub.upgrade() {
            hub.forget(&self.key);
        }
    }
}

#[derive(Default)]
struct WatchHubInner {
    feeds: Mutex<HashMap<FeedKey, Arc<Feed>>>,
}

impl WatchHubInner {
    /// Removes the feed of `key` (it stopped).
    fn forget(&self, key: &FeedKey) {
        let mut feeds = lock(&self.feeds);
        if feeds.get(key).is_some_and(|feed| lock(&feed.state).failed) {
            feeds.remove(key);
        }
    }
}

/// Every feed of one client.
#[derive(Clone, Default)]
pub(crate) struct WatchHub {
    inner: Arc<WatchHubInner>,
}

impl WatchHub {
    /// How many watches are open (one per feed).
    pub(crate) fn open(&self) -> usize {
        lock(&self.inner.feeds).len()
    }

    /// Subscribes to the feed of `request`'s namespace and kind, starting
    /// it if there is none. `request` must be [`is_shareable`].
    pub(crate) async fn subscribe(
        &self,
        ctx: &Ctx,
        handle: Handle,
        request: &WatchRequest,
    ) -> Result<SharedWatch, KubeError> {
        let filter = Filter::of(request).ok_or_else(|| {
            KubeError::BadArgument(format!(
                "watch {}: selectors `{}` / `{}` cannot be shared",
                request.kind, request.label_selector, request.field_selector
            ))
        })?;
        let key = (
            request.api_version.clone(),
            request.kind.clone(),
            request.namespace.clone(),
        );
        // Resolve before taking any lock: an unknown kind fails here.
        let resolved = ctx
            .resolver
            .resolve(&ctx.client, &request.api_version, &request.kind)
            .await?;
        let (tx, rx) = mpsc::channel(SUBSCRIBER_DEPTH);
        let mut feeds = lock(&self.inner.feeds);
        let (feed, start) = match feeds.get(&key) {
            Some(feed) if !lock(&feed.state).failed => (feed.clone(), false),
            _ => {
                let feed = Arc::new(Feed {
                    key: key.clone(),
                    state: Mutex::new(FeedState {
                        tracker: Tracker::new(&request.api_version, &request.kind),
                        ..FeedState::default()
                    }),
                    hub: Arc::downgrade(&self.inner),
                });
                feeds.insert(key, feed.clone());
                (feed, true)
            }
        };
        let id = {
            let mut state = lock(&feed.state);
            if let Some(failure) = &state.failure {
                // Failed since it was looked up: the stream ends with why.
                let _ = tx.try_send(Err(failure.clone()));
            } else if state.listed {
                // What a list of its own would have said.
                for json in state.tracker.objects() {
                    let matches = serde_json::from_str::<serde_json::Value>(json)
                        .is_ok_and(|object| filter.matches(&object));
                    if matches {
                        let added = WatchEvent {
                            event_type: EventType::Added,
                            object: json.to_string(),
                        };
                        if tx.try_send(Ok(added)).is_err() {
                            return Err(KubeError::Transport(format!(
                                "watch {}: more than {SUBSCRIBER_DEPTH} matching objects",
                                request.kind
                            )));
                        }
                    }
                }
            }
            state.next_id += 1;
            let id = state.next_id;
            state.subscribers.push(Subscriber { id, filter, tx });
            id
        };
        drop(feeds);
        // The watch starts once its first subscriber is in: nothing it
        // reports (a failure included) can be missed.
        if start {
            let api = api(ctx, &resolved, Some(request.namespace.as_str()));
            let task = tokio::spawn(run_feed(
                Arc::downgrade(&feed),
                api,
                format!("watch {}", request.kind),
            ));
            lock(&feed.state).task = Some(task);
        }
        Ok(SharedWatch {
            handle,
            rx,
            feed,
            id,
        })
    }
}

/// The watcher of one feed, publishing what its tracker makes of each
/// event; stops when the feed is gone.
async fn run_feed(feed: Weak<Feed>, api: kube::Api<DynamicObject>, step: String) {
    let mut events = watcher::watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    let mut errors = 0;
    while let Some(item) = events.next().await {
        let Some(feed) = feed.upgrade() else {
            return;
        };
        match item {
            Ok(event) => {
                errors = 0;
                let list_done = matches!(event, Event::InitDone);
                let mut state = lock(&feed.state);
                match state.tracker.on_event(event) {
                    Ok(out) => {
                        for event in &out {
                            Feed::publish(&mut state, event);
                        }
                    }
                    Err(error) => {
                        drop(state);
                        feed.fail(error);
                        return;
                    }
                }
                if list_done {
                    state.listed = true;
                }
            }
            Err(err) => {
                if let Some(error) = map_watcher_error(&step, &err) {
                    errors += 1;
                    if is_fatal(&error) || errors >= MAX_CONSECUTIVE_ERRORS {
                        feed.fail(error);
                        return;
                    }
                }
            }
        }
    }
}

/// One subscriber's stream of a feed.
pub(crate) struct SharedWatch {
    handle: Handle,
    rx: mpsc::Receiver<Result<WatchEvent, KubeError>>,
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
        receive(
            &self.handle,
            &mut self.rx,
            timeout,
            "the shared watch dropped this stream (it fell behind, or the watch ended); \
             start a new one",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(labels: &str, fields: &str) -> WatchRequest {
        WatchRequest {
            api_version: "v1".into(),
            kind: "Pod".into(),
            namespace: "t".into(),
            label_selector: labels.into(),
            field_selector: fields.into(),
        }
    }

    #[test]
    fn equality_selectors_are_shared_and_others_are_not() {
        assert!(is_shareable(&request("", "metadata.name=p")));
        assert!(is_shareable(&request(
            "job-name=j,leasebox.dev/lease=lb-1",
            ""
        )));
        assert!(!is_shareable(&request("app!=x", "")));
        assert!(!is_shareable(&request("app in (a,b)", "")));
        assert!(!is_shareable(&request("", "metadata.name!=z")));
        assert!(!is_shareable(&request("", "status.phase=Running")));
        let mut cluster_wide = request("", "metadata.name=p");
        cluster_wide.namespace.clear();
        assert!(!is_shareable(&cluster_wide));
    }

    #[test]
    fn filter_matches_name_and_every_label() {
        let object = serde_json::json!({"metadata": {"name": "p", "labels": {"a": "1", "b": "2"}}});
        let filter = |labels: &str, fields: &str| {
            Filter::of(&request(labels, fields)).unwrap_or_else(|| panic!("shareable"))
        };
        assert!(filter("", "metadata.name=p").matches(&object));
        assert!(!filter("", "metadata.name=q").matches(&object));
        assert!(filter("a=1,b=2", "").matches(&object));
        assert!(!filter("a=1,b=3", "").matches(&object));
        assert!(filter("a=1", "metadata.name=p").matches(&object));
    }
}
