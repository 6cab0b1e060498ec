//! `hand-over-secret`: a lease's own Secret, into its own pod, into a
//! writable memory-backed `emptyDir` of the container; everything else is
//! refused before it reaches the cluster.

use super::*;

/// Another lease's pod and Secret, in company acme's own namespace.
const OTHER_POD: &str = "lb-01jd8x7k2m3n4p5q6r7s8t9yyy";

/// Leasebox's ownership label and the lease label of `lease`.
fn labels(lease: &str) -> Value {
    json!({"app.kubernetes.io/managed-by": "leasebox", "leasebox.dev/lease": lease})
}

/// A lease pod whose container `agent` mounts: a memory `emptyDir` at
/// `/run/leasebox` (the hand-over's place), a read-only one at `/run/ro`,
/// one through a subPath at `/run/sub`, a disk `emptyDir` at `/work`, and
/// a claim at `/run/leasebox/disk`, below the memory one.
fn lease_pod(name: &str, lease: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": TENANT, "labels": labels(lease)},
        "spec": {
            "containers": [{
                "name": "agent", "image": "busybox",
                "volumeMounts": [
                    {"name": "env", "mountPath": "/run/leasebox"},
                    {"name": "ro", "mountPath": "/run/ro", "readOnly": true},
                    {"name": "sub", "mountPath": "/run/sub", "subPath": "x"},
                    {"name": "disk", "mountPath": "/work"},
                    {"name": "claim", "mountPath": "/run/leasebox/disk"},
                ],
            }],
            "initContainers": [{"name": "init", "image": "busybox"}],
            "volumes": [
                {"name": "env", "emptyDir": {"medium": "Memory", "sizeLimit": "2Mi"}},
                {"name": "ro", "emptyDir": {"medium": "Memory"}},
                {"name": "sub", "emptyDir": {"medium": "Memory"}},
                {"name": "disk", "emptyDir": {}},
                {"name": "claim", "persistentVolumeClaim": {"claimName": format!("{name}-workspace")}},
            ],
        },
    })
}

fn lease_secret(lease: &str) -> Value {
    json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":format!("{lease}-env"),"namespace":TENANT,"labels":labels(lease)}})
}

/// The shared store, with [`LEASE`]'s pod and Secret as a claim leaves
/// them, and another lease's pod and Secret beside them.
fn hand_over_store() -> Arc<Store> {
    let store = store();
    store.put(lease_pod(LEASE, LEASE));
    store.put(lease_secret(LEASE));
    store.put(lease_pod(OTHER_POD, OTHER_POD));
    store.put(lease_secret(OTHER_POD));
    store
}

/// The hand-over a claim of [`LEASE`] makes.
fn request() -> HandOverRequest {
    HandOverRequest {
        namespace: TENANT.into(),
        secret: format!("{LEASE}-env"),
        pod: LEASE.into(),
        container: "agent".into(),
        path: "/run/leasebox/lease.env".into(),
    }
}

#[test]
fn the_leases_secret_into_its_pods_memory_dir_reaches_the_cluster() {
    let store = hand_over_store();
    let guard = guard_over(store.clone());
    assert_eq!(verdict(guard.hand_over_secret(&request())), "passed");
    assert_eq!(*lock(&store.hand_overs), [request()]);
}

#[rstest]
#[case::another_leases_pod(HandOverRequest { pod: OTHER_POD.into(), ..request() }, "hand-over-target")]
#[case::another_leases_secret(HandOverRequest { secret: format!("{OTHER_POD}-env"), ..request() }, "hand-over-target")]
#[case::a_missing_secret(HandOverRequest { secret: "lb-gone-env".into(), ..request() }, "hand-over-target")]
#[case::a_pod_without_lease_labels(HandOverRequest { pod: "plain".into(), ..request() }, "hand-over-target")]
#[case::a_path_on_a_disk_empty_dir(HandOverRequest { path: "/work/lease.env".into(), ..request() }, "hand-over-target")]
#[case::a_path_in_no_mount(HandOverRequest { path: "/tmp/lease.env".into(), ..request() }, "hand-over-target")]
#[case::a_path_in_a_claim_below_the_memory_dir(HandOverRequest { path: "/run/leasebox/disk/lease.env".into(), ..request() }, "hand-over-target")]
#[case::a_read_only_mount(HandOverRequest { path: "/run/ro/lease.env".into(), ..request() }, "hand-over-target")]
#[case::a_sub_path_mount(HandOverRequest { path: "/run/sub/lease.env".into(), ..request() }, "hand-over-target")]
#[case::a_dot_dot_path(HandOverRequest { path: "/run/leasebox/../../etc/profile".into(), ..request() }, "hand-over-target")]
#[case::the_mount_point_itself(HandOverRequest { path: "/run/leasebox".into(), ..request() }, "hand-over-target")]
#[case::an_init_container(HandOverRequest { container: "init".into(), ..request() }, "hand-over-target")]
#[case::kube_system(HandOverRequest { namespace: "kube-system".into(), ..request() }, "fence-system")]
#[case::another_companys_namespace(HandOverRequest { namespace: OTHER_TENANT.into(), pod: OTHER_LEASE.into(), secret: format!("{OTHER_LEASE}-env"), ..request() }, "tenant-company")]
fn a_hand_over_anywhere_else_is_refused(#[case] request: HandOverRequest, #[case] rule: &str) {
    let store = hand_over_store();
    let guard = guard_over(store.clone());
    assert_eq!(verdict(guard.hand_over_secret(&request)), rule);
    assert!(lock(&store.hand_overs).is_empty());
}

#[rstest]
#[case::about_no_lease(CallScope::company(COMPANY))]
#[case::for_no_company(CallScope::lease(LEASE))]
#[case::a_sweep(sweep())]
fn a_call_that_is_not_a_leases_acquire_hands_nothing_over(#[case] scope: CallScope) {
    let store = hand_over_store();
    let guard = unscoped_over(store.clone()).for_call(&scope);
    assert_eq!(verdict(guard.hand_over_secret(&request())), "lease-scope");
    assert!(lock(&store.hand_overs).is_empty());
}

#[test]
fn a_refused_path_names_the_field_and_the_fix() {
    let refused = HandOverRequest {
        path: "/work/lease.env".into(),
        ..request()
    };
    let Err(KubeError::Denied(Denial { rule, message })) =
        guard_over(hand_over_store()).hand_over_secret(&refused)
    else {
        panic!("refused");
    };
    assert_eq!(rule, "hand-over-target");
    assert!(message.contains("`path` `/work/lease.env`"), "{message}");
    assert!(message.contains("medium: Memory"), "{message}");
}
