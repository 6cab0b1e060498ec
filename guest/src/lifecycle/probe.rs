//! probe: can this cluster serve leases for this configuration? A report
//! of checks, each with what was found: reachable and version, the
//! agent-sandbox CRD, RBAC for every verb acquire/execute/release use
//! (one SelfSubjectAccessReview each), and the tenant namespace.

use k8s_openapi::Resource;
use k8s_openapi::api::core::v1::Namespace;
use serde_json::{Value, json};

use super::conditions;
use crate::cluster::{Cluster, KubeError};
use crate::config::{self, Backend, Config, EgressMode, Workspace};
use crate::error::PolicyError;
use crate::hooks::Hooks;
use crate::lease::{ObjectRef, ProbeCheck};
use crate::names;

/// One permission acquire, execute or release needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Permission {
    /// Verb (`create`, `patch`, ...).
    pub verb: &'static str,
    /// API group (empty: core).
    pub group: &'static str,
    /// Resource (plural).
    pub resource: &'static str,
    /// Subresource (`exec`, `log`), empty for none.
    pub subresource: &'static str,
    /// Cluster-scoped (no namespace in the review).
    pub cluster_scoped: bool,
}

const fn perm(verb: &'static str, group: &'static str, resource: &'static str) -> Permission {
    Permission {
        verb,
        group,
        resource,
        subresource: "",
        cluster_scoped: false,
    }
}

/// Every permission a lease under `config` needs, in the order acquire,
/// execute and release use them. Server-side apply of a new object needs
/// both `create` and `patch`.
pub(crate) fn permissions(config: &Config) -> Vec<Permission> {
    let mut out = Vec::new();
    for verb in ["create", "patch"] {
        out.push(Permission {
            cluster_scoped: true,
            ..perm(verb, "", "namespaces")
        });
    }
    let tenant: [(&str, &str); 7] = [
        ("", "serviceaccounts"),
        ("rbac.authorization.k8s.io", "roles"),
        ("rbac.authorization.k8s.io", "rolebindings"),
        ("", "resourcequotas"),
        ("", "limitranges"),
        ("networking.k8s.io", "networkpolicies"),
        match config.egress_mode {
            EgressMode::Standard => ("networking.k8s.io", "networkpolicies"),
            EgressMode::Cilium => ("cilium.io", "ciliumnetworkpolicies"),
        },
    ];
    let mut seen = Vec::new();
    for (group, resource) in tenant {
        if seen.contains(&(group, resource)) {
            continue;
        }
        seen.push((group, resource));
        for verb in ["create", "patch"] {
            out.push(perm(verb, group, resource));
        }
    }
    // The 0.1 tenant-wide policies of both modes are deleted on every
    // acquire, and a failed acquire rolls the lease's own policy back.
    out.push(perm("delete", "networking.k8s.io", "networkpolicies"));
    out.push(perm("delete", "cilium.io", "ciliumnetworkpolicies"));
    let (group, resource) = match config.backend {
        Backend::SandboxCr => ("agents.x-k8s.io", "sandboxes"),
        Backend::Job => ("batch", "jobs"),
        Backend::Pod => ("", "pods"),
    };
    for verb in ["create", "patch", "get", "list", "watch", "delete"] {
        out.push(perm(verb, group, resource));
    }
    if matches!(config.backend, Backend::Pod | Backend::Job)
        && matches!(config.workspace, Workspace::Pvc { .. })
    {
        for verb in ["create", "patch", "delete"] {
            out.push(perm(verb, "", "persistentvolumeclaims"));
        }
    }
    for verb in ["create", "patch", "delete"] {
        out.push(perm(verb, "", "secrets"));
    }
    // Readiness watches pods on every backend.
    for verb in ["get", "list", "watch"] {
        if !out.contains(&perm(verb, "", "pods")) {
            out.push(perm(verb, "", "pods"));
        }
    }
    out.push(Permission {
        subresource: "exec",
        ..perm("create", "", "pods")
    });
    out.push(Permission {
        subresource: "log",
        ..perm("get", "", "pods")
    });
    out
}

