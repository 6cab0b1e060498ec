//! Warm pools against the in-memory cluster: what `ensure-pool` makes and
//! replaces, and what `claim-lease` binds, writes and undoes.

use serde_json::{Value, json};

use super::{POOL_CONTEXT_LEASE, ensure, pool_context};
use crate::cluster::{KubeError, Level};
use crate::fake_cluster::FakeCluster;
use crate::hooks::DefaultHooks;
use crate::lease::{LeaseRequest, PoolRequest};
use crate::manifests::pool_pod::{LEASE_ENV_FILE, PoolShape};
use crate::names;

const MODULE: &str = "5ca1ab1e";
const NOW: &str = "2026-12-07T10:00:00Z";
const LEASE: &str = "lb-01jd8x7k2m3n4p5q6r7s8t9v0w";
const COMPANY: &str = "acme";

fn config(size: u32) -> String {
    json!({"inCluster": true, "backend": "pod", "warmPool": {"size": size}}).to_string()
}

fn pool_request(size: u32, max_pods: u32) -> PoolRequest {
    PoolRequest {
        config: config(size),
        company_id: COMPANY.into(),
        now: NOW.into(),
        adapter_type: None,
        image_override: None,
        max_pods,
        module_sha256: MODULE.into(),
    }
}

fn lease_request(size: u32) -> LeaseRequest {
    LeaseRequest {
        config: config(size),
        company_id: COMPANY.into(),
        run_id: "run-1".into(),
        lease_id: LEASE.into(),
        now: NOW.into(),
        adapter_type: None,
        image_override: None,
        command: None,
    }
}

fn shape(size: u32) -> (PoolShape, String) {
    let ctx = pool_context(&DefaultHooks, &pool_request(size, 10)).expect("pool context");
    (PoolShape::of(&DefaultHooks, &ctx), ctx.namespace)
}

/// A pool pod as the host leaves it (module mark stamped), ready or not.
fn put_pool_pod(fake: &FakeCluster, index: u32, module: &str, ready: bool) -> Value {
    let (shape, ns) = shape(4);
    let mut pod = shape.pod(&ns, index, "2026-12-08T10:00:00Z");
    pod["metadata"]["annotations"][names::ANNOTATION_MODULE_SHA256] = json!(module);
    pod["status"] = json!({
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
    });
    fake.put(pod)
}

fn pods(fake: &FakeCluster) -> Vec<Value> {
    fake.objects_of_kind("Pod")
}

#[test]
fn ensure_makes_the_configured_number_of_pods_holding_nothing_of_a_lease() {
    let fake = FakeCluster::new();
    let report = ensure(&DefaultHooks, &fake, &pool_request(3, 10)).expect("ensure");
    let (shape, ns) = shape(3);
    assert_eq!(report.pool, shape.pool);
    assert_eq!(
        (report.size, report.created.len(), report.starting),
        (3, 3, 3)
    );
    let made = pods(&fake);
    assert_eq!(made.len(), 3);
    for (i, pod) in made.iter().enumerate() {
        assert_eq!(
            pod["metadata"]["name"],
            names::pool_pod_name(&shape.pool, i as u32)
        );
        assert_eq!(pod["metadata"]["namespace"], ns.as_str());
        assert!(pod["metadata"]["labels"].get(names::LABEL_LEASE).is_none());
        assert!(!pod.to_string().contains("secretRef"));
    }
    // Pool pods are created (a second creator of one name gets a conflict),
    // never applied over a pod that may have been claimed since.
    assert_eq!(fake.calls_of("create").len(), 3, "{:?}", fake.calls());
    assert!(fake.calls_of("apply").iter().all(|c| !c.contains("Pod/")));
}

#[test]
fn ensure_stops_at_the_hosts_cap() {
    let fake = FakeCluster::new();
    let report = ensure(&DefaultHooks, &fake, &pool_request(8, 2)).expect("ensure");
    assert_eq!((report.size, report.created.len()), (2, 2));
    assert_eq!(pods(&fake).len(), 2);
}

#[test]
fn ensure_replaces_pods_of_another_module_and_keeps_its_own() {
    let fake = FakeCluster::new();
    put_pool_pod(&fake, 0, MODULE, true);
    put_pool_pod(&fake, 1, "0ld", true);
    let report = ensure(&DefaultHooks, &fake, &pool_request(2, 10)).expect("ensure");
    let replaced: Vec<&str> = report.replaced.iter().map(|r| r.name.as_str()).collect();
    let (shape, _) = shape(2);
    assert_eq!(replaced, [names::pool_pod_name(&shape.pool, 1)]);
    assert_eq!(report.ready, 1);
    // The stale pod's name stays taken until it is gone: the new pod gets
    // the next free one.
    let created: Vec<&str> = report.created.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(created, [names::pool_pod_name(&shape.pool, 2)]);
}

