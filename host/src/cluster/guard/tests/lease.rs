//! Calls about one lease: what a lease call, an acquire and a sweep may
//! write and delete, exec and logs, and the host-filled Secret.

use super::*;

#[test]
fn a_lease_call_rewrites_its_own_workload_but_makes_nothing_new() {
    let guard = unscoped().for_call(&CallScope::lease(LEASE));
    assert_eq!(
        verdict(guard.apply(Manifest::from_value(pod(json!({}))))),
        "passed"
    );
    let quota = json!({"apiVersion":"v1","kind":"ResourceQuota","metadata":{"name":format!("{LEASE}-quota"),"namespace":OTHER_TENANT},"spec":{"hard":{"pods":"0"}}});
    assert_eq!(
        verdict(guard.apply(Manifest::from_value(quota))),
        "lease-scope"
    );
}

#[test]
fn a_call_for_no_lease_applies_no_workload_and_no_host_secret() {
    let guard = unscoped().for_call(&CallScope::company(COMPANY));
    assert_eq!(
        verdict(guard.apply(Manifest::from_value(pod(json!({}))))),
        "lease-scope"
    );
    let request = host_secret(&format!("{LEASE}-env"), &[]);
    assert_eq!(verdict(guard.apply_host_secret(&request)), "lease-scope");
    let sweep = unscoped();
    let account = json!({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"a","namespace":TENANT}});
    assert_eq!(
        verdict(sweep.apply(Manifest::from_value(account))),
        "lease-scope"
    );
}

fn exec_spec(namespace: &str, pod: &str) -> ExecSpec {
    ExecSpec {
        namespace: namespace.into(),
        pod: pod.into(),
        container: "agent".into(),
        argv: vec!["sh".into()],
        stdin: false,
        forward_output: false,
        forward_stdin: false,
        frame_stdin: false,
        tty: None,
        max_stdout_bytes: None,
        max_stderr_bytes: None,
    }
}

#[rstest]
#[case::its_lease_pod_allowed(TENANT, LEASE, Some(LEASE), "passed")]
#[case::a_call_about_no_lease_denied(TENANT, LEASE, None, "lease-scope")]
#[case::pod_without_lease_labels_denied(TENANT, "plain", Some(LEASE), "exec-target")]
#[case::another_leases_pod_denied(OTHER_TENANT, OTHER_LEASE, Some(LEASE), "lease-scope")]
#[case::another_leases_pod_in_its_own_call_allowed(
    OTHER_TENANT,
    OTHER_LEASE,
    Some(OTHER_LEASE),
    "passed"
)]
#[case::kube_system_denied("kube-system", "etcd", Some(LEASE), "fence-system")]
fn exec_reaches_the_calls_lease_pod_only(
    #[case] namespace: &str,
    #[case] pod: &str,
    #[case] lease: Option<&str>,
    #[case] expected: &str,
) {
    let scope = CallScope {
        lease: lease.map(str::to_string),
        ..CallScope::default()
    };
    let guard = unscoped().for_call(&scope);
    let spec = exec_spec(namespace, pod);
    assert_eq!(verdict(guard.exec(&spec, &CallerIo::process())), expected);
    let logs = LogsRequest {
        namespace: namespace.into(),
        pod: pod.into(),
        container: "agent".into(),
        follow: false,
        forward_output: false,
        max_bytes: None,
    };
    assert_eq!(verdict(guard.logs(&logs, &CallerIo::process())), expected);
}

fn host_secret(name: &str, keys: &[&str]) -> HostSecretRequest {
    host_secret_in(TENANT, name, keys, LEASE)
}

fn host_secret_in(namespace: &str, name: &str, keys: &[&str], lease: &str) -> HostSecretRequest {
    HostSecretRequest {
        manifest: json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":name,"namespace":namespace,"labels":{"leasebox.dev/lease":lease}}}).to_string(),
        random_keys: vec!["BOOTSTRAP_TOKEN".into()],
        host_keys: keys.iter().map(|k| k.to_string()).collect(),
        literal: vec![],
    }
}

