//! What a policy module may do: one table, owned by the operator.
//!
//! [`KINDS`] lists every kind a module may touch and the [`Verb`]s it may
//! use on each; [`Grants`] adds what the operator's [`HostSettings`] decide
//! (the namespace fence and the host secret keys). The capability guard
//! (`guard.rs`) enforces it, and the host's own RBAC (`deploy/rbac.yaml`,
//! printed by `leasebox rbac`) is derived from the same table, so the two
//! cannot drift: every call the guard can allow is granted, and nothing
//! else is.

use std::collections::{BTreeMap, BTreeSet};

use crate::settings::HostSettings;

pub mod pod_profile;

/// A verb a module may use on a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verb {
    /// Read one object.
    Get,
    /// List objects.
    List,
    /// Watch objects.
    Watch,
    /// Server-side apply.
    Apply,
    /// Plain create (review objects only).
    Create,
    /// Delete.
    Delete,
    /// Exec into a pod (`pods/exec`).
    Exec,
    /// Read a container log (`pods/log`).
    Logs,
    /// Have the host fill a Secret's values (`apply-host-secret`).
    FillSecret,
}

impl Verb {
    /// The verb's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Apply => "apply",
            Verb::Create => "create",
            Verb::Delete => "delete",
            Verb::Exec => "exec",
            Verb::Logs => "logs",
            Verb::FillSecret => "apply-host-secret",
        }
    }

    /// The RBAC (subresource, verbs) the host needs to carry this verb out.
    fn rbac(self) -> (Option<&'static str>, &'static [&'static str]) {
        match self {
            Verb::Get => (None, &["get"]),
            Verb::List => (None, &["list"]),
            Verb::Watch => (None, &["watch"]),
            // Server-side apply is a PATCH that may create the object.
            Verb::Apply | Verb::FillSecret => (None, &["create", "patch"]),
            Verb::Create => (None, &["create"]),
            Verb::Delete => (None, &["delete"]),
            // leasebox upgrades a GET (a websocket, or SPDY when stdin is
            // open); a GET upgrade is authorised as `get` on servers
            // before 1.30 and as `create` after.
            Verb::Exec => (Some("exec"), &["create", "get"]),
            Verb::Logs => (Some("log"), &["get"]),
        }
    }
}

/// One kind a module may touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindGrant {
    /// apiVersion.
    pub api_version: &'static str,
    /// Kind.
    pub kind: &'static str,
    /// Resource name in RBAC rules (plural).
    pub resource: &'static str,
    /// What a module may do with it.
    pub verbs: &'static [Verb],
}

impl KindGrant {
    /// The API group (empty for the core group).
    pub fn group(&self) -> &'static str {
        self.api_version
            .rsplit_once('/')
            .map_or("", |(group, _)| group)
    }
}

const READ_WRITE: &[Verb] = &[
    Verb::Get,
    Verb::List,
    Verb::Watch,
    Verb::Apply,
    Verb::Delete,
];

const fn kind(
    api_version: &'static str,
    kind: &'static str,
    resource: &'static str,
    verbs: &'static [Verb],
) -> KindGrant {
    KindGrant {
        api_version,
        kind,
        resource,
        verbs,
    }
}

