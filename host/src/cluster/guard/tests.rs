use std::collections::BTreeMap;

use super::*;
use crate::cluster::io::CallerIo;
use crate::cluster::manifest::Manifest;
use crate::contract::{
    DeleteOptions, ExecSpec, ExecStream, HandOverRequest, HostSecretRequest, LogFollow,
    LogsRequest, Propagation, WatchRequest, WatchStream,
};
use crate::locks::lock;
use rstest::rstest;

/// Company `acme`'s tenant namespace.
const TENANT: &str = "leasebox-acme";
/// The company of [`TENANT`].
const COMPANY: &str = "acme";
/// Another company's tenant namespace (company `globex`).
const OTHER_TENANT: &str = "leasebox-globex";
/// The lease of the calls under test, its pod in [`TENANT`].
const LEASE: &str = "lb-01jd8x7k2m3n4p5q6r7s8t9v0w";
/// Another lease: its pod in [`OTHER_TENANT`].
const OTHER_LEASE: &str = "lb-01jd8x7k2m3n4p5q6r7s8t9zzz";

/// A cluster of stored objects: reads answer from the store, writes
/// store, exec/logs/watch answer `NoCluster("passed")` so a test sees
/// that the guard let the call through.
#[derive(Default)]
struct Store {
    objects: Mutex<BTreeMap<(String, String, String), Value>>,
    /// How many `get` calls reached the store.
    gets: std::sync::atomic::AtomicUsize,
    /// The hand-overs that reached the store.
    hand_overs: Mutex<Vec<HandOverRequest>>,
}

fn key(kind: &str, namespace: Option<&str>, name: &str) -> (String, String, String) {
    (
        kind.to_string(),
        namespace.unwrap_or("").to_string(),
        name.to_string(),
    )
}

impl Store {
    fn put(&self, object: Value) {
        let kind = str_at(&object, "/kind").unwrap_or("").to_string();
        let ns = str_at(&object, "/metadata/namespace").map(str::to_string);
        let name = str_at(&object, "/metadata/name").unwrap_or("").to_string();
        lock(&self.objects).insert(key(&kind, ns.as_deref(), &name), object);
    }

    fn find(&self, kind: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        lock(&self.objects)
            .get(&key(kind, namespace, name))
            .cloned()
    }
}

/// True when every term of `selector` (`key`, `!key`, `key=value`)
/// holds for `object`'s labels.
fn selects(selector: &str, object: &Value) -> bool {
    let label = |key: &str| {
        object
            .pointer("/metadata/labels")
            .and_then(|l| l.get(key))
            .and_then(Value::as_str)
    };
    selector.split(',').filter(|t| !t.is_empty()).all(|term| {
        match (term.strip_prefix('!'), term.split_once('=')) {
            (Some(key), _) => label(key).is_none(),
            (None, Some((key, value))) => label(key) == Some(value),
            (None, None) => label(term).is_some(),
        }
    })
}

fn passed<T>() -> Result<T, KubeError> {
    Err(KubeError::NoCluster("passed".into()))
}

