//! Leader election on the wire: the requests an [`Elector`] round makes on
//! the `coordination.k8s.io/v1` Lease, and what it concludes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use leasebox::serve::leader::{Elector, Leadership};
use leasebox::settings::LeaderSettings;
use serde_json::{Value, json};

use crate::fake_api::{FakeApi, Reply, failure, step};

const LEASES: &str = "/apis/coordination.k8s.io/v1/namespaces/leasebox-system/leases";

fn lease_path() -> String {
    format!("{LEASES}/leasebox-sweep")
}

fn settings() -> LeaderSettings {
    LeaderSettings {
        namespace: "leasebox-system".into(),
        lease_name: "leasebox-sweep".into(),
        lease_duration: Duration::from_secs(15),
    }
}

fn elector(api: &FakeApi, identity: &str) -> Elector {
    Elector::new(Arc::new(api.client()), settings(), identity.into())
}

/// The Lease as the API server returns it.
fn lease(holder: Option<&str>, rv: &str, transitions: i32) -> Value {
    json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "leasebox-sweep", "namespace": "leasebox-system", "resourceVersion": rv},
        "spec": {
            "holderIdentity": holder, "leaseDurationSeconds": 15, "leaseTransitions": transitions,
            "acquireTime": "2026-11-30T10:00:00.000000Z", "renewTime": "2026-11-30T10:00:05.000000Z"
        }
    })
}

/// A check that the written Lease names `holder`, with the resourceVersion
/// read and `transitions` transitions.
fn writes(
    holder: &'static str,
    rv: &'static str,
    transitions: i64,
) -> impl Fn(&crate::fake_api::Seen) -> Result<(), String> {
    move |r| {
        let spec = &r.body["spec"];
        if spec["holderIdentity"] != holder
            || r.body["metadata"]["resourceVersion"] != rv
            || spec["leaseTransitions"] != transitions
            || spec["leaseDurationSeconds"] != 15
            || !spec["renewTime"].is_string()
        {
            return Err(format!("body {}", r.body));
        }
        Ok(())
    }
}

#[test]
fn first_replica_creates_the_lease_and_leads() {
    let api = FakeApi::start(vec![
        step(
            "GET",
            &lease_path(),
            failure(404, "NotFound", "leases \"leasebox-sweep\" not found"),
        ),
        step("POST", LEASES, Reply::Json(201, lease(Some("a"), "1", 0))).check(|r| {
            let spec = &r.body["spec"];
            if spec["holderIdentity"] != "a"
                || spec["leaseTransitions"] != 0
                || r.body["metadata"]["name"] != "leasebox-sweep"
            {
                return Err(format!("body {}", r.body));
            }
            Ok(())
        }),
    ]);
    let mut a = elector(&api, "a");
    let now = Instant::now();
    assert_eq!(a.round(now), Ok(Leadership::Leading));
    assert!(a.leading(now));
    api.finish();
}

#[test]
fn holder_renews_with_the_resource_version_it_read() {
    let api = FakeApi::start(vec![
        step(
            "GET",
            &lease_path(),
            Reply::Json(200, lease(Some("a"), "5", 2)),
        ),
        step(
            "PUT",
            &lease_path(),
            Reply::Json(200, lease(Some("a"), "6", 2)),
        )
        .check(writes("a", "5", 2)),
    ]);
    let mut a = elector(&api, "a");
    assert_eq!(a.round(Instant::now()), Ok(Leadership::Leading));
    api.finish();
}

