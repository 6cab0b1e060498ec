//! Watches on the wire: list, watch from the list's resourceVersion, and a
//! re-list after 410 Gone that reports what disappeared meanwhile.

use std::sync::Arc;
use std::time::{Duration, Instant};

use leasebox::cluster::io::ClusterIo;
use leasebox::cluster::shared_watch::SharedWatches;
use leasebox::contract::{EventType, WatchRequest};
use serde_json::json;

use crate::fake_api::{FakeApi, Reply, error_event, step};

const PODS: &str = "/api/v1/namespaces/t/pods";

fn pod(name: &str, rv: &str) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "t", "uid": format!("uid-{name}"), "resourceVersion": rv}})
}

fn list(items: Vec<serde_json::Value>, rv: &str) -> Reply {
    Reply::Json(
        200,
        json!({"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": rv}, "items": items}),
    )
}

fn selectors(r: &crate::fake_api::Seen) -> Result<(), String> {
    if r.param("labelSelector") != Some("app=x")
        || r.param("fieldSelector") != Some("metadata.name!=z")
    {
        return Err(format!("selectors {:?}", r.query));
    }
    Ok(())
}

#[test]
fn watch_resumes_and_relists_after_gone() {
    let api = FakeApi::start(vec![
        step("GET", PODS, list(vec![pod("a", "1")], "10")).check(selectors),
        step(
            "GET",
            PODS,
            Reply::Lines(vec![
                json!({"type": "ADDED", "object": pod("b", "11")}),
                json!({"type": "MODIFIED", "object": pod("a", "12")}),
                error_event(410, "Expired", "too old resource version: 10 (12)"),
            ]),
        )
        .check(|r| {
            selectors(r)?;
            match (
                r.param("watch"),
                r.param("resourceVersion"),
                r.param("allowWatchBookmarks"),
            ) {
                (Some("true"), Some("10"), Some("true")) => Ok(()),
                _ => Err(format!("watch query {:?}", r.query)),
            }
        }),
        step("GET", PODS, list(vec![pod("b", "11")], "20")).check(|r| match r.param("watch") {
            None => Ok(()),
            Some(_) => Err("expected a re-list, got a watch".into()),
        }),
        step("GET", PODS, Reply::Hang(Duration::from_secs(4))).check(|r| {
            match r.param("resourceVersion") {
                Some("20") => Ok(()),
                other => Err(format!("resumed from {other:?}")),
            }
        }),
    ]);
    let client = api.client();
    let mut watch = client
        .watch(&WatchRequest {
            api_version: "v1".into(),
            kind: "Pod".into(),
            namespace: "t".into(),
            label_selector: "app=x".into(),
            field_selector: "metadata.name!=z".into(),
        })
        .unwrap_or_else(|e| panic!("watch: {e}"));
    let seen = events(&mut watch, 4, Duration::from_secs(10));
    // Let the resumed watch reach the server before checking the script.
    std::thread::sleep(Duration::from_millis(300));
    api.finish();
    assert_eq!(
        seen,
        vec![
            (EventType::Added, "a@1".to_string()),
            (EventType::Added, "b@11".to_string()),
            (EventType::Modified, "a@12".to_string()),
            (EventType::Deleted, "a@12".to_string()),
        ]
    );
}

#[test]
fn forbidden_watch_ends_with_the_error() {
    let api = FakeApi::start(vec![step(
        "GET",
        PODS,
        crate::fake_api::failure(403, "Forbidden", "pods is forbidden: user x"),
    )]);
    let client = api.client();
    let request = WatchRequest {
        api_version: "v1".into(),
        kind: "Pod".into(),
        namespace: "t".into(),
        label_selector: String::new(),
        field_selector: String::new(),
    };
    let mut watch = client
        .watch(&request)
        .unwrap_or_else(|e| panic!("watch: {e}"));
    let result = watch.next(Duration::from_secs(5));
    api.finish();
    assert!(
        matches!(result, Err(leasebox::contract::KubeError::Forbidden(m)) if m.contains("user x"))
    );
}

/// Reads `watch` until `count` events (or `limit`); `(type, name@rv)` each.
fn events(
    watch: &mut Box<dyn leasebox::contract::WatchStream>,
    count: usize,
    limit: Duration,
) -> Vec<(EventType, String)> {
    let mut seen = Vec::new();
    let deadline = Instant::now() + limit;
    while seen.len() < count && Instant::now() < deadline {
        if let Some(e) = watch
            .next(Duration::from_millis(200))
            .unwrap_or_else(|e| panic!("next: {e}"))
        {
            let v: serde_json::Value = serde_json::from_str(&e.object).unwrap_or_default();
            seen.push((
                e.event_type,
                format!(
                    "{}@{}",
                    v["metadata"]["name"].as_str().unwrap_or(""),
                    v["metadata"]["resourceVersion"].as_str().unwrap_or("")
                ),
            ));
        }
    }
    seen
}

fn by_name(name: &str) -> WatchRequest {
    WatchRequest {
        api_version: "v1".into(),
        kind: "Pod".into(),
        namespace: "t".into(),
        label_selector: String::new(),
        field_selector: format!("metadata.name={name}"),
    }
}

#[test]
fn waits_on_pods_of_one_namespace_share_one_watch() {
    let no_selectors =
        |r: &crate::fake_api::Seen| match (r.param("labelSelector"), r.param("fieldSelector")) {
            (None, None) => Ok(()),
            other => Err(format!("a shared watch has no selectors, got {other:?}")),
        };
    let api = FakeApi::start(vec![
        // The list answers late, so both waits have subscribed before the
        // first event.
        step(
            "GET",
            PODS,
            Reply::JsonAfter(
                Duration::from_millis(1500),
                200,
                json!({"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "10"},
                       "items": [pod("a", "1"), pod("b", "2")]}),
            ),
        )
        .check(no_selectors),
        step(
            "GET",
            PODS,
            Reply::Lines(vec![json!({"type": "MODIFIED", "object": pod("b", "11")})]),
        )
        .check(no_selectors),
        step("GET", PODS, Reply::Hang(Duration::from_secs(60))).check(no_selectors),
    ]);
    let client = SharedWatches::new(Arc::new(api.client())).lingering(Duration::from_millis(200));
    let mut a = client
        .watch(&by_name("a"))
        .unwrap_or_else(|e| panic!("watch a: {e}"));
    let mut b = client
        .watch(&by_name("b"))
        .unwrap_or_else(|e| panic!("watch b: {e}"));
    assert_eq!(client.open(), 1, "one watch for the namespace's pods");
    assert_eq!(
        events(&mut b, 2, Duration::from_secs(20)),
        vec![
            (EventType::Added, "b@2".to_string()),
            (EventType::Modified, "b@11".to_string())
        ]
    );
    assert_eq!(
        events(&mut a, 1, Duration::from_secs(5)),
        vec![(EventType::Added, "a@1".to_string())]
    );
    assert_eq!(
        events(&mut a, 1, Duration::from_secs(1)),
        vec![],
        "b's change is not a's"
    );

    // A late subscriber is told what a list of its own would have said,
    // without a new request.
    let mut late = client
        .watch(&by_name("b"))
        .unwrap_or_else(|e| panic!("watch late: {e}"));
    assert_eq!(
        events(&mut late, 1, Duration::from_secs(20)),
        vec![(EventType::Added, "b@11".to_string())]
    );
    assert_eq!(client.open(), 1);

    drop((a, b, late));
    let deadline = Instant::now() + Duration::from_secs(5);
    while client.open() > 0 {
        assert!(
            Instant::now() < deadline,
            "the last subscriber stops the watch"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    api.finish();
}