impl ClusterIo for Store {
    fn apply(&self, manifest: Manifest) -> Result<String, KubeError> {
        let text = manifest.value.to_string();
        self.put(manifest.value);
        Ok(text)
    }
    fn create(&self, manifest: Manifest) -> Result<String, KubeError> {
        if self
            .find(
                &manifest.kind,
                manifest.namespace.as_deref(),
                &manifest.name,
            )
            .is_some()
        {
            return Err(KubeError::Conflict("exists".into()));
        }
        self.apply(manifest)
    }
    fn server_version(&self) -> Result<String, KubeError> {
        Ok("v1.20.2".into())
    }
    fn get(&self, target: &ObjectRef) -> Result<Option<String>, KubeError> {
        self.gets.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(self
            .find(&target.kind, target.namespace.as_deref(), &target.name)
            .map(|v| v.to_string()))
    }
    fn list(
        &self,
        _: &str,
        kind: &str,
        namespace: Option<&str>,
        selector: &str,
    ) -> Result<Vec<String>, KubeError> {
        Ok(lock(&self.objects)
            .iter()
            .filter(|((k, ns, _), _)| k == kind && namespace.is_none_or(|n| n == ns))
            .filter(|(_, v)| selects(selector, v))
            .map(|(_, v)| v.to_string())
            .collect())
    }
    fn delete(&self, _: &ObjectRef, _: &DeleteOptions) -> Result<bool, KubeError> {
        Ok(true)
    }
    fn watch(&self, _: &WatchRequest) -> Result<Box<dyn WatchStream>, KubeError> {
        passed()
    }
    fn exec(&self, _: &ExecSpec, _: &CallerIo) -> Result<Box<dyn ExecStream>, KubeError> {
        passed()
    }
    fn logs(&self, _: &LogsRequest, _: &CallerIo) -> Result<Box<dyn LogFollow>, KubeError> {
        passed()
    }
    fn apply_host_secret(
        &self,
        request: &HostSecretRequest,
    ) -> Result<(String, Vec<String>), KubeError> {
        let mut stored: Value = serde_json::from_str(&request.manifest)
            .map_err(|e| KubeError::BadArgument(e.to_string()))?;
        stored["data"] = json!({"ANTHROPIC_API_KEY": "c2VjcmV0"});
        stored["metadata"]["uid"] = json!("u-secret");
        stored["metadata"]["annotations"] = json!({"note": "c2VjcmV0"});
        Ok((stored.to_string(), request.host_keys.clone()))
    }
    fn hand_over_secret(&self, request: &HandOverRequest) -> Result<(), KubeError> {
        lock(&self.hand_overs).push(request.clone());
        Ok(())
    }
}

