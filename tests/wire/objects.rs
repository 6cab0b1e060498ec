//! apply, get, list, delete and retries on the wire.

use leasebox::cluster::io::ClusterIo;
use leasebox::cluster::manifest::Manifest;
use leasebox::contract::{DeleteOptions, KubeError, ObjectRef, Propagation};
use serde_json::json;

use crate::fake_api::{FakeApi, Reply, failure, step};

const PODS: &str = "/api/v1/namespaces/t/pods";

fn pod(name: &str, rv: &str) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "t", "uid": format!("uid-{name}"), "resourceVersion": rv}})
}

fn pod_ref(uid: Option<&str>) -> ObjectRef {
    ObjectRef {
        api_version: "v1".into(),
        kind: "Pod".into(),
        namespace: Some("t".into()),
        name: "p".into(),
        uid: uid.map(Into::into),
    }
}

fn delete_options(uid: Option<&str>) -> DeleteOptions {
    DeleteOptions {
        propagation: Propagation::Foreground,
        precondition_uid: uid.map(Into::into),
        grace_period_seconds: Some(5),
    }
}

#[test]
fn apply_is_a_forced_server_side_apply_by_leasebox() {
    let api = FakeApi::start(vec![
        step(
            "PATCH",
            &format!("{PODS}/p"),
            Reply::Json(200, pod("p", "7")),
        )
        .check(|r| {
            if r.param("fieldManager") != Some("leasebox") || r.param("force") != Some("true") {
                return Err(format!("query {:?}", r.query));
            }
            if r.body["metadata"]["name"] != "p" || r.body["spec"]["x"] != 1 {
                return Err(format!("body {}", r.body));
            }
            Ok(())
        }),
    ]);
    let stored = api.client().apply(manifest(r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"t"},"spec":{"x":1}}"#));
    api.finish();
    assert!(stored.is_ok_and(|s| s.contains(r#""resourceVersion":"7""#)));
}

#[test]
fn apply_of_a_namespaced_kind_without_namespace_is_refused_locally() {
    let api = FakeApi::start(vec![]);
    let result = api.client().apply(manifest(
        r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}"#,
    ));
    api.finish();
    assert!(matches!(result, Err(KubeError::BadArgument(m)) if m.contains("metadata.namespace")));
}

#[test]
fn invalid_object_is_reported_with_the_server_message() {
    let api = FakeApi::start(vec![step(
        "PATCH",
        "/api/v1/namespaces/n",
        failure(422, "Invalid", "metadata.labels: bad label"),
    )]);
    let result = api.client().apply(manifest(
        r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"n"}}"#,
    ));
    api.finish();
    assert!(matches!(result, Err(KubeError::Invalid(m)) if m.contains("bad label")));
}

#[test]
fn get_of_a_missing_object_is_none() {
    let api = FakeApi::start(vec![step(
        "GET",
        &format!("{PODS}/p"),
        failure(404, "NotFound", "pods \"p\" not found"),
    )]);
    let result = api.client().get(&pod_ref(None));
    api.finish();
    assert_eq!(result, Ok(None));
}

#[test]
fn service_unavailable_is_retried_until_success() {
    let api = FakeApi::start(vec![
        step(
            "GET",
            &format!("{PODS}/p"),
            failure(503, "ServiceUnavailable", "etcd leader changed"),
        ),
        step(
            "GET",
            &format!("{PODS}/p"),
            failure(429, "TooManyRequests", "slow down"),
        ),
        step("GET", &format!("{PODS}/p"), Reply::Json(200, pod("p", "3"))),
    ]);
    let result = api.client().get(&pod_ref(None));
    api.finish();
    assert!(result.is_ok_and(|p| p.is_some_and(|p| p.contains("uid-p"))));
}

#[test]
fn a_throttled_request_is_not_retried_before_its_retry_after() {
    let api = FakeApi::start(vec![
        step("GET", &format!("{PODS}/p"), Reply::Throttled(1)),
        step("GET", &format!("{PODS}/p"), Reply::Json(200, pod("p", "3"))),
    ]);
    let client = api.client();
    let started = std::time::Instant::now();
    let result = client.get(&pod_ref(None));
    let waited = started.elapsed();
    api.finish();
    assert!(result.is_ok_and(|p| p.is_some()));
    // The client's own backoff here is 10 ms; the server asked for 1 s.
    assert!(
        waited >= std::time::Duration::from_secs(1),
        "retried after {waited:?}"
    );
}

