//! Warm pools through the guard, as a hostile module would try them: pool
//! pods made outside `ensure-pool`, beyond the cap, holding a Secret;
//! claims of another module's, another company's or an already-claimed
//! pod, claims that write more than metadata or carry no version; deletes
//! of a lease's pod by `ensure-pool`; exec into an unclaimed pod; and the
//! sweep of idle pool pods.

use super::*;

/// The calling module's SHA-256 (the audit of [`unscoped_over`]).
const MODULE: &str = "f00d";

/// A pool pod of [`TENANT`]'s pool `p` named `name`, unclaimed, made by
/// `module`, with `extra` merged into its metadata.
fn pool_pod(name: &str, module: &str, extra: Value) -> Value {
    merged(
        json!({"apiVersion":"v1","kind":"Pod","metadata":{
            "name": name, "namespace": TENANT, "resourceVersion": "7",
            "labels": {"app.kubernetes.io/managed-by":"leasebox", "leasebox.dev/pool":"p"},
            "annotations": {COMPANY_ANNOTATION: COMPANY, MODULE_ANNOTATION: module},
        },"spec": pod_spec()}),
        &json!({ "metadata": extra }),
    )
}

/// The manifest `ensure-pool` creates: a pool pod of the profile.
fn new_pool_pod(name: &str) -> Value {
    json!({"apiVersion":"v1","kind":"Pod","metadata":{
        "name": name, "namespace": TENANT, "labels": {"leasebox.dev/pool":"p"}},
        "spec": pod_spec()})
}

/// The guard of `ensure-pool` for acme with room for `max` pods.
fn pool_guard(store: Arc<Store>, max: u32) -> GuardedCluster {
    unscoped_over(store).for_call(&CallScope::pool(COMPANY, max))
}

/// A claim of pod `name` read at `version`.
fn claim(name: &str, version: &str) -> Value {
    json!({"apiVersion":"v1","kind":"Pod","metadata":{
        "name": name, "namespace": TENANT, "resourceVersion": version,
        "labels": {"leasebox.dev/role": "agent"}}})
}

fn create(guard: &GuardedCluster, manifest: Value) -> Result<String, KubeError> {
    guard.create(Manifest::from_value(manifest))
}

fn apply(guard: &GuardedCluster, manifest: Value) -> Result<String, KubeError> {
    guard.apply(Manifest::from_value(manifest))
}

fn pod_ref(name: &str) -> ObjectRef {
    ObjectRef {
        api_version: "v1".into(),
        kind: "Pod".into(),
        namespace: Some(TENANT.into()),
        name: name.into(),
        uid: None,
    }
}

fn delete_options() -> DeleteOptions {
    DeleteOptions {
        propagation: Propagation::Background,
        precondition_uid: None,
        grace_period_seconds: Some(0),
    }
}

#[test]
fn ensure_pool_creates_a_pool_pod_stamped_with_the_company_and_module_and_no_lease() {
    let store = store();
    let made = create(&pool_guard(store.clone(), 2), new_pool_pod("pool-p-0"));
    assert!(made.is_ok(), "{made:?}");
    let stored = store
        .find("Pod", Some(TENANT), "pool-p-0")
        .expect("created");
    assert_eq!(stored["metadata"]["annotations"][MODULE_ANNOTATION], MODULE);
    assert_eq!(
        stored["metadata"]["annotations"][COMPANY_ANNOTATION],
        COMPANY
    );
    assert!(stored["metadata"]["labels"].get(LEASE_LABEL).is_none());
}

#[rstest]
#[case::a_lease_call_creates_no_pod(acquire_scope())]
#[case::a_company_call_without_a_pool_creates_no_pod(CallScope::company(COMPANY))]
fn a_pod_is_created_only_by_ensure_pool(#[case] scope: CallScope) {
    let guard = unscoped().for_call(&scope);
    assert_eq!(
        verdict(create(&guard, new_pool_pod("pool-p-0"))),
        "pool-cap"
    );
}

#[test]
fn a_pod_without_the_pool_label_is_not_created() {
    let mut pod = new_pool_pod("x");
    pod["metadata"]["labels"] = json!({});
    assert_eq!(verdict(create(&pool_guard(store(), 2), pod)), "pool-cap");
}