/// A store holding company acme's tenant namespace (a lease pod and a
/// plain pod in it), company globex's (a pod of another lease), a
/// namespace inside the prefix that leasebox did not make, and
/// kube-system.
fn store() -> Arc<Store> {
    let store = Store::default();
    store.put(json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":TENANT,"labels":{"app.kubernetes.io/managed-by":"leasebox"},"annotations":{COMPANY_ANNOTATION:COMPANY}}}));
    store.put(json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":OTHER_TENANT,"labels":{"app.kubernetes.io/managed-by":"leasebox"},"annotations":{COMPANY_ANNOTATION:"globex"}}}));
    store.put(json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"leasebox-foreign"}}));
    store.put(json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"kube-system"}}));
    store.put(json!({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"leasebox-agent","namespace":TENANT,"labels":{"app.kubernetes.io/managed-by":"leasebox"}}}));
    store.put(json!({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"admins-account","namespace":TENANT}}));
    store.put(json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":LEASE,"namespace":TENANT,"labels":{"app.kubernetes.io/managed-by":"leasebox","leasebox.dev/lease":LEASE}}}));
    store.put(
        json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"plain","namespace":TENANT}}),
    );
    store.put(json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":OTHER_LEASE,"namespace":OTHER_TENANT,"labels":{"app.kubernetes.io/managed-by":"leasebox","leasebox.dev/lease":OTHER_LEASE},"annotations":{"leasebox.dev/expires-at":"2026-12-01T00:00:00Z"}}}));
    store.put(json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":format!("{OTHER_LEASE}-env"),"namespace":OTHER_TENANT,"labels":{"leasebox.dev/lease":OTHER_LEASE}}}));
    store.put(json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":format!("{LEASE}-env"),"namespace":TENANT,"labels":{"leasebox.dev/lease":LEASE}}}));
    Arc::new(store)
}

fn unscoped_over(store: Arc<Store>) -> GuardedCluster {
    GuardedCluster::new(store, Arc::new(Grants::default()), Audit::counting("f00d"))
}

/// The guard of an acquire: for company acme and lease [`LEASE`].
fn guard_over(store: Arc<Store>) -> GuardedCluster {
    unscoped_over(store).for_call(&acquire_scope())
}

fn acquire_scope() -> CallScope {
    CallScope::acquire(COMPANY, LEASE)
}

fn guard() -> GuardedCluster {
    guard_over(store())
}

fn unscoped() -> GuardedCluster {
    unscoped_over(store())
}

/// `passed` when the guard let the call through, the rule's name when
/// it refused, `other: ...` otherwise.
fn verdict<T>(result: Result<T, KubeError>) -> String {
    match result {
        Ok(_) | Err(KubeError::NoCluster(_)) => "passed".into(),
        Err(KubeError::Denied(denial)) => denial.rule,
        Err(other) => format!("other: {other}"),
    }
}

/// A container inside the profile.
fn container() -> Value {
    json!({"name":"agent","image":"busybox","securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]},"runAsNonRoot":true}})
}

/// A pod spec inside the profile (as the default module makes it).
fn pod_spec() -> Value {
    json!({
        "automountServiceAccountToken": false,
        "serviceAccountName": "leasebox-agent",
        "securityContext": {"runAsNonRoot": true, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container()],
        "volumes": [{"name": "w", "emptyDir": {}}],
    })
}

/// JSON merge of `patch` into `base` (objects merged, the rest replaced).
fn merged(mut base: Value, patch: &Value) -> Value {
    match (base.as_object_mut(), patch.as_object()) {
        (Some(b), Some(p)) => {
            for (k, v) in p {
                let old = b.remove(k).unwrap_or(Value::Null);
                b.insert(k.clone(), merged(old, v));
            }
            base
        }
        _ => patch.clone(),
    }
}

/// The lease's pod, its spec [`pod_spec`] with `patch` merged in.
fn pod(patch: Value) -> Value {
    json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":LEASE,"namespace":TENANT,"labels":{"leasebox.dev/lease":LEASE}},"spec":merged(pod_spec(), &patch)})
}

/// The lease's pod with its container patched.
fn pod_container(patch: Value) -> Value {
    pod(json!({"containers":[merged(container(), &patch)]}))
}

fn role(rules: Value) -> Value {
    json!({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"r","namespace":TENANT},"rules":rules})
}

fn binding(role_kind: &str, subject_namespace: &str) -> Value {
    json!({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"b","namespace":TENANT},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":role_kind,"name":"r"},"subjects":[{"kind":"ServiceAccount","name":"a","namespace":subject_namespace}]})
}

fn egress(peer: Value, ports: Value) -> Value {
    json!({"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":format!("{LEASE}-egress"),"namespace":TENANT},"spec":{"podSelector":{},"egress":[{"to":[peer],"ports":ports}]}})
}

#[rstest]
#[case::tenant_object_allowed(json!({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"a","namespace":TENANT}}), "passed")]
#[case::kube_system_denied(json!({"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"x","namespace":"kube-system"}}), "fence-system")]
#[case::kube_system_namespace_denied(json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"kube-system"}}), "fence-system")]
#[case::default_namespace_denied(json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"default","labels":{"pwned":"yes"}}}), "fence-system")]
#[case::foreign_prefix_denied(json!({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"a","namespace":"other-acme"}}), "fence-prefix")]
#[case::bare_prefix_denied(json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"leasebox-"}}), "fence-prefix")]
#[case::unowned_namespace_denied(json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"leasebox-foreign"}}), "fence-unowned")]
#[case::object_in_unowned_namespace_denied(json!({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"a","namespace":"leasebox-foreign"}}), "fence-unowned")]
#[case::another_companys_namespace_denied(json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":OTHER_TENANT}}), "tenant-company")]
#[case::another_companys_quota_denied(json!({"apiVersion":"v1","kind":"ResourceQuota","metadata":{"name":"leasebox-quota","namespace":OTHER_TENANT},"spec":{"hard":{"pods":"0"}}}), "tenant-company")]
#[case::another_companys_deny_all_denied(json!({"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"leasebox-deny-all","namespace":OTHER_TENANT},"spec":{"podSelector":{}}}), "tenant-company")]
#[case::cluster_role_denied(json!({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"x"},"rules":[]}), "kind-not-granted")]
#[case::cluster_role_binding_denied(json!({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"x"}}), "kind-not-granted")]
#[case::unknown_kind_denied(json!({"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"d","namespace":TENANT}}), "kind-not-granted")]
#[case::plain_secret_denied(json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","namespace":TENANT},"stringData":{"A":"b"}}), "host-secret-shape")]
#[case::role_within_ceiling_allowed(role(json!([{"apiGroups":[""],"resources":["pods/log"],"verbs":["get"]}])), "passed")]
#[case::role_beyond_ceiling_denied(role(json!([{"apiGroups":[""],"resources":["secrets"],"verbs":["get","list"]}])), "role-ceiling")]
#[case::role_wildcard_denied(role(json!([{"apiGroups":["*"],"resources":["*"],"verbs":["*"]}])), "role-ceiling")]
#[case::role_non_resource_urls_denied(role(json!([{"nonResourceURLs":["/metrics"],"verbs":["get"]}])), "role-ceiling")]
#[case::binding_to_cluster_role_denied(binding("ClusterRole", TENANT), "role-binding")]
#[case::binding_foreign_subject_denied(binding("Role", "kube-system"), "role-binding")]
#[case::binding_own_service_account_allowed(binding("Role", TENANT), "passed")]
#[case::profile_pod_allowed(pod(json!({})), "passed")]
#[case::host_network_pod_denied(pod(json!({"hostNetwork":true})), "pod-profile")]
#[case::host_pid_pod_denied(pod(json!({"hostPID":true})), "pod-profile")]
#[case::host_path_volume_denied(pod(json!({"volumes":[{"name":"root","hostPath":{"path":"/"}}]})), "pod-profile")]
#[case::git_repo_volume_denied(pod(json!({"volumes":[{"name":"g","gitRepo":{"repository":"/some/path"}}]})), "pod-profile")]
#[case::csi_volume_with_secret_denied(pod(json!({"volumes":[{"name":"c","csi":{"driver":"x","nodePublishSecretRef":{"name":"lb-victim-env"}}}]})), "pod-profile")]
#[case::cephfs_volume_with_secret_denied(pod(json!({"volumes":[{"name":"c","cephfs":{"monitors":["m"],"secretRef":{"name":"lb-victim-env"}}}]})), "pod-profile")]
#[case::service_account_token_projected_denied(pod(json!({"volumes":[{"name":"t","projected":{"sources":[{"serviceAccountToken":{"path":"token"}}]}}]})), "pod-profile")]
#[case::token_automount_denied(pod(json!({"automountServiceAccountToken":true})), "pod-profile")]
#[case::node_name_denied(pod(json!({"nodeName":"localhost"})), "pod-profile")]
#[case::system_priority_denied(pod(json!({"priorityClassName":"system-node-critical"})), "pod-profile")]
#[case::ephemeral_containers_denied(pod(json!({"ephemeralContainers":[container()]})), "pod-profile")]
#[case::root_user_denied(pod(json!({"securityContext":{"runAsUser":0}})), "pod-profile")]
#[case::unconfined_seccomp_denied(pod(json!({"securityContext":{"seccompProfile":{"type":"Unconfined"}}})), "pod-profile")]
#[case::probe_to_another_host_denied(pod_container(json!({"livenessProbe":{"httpGet":{"host":"10.0.0.1","port":80}}})), "pod-profile")]
#[case::hook_to_another_host_denied(pod_container(json!({"lifecycle":{"postStart":{"tcpSocket":{"host":"169.254.169.254","port":80}}}})), "pod-profile")]
#[case::probe_to_the_pod_allowed(pod_container(json!({"readinessProbe":{"httpGet":{"path":"/","port":8080},"periodSeconds":5}})), "passed")]
#[case::another_leases_claim_denied(pod(json!({"volumes":[{"name":"w","persistentVolumeClaim":{"claimName":format!("{OTHER_LEASE}-workspace")}}]})), "lease-scope")]
#[case::own_leases_claim_allowed(pod(json!({"volumes":[{"name":"w","persistentVolumeClaim":{"claimName":format!("{LEASE}-workspace")}}]})), "passed")]
#[case::host_port_denied(pod_container(json!({"ports":[{"containerPort":80,"hostPort":80}]})), "pod-profile")]
#[case::privileged_container_denied(pod_container(json!({"securityContext":{"privileged":true}})), "pod-profile")]
#[case::privileged_init_container_denied(pod(json!({"initContainers":[merged(container(), &json!({"securityContext":{"privileged":true}}))]})), "pod-profile")]
#[case::added_capability_denied(pod_container(json!({"securityContext":{"capabilities":{"add":["SYS_ADMIN"]}}})), "pod-profile")]
#[case::net_bind_service_allowed(pod_container(json!({"securityContext":{"capabilities":{"add":["NET_BIND_SERVICE"]}}})), "passed")]
#[case::apparmor_unconfined_denied(json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":LEASE,"namespace":TENANT,"annotations":{"container.apparmor.security.beta.kubernetes.io/agent":"unconfined"}},"spec":pod_spec()}), "pod-profile")]
#[case::own_lease_secret_allowed(pod_container(json!({"envFrom":[{"secretRef":{"name":format!("{LEASE}-env")}}]})), "passed")]
#[case::other_lease_secret_in_env_from_denied(pod_container(json!({"envFrom":[{"secretRef":{"name":format!("{OTHER_LEASE}-env")}}]})), "pod-secret-ref")]
#[case::other_secret_in_env_denied(pod_container(json!({"env":[{"name":"K","valueFrom":{"secretKeyRef":{"name":"lb-victim-env","key":"K"}}}]})), "pod-secret-ref")]
#[case::other_secret_volume_denied(pod(json!({"volumes":[{"name":"s","secret":{"secretName":"lb-victim-env"}}]})), "pod-secret-ref")]
#[case::other_secret_projected_denied(pod(json!({"volumes":[{"name":"s","projected":{"sources":[{"secret":{"name":"lb-victim-env"}}]}}]})), "pod-secret-ref")]
#[case::pod_labelled_for_another_lease_denied(json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":LEASE,"namespace":TENANT,"labels":{"leasebox.dev/lease":OTHER_LEASE}},"spec":pod_spec()}), "identity-mark")]
#[case::pod_named_for_another_lease_denied(json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":OTHER_LEASE,"namespace":TENANT},"spec":pod_spec()}), "lease-scope")]
#[case::forged_company_mark_denied(json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":LEASE,"namespace":TENANT,"annotations":{COMPANY_ANNOTATION:"globex"}},"spec":pod_spec()}), "identity-mark")]
#[case::claim_naming_a_volume_denied(json!({"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":format!("{LEASE}-workspace"),"namespace":TENANT},"spec":{"volumeName":"node-disk","accessModes":["ReadWriteOnce"]}}), "claim-binding")]
#[case::claim_selecting_volumes_denied(json!({"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":format!("{LEASE}-workspace"),"namespace":TENANT},"spec":{"selector":{"matchLabels":{"k":"v"}}}}), "claim-binding")]
#[case::sandbox_claim_template_naming_a_volume_denied(json!({"apiVersion":"agents.x-k8s.io/v1beta1","kind":"Sandbox","metadata":{"name":LEASE,"namespace":TENANT},"spec":{"podTemplate":{"spec":pod_spec()},"volumeClaimTemplates":[{"metadata":{"name":"w"},"spec":{"volumeName":"node-disk"}}]}}), "claim-binding")]
#[case::privileged_sandbox_template_denied(json!({"apiVersion":"agents.x-k8s.io/v1beta1","kind":"Sandbox","metadata":{"name":LEASE,"namespace":TENANT},"spec":{"podTemplate":{"spec":merged(pod_spec(), &json!({"containers":[merged(container(), &json!({"securityContext":{"privileged":true}}))]}))}}}), "pod-profile")]
#[case::host_network_job_template_denied(json!({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":LEASE,"namespace":TENANT},"spec":{"template":{"spec":merged(pod_spec(), &json!({"hostNetwork":true}))}}}), "pod-profile")]
#[case::egress_to_dns_allowed(egress(json!({"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"kube-system"}},"podSelector":{"matchLabels":{"k8s-app":"kube-dns"}}}), json!([{"port":53,"protocol":"UDP"}])), "passed")]
#[case::egress_into_kube_system_denied(egress(json!({"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"kube-system"}}}), json!([{"port":443}])), "egress-namespace")]
#[case::egress_into_every_namespace_denied(egress(json!({"namespaceSelector":{}}), json!([])), "egress-namespace")]
fn apply_is_guarded(#[case] manifest: Value, #[case] expected: &str) {
    assert_eq!(
        verdict(guard().apply(Manifest::from_value(manifest))),
        expected
    );
}

#[test]
fn workloads_carry_the_marks_set_by_the_host() {
    let store = store();
    let guard = guard_over(store.clone());
    assert_eq!(
        verdict(guard.apply(Manifest::from_value(pod(json!({}))))),
        "passed"
    );
    let stored = store.find("Pod", Some(TENANT), LEASE).expect("applied");
    assert_eq!(stored["metadata"]["annotations"][MODULE_ANNOTATION], "f00d");
    assert_eq!(
        stored["metadata"]["annotations"][COMPANY_ANNOTATION],
        COMPANY
    );
    assert_eq!(stored["metadata"]["labels"][LEASE_LABEL], LEASE);
    assert_eq!(stored["metadata"]["labels"][OWNER_LABEL.0], OWNER_LABEL.1);
    let account = json!({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"a","namespace":TENANT}});
    assert_eq!(
        verdict(guard.apply(Manifest::from_value(account))),
        "passed"
    );
    let stored = store
        .find("ServiceAccount", Some(TENANT), "a")
        .expect("applied");
    assert!(stored["metadata"].get("annotations").is_none(), "{stored}");
}

#[test]
fn a_module_cannot_set_the_module_mark() {
    let mut manifest = pod(json!({}));
    manifest["metadata"]["annotations"] = json!({MODULE_ANNOTATION: "forged"});
    assert_eq!(
        verdict(guard().apply(Manifest::from_value(manifest))),
        "identity-mark"
    );
}

fn secret_ref(namespace: &str) -> ObjectRef {
    ObjectRef {
        api_version: "v1".into(),
        kind: "Secret".into(),
        namespace: Some(namespace.into()),
        name: format!("{LEASE}-env"),
        uid: None,
    }
}

fn pod_ref(namespace: &str, name: &str) -> ObjectRef {
    ObjectRef {
        api_version: "v1".into(),
        kind: "Pod".into(),
        namespace: Some(namespace.into()),
        name: name.into(),
        uid: None,
    }
}

#[test]
fn secrets_are_never_read() {
    let guard = guard();
    assert_eq!(verdict(guard.get(&secret_ref(TENANT))), "secret-read");
    assert_eq!(verdict(guard.list("v1", "Secret", None, "")), "secret-read");
    assert_eq!(
        verdict(guard.list("v1", "Secret", Some(TENANT), "")),
        "secret-read"
    );
    let watch = WatchRequest {
        api_version: "v1".into(),
        kind: "Secret".into(),
        namespace: TENANT.into(),
        label_selector: String::new(),
        field_selector: String::new(),
    };
    assert_eq!(verdict(guard.watch(&watch)), "secret-read");
}

fn names(items: &[String]) -> Vec<String> {
    items
        .iter()
        .filter_map(|n| serde_json::from_str::<Value>(n).ok())
        .filter_map(|n| str_at(&n, "/metadata/name").map(str::to_string))
        .collect()
}

#[test]
fn cluster_wide_list_is_narrowed_to_the_fence() {
    let items = unscoped().list("v1", "Pod", None, "").expect("list");
    assert_eq!(items.len(), 3);
    let namespaces = unscoped().list("v1", "Namespace", None, "").expect("list");
    assert_eq!(
        names(&namespaces),
        ["leasebox-acme", "leasebox-foreign", "leasebox-globex"]
    );
}

#[test]
fn a_company_call_lists_only_its_own_namespaces_objects() {
    let items = guard().list("v1", "Pod", None, "").expect("list");
    assert_eq!(names(&items), [LEASE, "plain"]);
    let namespaces = guard().list("v1", "Namespace", None, "").expect("list");
    assert_eq!(names(&namespaces), ["leasebox-acme", "leasebox-foreign"]);
}

#[test]
fn a_namespace_list_with_a_fenced_namespace_argument_shows_only_that_namespace() {
    let namespaces = unscoped()
        .list("v1", "Namespace", Some(TENANT), "")
        .expect("list");
    assert_eq!(names(&namespaces), [TENANT]);
    let namespaces = guard()
        .list("v1", "Namespace", Some(OTHER_TENANT), "")
        .expect("list");
    assert!(namespaces.is_empty(), "{namespaces:?}");
}

#[test]
fn a_company_call_reads_nothing_of_another_company() {
    let guard = guard();
    assert_eq!(
        verdict(guard.get(&pod_ref(OTHER_TENANT, OTHER_LEASE))),
        "tenant-company"
    );
    assert_eq!(
        verdict(guard.get(&namespace_ref(OTHER_TENANT))),
        "tenant-company"
    );
    assert_eq!(
        verdict(guard.list("v1", "Pod", Some(OTHER_TENANT), "")),
        "tenant-company"
    );
}

#[test]
fn namespace_cannot_be_deleted() {
    let options = DeleteOptions {
        propagation: Propagation::Foreground,
        precondition_uid: None,
        grace_period_seconds: None,
    };
    assert_eq!(
        verdict(guard().delete(&namespace_ref(TENANT), &options)),
        "kind-not-granted"
    );
}

/// A delete in the background, without preconditions.
fn in_the_background() -> DeleteOptions {
    DeleteOptions {
        propagation: Propagation::Background,
        precondition_uid: None,
        grace_period_seconds: None,
    }
}

/// A sweep at 2026-12-07.
fn sweep() -> CallScope {
    CallScope::sweep("2026-12-07T10:00:00Z".parse().expect("a time"))
}

#[rstest]
#[case::of_an_expired_lease(OTHER_TENANT, &format!("{OTHER_LEASE}-env"), "passed")]
#[case::of_a_live_lease(TENANT, &format!("{LEASE}-env"), "lease-scope")]
fn a_sweep_deletes_a_leases_secret_only_once_its_workload_expired(
    #[case] namespace: &str,
    #[case] name: &str,
    #[case] expected: &str,
) {
    let options = in_the_background();
    let target = ObjectRef {
        kind: "Secret".into(),
        ..pod_ref(namespace, name)
    };
    let guard = unscoped().for_call(&sweep());
    assert_eq!(verdict(guard.delete(&target, &options)), expected);
}

#[rstest]
#[case::its_own_pod(CallScope::lease(LEASE), TENANT, LEASE, "passed")]
#[case::another_leases_pod(CallScope::lease(LEASE), OTHER_TENANT, OTHER_LEASE, "lease-scope")]
#[case::an_object_that_is_no_leases(CallScope::lease(LEASE), TENANT, "plain", "lease-scope")]
#[case::a_sweep_of_an_expired_lease(sweep(), OTHER_TENANT, OTHER_LEASE, "passed")]
#[case::a_sweep_of_a_live_lease(sweep(), TENANT, LEASE, "lease-scope")]
#[case::a_call_for_nothing(CallScope::default(), OTHER_TENANT, OTHER_LEASE, "lease-scope")]
#[case::a_sweep_of_an_object_that_is_no_leases(sweep(), TENANT, "plain", "lease-scope")]
#[case::a_company_call_in_another_company(
    acquire_scope(),
    OTHER_TENANT,
    OTHER_LEASE,
    "tenant-company"
)]
fn a_lease_call_deletes_only_its_lease_objects(
    #[case] scope: CallScope,
    #[case] namespace: &str,
    #[case] name: &str,
    #[case] expected: &str,
) {
    let options = in_the_background();
    let guard = unscoped().for_call(&scope);
    assert_eq!(
        verdict(guard.delete(&pod_ref(namespace, name), &options)),
        expected
    );
}