#[test]
fn a_configuration_without_a_pool_ensures_nothing() {
    let fake = FakeCluster::new();
    let mut request = pool_request(0, 10);
    request.config = json!({"inCluster": true, "backend": "sandbox-cr"}).to_string();
    let report = ensure(&DefaultHooks, &fake, &request).expect("ensure");
    assert_eq!((report.pool.as_str(), report.size), ("", 0));
    assert!(fake.calls().is_empty(), "{:?}", fake.calls());
}

#[test]
fn a_configuration_without_warm_pool_leaves_a_pool_of_its_adapter_and_image_alone() {
    let fake = FakeCluster::new();
    put_pool_pod(&fake, 0, MODULE, true);
    let mut request = pool_request(0, 10);
    request.config = json!({"inCluster": true, "backend": "pod"}).to_string();
    let report = ensure(&DefaultHooks, &fake, &request).expect("ensure");
    assert_eq!((report.pool.as_str(), report.size), ("", 0));
    assert!(fake.calls_of("delete").is_empty(), "{:?}", fake.calls());
    // warmPool.size 0 is asked for: it empties the pool.
    let report = ensure(&DefaultHooks, &fake, &pool_request(0, 10)).expect("ensure");
    assert_eq!(report.replaced.len(), 1);
}

#[test]
fn a_leases_pool_context_builds_the_pool_ensure_pool_builds() {
    let lease = crate::plan::context_with(&DefaultHooks, &lease_request(2)).expect("context");
    let derived = PoolShape::of(&DefaultHooks, &super::pool_context_of(&lease));
    let (resolved, _) = shape(2);
    assert_eq!(derived, resolved);
    assert_eq!(
        derived.pod("ns", 0, "2026-12-08T10:00:00Z"),
        resolved.pod("ns", 0, "2026-12-08T10:00:00Z")
    );
}

#[test]
fn the_pool_context_lease_id_is_well_formed() {
    assert!(names::check_lease_id(POOL_CONTEXT_LEASE).is_ok());
}

#[test]
fn sweep_deletes_unclaimed_pool_pods_idle_past_their_deadline_only() {
    let fake = FakeCluster::new();
    put_pool_pod(&fake, 0, MODULE, true);
    let mut claimed = put_pool_pod(&fake, 1, MODULE, true);
    claimed["metadata"]["labels"][names::LABEL_LEASE] = json!(LEASE);
    fake.put(claimed);
    let before = crate::time::parse("2026-12-08T09:59:59Z").expect("time");
    assert!(
        super::sweep_idle(&fake, before, None)
            .expect("sweep")
            .is_empty()
    );
    let after = crate::time::parse("2026-12-08T10:00:00Z").expect("time");
    let deleted = super::sweep_idle(&fake, after, None).expect("sweep");
    let (shape, _) = shape(2);
    let names: Vec<&str> = deleted.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [names::pool_pod_name(&shape.pool, 0)],
        "the claimed pod is its lease's"
    );
}

#[test]
fn an_idle_pod_past_its_deadline_is_stale_and_never_claimed() {
    let fake = FakeCluster::new();
    put_pool_pod(&fake, 0, MODULE, true);
    let mut late = lease_request(2);
    late.now = "2026-12-08T10:00:01Z".into();
    let claimed =
        crate::lifecycle::claim::claim(&DefaultHooks, &fake, &late, MODULE).expect("claim");
    assert!(claimed.is_none());
}

mod claim {
    use super::*;
    use crate::lifecycle::claim::claim;

    #[test]
    fn an_empty_pool_is_none_and_writes_nothing() {
        let fake = FakeCluster::new();
        put_pool_pod(&fake, 0, MODULE, false);
        let claimed = claim(&DefaultHooks, &fake, &lease_request(2), MODULE).expect("claim");
        assert!(claimed.is_none());
        assert!(fake.calls_of("apply").is_empty(), "{:?}", fake.calls());
    }