#[test]
fn a_pool_pod_beyond_the_cap_is_refused() {
    let store = store();
    let guard = pool_guard(store.clone(), 2);
    assert_eq!(verdict(create(&guard, new_pool_pod("pool-p-0"))), "passed");
    assert_eq!(verdict(create(&guard, new_pool_pod("pool-p-1"))), "passed");
    assert_eq!(
        verdict(create(&guard, new_pool_pod("pool-p-2"))),
        "pool-cap"
    );
    // A claimed pod no longer counts against the cap.
    let mut claimed = store.find("Pod", Some(TENANT), "pool-p-0").expect("made");
    claimed["metadata"]["labels"][LEASE_LABEL] = json!(LEASE);
    store.put(claimed);
    assert_eq!(verdict(create(&guard, new_pool_pod("pool-p-2"))), "passed");
}

#[rstest]
#[case::env_from_a_secret(json!({"containers":[merged(container(), &json!({"envFrom":[{"secretRef":{"name":format!("{LEASE}-env")}}]}))]}))]
#[case::a_secret_volume(json!({"volumes":[{"name":"s","secret":{"secretName":format!("{LEASE}-env")}}]}))]
fn a_pool_pod_references_no_secret_at_all(#[case] patch: Value) {
    let mut pod = new_pool_pod("pool-p-0");
    pod["spec"] = merged(pod_spec(), &patch);
    assert_eq!(
        verdict(create(&pool_guard(store(), 2), pod)),
        "pod-secret-ref"
    );
}

#[test]
fn a_pool_pod_cannot_be_named_for_a_lease_or_carry_a_lease_mark() {
    let guard = pool_guard(store(), 2);
    assert_eq!(verdict(create(&guard, new_pool_pod(LEASE))), "lease-scope");
    let mut marked = new_pool_pod("pool-p-0");
    marked["metadata"]["labels"][LEASE_LABEL] = json!(LEASE);
    assert_eq!(verdict(create(&guard, marked)), "identity-mark");
}

#[test]
fn a_pool_pod_is_not_created_in_another_companys_tenant() {
    let mut pod = new_pool_pod("pool-p-0");
    pod["metadata"]["namespace"] = json!(OTHER_TENANT);
    assert_eq!(
        verdict(create(&pool_guard(store(), 2), pod)),
        "tenant-company"
    );
}

#[test]
fn a_claim_binds_an_unclaimed_pool_pod_of_the_module_and_stamps_the_lease() {
    let store = store();
    store.put(pool_pod("pool-p-0", MODULE, json!({})));
    let bound = apply(&guard_over(store.clone()), claim("pool-p-0", "7"));
    assert!(bound.is_ok(), "{bound:?}");
    let applied: Value = serde_json::from_str(&bound.expect("applied")).expect("JSON");
    assert_eq!(applied["metadata"]["labels"][LEASE_LABEL], LEASE);
    assert_eq!(
        applied["metadata"]["annotations"][MODULE_ANNOTATION],
        MODULE
    );
}

#[rstest]
#[case::another_modules_pod(pool_pod("pool-p-0", "0ld", json!({})), claim("pool-p-0", "7"), "pool-claim")]
#[case::a_claimed_pod(pool_pod("pool-p-0", MODULE, json!({"labels":{LEASE_LABEL: OTHER_LEASE}})), claim("pool-p-0", "7"), "pool-claim")]
#[case::a_pod_being_deleted(pool_pod("pool-p-0", MODULE, json!({"deletionTimestamp":"2026-12-07T00:00:00Z"})), claim("pool-p-0", "7"), "pool-claim")]
#[case::a_pod_that_is_no_pool_pod(json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"plain","namespace":TENANT,"resourceVersion":"7"}}), claim("plain", "7"), "pool-claim")]
#[case::no_version(pool_pod("pool-p-0", MODULE, json!({})), json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"pool-p-0","namespace":TENANT}}), "pool-claim")]
#[case::more_than_metadata(pool_pod("pool-p-0", MODULE, json!({})), merged(claim("pool-p-0", "7"), &json!({"status":{"phase":"Running"}})), "pool-claim")]
#[case::owner_references(pool_pod("pool-p-0", MODULE, json!({})), merged(claim("pool-p-0", "7"), &json!({"metadata":{"ownerReferences":[]}})), "pool-claim")]
#[case::another_lease_mark(pool_pod("pool-p-0", MODULE, json!({})), merged(claim("pool-p-0", "7"), &json!({"metadata":{"labels":{LEASE_LABEL: OTHER_LEASE}}})), "identity-mark")]
fn a_claim_that_is_not_a_fair_bind_is_refused(
    #[case] live: Value,
    #[case] manifest: Value,
    #[case] rule: &str,
) {
    let store = store();
    store.put(live);
    assert_eq!(verdict(apply(&guard_over(store), manifest)), rule);
}