#[test]
fn operator_allows_a_callback_namespace() {
    let grants = Grants {
        callback_namespaces: ["paperclip".to_string()].into(),
        ..Grants::default()
    };
    let guard = GuardedCluster::new(store(), Arc::new(grants), Audit::counting("f00d"))
        .for_call(&acquire_scope());
    let policy = egress(
        json!({"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"paperclip"}}}),
        json!([{"port":3100}]),
    );
    assert_eq!(
        verdict(guard.apply(Manifest::from_value(policy.clone()))),
        "passed"
    );
    assert_eq!(
        verdict(self::guard().apply(Manifest::from_value(policy))),
        "egress-namespace"
    );
}

#[test]
fn refusals_are_counted_and_logged_with_the_module_sha256() {
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink_lines = lines.clone();
    let audit = Audit::new(
        "f00d",
        Arc::default(),
        Arc::new(move |line| lock(&sink_lines).push(line.to_string())),
    );
    let guard = GuardedCluster::new(store(), Arc::new(Grants::default()), audit);
    let _ = guard.get(&secret_ref(TENANT));
    let _ = guard.get(&secret_ref(TENANT));
    let _ = guard.apply(Manifest::from_value(
        json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"default"}}),
    ));
    assert_eq!(guard.denials().get(Rule::SecretRead), 2);
    assert_eq!(guard.denials().get(Rule::FenceSystem), 1);
    assert_eq!(guard.denials().total(), 3);
    let lines = lock(&lines);
    assert_eq!(lines.len(), 3);
    assert!(
        lines[0].contains("sha256:f00d") && lines[0].contains("secret-read"),
        "{}",
        lines[0]
    );
}

#[test]
fn a_denial_repeating_a_huge_name_is_capped() {
    let name = "x".repeat(1 << 20);
    let manifest = json!({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":name,"namespace":"kube-system"}});
    let Err(KubeError::Denied(Denial { message, .. })) =
        guard().apply(Manifest::from_value(manifest))
    else {
        panic!("refused");
    };
    assert!(
        message.len() <= MAX_DENIAL_MESSAGE + 64,
        "{}",
        message.len()
    );
}

#[test]
fn a_company_id_the_operator_declared_an_alias_reaches_that_companys_tenant() {
    let grants = Grants {
        company_aliases: [("ACME".to_string(), COMPANY.to_string())].into(),
        ..Grants::default()
    };
    let guard = GuardedCluster::new(store(), Arc::new(grants), Audit::counting("f00d"))
        .for_call(&CallScope::company("ACME"));
    let manifest = json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":TENANT}});
    assert_eq!(
        verdict(guard.apply(Manifest::from_value(manifest))),
        "passed"
    );
}

mod hand_over;
mod lease;
mod namespace;
mod pool;
mod profile;