#[test]
fn persistent_server_errors_give_up_after_five_attempts() {
    let steps = (0..5)
        .map(|_| {
            step(
                "GET",
                &format!("{PODS}/p"),
                failure(500, "InternalError", "boom"),
            )
        })
        .collect();
    let api = FakeApi::start(steps);
    let result = api.client().get(&pod_ref(None));
    api.finish();
    assert!(
        matches!(result, Err(KubeError::Transport(m)) if m.contains("boom") && m.contains("5 attempts"))
    );
}

#[test]
fn list_sends_the_label_selector_and_fills_kind() {
    let list = json!({"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "9"},
        "items": [{"metadata": {"name": "a", "namespace": "t"}}, {"metadata": {"name": "b", "namespace": "u"}}]});
    let api = FakeApi::start(vec![
        step("GET", "/api/v1/pods", Reply::Json(200, list)).check(|r| {
            match r.param("labelSelector") {
                Some("leasebox.dev/lease=l1,app") => Ok(()),
                other => Err(format!("labelSelector {other:?}")),
            }
        }),
    ]);
    let result = api
        .client()
        .list("v1", "Pod", None, "leasebox.dev/lease=l1,app");
    api.finish();
    let items = result.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(items.len(), 2);
    assert!(
        items
            .iter()
            .all(|i| i.contains(r#""kind":"Pod""#) && i.contains(r#""apiVersion":"v1""#))
    );
}

#[test]
fn delete_sends_propagation_grace_and_uid_precondition() {
    let api = FakeApi::start(vec![
        step(
            "DELETE",
            &format!("{PODS}/p"),
            Reply::Json(200, pod("p", "8")),
        )
        .check(|r| {
            let b = &r.body;
            if b["preconditions"]["uid"] != "uid-p"
                || b["propagationPolicy"] != "Foreground"
                || b["gracePeriodSeconds"] != 5
            {
                return Err(format!("body {b}"));
            }
            Ok(())
        }),
    ]);
    let result = api
        .client()
        .delete(&pod_ref(Some("uid-p")), &delete_options(Some("uid-p")));
    api.finish();
    assert_eq!(result, Ok(true));
}

#[test]
fn delete_of_a_missing_object_is_false() {
    let api = FakeApi::start(vec![step(
        "DELETE",
        &format!("{PODS}/p"),
        failure(404, "NotFound", "pods \"p\" not found"),
    )]);
    let result = api.client().delete(&pod_ref(None), &delete_options(None));
    api.finish();
    assert_eq!(result, Ok(false));
}

#[test]
fn delete_with_a_stale_uid_is_a_conflict() {
    let message = "Precondition failed: UID in precondition: uid-old, UID in object meta: uid-new";
    let api = FakeApi::start(vec![step(
        "DELETE",
        &format!("{PODS}/p"),
        failure(409, "Conflict", message),
    )]);
    let result = api
        .client()
        .delete(&pod_ref(Some("uid-old")), &delete_options(Some("uid-old")));
    api.finish();
    assert!(matches!(result, Err(KubeError::Conflict(m)) if m.contains("uid-old")));
}

#[test]
fn unknown_kind_is_discovered_once_and_cached() {
    let resources = json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "example.com/v1",
        "resources": [{"name": "widgets", "singularName": "widget", "namespaced": true, "kind": "Widget", "verbs": ["get", "list"]}]});
    let widget = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "t"}});
    let api = FakeApi::start(vec![
        step("GET", "/apis/example.com/v1", Reply::Json(200, resources)),
        step(
            "GET",
            "/apis/example.com/v1/namespaces/t/widgets/w",
            Reply::Json(200, widget.clone()),
        ),
        step(
            "GET",
            "/apis/example.com/v1/namespaces/t/widgets/w",
            Reply::Json(200, widget),
        ),
    ]);
    let client = api.client();
    let target = ObjectRef {
        api_version: "example.com/v1".into(),
        kind: "Widget".into(),
        namespace: Some("t".into()),
        name: "w".into(),
        uid: None,
    };
    assert!(client.get(&target).is_ok_and(|w| w.is_some()));
    assert!(client.get(&target).is_ok_and(|w| w.is_some()));
    api.finish();
}

#[test]
fn server_version_is_the_git_version() {
    let info = json!({"major": "1", "minor": "20", "gitVersion": "v1.20.2", "gitCommit": "", "gitTreeState": "", "buildDate": "", "goVersion": "", "compiler": "", "platform": ""});
    let api = FakeApi::start(vec![step("GET", "/version", Reply::Json(200, info))]);
    let result = api.client().server_version();
    api.finish();
    assert_eq!(result, Ok("v1.20.2".to_string()));
}

/// A manifest as the `kube` import hands it down.
pub(crate) fn manifest(text: &str) -> Manifest {
    Manifest::parse("apply", text).expect("the test's manifest is JSON")
}
