//! The pod profile through the guard: one refused value for every
//! constrained field of the table, derived from it; required fields; the
//! tenant's service account; a renew of a live pod.

use super::*;
use crate::cluster::grants::pod_profile::{self, Allowed, Field};

/// A value `allowed` refuses, when there is one.
fn refused_value(allowed: Allowed) -> Option<Value> {
    match allowed {
        Allowed::Bool(b) => Some(json!(!b)),
        Allowed::OneOf(_) => Some(json!("Unconfined")),
        Allowed::NotPrefixed(prefix) => Some(json!(format!("{prefix}node-critical"))),
        Allowed::NonZero => Some(json!(0)),
        Allowed::Holds(_) => Some(json!([])),
        Allowed::EachOf(_) => Some(json!(["SYS_ADMIN"])),
        Allowed::OwnSecret => Some(json!("lb-victim-env")),
        Allowed::ClaimSpec => Some(json!({"volumeName": "node-disk"})),
        Allowed::OwnClaim => Some(json!(format!("{OTHER_LEASE}-workspace"))),
        Allowed::PodAnnotations => {
            Some(json!({"container.apparmor.security.beta.kubernetes.io/agent": "unconfined"}))
        }
        Allowed::Any | Allowed::Object(_) | Allowed::List(_) => None,
    }
}

/// Every constrained field of `fields` at `path` (JSON pointer into a
/// pod's spec), with a value it refuses.
fn constrained(path: &str, fields: &[Field], out: &mut Vec<(String, Value)>) {
    for f in fields {
        let at = format!("{path}/{}", f.name);
        match f.allowed {
            Allowed::Object(inner) => constrained(&at, inner, out),
            Allowed::List(inner) => constrained(&format!("{at}/0"), inner, out),
            other => out.extend(refused_value(other).map(|v| (at, v))),
        }
    }
}

/// Sets `pointer` in `value`, making objects (and one-element lists) on
/// the way.
fn set_at(value: &mut Value, pointer: &str, new: Value) {
    let mut at = value;
    let parts: Vec<&str> = pointer.split('/').skip(1).collect();
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        if let Ok(index) = part.parse::<usize>() {
            if !at.is_array() {
                *at = json!([]);
            }
            let list = at.as_array_mut().expect("a list");
            while list.len() <= index {
                list.push(json!({}));
            }
            at = &mut list[index];
        } else {
            if !at.is_object() {
                *at = json!({});
            }
            let map = at.as_object_mut().expect("an object");
            if last {
                map.insert((*part).to_string(), new);
                return;
            }
            at = map.entry((*part).to_string()).or_insert(json!({}));
        }
    }
}

#[test]
fn every_constrained_field_of_the_profile_table_refuses_a_value_naming_the_field() {
    let mut cases = Vec::new();
    constrained("", pod_profile::POD_SPEC, &mut cases);
    assert!(cases.len() >= 20, "{} cases", cases.len());
    for (pointer, value) in cases {
        // A volume or an init container starts from a valid one, so only
        // the field under test is wrong.
        let mut spec = pod_spec();
        if pointer.starts_with("/initContainers/0") {
            spec["initContainers"] = json!([container()]);
        }
        if pointer.starts_with("/volumes/0") {
            spec["volumes"] = json!([{"name": "v"}]);
        }
        set_at(&mut spec, &pointer, value);
        let manifest = json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":LEASE,"namespace":TENANT},"spec":spec});
        let result = guard().apply(Manifest::from_value(manifest));
        let Err(KubeError::Denied(Denial { rule, message })) = result else {
            panic!("{pointer}: not refused: {result:?}");
        };
        let last = pointer
            .rsplit('/')
            .find(|p| p.parse::<usize>().is_err())
            .unwrap_or("");
        assert!(
            [
                "pod-profile",
                "pod-secret-ref",
                "claim-binding",
                "lease-scope"
            ]
            .contains(&rule.as_str()),
            "{pointer}: {rule}"
        );
        assert!(message.contains(last), "{pointer}: {message}");
    }
}

