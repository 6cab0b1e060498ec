//! The capability guard between a policy module and the cluster.
//!
//! A policy module is operator-swappable code; the guard makes sure a module
//! can only do what leasebox needs, whatever it asks for: the kinds of SPEC
//! §3–§4 (plus Pod read/exec), only in namespaces under the configured
//! prefix, Role rules never beyond a fixed ceiling, RoleBindings only to
//! Roles of the same namespace and its own service accounts, and pods
//! without host access or privilege. The rules are data ([`KINDS`],
//! [`ROLE_CEILING`]); a refusal is [`IoError::Denied`] naming what was
//! refused.

use std::sync::Arc;

use serde_json::Value;

use crate::cluster_io::{
    CallerIo, ClusterIo, DeleteOptions, ExecSpec, ExecStream, HostSecretRequest, IoError,
    LogFollow, LogsRequest, ObjectRef, WatchRequest, WatchStream,
};

/// What a module may do with one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindRule {
    /// apiVersion.
    pub api_version: &'static str,
    /// Kind.
    pub kind: &'static str,
    /// Server-side apply allowed.
    pub apply: bool,
    /// Delete allowed.
    pub delete: bool,
    /// Plain create allowed (review objects only).
    pub create: bool,
}

const fn rule(
    api_version: &'static str,
    kind: &'static str,
    apply: bool,
    delete: bool,
) -> KindRule {
    KindRule {
        api_version,
        kind,
        apply,
        delete,
        create: false,
    }
}

/// Every kind a module may touch. Reads (get, list, watch) are allowed for
/// all of them; writes as marked.
pub const KINDS: &[KindRule] = &[
    rule("v1", "Namespace", true, false),
    rule("v1", "ServiceAccount", true, true),
    rule("v1", "Secret", true, true),
    rule("v1", "Pod", true, true),
    rule("v1", "PersistentVolumeClaim", true, true),
    rule("v1", "ResourceQuota", true, true),
    rule("v1", "LimitRange", true, true),
    rule("rbac.authorization.k8s.io/v1", "Role", true, true),
    rule("rbac.authorization.k8s.io/v1", "RoleBinding", true, true),
    rule("networking.k8s.io/v1", "NetworkPolicy", true, true),
    rule("cilium.io/v2", "CiliumNetworkPolicy", true, true),
    rule("batch/v1", "Job", true, true),
    rule("agents.x-k8s.io/v1beta1", "Sandbox", true, true),
    rule("agents.x-k8s.io/v1alpha1", "Sandbox", true, true),
    KindRule {
        api_version: "authorization.k8s.io/v1",
        kind: "SelfSubjectAccessReview",
        apply: false,
        delete: false,
        create: true,
    },
];

/// The most a tenant Role may grant: `get` on `pods/log` in the core group.
pub const ROLE_CEILING: &[(&str, &str, &str)] = &[("", "pods/log", "get")];

/// A [`ClusterIo`] that enforces the capability rules before delegating.
#[derive(Clone)]
pub struct GuardedCluster {
    inner: Arc<dyn ClusterIo>,
    prefix: String,
}

impl std::fmt::Debug for GuardedCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardedCluster")
            .field("prefix", &self.prefix)
            .finish()
    }
}

fn denied<T>(message: String) -> Result<T, IoError> {
    Err(IoError::Denied(message))
}

fn find_rule(api_version: &str, kind: &str) -> Option<&'static KindRule> {
    KINDS
        .iter()
        .find(|r| r.api_version == api_version && r.kind == kind)
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

impl GuardedCluster {
    /// Guards `inner`, allowing only namespaces that start with `prefix`.
    pub fn new(inner: Arc<dyn ClusterIo>, prefix: impl Into<String>) -> GuardedCluster {
        GuardedCluster {
            inner,
            prefix: prefix.into(),
        }
    }