#[test]
fn ungranted_host_key_is_denied_naming_it() {
    let request = host_secret(
        &format!("{LEASE}-env"),
        &["ANTHROPIC_API_KEY", "AWS_SECRET_ACCESS_KEY"],
    );
    let result = guard().apply_host_secret(&request);
    assert_eq!(verdict(result.clone()), "host-secret-keys");
    let Err(KubeError::Denied(Denial { message, .. })) = result else {
        panic!("refused");
    };
    assert!(message.contains("AWS_SECRET_ACCESS_KEY"), "{message}");
    assert!(!message.contains("ANTHROPIC_API_KEY,"), "{message}");
}

#[rstest]
#[case::not_named_for_its_lease(host_secret("other-env", &[]), "host-secret-shape")]
#[case::another_leases_secret(host_secret_in(TENANT, &format!("{OTHER_LEASE}-env"), &[], OTHER_LEASE), "host-secret-shape")]
#[case::in_another_companys_namespace(host_secret_in(OTHER_TENANT, &format!("{LEASE}-env"), &[], LEASE), "tenant-company")]
fn a_host_secret_is_only_the_calls_lease_own(
    #[case] request: HostSecretRequest,
    #[case] expected: &str,
) {
    assert_eq!(verdict(guard().apply_host_secret(&request)), expected);
}

#[test]
fn a_host_secret_of_a_type_a_controller_fills_is_refused() {
    let mut request = host_secret(&format!("{LEASE}-env"), &[]);
    let mut manifest: Value = serde_json::from_str(&request.manifest).expect("json");
    manifest["type"] = json!("kubernetes.io/service-account-token");
    request.manifest = manifest.to_string();
    assert_eq!(
        verdict(guard().apply_host_secret(&request)),
        "host-secret-shape"
    );
}

#[test]
fn host_secret_answer_carries_names_and_keys_only() {
    let request = host_secret(&format!("{LEASE}-env"), &["ANTHROPIC_API_KEY"]);
    let (stored, keys) = guard().apply_host_secret(&request).expect("granted");
    assert_eq!(keys, ["ANTHROPIC_API_KEY"]);
    assert!(!stored.contains("c2VjcmV0"), "{stored}");
    let stored: Value = serde_json::from_str(&stored).expect("json");
    assert_eq!(stored["metadata"]["uid"], "u-secret");
    assert_eq!(stored["kind"], "Secret");
}

#[test]
fn operator_grant_allows_a_declared_key() {
    let grants = Grants {
        namespace_prefix: "leasebox-".into(),
        host_keys: ["AWS_SECRET_ACCESS_KEY".to_string()].into(),
        callback_namespaces: Default::default(),
        company_aliases: Default::default(),
    };
    let guard = GuardedCluster::new(store(), Arc::new(grants), Audit::counting("f00d"))
        .for_call(&acquire_scope());
    let request = host_secret(&format!("{LEASE}-env"), &["AWS_SECRET_ACCESS_KEY"]);
    assert_eq!(verdict(guard.apply_host_secret(&request)), "passed");
}

#[test]
fn a_lease_call_reads_only_its_lease_objects() {
    let guard = unscoped().for_call(&CallScope::lease(LEASE));
    assert_eq!(verdict(guard.get(&pod_ref(TENANT, LEASE))), "passed");
    assert_eq!(verdict(guard.get(&pod_ref(TENANT, "plain"))), "lease-scope");
    assert_eq!(
        verdict(guard.get(&pod_ref(OTHER_TENANT, OTHER_LEASE))),
        "lease-scope"
    );
    assert_eq!(verdict(guard.get(&namespace_ref(TENANT))), "lease-scope");
    let pods = guard.list("v1", "Pod", None, "").expect("list");
    assert_eq!(names(&pods), [LEASE]);
    let pods = guard.list("v1", "Pod", Some(TENANT), "").expect("list");
    assert_eq!(names(&pods), [LEASE]);
    let namespaces = guard.list("v1", "Namespace", None, "").expect("list");
    assert!(namespaces.is_empty(), "{namespaces:?}");
}