/// Every kind a module may touch (SPEC §3-§4, plus Pod exec and logs), and
/// how. Secrets are never read: the host fills them and hands back names.
/// Namespaces are applied (inside the fence) but never deleted.
pub const KINDS: &[KindGrant] = &[
    kind(
        "v1",
        "Namespace",
        "namespaces",
        &[Verb::Get, Verb::List, Verb::Watch, Verb::Apply],
    ),
    kind("v1", "ServiceAccount", "serviceaccounts", READ_WRITE),
    kind("v1", "Secret", "secrets", &[Verb::FillSecret, Verb::Delete]),
    kind(
        "v1",
        "Pod",
        "pods",
        &[
            Verb::Get,
            Verb::List,
            Verb::Watch,
            Verb::Apply,
            // Warm-pool pods only (`guard/pool.rs`): a create fails when
            // the name is taken, so two hosts never make one pool pod twice.
            Verb::Create,
            Verb::Delete,
            Verb::Exec,
            Verb::Logs,
        ],
    ),
    kind(
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        READ_WRITE,
    ),
    kind("v1", "ResourceQuota", "resourcequotas", READ_WRITE),
    kind("v1", "LimitRange", "limitranges", READ_WRITE),
    kind("rbac.authorization.k8s.io/v1", "Role", "roles", READ_WRITE),
    kind(
        "rbac.authorization.k8s.io/v1",
        "RoleBinding",
        "rolebindings",
        READ_WRITE,
    ),
    kind(
        "networking.k8s.io/v1",
        "NetworkPolicy",
        "networkpolicies",
        READ_WRITE,
    ),
    kind(
        "cilium.io/v2",
        "CiliumNetworkPolicy",
        "ciliumnetworkpolicies",
        READ_WRITE,
    ),
    kind("batch/v1", "Job", "jobs", READ_WRITE),
    kind(
        "agents.x-k8s.io/v1beta1",
        "Sandbox",
        "sandboxes",
        READ_WRITE,
    ),
    kind(
        "agents.x-k8s.io/v1alpha1",
        "Sandbox",
        "sandboxes",
        READ_WRITE,
    ),
    kind(
        "authorization.k8s.io/v1",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreviews",
        &[Verb::Create],
    ),
];

/// The most a tenant Role may grant: `get` on `pods/log` in the core group
/// (group, resource, verb).
pub const ROLE_CEILING: &[(&str, &str, &str)] = &[("", "pods/log", "get")];

/// The label that marks a namespace as leasebox's own; the host sets it on
/// every namespace it creates and writes nowhere else.
pub const OWNER_LABEL: (&str, &str) = ("app.kubernetes.io/managed-by", "leasebox");

/// The label that names a pod's lease.
pub const LEASE_LABEL: &str = "leasebox.dev/lease";

/// The label of a warm-pool pod naming its pool. A pod carrying it and no
/// [`LEASE_LABEL`] is unclaimed: it belongs to no lease, and the guard
/// lets no exec or log reach it.
pub const POOL_LABEL: &str = "leasebox.dev/pool";

/// The operator's grants: the kinds table, the namespace fence and the host
/// secret keys, from the host settings (never from a policy configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grants {
    /// Tenant namespaces start with this prefix.
    pub namespace_prefix: String,
    /// Host keys a module may ask the host to fill.
    pub host_keys: BTreeSet<String>,
    /// Namespaces outside the fence a lease's egress may reach (server
    /// callbacks), besides the cluster DNS.
    pub callback_namespaces: BTreeSet<String>,
    /// Company ids the operator declares to be another company id (alias
    /// -> company id).
    pub company_aliases: BTreeMap<String, String>,
}

impl Grants {
    /// The grants of `settings`.
    pub fn from_settings(settings: &HostSettings) -> Grants {
        Grants {
            namespace_prefix: settings.namespace_prefix.clone(),
            host_keys: settings.host_keys.iter().cloned().collect(),
            callback_namespaces: settings.callback_namespaces.iter().cloned().collect(),
            company_aliases: settings.company_aliases.clone(),
        }
    }

    /// The company a call for `company` is for: itself, or the company id
    /// the operator declared it an alias of.
    pub fn company<'a>(&'a self, company: &'a str) -> &'a str {
        self.company_aliases
            .get(company)
            .map_or(company, String::as_str)
    }

    /// The grant of a kind, if modules may touch it at all.
    pub fn kind(&self, api_version: &str, kind: &str) -> Option<&'static KindGrant> {
        KINDS
            .iter()
            .find(|k| k.api_version == api_version && k.kind == kind)
    }
}

impl Default for Grants {
    fn default() -> Self {
        Grants::from_settings(&HostSettings::default())
    }
}

/// One RBAC rule of the host's ClusterRole.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RbacRule {
    /// API group.
    pub group: String,
    /// Resources (a resource or `resource/subresource`).
    pub resources: Vec<String>,
    /// Verbs.
    pub verbs: Vec<String>,
}

/// Every (group, resource, verb) the host needs to carry out what [`KINDS`]
/// allows, sorted.
pub fn rbac_permissions() -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for grant in KINDS {
        for verb in grant.verbs {
            let (sub, verbs) = verb.rbac();
            let resource = match sub {
                Some(sub) => format!("{}/{sub}", grant.resource),
                None => grant.resource.to_string(),
            };
            for rbac_verb in verbs {
                out.insert((
                    grant.group().to_string(),
                    resource.clone(),
                    (*rbac_verb).to_string(),
                ));
            }
        }
    }
    out
}