    #[test]
    fn a_pod_of_another_module_is_never_handed_out() {
        let fake = FakeCluster::new();
        put_pool_pod(&fake, 0, "0ld", true);
        let claimed = claim(&DefaultHooks, &fake, &lease_request(2), MODULE).expect("claim");
        assert!(claimed.is_none());
    }

    #[test]
    fn a_claim_binds_a_ready_pod_then_writes_the_secret_the_egress_and_hands_it_over() {
        let fake = FakeCluster::new();
        put_pool_pod(&fake, 0, MODULE, true);
        let lease = claim(&DefaultHooks, &fake, &lease_request(2), MODULE)
            .expect("claim")
            .expect("a warm lease");
        let (shape, ns) = shape(2);
        let pod_name = names::pool_pod_name(&shape.pool, 0);
        assert_eq!(
            (lease.id.as_str(), lease.pod.as_str()),
            (LEASE, pod_name.as_str())
        );
        assert_eq!(lease.secret, names::secret_name(LEASE));
        let pod = fake.object("Pod", Some(&ns), &pod_name).expect("pod");
        let labels = &pod["metadata"]["labels"];
        assert_eq!(labels[names::LABEL_LEASE], LEASE);
        assert_eq!(labels[names::LABEL_ROLE], names::ROLE_AGENT);
        assert!(pod["metadata"]["annotations"][names::ANNOTATION_EXPIRES_AT].is_string());
        assert!(
            pod["spec"]["containers"].is_array(),
            "the bind kept the spec"
        );
        let order: Vec<String> = fake
            .calls()
            .into_iter()
            .filter(|c| c.starts_with("apply") || c.starts_with("hand over"))
            .collect();
        assert_eq!(order.len(), 4, "{order:?}");
        assert!(
            order[0].starts_with(&format!("apply Pod/{ns}/{pod_name}")),
            "{order:?}"
        );
        assert!(order[1].starts_with("apply Secret/"), "{order:?}");
        assert!(order[2].starts_with("apply NetworkPolicy/"), "{order:?}");
        assert!(order[3].ends_with(LEASE_ENV_FILE), "{order:?}");
        let secret = fake
            .object("Secret", Some(&ns), &lease.secret)
            .expect("secret");
        assert_eq!(
            secret["metadata"]["ownerReferences"][0]["name"],
            pod_name.as_str()
        );
    }

    #[test]
    fn a_pod_written_since_the_list_is_skipped_for_the_next() {
        let fake = FakeCluster::new();
        put_pool_pod(&fake, 0, MODULE, true);
        put_pool_pod(&fake, 1, MODULE, true);
        // Every bind conflicts, as when other claimers won each pod.
        fake.fail_on("apply", "Pod", KubeError::Conflict("modified".into()));
        let claimed = claim(&DefaultHooks, &fake, &lease_request(2), MODULE).expect("claim");
        assert!(claimed.is_none(), "every pod lost: cold");
        assert_eq!(fake.calls_of("apply").len(), 2, "each ready pod tried once");
        assert!(fake.calls_of("hand").is_empty());
    }

    #[test]
    fn a_stale_resource_version_is_a_conflict_in_the_store_too() {
        let fake = FakeCluster::new();
        let pod = put_pool_pod(&fake, 0, MODULE, true);
        let mut rebind =
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": pod["metadata"].clone()});
        rebind["metadata"]["resourceVersion"] = json!("not-the-current-one");
        let err = crate::cluster::Cluster::apply(&fake, &rebind).expect_err("conflict");
        assert!(matches!(err, KubeError::Conflict(_)), "{err:?}");
    }

    #[test]
    fn a_failed_hand_over_deletes_the_pod_and_the_leases_objects() {
        let fake = FakeCluster::new();
        put_pool_pod(&fake, 0, MODULE, true);
        fake.fail_on("hand-over", "Secret", KubeError::TimedOut("exec".into()));
        let err = claim(&DefaultHooks, &fake, &lease_request(2), MODULE).expect_err("fails");
        assert!(
            err.describe().contains("hand-over-secret"),
            "{}",
            err.describe()
        );
        let deleted: Vec<String> = fake.deletes().iter().map(|(t, _)| t.kind.clone()).collect();
        for kind in ["Pod", "Secret", "NetworkPolicy"] {
            assert!(
                deleted.iter().any(|k| k == kind),
                "{kind} not deleted: {deleted:?}"
            );
        }
        assert!(
            fake.messages()
                .iter()
                .any(|(l, _, m)| *l == Level::Error && m.contains("deleting pool pod"))
        );
    }
}