fn review(permission: &Permission, namespace: &str) -> Value {
    let mut attributes = json!({
        "verb": permission.verb,
        "group": permission.group,
        "resource": permission.resource,
    });
    if !permission.subresource.is_empty() {
        attributes["subresource"] = json!(permission.subresource);
    }
    if !permission.cluster_scoped {
        attributes["namespace"] = json!(namespace);
    }
    json!({
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": { "resourceAttributes": attributes },
    })
}

fn permission_name(permission: &Permission) -> String {
    let mut resource = permission.resource.to_string();
    if !permission.subresource.is_empty() {
        resource = format!("{resource}/{}", permission.subresource);
    }
    if !permission.group.is_empty() {
        resource = format!("{resource}.{}", permission.group);
    }
    format!("rbac {} {resource}", permission.verb)
}

fn check(name: impl Into<String>, ok: bool, detail: impl Into<String>) -> ProbeCheck {
    ProbeCheck {
        name: name.into(),
        ok,
        detail: detail.into(),
    }
}

fn access_check(cluster: &dyn Cluster, permission: &Permission, namespace: &str) -> ProbeCheck {
    let name = permission_name(permission);
    let scope = if permission.cluster_scoped {
        "cluster-wide".to_string()
    } else {
        format!("in {namespace}")
    };
    match cluster.create(&review(permission, namespace)) {
        Ok(answer) => {
            let status = &answer["status"];
            let allowed = status["allowed"].as_bool().unwrap_or(false);
            let reason = status["reason"].as_str().unwrap_or("");
            let evaluation = status["evaluationError"].as_str().unwrap_or("");
            let detail = if allowed {
                format!("allowed {scope}")
            } else {
                format!(
                    "denied {scope}{}{}; grant it to the host's service account (see deploy/)",
                    if reason.is_empty() {
                        String::new()
                    } else {
                        format!(": {reason}")
                    },
                    if evaluation.is_empty() {
                        String::new()
                    } else {
                        format!(" ({evaluation})")
                    },
                )
            };
            check(name, allowed, detail)
        }
        Err(e) => check(
            name,
            false,
            format!("could not ask the server: {}", e.describe()),
        ),
    }
}

/// See [`super::probe`].
pub(crate) fn probe(
    hooks: &dyn Hooks,
    cluster: &dyn Cluster,
    document: &str,
    company_id: &str,
) -> Result<Vec<ProbeCheck>, PolicyError> {
    let validated = config::validate(document);
    let config = match validated.config {
        Some(config) if validated.errors.is_empty() => config,
        _ => return Err(PolicyError::InvalidConfig(validated.errors)),
    };
    if company_id.trim().is_empty() {
        return Err(PolicyError::BadRequest(
            "company id is empty; pass the tenant whose namespace to check".into(),
        ));
    }
    let namespace = hooks.tenant_namespace(&config, company_id);
    let mut checks = Vec::new();

    match cluster.server_version() {
        Ok(version) => checks.push(check(
            "cluster-reachable",
            true,
            format!("Kubernetes {version}"),
        )),
        Err(e) => {
            checks.push(check(
                "cluster-reachable",
                false,
                format!(
                    "{}; check the kubeconfig or in-cluster service account",
                    e.describe()
                ),
            ));
            return Ok(checks);
        }
    }

    if config.backend == Backend::SandboxCr {
        let api_version = config.sandbox_api_version.api_version();
        let name = "crd sandboxes.agents.x-k8s.io";
        checks.push(
            match cluster.list(
                api_version,
                crate::manifests::sandbox_cr::KIND,
                Some(&namespace),
                "",
            ) {
                Ok(_) => check(name, true, format!("served as {api_version}")),
                Err(KubeError::NotFound(_)) => check(
                    name,
                    false,
                    format!(
                        "{api_version} Sandbox is not served: install agent-sandbox, set \
                         sandboxApiVersion to the version it serves (v1alpha1 on v0.5.x), or use \
                         the pod or job backend"
                    ),
                ),
                Err(e) => check(
                    name,
                    false,
                    format!("could not list Sandboxes: {}", e.describe()),
                ),
            },
        );
    }

    for permission in permissions(&config) {
        checks.push(access_check(cluster, &permission, &namespace));
    }

    let namespace_ref = ObjectRef {
        api_version: Namespace::API_VERSION.into(),
        kind: Namespace::KIND.into(),
        namespace: None,
        name: namespace.clone(),
        uid: None,
    };
    let name = format!("tenant-namespace {namespace}");
    let stored = cluster
        .get(&namespace_ref)
        .map(|ns| ns.map(conditions::read::<Namespace>));
    checks.push(match stored {
        Ok(Some(Err(message))) => check(name, false, format!("could not read it: {message}")),
        Ok(Some(Ok(ns))) => match ns.status.as_ref().and_then(|s| s.phase.as_deref()) {
            Some("Terminating") => check(
                name,
                false,
                "exists but is terminating; wait until it is gone, acquire then recreates it",
            ),
            _ => {
                let managed = ns
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(names::LABEL_MANAGED_BY))
                    .map(String::as_str)
                    == Some(names::MANAGED_BY);
                check(
                    name,
                    true,
                    if managed {
                        "exists, managed by leasebox".to_string()
                    } else {
                        "exists, not labelled by leasebox yet; acquire will apply its labels"
                            .to_string()
                    },
                )
            }
        },
        Ok(None) => check(name, true, "does not exist yet; acquire creates it"),
        Err(e) => check(name, false, format!("could not read it: {}", e.describe())),
    });
    Ok(checks)
}

