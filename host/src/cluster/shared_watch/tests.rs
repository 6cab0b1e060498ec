use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use serde_json::json;

use super::*;

const LONG: Duration = Duration::from_secs(5);
const SHORT: Duration = Duration::from_millis(200);

type Item = Result<WatchEvent, KubeError>;

/// The cluster below: each watch it opens is fed by the test.
#[derive(Default)]
struct Below {
    /// Every watch request it was sent, in order.
    opened: Mutex<Vec<WatchRequest>>,
    /// The feeding end of each watch, in order.
    feeds: Mutex<Vec<mpsc::Sender<Item>>>,
    /// Watches not yet dropped.
    open: Arc<AtomicUsize>,
    /// What the next watch request answers instead of a watch.
    refuse: Mutex<Option<KubeError>>,
}

impl Below {
    fn opened(&self) -> Vec<WatchRequest> {
        lock(&self.opened).clone()
    }

    /// Sends `item` to the `n`-th watch opened.
    fn send(&self, n: usize, item: Item) {
        lock(&self.feeds)[n]
            .send(item)
            .unwrap_or_else(|_| panic!("watch {n} is closed"));
    }

    fn open_now(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }
}

struct BelowStream {
    rx: mpsc::Receiver<Item>,
    open: Arc<AtomicUsize>,
}

impl WatchStream for BelowStream {
    fn next(&mut self, timeout: Duration) -> Result<Option<WatchEvent>, KubeError> {
        match self.rx.recv_timeout(timeout) {
            Ok(item) => item.map(Some),
            Err(mpsc::RecvTimeoutError::Timeout) => Ok(None),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                Err(KubeError::Transport("the test ended the watch".into()))
            }
        }
    }
}

impl Drop for BelowStream {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::SeqCst);
    }
}

fn unused<T>() -> Result<T, KubeError> {
    Err(KubeError::BadArgument("not used by these tests".into()))
}

impl ClusterIo for Below {
    fn apply(&self, _: Manifest) -> Result<String, KubeError> {
        unused()
    }
    fn create(&self, _: Manifest) -> Result<String, KubeError> {
        unused()
    }
    fn server_version(&self) -> Result<String, KubeError> {
        unused()
    }
    fn get(&self, _: &ObjectRef) -> Result<Option<String>, KubeError> {
        unused()
    }
    fn list(&self, _: &str, _: &str, _: Option<&str>, _: &str) -> Result<Vec<String>, KubeError> {
        unused()
    }
    fn delete(&self, _: &ObjectRef, _: &DeleteOptions) -> Result<bool, KubeError> {
        unused()
    }
    fn watch(&self, request: &WatchRequest) -> Result<Box<dyn WatchStream>, KubeError> {
        lock(&self.opened).push(request.clone());
        if let Some(error) = lock(&self.refuse).take() {
            return Err(error);
        }
        let (tx, rx) = mpsc::channel();
        lock(&self.feeds).push(tx);
        self.open.fetch_add(1, Ordering::SeqCst);
        Ok(Box::new(BelowStream {
            rx,
            open: self.open.clone(),
        }))
    }
    fn exec(&self, _: &ExecSpec, _: &CallerIo) -> Result<Box<dyn ExecStream>, KubeError> {
        unused()
    }
    fn logs(&self, _: &LogsRequest, _: &CallerIo) -> Result<Box<dyn LogFollow>, KubeError> {
        unused()
    }
    fn apply_host_secret(&self, _: &HostSecretRequest) -> Result<(String, Vec<String>), KubeError> {
        unused()
    }
    fn hand_over_secret(&self, _: &HandOverRequest) -> Result<(), KubeError> {
        unused()
    }
}

/// How long the tests' feeds linger.
const TEST_LINGER: Duration = Duration::from_millis(500);

fn shared() -> (Arc<Below>, SharedWatches) {
    let below = Arc::new(Below::default());
    let shared = SharedWatches::new(below.clone()).lingering(TEST_LINGER);
    (below, shared)
}

fn request(kind: &str, namespace: &str, labels: &str, fields: &str) -> WatchRequest {
    WatchRequest {
        api_version: "v1".into(),
        kind: kind.into(),
        namespace: namespace.into(),
        label_selector: labels.into(),
        field_selector: fields.into(),
    }
}

fn named(name: &str) -> WatchRequest {
    request("Pod", "t", "", &format!("metadata.name={name}"))
}

fn watch(shared: &SharedWatches, request: &WatchRequest) -> Box<dyn WatchStream> {
    shared
        .watch(request)
        .unwrap_or_else(|e| panic!("watch {request:?}: {e}"))
}

/// An event of pod `name` at resourceVersion `rv` with label `app`.
fn pod(event_type: EventType, name: &str, rv: &str, app: &str) -> Item {
    Ok(WatchEvent {
        event_type,
        object: json!({"apiVersion": "v1", "kind": "Pod", "metadata": {
            "name": name, "namespace": "t", "resourceVersion": rv, "labels": {"app": app}}})
        .to_string(),
    })
}