    fn check_namespace(&self, what: &str, namespace: Option<&str>) -> Result<(), IoError> {
        match namespace {
            Some(ns) if ns.starts_with(&self.prefix) && ns.len() > self.prefix.len() => Ok(()),
            Some(ns) => denied(format!(
                "{what} in namespace `{ns}`: modules may only use namespaces starting with `{}`",
                self.prefix
            )),
            None => denied(format!("{what} without a namespace")),
        }
    }

    fn check_kind(
        &self,
        api_version: &str,
        kind: &str,
        verb: &str,
    ) -> Result<&'static KindRule, IoError> {
        let Some(rule) = find_rule(api_version, kind) else {
            return denied(format!(
                "{verb} of {api_version} {kind}: kind not in the host's allow-list"
            ));
        };
        let allowed = match verb {
            "apply" => rule.apply,
            "delete" => rule.delete,
            "create" => rule.create,
            _ => true,
        };
        if allowed {
            Ok(rule)
        } else {
            denied(format!("{verb} of {api_version} {kind} is not allowed"))
        }
    }

    /// Checks a manifest a module wants written (apply or host secret).
    fn check_manifest(&self, verb: &str, manifest: &Value) -> Result<(), IoError> {
        let api_version = str_at(manifest, "/apiVersion").unwrap_or("");
        let kind = str_at(manifest, "/kind").unwrap_or("");
        self.check_kind(api_version, kind, verb)?;
        let name = str_at(manifest, "/metadata/name").unwrap_or("");
        let what = format!("{verb} of {kind} `{name}`");
        if kind == "Namespace" {
            self.check_namespace(&what, Some(name))?;
        } else {
            self.check_namespace(&what, str_at(manifest, "/metadata/namespace"))?;
        }
        match kind {
            "Role" => check_role(&what, manifest),
            "RoleBinding" => check_role_binding(&what, manifest),
            "Pod" => check_pod_spec(&what, manifest.pointer("/spec")),
            "Job" => check_pod_spec(&what, manifest.pointer("/spec/template/spec")),
            "Sandbox" => check_pod_spec(&what, manifest.pointer("/spec/podTemplate/spec")),
            _ => Ok(()),
        }
    }

    fn check_ref(&self, verb: &str, target: &ObjectRef) -> Result<(), IoError> {
        self.check_kind(&target.api_version, &target.kind, verb)?;
        let what = format!("{verb} of {} `{}`", target.kind, target.name);
        if target.kind == "Namespace" {
            self.check_namespace(&what, Some(&target.name))
        } else {
            self.check_namespace(&what, target.namespace.as_deref())
        }
    }
}

fn parse(verb: &str, manifest: &str) -> Result<Value, IoError> {
    serde_json::from_str(manifest)
        .map_err(|e| IoError::BadArgument(format!("{verb}: manifest is not JSON: {e}")))
}