#[cfg(test)]
mod deploy_rbac_tests {
    //! The ClusterRole in `deploy/rbac.yaml` must grant every permission
    //! probe checks (and so every call acquire, execute and release make),
    //! for every backend, egress mode and workspace.

    use rstest::rstest;
    use serde_json::json;

    use super::permissions;

    /// `(apiGroup, resource, verb)` granted by the ClusterRole.
    fn granted() -> Vec<(String, String, String)> {
        let text = include_str!("../../../deploy/rbac.yaml");
        let mut out = Vec::new();
        for doc in serde_yaml::Deserializer::from_str(text) {
            let value: serde_json::Value =
                serde::Deserialize::deserialize(doc).expect("deploy/rbac.yaml parses");
            if value["kind"] != "ClusterRole" {
                continue;
            }
            for rule in value["rules"].as_array().expect("rules") {
                let list = |key: &str| -> Vec<String> {
                    rule[key]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|v| v.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default()
                };
                for group in list("apiGroups") {
                    for resource in list("resources") {
                        for verb in list("verbs") {
                            out.push((group.clone(), resource.clone(), verb.clone()));
                        }
                    }
                }
            }
        }
        out
    }

    #[rstest]
    #[case::sandbox_cr_standard("sandbox-cr", "standard", "emptyDir")]
    #[case::sandbox_cr_cilium_pvc("sandbox-cr", "cilium", "pvc")]
    #[case::job_standard_pvc("job", "standard", "pvc")]
    #[case::job_cilium("job", "cilium", "emptyDir")]
    #[case::pod_standard_pvc("pod", "standard", "pvc")]
    #[case::pod_cilium("pod", "cilium", "emptyDir")]
    fn deploy_cluster_role_grants_every_permission_probe_checks(
        #[case] backend: &str,
        #[case] egress: &str,
        #[case] workspace: &str,
    ) {
        let workspace = if workspace == "pvc" {
            json!({"type": "pvc", "size": "10Gi"})
        } else {
            json!({"type": "emptyDir"})
        };
        let document = json!({"inCluster": true, "backend": backend, "egressMode": egress, "workspace": workspace});
        let config = crate::config::validate(&document.to_string())
            .config
            .expect("valid configuration");
        let granted = granted();
        for p in permissions(&config) {
            let resource = if p.subresource.is_empty() {
                p.resource.to_string()
            } else {
                format!("{}/{}", p.resource, p.subresource)
            };
            let ok = granted
                .iter()
                .any(|(g, r, v)| g == p.group && *r == resource && v == p.verb);
            assert!(
                ok,
                "deploy/rbac.yaml lacks `{}` on `{resource}` (group `{}`)",
                p.verb, p.group
            );
        }
    }
}