#[test]
fn a_claim_of_a_pod_written_since_it_was_read_is_a_conflict_not_a_refusal() {
    let store = store();
    store.put(pool_pod(
        "pool-p-0",
        MODULE,
        json!({"resourceVersion": "8"}),
    ));
    let guard = guard_over(store);
    let answer = apply(&guard, claim("pool-p-0", "7"));
    assert!(matches!(answer, Err(KubeError::Conflict(_))), "{answer:?}");
    assert_eq!(guard.denials().total(), 0);
}

#[test]
fn a_claim_in_another_companys_tenant_is_refused() {
    let store = store();
    let mut other = pool_pod("pool-p-0", MODULE, json!({}));
    other["metadata"]["namespace"] = json!(OTHER_TENANT);
    store.put(other);
    let mut manifest = claim("pool-p-0", "7");
    manifest["metadata"]["namespace"] = json!(OTHER_TENANT);
    assert_eq!(
        verdict(apply(&guard_over(store), manifest)),
        "tenant-company"
    );
}

#[test]
fn ensure_pool_deletes_unclaimed_pool_pods_only() {
    let store = store();
    store.put(pool_pod("pool-p-0", MODULE, json!({})));
    store.put(pool_pod(
        "pool-p-1",
        MODULE,
        json!({"labels":{LEASE_LABEL: LEASE}}),
    ));
    let guard = pool_guard(store, 2);
    let delete = |name: &str| verdict(guard.delete(&pod_ref(name), &delete_options()));
    assert_eq!(delete("pool-p-0"), "passed");
    assert_eq!(
        delete("pool-p-1"),
        "pool-claim",
        "a claimed pod is its lease's"
    );
    assert_eq!(delete("plain"), "pool-claim");
}

#[test]
fn exec_into_an_unclaimed_pool_pod_is_refused_naming_it() {
    let store = store();
    store.put(pool_pod("pool-p-0", MODULE, json!({})));
    let spec = ExecSpec {
        namespace: TENANT.into(),
        pod: "pool-p-0".into(),
        container: "agent".into(),
        argv: vec!["env".into()],
        stdin: false,
        forward_output: true,
        forward_stdin: false,
        frame_stdin: false,
        tty: None,
        max_stdout_bytes: None,
        max_stderr_bytes: None,
    };
    for guard in [guard_over(store.clone()), pool_guard(store.clone(), 2)] {
        let answer = guard.exec(&spec, &CallerIo::none());
        match answer {
            Err(KubeError::Denied(denial)) => {
                assert_eq!(denial.rule, "exec-target");
                assert!(
                    denial.message.contains("unclaimed pod of warm pool"),
                    "{}",
                    denial.message
                );
            }
            other => panic!("not refused: {:?}", other.map(|_| ())),
        }
    }
}

#[test]
fn a_sweep_deletes_an_unclaimed_pool_pod_only_once_idle_past_its_deadline() {
    let store = store();
    let deadline = json!({"annotations": {"leasebox.dev/expires-at": "2026-12-07T10:00:00Z"}});
    store.put(pool_pod("pool-p-0", MODULE, deadline));
    let sweep = |now: &str| {
        let guard =
            unscoped_over(store.clone()).for_call(&CallScope::sweep(now.parse().expect("time")));
        verdict(guard.delete(&pod_ref("pool-p-0"), &delete_options()))
    };
    assert_eq!(sweep("2026-12-07T09:59:59Z"), "lease-scope");
    assert_eq!(sweep("2026-12-07T10:00:00Z"), "passed");
}

#[test]
fn the_pool_budget_leaves_room_only_within_both_caps() {
    let store = store();
    for i in 0..3 {
        store.put(pool_pod(&format!("pool-p-{i}"), MODULE, json!({})));
    }
    let mut theirs = pool_pod("pool-g-0", MODULE, json!({}));
    theirs["metadata"]["namespace"] = json!(OTHER_TENANT);
    theirs["metadata"]["annotations"][COMPANY_ANNOTATION] = json!("globex");
    store.put(theirs);
    let guard = unscoped_over(store);
    let pools = |max_per_tenant, max_total| crate::settings::PoolSettings {
        max_per_tenant,
        max_total,
    };
    let budget = |p| guard.pool_budget(COMPANY, &p).expect("budget");
    assert_eq!(budget(pools(0, 0)), 0, "pools off");
    assert_eq!(budget(pools(8, 100)), 8, "the tenant's own cap");
    assert_eq!(budget(pools(8, 5)), 4, "the total less globex's one pod");
    assert_eq!(budget(pools(8, 1)), 0, "nothing left of the total");
}