#[test]
fn live_holder_is_followed_and_a_silent_one_taken_over_after_a_lease_duration() {
    let api = FakeApi::start(vec![
        step(
            "GET",
            &lease_path(),
            Reply::Json(200, lease(Some("a"), "5", 0)),
        ),
        step(
            "GET",
            &lease_path(),
            Reply::Json(200, lease(Some("a"), "5", 0)),
        ),
        step(
            "GET",
            &lease_path(),
            Reply::Json(200, lease(Some("a"), "5", 0)),
        ),
        step(
            "PUT",
            &lease_path(),
            Reply::Json(200, lease(Some("b"), "7", 1)),
        )
        .check(writes("b", "5", 1)),
    ]);
    let mut b = elector(&api, "b");
    let t0 = Instant::now();
    let following = Ok(Leadership::Following { holder: "a".into() });
    assert_eq!(b.round(t0), following);
    // Unchanged for less than the duration: still followed.
    assert_eq!(b.round(t0 + Duration::from_secs(14)), following);
    assert!(!b.leading(t0 + Duration::from_secs(14)));
    // Unchanged for the whole duration: taken over.
    assert_eq!(
        b.round(t0 + Duration::from_secs(15)),
        Ok(Leadership::Leading)
    );
    api.finish();
}

#[test]
fn holder_that_keeps_renewing_is_never_taken_over() {
    let api = FakeApi::start(vec![
        step(
            "GET",
            &lease_path(),
            Reply::Json(200, lease(Some("a"), "5", 0)),
        ),
        step(
            "GET",
            &lease_path(),
            Reply::Json(200, lease(Some("a"), "6", 0)),
        ),
        step(
            "GET",
            &lease_path(),
            Reply::Json(200, lease(Some("a"), "7", 0)),
        ),
    ]);
    let mut b = elector(&api, "b");
    let t0 = Instant::now();
    let following = Ok(Leadership::Following { holder: "a".into() });
    assert_eq!(b.round(t0), following);
    assert_eq!(b.round(t0 + Duration::from_secs(10)), following);
    // 20 s after the first look, but only 10 s after the last change.
    assert_eq!(b.round(t0 + Duration::from_secs(20)), following);
    api.finish();
}

#[test]
fn released_lease_is_taken_at_once_and_a_lost_race_is_not_an_error() {
    let api = FakeApi::start(vec![
        step("GET", &lease_path(), Reply::Json(200, lease(None, "8", 3))),
        step(
            "PUT",
            &lease_path(),
            failure(409, "Conflict", "the object has been modified"),
        ),
    ]);
    let mut b = elector(&api, "b");
    let now = Instant::now();
    let round = b.round(now);
    assert!(
        matches!(round, Ok(Leadership::Following { .. })),
        "{round:?}"
    );
    assert!(!b.leading(now));
    api.finish();
}

#[test]
fn holder_that_stops_renewing_stops_counting_itself_leader() {
    let api = FakeApi::start(vec![
        step(
            "GET",
            &lease_path(),
            Reply::Json(200, lease(Some("a"), "5", 0)),
        ),
        step(
            "PUT",
            &lease_path(),
            Reply::Json(200, lease(Some("a"), "6", 0)),
        ),
        step("GET", &lease_path(), failure(403, "Forbidden", "no")),
    ]);
    let mut a = elector(&api, "a");
    let t0 = Instant::now();
    assert_eq!(a.round(t0), Ok(Leadership::Leading));
    let later = t0 + Duration::from_secs(15);
    assert!(a.round(later).is_err());
    assert!(!a.leading(later));
    api.finish();
}

#[test]
fn release_clears_the_holder_so_the_next_replica_need_not_wait() {
    let api = FakeApi::start(vec![
        step(
            "GET",
            &lease_path(),
            Reply::Json(200, lease(Some("a"), "5", 0)),
        ),
        step(
            "PUT",
            &lease_path(),
            Reply::Json(200, lease(Some("a"), "6", 0)),
        ),
        step(
            "GET",
            &lease_path(),
            Reply::Json(200, lease(Some("a"), "6", 0)),
        ),
        step("PUT", &lease_path(), Reply::Json(200, lease(None, "7", 0))).check(|r| {
            if !r.body["spec"]["holderIdentity"].is_null()
                || r.body["metadata"]["resourceVersion"] != "6"
            {
                return Err(format!("body {}", r.body));
            }
            Ok(())
        }),
    ]);
    let mut a = elector(&api, "a");
    let now = Instant::now();
    assert_eq!(a.round(now), Ok(Leadership::Leading));
    assert_eq!(a.release(), Ok(()));
    assert!(!a.leading(now));
    api.finish();
}
