//! Tenant namespaces: made with the host's marks, then trusted; another
//! company's, an unmarked one and one outside the fence are refused.

use super::*;

#[test]
fn object_in_missing_namespace_is_not_found_not_written() {
    let manifest = json!({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"a","namespace":"leasebox-new"}});
    assert!(matches!(
        guard().apply(Manifest::from_value(manifest)),
        Err(KubeError::NotFound(m)) if m.contains("leasebox-new")
    ));
}

#[test]
fn new_namespace_is_created_with_the_host_marks_then_trusted() {
    let store = store();
    let guard = guard_over(store.clone());
    let manifest = json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"leasebox-new","labels":{"team":"a"}}});
    assert_eq!(
        verdict(guard.apply(Manifest::from_value(manifest))),
        "passed"
    );
    let stored = store
        .find("Namespace", None, "leasebox-new")
        .expect("created");
    assert_eq!(
        stored["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "leasebox"
    );
    assert_eq!(
        stored["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "restricted"
    );
    assert_eq!(
        stored["metadata"]["annotations"][COMPANY_ANNOTATION],
        COMPANY
    );
    let inside = json!({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"a","namespace":"leasebox-new"}});
    assert_eq!(verdict(guard.apply(Manifest::from_value(inside))), "passed");
}

#[rstest]
#[case::ownership_label_of_someone_else(json!({"app.kubernetes.io/managed-by":"someone-else"}))]
#[case::privileged_pod_security(json!({"pod-security.kubernetes.io/enforce":"privileged"}))]
#[case::pod_security_exemption_version(json!({"pod-security.kubernetes.io/enforce-version":"v1.0"}))]
fn a_namespace_with_a_mark_of_the_modules_own_is_refused(#[case] labels: Value) {
    let manifest = json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"leasebox-new","labels":labels}});
    assert_eq!(
        verdict(guard().apply(Manifest::from_value(manifest))),
        "identity-mark"
    );
}

#[test]
fn a_namespace_of_the_same_slug_for_another_company_id_is_refused() {
    let guard = unscoped().for_call(&CallScope::company("ACME"));
    let manifest = json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":TENANT}});
    assert_eq!(
        verdict(guard.apply(Manifest::from_value(manifest))),
        "tenant-company"
    );
}

#[test]
fn an_owned_namespace_without_a_company_mark_is_refused_with_the_fix() {
    let store = store();
    store.put(json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"leasebox-old","labels":{"app.kubernetes.io/managed-by":"leasebox"}}}));
    let manifest = json!({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"a","namespace":"leasebox-old"}});
    let Err(KubeError::Denied(Denial { rule, message })) =
        guard_over(store).apply(Manifest::from_value(manifest))
    else {
        panic!("refused");
    };
    assert_eq!(rule, "tenant-company");
    assert!(
        message.contains("kubectl annotate namespace leasebox-old"),
        "{message}"
    );
}

#[test]
fn an_owned_namespace_the_module_read_is_not_read_again_before_a_write() {
    let store = store();
    let guard = guard_over(store.clone());
    let namespace = namespace_ref(TENANT);
    assert!(guard.get(&namespace).expect("read").is_some());
    assert_eq!(store.gets.load(std::sync::atomic::Ordering::Relaxed), 1);
    let inside = json!({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"a","namespace":TENANT}});
    assert_eq!(verdict(guard.apply(Manifest::from_value(inside))), "passed");
    assert_eq!(
        store.gets.load(std::sync::atomic::Ordering::Relaxed),
        1,
        "the write trusted the read"
    );
}

#[test]
fn the_next_call_reads_a_namespace_again_so_one_made_anew_without_the_label_is_refused() {
    let store = store();
    let server = unscoped_over(store.clone());
    let first = server.for_call(&acquire_scope());
    let inside = json!({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"a","namespace":TENANT}});
    assert_eq!(
        verdict(first.apply(Manifest::from_value(inside.clone()))),
        "passed"
    );
    store.put(json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":TENANT}}));
    let second = server.for_call(&acquire_scope());
    assert_eq!(
        verdict(second.apply(Manifest::from_value(inside))),
        "fence-unowned"
    );
}

#[test]
fn a_namespace_read_without_the_ownership_label_stays_unowned() {
    let guard = guard();
    assert!(
        guard
            .get(&namespace_ref("leasebox-foreign"))
            .expect("read")
            .is_some()
    );
    let inside = json!({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"a","namespace":"leasebox-foreign"}});
    assert_eq!(
        verdict(guard.apply(Manifest::from_value(inside))),
        "fence-unowned"
    );
}

#[test]
fn unowned_namespace_refusal_names_the_namespace_and_the_fix() {
    let manifest =
        json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"leasebox-foreign"}});
    let Err(KubeError::Denied(Denial { message, .. })) =
        guard().apply(Manifest::from_value(manifest))
    else {
        panic!("refused");
    };
    assert!(message.contains("leasebox-foreign"), "{message}");
    assert!(message.contains("never adopts"), "{message}");
}

#[test]
fn config_prefix_outside_the_fence_is_denied_with_the_fix() {
    let manifest = json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"team-acme"}});
    let Err(KubeError::Denied(Denial { rule, message })) =
        guard().apply(Manifest::from_value(manifest))
    else {
        panic!("refused");
    };
    assert_eq!(rule, "fence-prefix");
    assert!(message.contains("namespacePrefix"), "{message}");
}