#[test]
fn every_required_field_of_the_profile_table_is_refused_when_missing() {
    for (pointer, required) in [
        (
            "/automountServiceAccountToken",
            "automountServiceAccountToken",
        ),
        ("/containers/0/securityContext", "securityContext"),
        (
            "/containers/0/securityContext/allowPrivilegeEscalation",
            "allowPrivilegeEscalation",
        ),
        ("/containers/0/securityContext/capabilities", "capabilities"),
        ("/securityContext/seccompProfile", "seccompProfile"),
    ] {
        let mut spec = pod_spec();
        let (parent, key) = pointer.rsplit_once('/').expect("a parent");
        if let Some(map) = spec.pointer_mut(parent).and_then(Value::as_object_mut) {
            map.remove(key);
        }
        let manifest = json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":LEASE,"namespace":TENANT},"spec":spec});
        let result = guard().apply(Manifest::from_value(manifest));
        let Err(KubeError::Denied(Denial { rule, message })) = result else {
            panic!("{pointer}: not refused: {result:?}");
        };
        assert_eq!(rule, "pod-profile", "{pointer}");
        assert!(message.contains(required), "{pointer}: {message}");
    }
}

/// The lease's pod as the cluster holds it after it started: fields the
/// API server and the scheduler filled, made by module `maker`.
fn live_pod(maker: &str) -> Value {
    let mut live = pod(json!({
        "nodeName": "localhost",
        "serviceAccount": "leasebox-agent",
        "schedulerName": "default-scheduler",
        "priority": 0,
    }));
    live["metadata"]["labels"] =
        json!({"app.kubernetes.io/managed-by": "leasebox", "leasebox.dev/lease": LEASE});
    live["metadata"]["annotations"] =
        json!({MODULE_ANNOTATION: maker, COMPANY_ANNOTATION: COMPANY});
    live
}

#[test]
fn a_renew_reapplying_the_live_pod_passes_and_keeps_the_module_that_made_it() {
    let store = store();
    store.put(live_pod("0ld"));
    let renew = unscoped_over(store.clone()).for_call(&CallScope::lease(LEASE));
    let mut manifest = live_pod("0ld");
    manifest["metadata"]["annotations"]["leasebox.dev/expires-at"] = json!("2026-12-08T00:00:00Z");
    assert_eq!(
        verdict(renew.apply(Manifest::from_value(manifest))),
        "passed"
    );
    let stored = store.find("Pod", Some(TENANT), LEASE).expect("applied");
    assert_eq!(stored["metadata"]["annotations"][MODULE_ANNOTATION], "0ld");
    assert_eq!(
        stored["metadata"]["annotations"]["leasebox.dev/expires-at"],
        "2026-12-08T00:00:00Z"
    );
}

#[test]
fn a_renew_changing_a_field_outside_the_profile_is_refused() {
    let store = store();
    store.put(live_pod("0ld"));
    let renew = unscoped_over(store).for_call(&CallScope::lease(LEASE));
    let mut manifest = live_pod("0ld");
    manifest["spec"]["nodeName"] = json!("another-node");
    assert_eq!(
        verdict(renew.apply(Manifest::from_value(manifest))),
        "pod-profile"
    );
    let mut manifest = live_pod("0ld");
    manifest["spec"]["hostNetwork"] = json!(true);
    assert_eq!(
        verdict(renew.apply(Manifest::from_value(manifest))),
        "pod-profile"
    );
}

#[rstest]
#[case::the_namespaces_default(json!({"serviceAccountName":"default"}))]
#[case::none_named(json!({"serviceAccountName":null}))]
fn a_pod_never_runs_as_the_namespaces_default_service_account(#[case] patch: Value) {
    let mut manifest = pod(json!({}));
    manifest["spec"]["serviceAccountName"] = patch["serviceAccountName"].clone();
    assert_eq!(
        verdict(guard().apply(Manifest::from_value(manifest))),
        "pod-profile"
    );
}