fn check_role(what: &str, role: &Value) -> Result<(), IoError> {
    let empty = Vec::new();
    let rules = role
        .pointer("/rules")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    for r in rules {
        let list = |key: &str| -> Vec<String> {
            r.get(key)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        if r.get("resourceNames").is_some() || r.get("nonResourceURLs").is_some() {
            // Narrowing by name is fine; non-resource URLs are never granted.
            if r.get("nonResourceURLs").is_some() {
                return denied(format!(
                    "{what}: nonResourceURLs are beyond the host's RBAC ceiling"
                ));
            }
        }
        for group in list("apiGroups") {
            for resource in list("resources") {
                for verb in list("verbs") {
                    let within = ROLE_CEILING
                        .iter()
                        .any(|(g, res, v)| *g == group && *res == resource && *v == verb);
                    if !within {
                        return denied(format!(
                            "{what}: rule `{verb}` on `{resource}` (group `{group}`) is beyond the host's RBAC ceiling (get pods/log)"
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

fn check_role_binding(what: &str, binding: &Value) -> Result<(), IoError> {
    if str_at(binding, "/roleRef/kind") != Some("Role") {
        return denied(format!("{what}: may only bind a Role, not a ClusterRole"));
    }
    let namespace = str_at(binding, "/metadata/namespace");
    let empty = Vec::new();
    let subjects = binding
        .pointer("/subjects")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    for s in subjects {
        let kind = str_at(s, "/kind");
        let ns = str_at(s, "/namespace").or(namespace);
        if kind != Some("ServiceAccount") || ns != namespace {
            return denied(format!(
                "{what}: subjects must be service accounts of the same namespace"
            ));
        }
    }
    Ok(())
}

/// Pods may not reach the host: no host namespaces, host paths, privileged
/// containers or added capabilities.
fn check_pod_spec(what: &str, spec: Option<&Value>) -> Result<(), IoError> {
    let Some(spec) = spec else {
        return denied(format!("{what}: no pod spec"));
    };
    for flag in ["hostNetwork", "hostPID", "hostIPC"] {
        if spec.get(flag).and_then(Value::as_bool) == Some(true) {
            return denied(format!("{what}: `{flag}` is not allowed"));
        }
    }
    if let Some(volumes) = spec.get("volumes").and_then(Value::as_array) {
        if let Some(v) = volumes.iter().find(|v| v.get("hostPath").is_some()) {
            let name = str_at(v, "/name").unwrap_or("");
            return denied(format!("{what}: hostPath volume `{name}` is not allowed"));
        }
    }
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        let Some(containers) = spec.get(list).and_then(Value::as_array) else {
            continue;
        };
        for c in containers {
            let name = str_at(c, "/name").unwrap_or("");
            if c.pointer("/securityContext/privileged")
                .and_then(Value::as_bool)
                == Some(true)
            {
                return denied(format!(
                    "{what}: privileged container `{name}` is not allowed"
                ));
            }
            let adds = c
                .pointer("/securityContext/capabilities/add")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty());
            if adds {
                return denied(format!("{what}: container `{name}` adds capabilities"));
            }
        }
    }
    Ok(())
}

impl ClusterIo for GuardedCluster {
    fn apply(&self, manifest: &str) -> Result<String, IoError> {
        self.check_manifest("apply", &parse("apply", manifest)?)?;
        self.inner.apply(manifest)
    }

    fn create(&self, manifest: &str) -> Result<String, IoError> {
        let value = parse("create", manifest)?;
        let api_version = str_at(&value, "/apiVersion").unwrap_or("");
        let kind = str_at(&value, "/kind").unwrap_or("");
        self.check_kind(api_version, kind, "create")?;
        self.inner.create(manifest)
    }

    fn server_version(&self) -> Result<String, IoError> {
        self.inner.server_version()
    }

    fn get(&self, target: &ObjectRef) -> Result<Option<String>, IoError> {
        self.check_ref("get", target)?;
        self.inner.get(target)
    }

    fn list(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        label_selector: &str,
    ) -> Result<Vec<String>, IoError> {
        self.check_kind(api_version, kind, "list")?;
        if let Some(ns) = namespace {
            self.check_namespace(&format!("list of {kind}"), Some(ns))?;
            return self
                .inner
                .list(api_version, kind, namespace, label_selector);
        }
        // A cluster-wide list is narrowed to the module's namespaces.
        let items = self.inner.list(api_version, kind, None, label_selector)?;
        Ok(items
            .into_iter()
            .filter(|item| {
                let Ok(v) = serde_json::from_str::<Value>(item) else {
                    return false;
                };
                let ns = if kind == "Namespace" {
                    str_at(&v, "/metadata/name")
                } else {
                    str_at(&v, "/metadata/namespace")
                };
                ns.is_some_and(|ns| ns.starts_with(&self.prefix))
            })
            .collect())
    }

    fn delete(&self, target: &ObjectRef, options: &DeleteOptions) -> Result<bool, IoError> {
        self.check_ref("delete", target)?;
        self.inner.delete(target, options)
    }

    fn watch(&self, request: &WatchRequest) -> Result<Box<dyn WatchStream>, IoError> {
        self.check_kind(&request.api_version, &request.kind, "watch")?;
        self.check_namespace(
            &format!("watch of {}", request.kind),
            Some(&request.namespace),
        )?;
        self.inner.watch(request)
    }

    fn exec(&self, spec: &ExecSpec, caller: &CallerIo) -> Result<Box<dyn ExecStream>, IoError> {
        self.check_namespace(
            &format!("exec in pod `{}`", spec.pod),
            Some(&spec.namespace),
        )?;
        self.inner.exec(spec, caller)
    }

    fn logs(
        &self,
        request: &LogsRequest,
        caller: &CallerIo,
    ) -> Result<Box<dyn LogFollow>, IoError> {
        self.check_namespace(
            &format!("logs of pod `{}`", request.pod),
            Some(&request.namespace),
        )?;
        self.inner.logs(request, caller)
    }

    fn apply_host_secret(
        &self,
        request: &HostSecretRequest,
    ) -> Result<(String, Vec<String>), IoError> {
        let manifest = parse("secret", &request.manifest)?;
        if str_at(&manifest, "/kind") != Some("Secret") {
            return denied("a host-filled secret must be a Secret".to_string());
        }
        self.check_manifest("apply", &manifest)?;
        self.inner.apply_host_secret(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster_io::NoCluster;
    use rstest::rstest;
    use serde_json::json;

    fn guard() -> GuardedCluster {
        GuardedCluster::new(Arc::new(NoCluster), "leasebox-")
    }

    /// Passing the guard means reaching the inner cluster, which here
    /// answers "no cluster"; a refusal is `Denied`.
    fn verdict(result: Result<String, IoError>) -> &'static str {
        match result {
            Err(IoError::Denied(_)) => "denied",
            Err(IoError::NoCluster(_)) => "passed",
            Err(IoError::BadArgument(_)) => "bad-argument",
            _ => "other",
        }
    }

    fn pod(spec: Value) -> Value {
        json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"leasebox-acme"},"spec":spec})
    }

    #[rstest]
    #[case::tenant_namespace_allowed(json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"leasebox-acme"}}), "passed")]
    #[case::foreign_namespace_denied(json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"kube-system"}}), "denied")]
    #[case::bare_prefix_namespace_denied(json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"leasebox-"}}), "denied")]
    #[case::object_in_foreign_namespace_denied(json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","namespace":"default"}}), "denied")]
    #[case::cluster_role_denied(json!({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"x"}}), "denied")]
    #[case::unknown_kind_denied(json!({"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"d","namespace":"leasebox-acme"}}), "denied")]
    #[case::role_within_ceiling_allowed(json!({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"r","namespace":"leasebox-acme"},"rules":[{"apiGroups":[""],"resources":["pods/log"],"verbs":["get"]}]}), "passed")]
    #[case::role_beyond_ceiling_denied(json!({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"r","namespace":"leasebox-acme"},"rules":[{"apiGroups":[""],"resources":["secrets"],"verbs":["get","list"]}]}), "denied")]
    #[case::role_wildcard_denied(json!({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"r","namespace":"leasebox-acme"},"rules":[{"apiGroups":["*"],"resources":["*"],"verbs":["*"]}]}), "denied")]
    #[case::binding_to_cluster_role_denied(json!({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"b","namespace":"leasebox-acme"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"},"subjects":[{"kind":"ServiceAccount","name":"a","namespace":"leasebox-acme"}]}), "denied")]
    #[case::binding_foreign_subject_denied(json!({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"b","namespace":"leasebox-acme"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"r"},"subjects":[{"kind":"ServiceAccount","name":"a","namespace":"kube-system"}]}), "denied")]
    #[case::binding_own_service_account_allowed(json!({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"b","namespace":"leasebox-acme"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"r"},"subjects":[{"kind":"ServiceAccount","name":"a","namespace":"leasebox-acme"}]}), "passed")]
    #[case::plain_pod_allowed(pod(json!({"containers":[{"name":"agent","image":"busybox"}]})), "passed")]
    #[case::host_network_pod_denied(pod(json!({"hostNetwork":true,"containers":[{"name":"agent","image":"busybox"}]})), "denied")]
    #[case::host_path_pod_denied(pod(json!({"volumes":[{"name":"root","hostPath":{"path":"/"}}],"containers":[{"name":"agent","image":"busybox"}]})), "denied")]
    #[case::privileged_init_container_denied(pod(json!({"initContainers":[{"name":"i","image":"busybox","securityContext":{"privileged":true}}],"containers":[{"name":"agent","image":"busybox"}]})), "denied")]
    #[case::added_capability_denied(pod(json!({"containers":[{"name":"agent","image":"busybox","securityContext":{"capabilities":{"add":["SYS_ADMIN"]}}}]})), "denied")]
    #[case::privileged_sandbox_template_denied(json!({"apiVersion":"agents.x-k8s.io/v1beta1","kind":"Sandbox","metadata":{"name":"s","namespace":"leasebox-acme"},"spec":{"podTemplate":{"spec":{"containers":[{"name":"agent","image":"busybox","securityContext":{"privileged":true}}]}}}}), "denied")]
    fn apply_is_guarded(#[case] manifest: Value, #[case] expected: &str) {
        assert_eq!(verdict(guard().apply(&manifest.to_string())), expected);
    }

    #[test]
    fn review_objects_may_be_created_but_not_pods() {
        let review = json!({"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{}});
        assert_eq!(verdict(guard().create(&review.to_string())), "passed");
        let p = pod(json!({"containers":[]}));
        assert_eq!(verdict(guard().create(&p.to_string())), "denied");
    }

    #[test]
    fn namespace_cannot_be_deleted() {
        let target = ObjectRef {
            api_version: "v1".into(),
            kind: "Namespace".into(),
            namespace: None,
            name: "leasebox-acme".into(),
            uid: None,
        };
        let options = DeleteOptions {
            propagation: crate::cluster_io::Propagation::Foreground,
            precondition_uid: None,
            grace_period_seconds: None,
        };
        let err = guard().delete(&target, &options).expect_err("refused");
        assert!(
            matches!(err, IoError::Denied(ref m) if m.contains("not allowed")),
            "{err}"
        );
    }

    #[test]
    fn exec_outside_the_prefix_is_denied_with_the_namespace_named() {
        let spec = ExecSpec {
            namespace: "kube-system".into(),
            pod: "etcd".into(),
            container: "etcd".into(),
            argv: vec!["sh".into()],
            stdin: false,
            forward_output: true,
            forward_stdin: false,
            frame_stdin: false,
            max_stdout_bytes: None,
            max_stderr_bytes: None,
        };
        let Err(err) = guard().exec(&spec, &CallerIo::process()) else {
            panic!("exec in kube-system must be refused");
        };
        assert!(
            matches!(err, IoError::Denied(ref m) if m.contains("kube-system")),
            "{err}"
        );
    }

    #[test]
    fn host_secret_must_be_a_secret_in_the_tenant_namespace() {
        let request = |manifest: Value| HostSecretRequest {
            manifest: manifest.to_string(),
            random_keys: vec![],
            host_keys: vec!["ANTHROPIC_API_KEY".into()],
            literal: vec![],
        };
        let foreign = json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","namespace":"default"}});
        assert!(matches!(
            guard().apply_host_secret(&request(foreign)),
            Err(IoError::Denied(_))
        ));
        let not_secret = json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"s","namespace":"leasebox-a"}});
        assert!(matches!(
            guard().apply_host_secret(&request(not_secret)),
            Err(IoError::Denied(_))
        ));
    }
}
