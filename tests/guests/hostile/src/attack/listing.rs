//! Cluster-wide reads: Namespaces (cluster-scoped, whatever `namespace`
//! the module passes) and Pods of every tenant. The host may answer them,
//! narrowed to the calling company: the attack succeeds only when it got a
//! namespace that is not the attacker's own (the configuration's `mine`,
//! else its `namespace`). The detail ends with `got <JSON list>`: every
//! name the module got, for the tests to check themselves.

use serde_json::Value;

use super::{Order, Verdict, refused};
use crate::bindings::leasebox::provider::kube::{self, WatchRequest};

/// How long `watch-namespaces` waits for each further event.
const WATCH_WAIT_MS: u64 = 2000;

/// At most this many events are read from the watch (the initial list of
/// a large cluster; more proves nothing more).
const WATCH_MAX_EVENTS: usize = 1000;

/// Runs `name` when it is one of this file's attacks.
pub(super) fn attack(order: &Order, name: &str) -> Result<Option<Verdict>, Verdict> {
    let namespace = order.config.get("namespace").and_then(Value::as_str);
    let mut mine = order.list_field("mine");
    if mine.is_empty() {
        mine.extend(namespace.map(str::to_string));
    }
    Ok(Some(match name {
        "list-namespaces" => match kube::list_objects("v1", "Namespace", namespace, "") {
            Ok(items) => judge(&mine, names(&items, "/metadata/name"), |n| n),
            Err(error) => refused(error),
        },
        "watch-namespaces" => watch_namespaces(&mine, &order.field("namespace")?),
        "watch-all-pods" => watch_pods(&mine, ""),
        "watch-foreign-pods" => watch_pods(&mine, &order.field("namespace")?),
        "list-pods" => match kube::list_objects("v1", "Pod", None, "") {
            Ok(items) => judge(&mine, pod_names(&items), pod_namespace),
            Err(error) => refused(error),
        },
        _ => return Ok(None),
    }))
}

/// The string at `pointer` of each JSON object in `items`.
fn names(items: &[String], pointer: &str) -> Vec<String> {
    items
        .iter()
        .filter_map(|item| {
            let object: Value = serde_json::from_str(item).ok()?;
            object.pointer(pointer)?.as_str().map(str::to_string)
        })
        .collect()
}

/// `namespace/name` of each Pod in `items`.
fn pod_names(items: &[String]) -> Vec<String> {
    items
        .iter()
        .filter_map(|item| {
            let pod: Value = serde_json::from_str(item).ok()?;
            let ns = pod.pointer("/metadata/namespace")?.as_str()?;
            let name = pod.pointer("/metadata/name")?.as_str()?;
            Some(format!("{ns}/{name}"))
        })
        .collect()
}

/// The namespace of a `namespace/name`.
fn pod_namespace(pod: &str) -> &str {
    pod.split_once('/').map_or(pod, |(ns, _)| ns)
}

/// `Succeeded` when any of `got` is in a namespace (`namespace_of`) that
/// is not in `mine`, else `Contained`.
fn judge(mine: &[String], got: Vec<String>, namespace_of: fn(&str) -> &str) -> Verdict {
    let all = serde_json::to_string(&got).unwrap_or_default();
    let outside = got
        .iter()
        .filter(|name| !mine.iter().any(|m| m == namespace_of(name)))
        .count();
    if outside == 0 {
        Verdict::Contained(format!("got {all}"))
    } else {
        Verdict::Succeeded(format!(
            "{outside} outside the attacker's {}; got {all}",
            serde_json::to_string(mine).unwrap_or_default()
        ))
    }
}

/// A watch of Pods in `namespace` (empty: every namespace).
fn watch_pods(mine: &[String], namespace: &str) -> Verdict {
    let watch = match kube::open_watch(&WatchRequest {
        api_version: "v1".to_string(),
        kind: "Pod".to_string(),
        namespace: namespace.to_string(),
        label_selector: String::new(),
        field_selector: String::new(),
    }) {
        Ok(watch) => watch,
        Err(error) => return refused(error),
    };
    let mut got = Vec::new();
    while got.len() < WATCH_MAX_EVENTS {
        match watch.next(WATCH_WAIT_MS) {
            Ok(Some(event)) => got.extend(pod_names(&[event.object])),
            Ok(None) => break,
            Err(error) if got.is_empty() => return refused(error),
            Err(_) => break,
        }
    }
    judge(mine, got, pod_namespace)
}

fn watch_namespaces(mine: &[String], namespace: &str) -> Verdict {
    let watch = match kube::open_watch(&WatchRequest {
        api_version: "v1".to_string(),
        kind: "Namespace".to_string(),
        namespace: namespace.to_string(),
        label_selector: String::new(),
        field_selector: String::new(),
    }) {
        Ok(watch) => watch,
        Err(error) => return refused(error),
    };
    let mut seen = Vec::new();
    while seen.len() < WATCH_MAX_EVENTS {
        match watch.next(WATCH_WAIT_MS) {
            Ok(Some(event)) => seen.push(event.object),
            Ok(None) => break,
            // What came before the error still counts.
            Err(error) if seen.is_empty() => return refused(error),
            Err(_) => break,
        }
    }
    let mut got = names(&seen, "/metadata/name");
    got.dedup();
    judge(mine, got, |n| n)
}