/// The next event of `stream` within `within`, as `(type, name@rv)`.
fn next(stream: &mut Box<dyn WatchStream>, within: Duration) -> Option<(EventType, String)> {
    let event = stream
        .next(within)
        .unwrap_or_else(|e| panic!("next: {e}"))?;
    let object: serde_json::Value =
        serde_json::from_str(&event.object).unwrap_or_else(|e| panic!("{e}"));
    let at = |key: &str| object["metadata"][key].as_str().unwrap_or("").to_string();
    Some((
        event.event_type,
        format!("{}@{}", at("name"), at("resourceVersion")),
    ))
}

fn event(event_type: EventType, at: &str) -> Option<(EventType, String)> {
    Some((event_type, at.to_string()))
}

/// Waits until `done`, at most [`LONG`].
fn eventually(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + LONG;
    while !done() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn waits_in_one_namespace_share_one_watch_without_selectors() {
    let (below, shared) = shared();
    let mut a = watch(&shared, &named("a"));
    let mut b = watch(&shared, &named("b"));
    assert_eq!(below.opened(), vec![request("Pod", "t", "", "")]);
    assert_eq!(shared.open(), 1);

    below.send(0, pod(EventType::Added, "a", "1", "x"));
    below.send(0, pod(EventType::Added, "b", "2", "x"));
    below.send(0, pod(EventType::Modified, "b", "3", "x"));
    assert_eq!(next(&mut b, LONG), event(EventType::Added, "b@2"));
    assert_eq!(next(&mut b, LONG), event(EventType::Modified, "b@3"));
    assert_eq!(next(&mut a, LONG), event(EventType::Added, "a@1"));
    assert_eq!(next(&mut a, SHORT), None, "b's changes are not a's");
}

#[test]
fn a_late_subscriber_is_first_told_what_the_feed_knows() {
    let (below, shared) = shared();
    let mut first = watch(&shared, &request("Pod", "t", "app=x", ""));
    below.send(0, pod(EventType::Added, "a", "1", "x"));
    below.send(0, pod(EventType::Added, "b", "2", "y"));
    below.send(0, pod(EventType::Added, "c", "3", "x"));
    below.send(0, pod(EventType::Modified, "a", "4", "x"));
    below.send(0, pod(EventType::Deleted, "c", "5", "x"));
    // Once the first has seen the last event, the feed knows them all.
    for expected in [
        event(EventType::Added, "a@1"),
        event(EventType::Added, "c@3"),
        event(EventType::Modified, "a@4"),
        event(EventType::Deleted, "c@5"),
    ] {
        assert_eq!(next(&mut first, LONG), expected);
    }

    let mut late = watch(&shared, &request("Pod", "t", "app=x", ""));
    assert_eq!(
        next(&mut late, LONG),
        event(EventType::Added, "a@4"),
        "the latest form, as a list would say; c is gone"
    );
    assert_eq!(next(&mut late, SHORT), None);
    below.send(0, pod(EventType::Added, "d", "6", "x"));
    assert_eq!(next(&mut late, LONG), event(EventType::Added, "d@6"));
    assert_eq!(below.opened().len(), 1, "no new request for the late one");
}

#[test]
fn each_namespace_and_kind_has_a_watch_of_its_own() {
    let (below, shared) = shared();
    let _streams = [
        watch(&shared, &named("a")),
        watch(&shared, &request("Pod", "u", "", "metadata.name=a")),
        watch(&shared, &request("Job", "t", "app=x", "")),
        watch(&shared, &named("b")),
    ];
    assert_eq!(
        below.opened(),
        vec![
            request("Pod", "t", "", ""),
            request("Pod", "u", "", ""),
            request("Job", "t", "", ""),
        ]
    );
    assert_eq!(shared.open(), 3);
}

#[test]
fn other_selectors_and_cluster_wide_watches_are_not_shared() {
    let (below, shared) = shared();
    let own = [
        request("Pod", "t", "app!=x", ""),
        request("Pod", "t", "app in (a,b)", ""),
        request("Pod", "t", "", "metadata.name!=z"),
        request("Pod", "t", "", "status.phase=Running"),
        request("Pod", "", "", "metadata.name=p"),
    ];
    let _streams: Vec<_> = own.iter().map(|r| watch(&shared, r)).collect();
    assert_eq!(below.opened(), own, "each sent below as it was asked");
    assert_eq!(shared.open(), 0);
}

#[test]
fn a_failed_watch_ends_every_subscriber_and_the_next_wait_starts_anew() {
    let (below, shared) = shared();
    let mut a = watch(&shared, &named("a"));
    let mut b = watch(&shared, &named("b"));
    below.send(0, Err(KubeError::Forbidden("watch Pod: user x".into())));
    for stream in [&mut a, &mut b] {
        assert!(
            matches!(stream.next(LONG), Err(KubeError::Forbidden(m)) if m.contains("user x")),
            "every subscriber is told why"
        );
    }
    eventually("the failed feed is forgotten", || shared.open() == 0);
    eventually("the failed watch is closed", || below.open_now() == 0);

    let mut again = watch(&shared, &named("a"));
    assert_eq!(below.opened().len(), 2, "a new watch for the next wait");
    below.send(1, pod(EventType::Added, "a", "7", "x"));
    assert_eq!(next(&mut again, LONG), event(EventType::Added, "a@7"));
}

#[test]
fn a_watch_refused_below_is_refused_to_the_wait_and_tried_again_by_the_next() {
    let (below, shared) = shared();
    *lock(&below.refuse) = Some(KubeError::NotFound("watch Pod: no such kind".into()));
    assert!(matches!(
        shared.watch(&named("a")),
        Err(KubeError::NotFound(_))
    ));
    assert_eq!(shared.open(), 0);
    let _again = watch(&shared, &named("a"));
    assert_eq!(below.opened().len(), 2);
    assert_eq!(shared.open(), 1);
}

#[test]
fn the_watch_closes_once_nobody_listened_for_the_linger() {
    let (below, shared) = shared();
    let a = watch(&shared, &named("a"));
    let b = watch(&shared, &named("b"));
    drop(a);
    std::thread::sleep(TEST_LINGER * 3);
    assert_eq!(below.open_now(), 1, "b still listens");
    let left = Instant::now();
    drop(b);
    eventually("the feed is forgotten", || shared.open() == 0);
    assert!(left.elapsed() >= TEST_LINGER, "it lingered first");
    assert_eq!(below.open_now(), 0, "closed before it was forgotten");
}

#[test]
fn a_wait_that_comes_while_the_feed_lingers_joins_it() {
    let (below, shared) = shared();
    let first = watch(&shared, &named("a"));
    below.send(0, pod(EventType::Added, "a", "1", "x"));
    drop(first);
    std::thread::sleep(TEST_LINGER / 5);
    let mut second = watch(&shared, &named("a"));
    assert_eq!(next(&mut second, LONG), event(EventType::Added, "a@1"));
    std::thread::sleep(TEST_LINGER * 3);
    assert_eq!(below.opened().len(), 1);
    assert_eq!(below.open_now(), 1, "the second wait kept it open");
}

#[test]
fn a_subscriber_that_falls_behind_is_dropped_and_the_others_go_on() {
    let (below, shared) = shared();
    let mut slow = watch(&shared, &request("Pod", "t", "app=x", ""));
    let mut quick = watch(&shared, &named("last"));
    for i in 0..=SUBSCRIBER_DEPTH {
        below.send(0, pod(EventType::Added, &format!("p{i}"), "1", "x"));
    }
    below.send(0, pod(EventType::Added, "last", "2", "y"));
    assert_eq!(next(&mut quick, LONG), event(EventType::Added, "last@2"));
    for i in 0..SUBSCRIBER_DEPTH {
        assert_eq!(
            next(&mut slow, LONG),
            event(EventType::Added, &format!("p{i}@1"))
        );
    }
    assert!(
        matches!(slow.next(LONG), Err(KubeError::Transport(m)) if m.contains("fell behind")),
        "the stream of the one that fell behind ends"
    );
    below.send(0, pod(EventType::Modified, "last", "3", "y"));
    assert_eq!(next(&mut quick, LONG), event(EventType::Modified, "last@3"));
}

#[test]
fn a_feed_applies_equality_labels_and_a_name() {
    let labels: BTreeMap<String, String> = [("a", "1"), ("b", "2")]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into();
    let filter = |labels: &str, fields: &str| {
        Filter::of(&request("Pod", "t", labels, fields)).unwrap_or_else(|| panic!("shareable"))
    };
    assert!(filter("", "metadata.name=p").matches("p", &labels));
    assert!(!filter("", "metadata.name=q").matches("p", &labels));
    assert!(filter("a=1,b=2", "").matches("p", &labels));
    assert!(!filter("a=1,b=3", "").matches("p", &labels));
    assert!(filter(" a=1 , ", "metadata.name=p").matches("p", &labels));
    assert!(filter("", "").matches("p", &labels));
}

#[test]
fn the_watches_close_when_their_owner_is_dropped() {
    let below = Arc::new(Below::default());
    let shared = SharedWatches::new(below.clone());
    drop(watch(&shared, &named("a")));
    drop(watch(&shared, &request("Pod", "u", "", "")));
    assert_eq!(below.open_now(), 2, "lingering: the linger is 30 s");
    drop(shared);
    eventually("every watch is closed", || below.open_now() == 0);
}

#[test]
fn a_linger_of_zero_closes_the_watch_with_its_last_wait() {
    let below = Arc::new(Below::default());
    let shared = SharedWatches::new(below.clone()).lingering(Duration::ZERO);
    let left = Instant::now();
    drop(watch(&shared, &named("a")));
    eventually("the feed is forgotten", || shared.open() == 0);
    assert!(
        left.elapsed() < IDLE_CHECK,
        "closed at the next look, {:?} after",
        left.elapsed()
    );
    assert_eq!(below.open_now(), 0);
}