/// The ClusterRole rules: one rule per group and verb set, resources merged.
pub fn rbac_rules() -> Vec<RbacRule> {
    let mut by_resource: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for (group, resource, verb) in rbac_permissions() {
        by_resource
            .entry((group, resource))
            .or_default()
            .insert(verb);
    }
    let mut by_verbs: BTreeMap<(String, Vec<String>), Vec<String>> = BTreeMap::new();
    for ((group, resource), verbs) in by_resource {
        by_verbs
            .entry((group, ordered_verbs(verbs)))
            .or_default()
            .push(resource);
    }
    by_verbs
        .into_iter()
        .map(|((group, verbs), resources)| RbacRule {
            group,
            resources,
            verbs,
        })
        .collect()
}

/// Verbs in the conventional order (reads, then writes).
fn ordered_verbs(verbs: BTreeSet<String>) -> Vec<String> {
    const ORDER: [&str; 6] = ["get", "list", "watch", "create", "patch", "delete"];
    let mut out: Vec<String> = ORDER
        .iter()
        .filter(|v| verbs.contains(**v))
        .map(|v| v.to_string())
        .collect();
    out.extend(verbs.into_iter().filter(|v| !ORDER.contains(&v.as_str())));
    out
}

/// The host's RBAC as a YAML document stream: its Namespace, ServiceAccount,
/// ClusterRole (derived from [`KINDS`]) and ClusterRoleBinding. This is
/// `deploy/rbac.yaml`.
pub fn rbac_yaml() -> String {
    let mut out = String::from(
        "# RBAC for the leasebox host's service account (in-cluster mode).\n\
         # Generated by `leasebox rbac` from the host's grants table\n\
         # (host/src/cluster/grants.rs): exactly what the capability guard can allow a\n\
         # policy module, and nothing else. The guard narrows it further at run\n\
         # time: only namespaces inside the operator's fence, no Secret reads,\n\
         # exec only into lease pods, tenant Roles no wider than `get pods/log`.\n\
         apiVersion: v1\n\
         kind: Namespace\n\
         metadata:\n\
         \x20 name: leasebox-system\n\
         ---\n\
         apiVersion: v1\n\
         kind: ServiceAccount\n\
         metadata:\n\
         \x20 name: leasebox\n\
         \x20 namespace: leasebox-system\n\
         ---\n\
         apiVersion: rbac.authorization.k8s.io/v1\n\
         kind: ClusterRole\n\
         metadata:\n\
         \x20 name: leasebox-host\n\
         \x20 labels:\n\
         \x20   app.kubernetes.io/managed-by: leasebox\n\
         rules:\n",
    );
    let list = |items: &[String]| {
        items
            .iter()
            .map(|i| format!("\"{i}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for rule in rbac_rules() {
        out.push_str(&format!(
            "  - apiGroups: [\"{}\"]\n    resources: [{}]\n    verbs: [{}]\n",
            rule.group,
            list(&rule.resources),
            list(&rule.verbs)
        ));
    }
    out.push_str(
        "---\n\
         apiVersion: rbac.authorization.k8s.io/v1\n\
         kind: ClusterRoleBinding\n\
         metadata:\n\
         \x20 name: leasebox-host\n\
         \x20 labels:\n\
         \x20   app.kubernetes.io/managed-by: leasebox\n\
         roleRef:\n\
         \x20 apiGroup: rbac.authorization.k8s.io\n\
         \x20 kind: ClusterRole\n\
         \x20 name: leasebox-host\n\
         subjects:\n\
         \x20 - kind: ServiceAccount\n\
         \x20   name: leasebox\n\
         \x20   namespace: leasebox-system\n",
    );
    out.push_str(&sweep_leader_rbac(
        crate::settings::DEFAULT_LEADER_NAMESPACE,
        crate::settings::DEFAULT_LEADER_LEASE_NAME,
    ));
    out
}

/// The host's own object, outside the grants table (no policy module can
/// reach it): the `coordination.k8s.io/v1` Lease in `namespace` that elects
/// the replica of `leasebox serve` that sweeps. A Role there (create cannot
/// be narrowed by name; get and update only the Lease `lease_name`) and its
/// binding.
fn sweep_leader_rbac(namespace: &str, lease_name: &str) -> String {
    format!(
        "---\n\
         # leasebox serve: the Lease that elects the one replica that sweeps.\n\
         apiVersion: rbac.authorization.k8s.io/v1\n\
         kind: Role\n\
         metadata:\n\
         \x20 name: leasebox-sweep-leader\n\
         \x20 namespace: {namespace}\n\
         \x20 labels:\n\
         \x20   app.kubernetes.io/managed-by: leasebox\n\
         rules:\n\
         \x20 - apiGroups: [\"coordination.k8s.io\"]\n\
         \x20   resources: [\"leases\"]\n\
         \x20   verbs: [\"create\"]\n\
         \x20 - apiGroups: [\"coordination.k8s.io\"]\n\
         \x20   resources: [\"leases\"]\n\
         \x20   resourceNames: [\"{lease_name}\"]\n\
         \x20   verbs: [\"get\", \"update\"]\n\
         ---\n\
         apiVersion: rbac.authorization.k8s.io/v1\n\
         kind: RoleBinding\n\
         metadata:\n\
         \x20 name: leasebox-sweep-leader\n\
         \x20 namespace: {namespace}\n\
         \x20 labels:\n\
         \x20   app.kubernetes.io/managed-by: leasebox\n\
         roleRef:\n\
         \x20 apiGroup: rbac.authorization.k8s.io\n\
         \x20 kind: Role\n\
         \x20 name: leasebox-sweep-leader\n\
         subjects:\n\
         \x20 - kind: ServiceAccount\n\
         \x20   name: leasebox\n\
         \x20   namespace: leasebox-system\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_never_readable() {
        let secret = Grants::default()
            .kind("v1", "Secret")
            .expect("secret grant");
        for verb in [Verb::Get, Verb::List, Verb::Watch, Verb::Apply] {
            assert!(!secret.verbs.contains(&verb), "{verb:?}");
        }
    }

    #[test]
    fn namespaces_are_never_deleted() {
        let namespace = Grants::default().kind("v1", "Namespace").expect("grant");
        assert!(!namespace.verbs.contains(&Verb::Delete));
    }

    #[test]
    fn cluster_wide_rbac_kinds_are_not_granted() {
        let grants = Grants::default();
        for kind in ["ClusterRole", "ClusterRoleBinding"] {
            assert!(grants.kind("rbac.authorization.k8s.io/v1", kind).is_none());
        }
    }

    #[test]
    fn secret_rbac_allows_writes_but_no_reads() {
        let permissions = rbac_permissions();
        let secret_verbs: Vec<&str> = permissions
            .iter()
            .filter(|(g, r, _)| g.is_empty() && r == "secrets")
            .map(|(_, _, v)| v.as_str())
            .collect();
        assert_eq!(secret_verbs, ["create", "delete", "patch"]);
    }

    #[test]
    fn exec_and_logs_are_subresources_of_pods() {
        let permissions = rbac_permissions();
        assert!(permissions.contains(&("".into(), "pods/exec".into(), "create".into())));
        assert!(permissions.contains(&("".into(), "pods/log".into(), "get".into())));
    }
}

#[cfg(test)]
mod deploy_tests {
    //! `deploy/rbac.yaml` is the derived RBAC: every call the guard can allow
    //! is granted by it, and it grants nothing else; the platform example
    //! (`deploy/platform-example.yaml`) binds only roles it defines.

    use super::*;

    const DEPLOY: &str = include_str!("../../../deploy/rbac.yaml");

    /// Every (group, resource, verb) the ClusterRole of `deploy/rbac.yaml`
    /// grants.
    fn deployed() -> BTreeSet<(String, String, String)> {
        let mut out = BTreeSet::new();
        for doc in serde_yaml::Deserializer::from_str(DEPLOY) {
            let value: serde_yaml::Value =
                serde::Deserialize::deserialize(doc).expect("deploy/rbac.yaml parses");
            if value["kind"].as_str() != Some("ClusterRole") {
                continue;
            }
            let rules = value["rules"].as_sequence().cloned().unwrap_or_default();
            for rule in rules {
                let strings = |key: &str| -> Vec<String> {
                    rule[key]
                        .as_sequence()
                        .map(|s| {
                            s.iter()
                                .filter_map(|v| v.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default()
                };
                for group in strings("apiGroups") {
                    for resource in strings("resources") {
                        for verb in strings("verbs") {
                            out.insert((group.clone(), resource.clone(), verb));
                        }
                    }
                }
            }
        }
        out
    }

    #[test]
    fn deploy_rbac_is_the_generated_one() {
        assert_eq!(
            DEPLOY,
            rbac_yaml(),
            "deploy/rbac.yaml is stale: regenerate it with `leasebox rbac > deploy/rbac.yaml`"
        );
    }

    #[test]
    fn every_call_the_guard_can_allow_is_granted_by_the_deployed_rbac() {
        let deployed = deployed();
        for needed in rbac_permissions() {
            assert!(
                deployed.contains(&needed),
                "deploy/rbac.yaml lacks {needed:?}"
            );
        }
    }

    #[test]
    fn deployed_rbac_grants_nothing_beyond_the_grants_table() {
        let needed = rbac_permissions();
        for granted in deployed() {
            assert!(
                needed.contains(&granted),
                "deploy/rbac.yaml grants {granted:?}, which no grant needs"
            );
        }
    }

    const PLATFORM_EXAMPLE: &str = include_str!("../../../deploy/platform-example.yaml");

    /// Every document of a YAML stream (`file` names it in the panic).
    fn documents(yaml: &str, file: &str) -> Vec<serde_yaml::Value> {
        let mut out = Vec::new();
        for doc in serde_yaml::Deserializer::from_str(yaml) {
            let value: serde_yaml::Value = serde::Deserialize::deserialize(doc)
                .unwrap_or_else(|e| panic!("{file} does not parse: {e}"));
            out.push(value);
        }
        out
    }

    /// A string field, `""` when absent.
    fn text(value: &serde_yaml::Value) -> String {
        value.as_str().unwrap_or_default().to_string()
    }

    #[test]
    fn every_role_the_platform_example_binds_is_defined_in_the_deployed_rbac() {
        // (kind, namespace, name); a ClusterRole has no namespace.
        let defined: BTreeSet<(String, String, String)> = documents(DEPLOY, "deploy/rbac.yaml")
            .iter()
            .filter(|doc| matches!(doc["kind"].as_str(), Some("ClusterRole" | "Role")))
            .map(|doc| {
                (
                    text(&doc["kind"]),
                    text(&doc["metadata"]["namespace"]),
                    text(&doc["metadata"]["name"]),
                )
            })
            .collect();
        let mut bindings = 0;
        for doc in documents(PLATFORM_EXAMPLE, "deploy/platform-example.yaml") {
            let binding_kind = text(&doc["kind"]);
            if binding_kind != "ClusterRoleBinding" && binding_kind != "RoleBinding" {
                continue;
            }
            bindings += 1;
            let role_ref = &doc["roleRef"];
            let role_kind = text(&role_ref["kind"]);
            // A RoleBinding's Role is the one in the binding's namespace.
            let namespace = if role_kind == "Role" {
                text(&doc["metadata"]["namespace"])
            } else {
                String::new()
            };
            let wanted = (role_kind, namespace, text(&role_ref["name"]));
            assert_eq!(
                role_ref["apiGroup"].as_str(),
                Some("rbac.authorization.k8s.io"),
                "{binding_kind} {}",
                text(&doc["metadata"]["name"])
            );
            assert!(
                defined.contains(&wanted),
                "{binding_kind} {} binds {wanted:?}, which deploy/rbac.yaml does not define \
                 (it defines {defined:?})",
                text(&doc["metadata"]["name"])
            );
        }
        assert!(
            bindings >= 2,
            "deploy/platform-example.yaml has {bindings} bindings; expected the host's \
             ClusterRoleBinding and the sweep leader's RoleBinding"
        );
    }

    #[test]
    fn deployed_rbac_cannot_read_secrets() {
        let deployed = deployed();
        for verb in ["get", "list", "watch"] {
            assert!(
                !deployed.contains(&("".into(), "secrets".into(), verb.into())),
                "{verb}"
            );
        }
    }
}
