//! The capability guard between a policy module and the cluster.
//!
//! A policy module is operator-swappable, possibly hostile code; the guard
//! lets it do only what the operator's [`Grants`] allow, whatever it asks
//! for:
//!
//! - **kinds and verbs** from the one table [`crate::grants::KINDS`];
//! - **the fence**: `kube-*` and `default` are never touched, other
//!   namespaces only when they start with the operator's prefix, and a
//!   namespace is written only when it carries leasebox's ownership label
//!   ([`OWNER_LABEL`]). The host sets that label on every namespace it
//!   creates and refuses to adopt one that exists without it;
//! - **no Secret reads**: a Secret is written only through the host-filled
//!   path, whose answer carries names and filled keys, never values; a pod
//!   may only reference its own lease's Secret; host keys must be granted;
//! - **exec and logs only into lease pods** inside the fence (and, when the
//!   host's caller named a lease, only into that lease's pod);
//! - **RBAC within a ceiling** ([`ROLE_CEILING`]) and **no host access**
//!   from pods.
//!
//! Every refusal is [`KubeError::Denied`] carrying a [`Denial`] that names the
//! [`Rule`]; it is counted ([`DenialCounts`]) and logged with the module's
//! SHA-256 ([`Audit`]).

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::{Value, json};

use crate::cluster_io::{
    CallerIo, ClusterIo, DeleteOptions, Denial, ExecSpec, ExecStream, HostSecretRequest, KubeError,
    LogFollow, LogsRequest, ObjectRef, WatchRequest, WatchStream,
};
use crate::grants::{Grants, KindGrant, LEASE_LABEL, OWNER_LABEL, ROLE_CEILING, Verb};

/// The rule behind a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    /// `kube-*` and `default` are never touched.
    FenceSystem,
    /// The namespace does not start with the operator's prefix.
    FencePrefix,
    /// The namespace exists without leasebox's ownership label.
    FenceUnowned,
    /// The kind, or this verb on it, is not in the grants table.
    KindNotGranted,
    /// Secrets are never read by modules.
    SecretRead,
    /// A Role rule beyond the ceiling.
    RoleCeiling,
    /// A RoleBinding to a ClusterRole or to foreign subjects.
    RoleBinding,
    /// A pod with host access, privilege or added capabilities.
    PodHostAccess,
    /// A pod referencing a Secret other than its lease's own.
    PodSecretRef,
    /// Exec or logs into a pod that is not a (the caller's) lease pod.
    ExecTarget,
    /// A host key the operator did not grant.
    HostSecretKeys,
    /// A Secret written other than through the host-filled path, or not
    /// named for its lease.
    HostSecretShape,
}

impl Rule {
    /// Every rule, for counters and documentation.
    pub const ALL: [Rule; 12] = [
        Rule::FenceSystem,
        Rule::FencePrefix,
        Rule::FenceUnowned,
        Rule::KindNotGranted,
        Rule::SecretRead,
        Rule::RoleCeiling,
        Rule::RoleBinding,
        Rule::PodHostAccess,
        Rule::PodSecretRef,
        Rule::ExecTarget,
        Rule::HostSecretKeys,
        Rule::HostSecretShape,
    ];

    /// The rule's name, as it appears in errors, logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Rule::FenceSystem => "fence-system",
            Rule::FencePrefix => "fence-prefix",
            Rule::FenceUnowned => "fence-unowned",
            Rule::KindNotGranted => "kind-not-granted",
            Rule::SecretRead => "secret-read",
            Rule::RoleCeiling => "role-ceiling",
            Rule::RoleBinding => "role-binding",
            Rule::PodHostAccess => "pod-host-access",
            Rule::PodSecretRef => "pod-secret-ref",
            Rule::ExecTarget => "exec-target",
            Rule::HostSecretKeys => "host-secret-keys",
            Rule::HostSecretShape => "host-secret-shape",
        }
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How many calls each rule refused, since the counts were made.
#[derive(Debug, Default)]
pub struct DenialCounts {
    counts: [AtomicU64; Rule::ALL.len()],
}

impl DenialCounts {
    fn add(&self, rule: Rule) {
        if let Some(i) = Rule::ALL.iter().position(|r| *r == rule) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The count of `rule`.
    pub fn get(&self, rule: Rule) -> u64 {
        Rule::ALL
            .iter()
            .position(|r| *r == rule)
            .map_or(0, |i| self.counts[i].load(Ordering::Relaxed))
    }

    /// Every non-zero count, by rule name.
    pub fn snapshot(&self) -> BTreeMap<&'static str, u64> {
        Rule::ALL
            .iter()
            .map(|r| (r.name(), self.get(*r)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// All refusals.
    pub fn total(&self) -> u64 {
        Rule::ALL.iter().map(|r| self.get(*r)).sum()
    }
}

/// Where refusals are reported: the module they were made for, the
/// counters, and a sink for one log line each.
#[derive(Clone)]
pub struct Audit {
    /// SHA-256 of the module (hex).
    pub module_sha256: String,
    /// The counters.
    pub counts: Arc<DenialCounts>,
    /// Receives one line per refusal.
    pub sink: Arc<dyn Fn(&str) + Send + Sync>,
}

impl Audit {
    /// Counts refusals for `module_sha256` without logging them.
    pub fn counting(module_sha256: impl Into<String>) -> Audit {
        Audit {
            module_sha256: module_sha256.into(),
            counts: Arc::default(),
            sink: Arc::new(|_| {}),
        }
    }

    fn record(&self, rule: Rule, denial: &Denial) {
        self.counts.add(rule);
        (self.sink)(&format!(
            "denied for module sha256:{}: {}",
            self.module_sha256,
            denial.describe()
        ));
    }
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audit")
            .field("module_sha256", &self.module_sha256)
            .finish_non_exhaustive()
    }
}

/// The annotation the host sets on every workload (Pod, Job, Sandbox) a
/// module applies: the SHA-256 of that module, so a later module or an
/// operator can tell which module created a lease. A module cannot set it
/// to anything else.
pub const MODULE_ANNOTATION: &str = "leasebox.dev/module-sha256";

/// Kinds that carry [`MODULE_ANNOTATION`].
const WORKLOAD_KINDS: [&str; 3] = ["Pod", "Job", "Sandbox"];

/// A [`ClusterIo`] that enforces the grants before delegating.
#[derive(Clone)]
pub struct GuardedCluster {
    inner: Arc<dyn ClusterIo>,
    grants: Arc<Grants>,
    audit: Audit,
    /// Namespaces seen carrying the ownership label (or created by this
    /// host); shared by clones.
    owned: Arc<Mutex<HashSet<String>>>,
    /// The lease the host's caller named: exec and logs only into its pod.
    lease_scope: Option<String>,
}

impl std::fmt::Debug for GuardedCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardedCluster")
            .field("grants", &self.grants)
            .field("lease_scope", &self.lease_scope)
            .finish_non_exhaustive()
    }
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

fn parse(verb: &str, manifest: &str) -> Result<Value, KubeError> {
    serde_json::from_str(manifest)
        .map_err(|e| KubeError::BadArgument(format!("{verb}: manifest is not JSON: {e}")))
}

fn has_owner_label(object: &Value) -> bool {
    object
        .pointer("/metadata/labels")
        .and_then(|labels| labels.get(OWNER_LABEL.0))
        .and_then(Value::as_str)
        == Some(OWNER_LABEL.1)
}

impl GuardedCluster {
    /// Guards `inner` with `grants`, reporting refusals to `audit`.
    pub fn new(inner: Arc<dyn ClusterIo>, grants: Arc<Grants>, audit: Audit) -> GuardedCluster {
        GuardedCluster {
            inner,
            grants,
            audit,
            owned: Arc::default(),
            lease_scope: None,
        }
    }

    /// The same guard, allowing exec and logs only into the pod of lease
    /// `lease_id` (the lease the host's caller named).
    pub fn scoped_to_lease(&self, lease_id: &str) -> GuardedCluster {
        GuardedCluster {
            lease_scope: Some(lease_id.to_string()),
            ..self.clone()
        }
    }

    /// The refusal counters.
    pub fn denials(&self) -> &Arc<DenialCounts> {
        &self.audit.counts
    }

    fn deny<T>(&self, rule: Rule, message: String) -> Result<T, KubeError> {
        let denial = Denial {
            rule: rule.name().to_string(),
            message,
        };
        self.audit.record(rule, &denial);
        Err(KubeError::Denied(denial))
    }

    /// The fence for any use of `namespace`: never a system namespace, only
    /// the operator's prefix.
    fn check_fence(&self, what: &str, namespace: Option<&str>) -> Result<(), KubeError> {
        let prefix = &self.grants.namespace_prefix;
        let Some(ns) = namespace else {
            return self.deny(
                Rule::FencePrefix,
                format!("{what} without a namespace: modules work inside tenant namespaces only"),
            );
        };
        match self.fence_rule(ns) {
            None => Ok(()),
            Some(Rule::FenceSystem) => self.deny(
                Rule::FenceSystem,
                format!("{what} in namespace `{ns}`: `kube-*` and `default` are never touched"),
            ),
            Some(rule) => self.deny(
                rule,
                format!(
                    "{what} in namespace `{ns}`: the host's fence allows only namespaces starting \
                     with `{prefix}` (host settings fence.namespacePrefix); set the \
                     configuration's namespacePrefix to `{prefix}` or a longer prefix starting \
                     with it"
                ),
            ),
        }
    }

    /// The fence rule `namespace` breaks, if any: a system namespace, or
    /// one outside the operator's prefix.
    fn fence_rule(&self, namespace: &str) -> Option<Rule> {
        let prefix = self.grants.namespace_prefix.as_str();
        if namespace == "default" || namespace.starts_with("kube-") {
            Some(Rule::FenceSystem)
        } else if namespace.starts_with(prefix) && namespace.len() > prefix.len() {
            None
        } else {
            Some(Rule::FencePrefix)
        }
    }

    /// The fence for a write into `namespace`: inside the fence, and the
    /// namespace exists and carries the ownership label.
    fn check_owned(&self, what: &str, namespace: Option<&str>) -> Result<(), KubeError> {
        self.check_fence(what, namespace)?;
        let Some(ns) = namespace else {
            return Ok(());
        };
        if self.is_known_owned(ns) {
            return Ok(());
        }
        match self.ownership(ns)? {
            None => Err(KubeError::NotFound(format!(
                "{what}: namespace `{ns}` does not exist; apply the Namespace first"
            ))),
            Some(true) => Ok(()),
            Some(false) => self.deny(Rule::FenceUnowned, unowned_message(what, ns)),
        }
    }

    /// Reads `namespace`: `None` when it does not exist, else whether it
    /// carries the ownership label (remembered when it does).
    fn ownership(&self, namespace: &str) -> Result<Option<bool>, KubeError> {
        let Some(text) = self.inner.get(&namespace_ref(namespace))? else {
            return Ok(None);
        };
        let object: Value = serde_json::from_str(&text).map_err(|e| {
            KubeError::Transport(format!("namespace `{namespace}` is not readable JSON: {e}"))
        })?;
        let owned = has_owner_label(&object);
        if owned {
            self.remember_owned(namespace);
        }
        Ok(Some(owned))
    }

    fn is_known_owned(&self, namespace: &str) -> bool {
        self.owned
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(namespace)
    }

    fn remember_owned(&self, namespace: &str) {
        self.owned
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(namespace.to_string());
    }

    fn check_kind(
        &self,
        api_version: &str,
        kind: &str,
        verb: Verb,
    ) -> Result<&'static KindGrant, KubeError> {
        let Some(grant) = self.grants.kind(api_version, kind) else {
            return self.deny(
                Rule::KindNotGranted,
                format!(
                    "{} of {api_version} {kind}: the kind is not in the host's grants table",
                    verb.name()
                ),
            );
        };
        if grant.verbs.contains(&verb) {
            return Ok(grant);
        }
        if kind == "Secret" && matches!(verb, Verb::Get | Verb::List | Verb::Watch) {
            return self.deny(
                Rule::SecretRead,
                format!(
                    "{} of Secrets: modules never read Secrets (the host fills them and returns \
                     names and keys only)",
                    verb.name()
                ),
            );
        }
        if kind == "Secret" && verb == Verb::Apply {
            return self.deny(
                Rule::HostSecretShape,
                "apply of a Secret: Secrets are written only through apply-host-secret".into(),
            );
        }
        self.deny(
            Rule::KindNotGranted,
            format!("{} of {api_version} {kind} is not granted", verb.name()),
        )
    }

    /// Checks a manifest a module wants applied, everything but ownership.
    fn check_manifest(&self, manifest: &Value) -> Result<String, KubeError> {
        let api_version = str_at(manifest, "/apiVersion").unwrap_or("");
        let kind = str_at(manifest, "/kind").unwrap_or("");
        self.check_kind(api_version, kind, Verb::Apply)?;
        let name = str_at(manifest, "/metadata/name").unwrap_or("");
        let what = format!("apply of {kind} `{name}`");
        match kind {
            "Role" => self.check_role(&what, manifest)?,
            "RoleBinding" => self.check_role_binding(&what, manifest)?,
            "Pod" => self.check_pod(&what, manifest, manifest.pointer("/spec"))?,
            "Job" => self.check_pod(&what, manifest, manifest.pointer("/spec/template/spec"))?,
            "Sandbox" => {
                self.check_pod(&what, manifest, manifest.pointer("/spec/podTemplate/spec"))?
            }
            _ => {}
        }
        Ok(what)
    }

    fn check_role(&self, what: &str, role: &Value) -> Result<(), KubeError> {
        let empty = Vec::new();
        let rules = role
            .pointer("/rules")
            .and_then(Value::as_array)
            .unwrap_or(&empty);
        for r in rules {
            if r.get("nonResourceURLs").is_some() {
                return self.deny(
                    Rule::RoleCeiling,
                    format!("{what}: nonResourceURLs are beyond the host's RBAC ceiling"),
                );
            }
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
            for group in list("apiGroups") {
                for resource in list("resources") {
                    for verb in list("verbs") {
                        let within = ROLE_CEILING
                            .iter()
                            .any(|(g, res, v)| *g == group && *res == resource && *v == verb);
                        if !within {
                            return self.deny(
                                Rule::RoleCeiling,
                                format!(
                                    "{what}: rule `{verb}` on `{resource}` (group `{group}`) is \
                                     beyond the host's RBAC ceiling (get pods/log)"
                                ),
                            );
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn check_role_binding(&self, what: &str, binding: &Value) -> Result<(), KubeError> {
        if str_at(binding, "/roleRef/kind") != Some("Role") {
            return self.deny(
                Rule::RoleBinding,
                format!("{what}: may only bind a Role, not a ClusterRole"),
            );
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
                return self.deny(
                    Rule::RoleBinding,
                    format!("{what}: subjects must be service accounts of the same namespace"),
                );
            }
        }
        Ok(())
    }

    /// Pods may not reach the host (no host namespaces, host paths,
    /// privileged containers or added capabilities) and may reference no
    /// Secret but their lease's own `<lease>-env` (image pull secrets
    /// aside: only the kubelet reads those).
    fn check_pod(&self, what: &str, object: &Value, spec: Option<&Value>) -> Result<(), KubeError> {
        let Some(spec) = spec else {
            return self.deny(Rule::PodHostAccess, format!("{what}: no pod spec"));
        };
        for flag in ["hostNetwork", "hostPID", "hostIPC"] {
            if spec.get(flag).and_then(Value::as_bool) == Some(true) {
                return self.deny(
                    Rule::PodHostAccess,
                    format!("{what}: `{flag}` is not allowed"),
                );
            }
        }
        let volumes = spec
            .get("volumes")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if let Some(v) = volumes.iter().find(|v| v.get("hostPath").is_some()) {
            let name = str_at(v, "/name").unwrap_or("");
            return self.deny(
                Rule::PodHostAccess,
                format!("{what}: hostPath volume `{name}` is not allowed"),
            );
        }
        let mut secrets: Vec<String> = Vec::new();
        for v in &volumes {
            secrets.extend(str_at(v, "/secret/secretName").map(str::to_string));
            if let Some(sources) = v.pointer("/projected/sources").and_then(Value::as_array) {
                secrets.extend(
                    sources
                        .iter()
                        .filter_map(|s| str_at(s, "/secret/name").map(str::to_string)),
                );
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
                    return self.deny(
                        Rule::PodHostAccess,
                        format!("{what}: privileged container `{name}` is not allowed"),
                    );
                }
                let adds = c
                    .pointer("/securityContext/capabilities/add")
                    .and_then(Value::as_array)
                    .is_some_and(|a| !a.is_empty());
                if adds {
                    return self.deny(
                        Rule::PodHostAccess,
                        format!("{what}: container `{name}` adds capabilities"),
                    );
                }
                if let Some(from) = c.get("envFrom").and_then(Value::as_array) {
                    secrets.extend(
                        from.iter()
                            .filter_map(|f| str_at(f, "/secretRef/name").map(str::to_string)),
                    );
                }
                if let Some(env) = c.get("env").and_then(Value::as_array) {
                    secrets.extend(env.iter().filter_map(|e| {
                        str_at(e, "/valueFrom/secretKeyRef/name").map(str::to_string)
                    }));
                }
            }
        }
        if secrets.is_empty() {
            return Ok(());
        }
        let own = lease_of(object).map(|lease| format!("{lease}-env"));
        match secrets.iter().find(|s| Some(s.as_str()) != own.as_deref()) {
            None => Ok(()),
            Some(foreign) => self.deny(
                Rule::PodSecretRef,
                format!(
                    "{what}: references Secret `{foreign}`; a lease pod may reference only its \
                     own lease's Secret ({})",
                    own.as_deref()
                        .unwrap_or("none: the object has no leasebox.dev/lease label")
                ),
            ),
        }
    }

    /// Exec and logs only into pods inside the fence that carry the lease
    /// labels (and the caller's lease, when the caller named one).
    fn check_lease_pod(&self, what: &str, namespace: &str, pod: &str) -> Result<(), KubeError> {
        self.check_owned(what, Some(namespace))?;
        let target = ObjectRef {
            api_version: "v1".into(),
            kind: "Pod".into(),
            namespace: Some(namespace.to_string()),
            name: pod.to_string(),
            uid: None,
        };
        let Some(text) = self.inner.get(&target)? else {
            return Err(KubeError::NotFound(format!(
                "{what}: pod `{pod}` does not exist in `{namespace}`"
            )));
        };
        let object: Value = serde_json::from_str(&text)
            .map_err(|e| KubeError::Transport(format!("pod `{pod}` is not readable JSON: {e}")))?;
        let lease = lease_of(&object);
        if !has_owner_label(&object) || lease.is_none() {
            return self.deny(
                Rule::ExecTarget,
                format!(
                    "{what}: pod `{namespace}/{pod}` is not a leasebox lease pod (labels \
                     {}={} and {LEASE_LABEL})",
                    OWNER_LABEL.0, OWNER_LABEL.1
                ),
            );
        }
        match (&self.lease_scope, lease) {
            (Some(scope), Some(lease)) if scope != lease => self.deny(
                Rule::ExecTarget,
                format!(
                    "{what}: pod `{namespace}/{pod}` belongs to lease `{lease}`, but this call is \
                     for lease `{scope}`"
                ),
            ),
            _ => Ok(()),
        }
    }

    /// Applies a Namespace: inside the fence; created by the host with the
    /// ownership label when missing, converged when it carries the label,
    /// refused when it exists without it.
    fn apply_namespace(&self, manifest: &mut Value) -> Result<String, KubeError> {
        let name = str_at(manifest, "/metadata/name").unwrap_or("").to_string();
        let what = format!("apply of Namespace `{name}`");
        self.check_fence(&what, Some(&name))?;
        set_owner_label(manifest);
        let text = manifest.to_string();
        match self.ownership(&name)? {
            Some(true) => self.inner.apply(&text),
            Some(false) => self.deny(Rule::FenceUnowned, unowned_message(&what, &name)),
            None => match self.inner.create(&text) {
                Ok(created) => {
                    self.remember_owned(&name);
                    Ok(created)
                }
                // Someone created it between the read and the create: look
                // again, and adopt it only if it is leasebox's.
                Err(KubeError::Conflict(_)) => match self.ownership(&name)? {
                    Some(true) => self.inner.apply(&text),
                    _ => self.deny(Rule::FenceUnowned, unowned_message(&what, &name)),
                },
                Err(other) => Err(other),
            },
        }
    }
}

fn namespace_ref(name: &str) -> ObjectRef {
    ObjectRef {
        api_version: "v1".into(),
        kind: "Namespace".into(),
        namespace: None,
        name: name.to_string(),
        uid: None,
    }
}

fn unowned_message(what: &str, namespace: &str) -> String {
    format!(
        "{what}: namespace `{namespace}` exists but was not created by leasebox (it lacks the \
         label {}={}), and leasebox never adopts a namespace; choose another companySlug or \
         namespacePrefix, or delete `{namespace}` if it is an old one of yours",
        OWNER_LABEL.0, OWNER_LABEL.1
    )
}

fn set_owner_label(manifest: &mut Value) {
    set_metadata_entry(manifest, "labels", OWNER_LABEL.0, OWNER_LABEL.1);
}

/// Sets `metadata.<map>.<key>` (labels or annotations) of a manifest.
fn set_metadata_entry(manifest: &mut Value, map: &str, key: &str, value: &str) {
    let Some(object) = manifest.as_object_mut() else {
        return;
    };
    let metadata = object.entry("metadata").or_insert_with(|| json!({}));
    if let Some(metadata) = metadata.as_object_mut() {
        let entries = metadata.entry(map).or_insert_with(|| json!({}));
        if let Some(entries) = entries.as_object_mut() {
            entries.insert(key.into(), Value::String(value.into()));
        }
    }
}

/// The lease an object belongs to (its `leasebox.dev/lease` label).
fn lease_of(object: &Value) -> Option<&str> {
    object
        .pointer("/metadata/labels")
        .and_then(|labels| labels.get(LEASE_LABEL))
        .and_then(Value::as_str)
        .filter(|lease| !lease.is_empty())
}

/// The stored Secret as the module may see it: apiVersion, kind, name,
/// namespace, uid, labels and owners; never `data`, `stringData` or
/// annotations (which another writer could have filled).
fn secret_names_only(stored: &str) -> Result<String, KubeError> {
    let value: Value = serde_json::from_str(stored)
        .map_err(|e| KubeError::Transport(format!("host secret: unreadable answer: {e}")))?;
    let mut metadata = serde_json::Map::new();
    for key in ["name", "namespace", "uid", "labels", "ownerReferences"] {
        if let Some(v) = value.pointer(&format!("/metadata/{key}")) {
            metadata.insert(key.into(), v.clone());
        }
    }
    Ok(json!({
        "apiVersion": value.get("apiVersion").cloned().unwrap_or(Value::Null),
        "kind": value.get("kind").cloned().unwrap_or(Value::Null),
        "metadata": metadata,
    })
    .to_string())
}

impl ClusterIo for GuardedCluster {
    fn apply(&self, manifest: &str) -> Result<String, KubeError> {
        let mut value = parse("apply", manifest)?;
        let what = self.check_manifest(&value)?;
        if str_at(&value, "/kind") == Some("Namespace") {
            return self.apply_namespace(&mut value);
        }
        self.check_owned(&what, str_at(&value, "/metadata/namespace"))?;
        let kind = str_at(&value, "/kind").unwrap_or("");
        if WORKLOAD_KINDS.contains(&kind) {
            set_metadata_entry(
                &mut value,
                "annotations",
                MODULE_ANNOTATION,
                &self.audit.module_sha256,
            );
            return self.inner.apply(&value.to_string());
        }
        self.inner.apply(manifest)
    }

    fn create(&self, manifest: &str) -> Result<String, KubeError> {
        let value = parse("create", manifest)?;
        let api_version = str_at(&value, "/apiVersion").unwrap_or("");
        let kind = str_at(&value, "/kind").unwrap_or("");
        self.check_kind(api_version, kind, Verb::Create)?;
        self.inner.create(manifest)
    }

    fn server_version(&self) -> Result<String, KubeError> {
        self.inner.server_version()
    }

    fn get(&self, target: &ObjectRef) -> Result<Option<String>, KubeError> {
        self.check_kind(&target.api_version, &target.kind, Verb::Get)?;
        let what = format!("get of {} `{}`", target.kind, target.name);
        if target.kind != "Namespace" {
            self.check_fence(&what, target.namespace.as_deref())?;
            return self.inner.get(target);
        }
        self.check_fence(&what, Some(&target.name))?;
        let found = self.inner.get(target)?;
        // The cluster's answer, read by the host itself: a namespace it
        // shows carrying the ownership label needs no second read before
        // the writes into it.
        if found
            .as_deref()
            .and_then(|text| serde_json::from_str::<Value>(text).ok())
            .is_some_and(|namespace| has_owner_label(&namespace))
        {
            self.remember_owned(&target.name);
        }
        Ok(found)
    }

    fn list(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        label_selector: &str,
    ) -> Result<Vec<String>, KubeError> {
        self.check_kind(api_version, kind, Verb::List)?;
        if let Some(ns) = namespace {
            self.check_fence(&format!("list of {kind}"), Some(ns))?;
            return self
                .inner
                .list(api_version, kind, namespace, label_selector);
        }
        // A cluster-wide list is narrowed to the fence.
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
                ns.is_some_and(|ns| self.fence_rule(ns).is_none())
            })
            .collect())
    }

    fn delete(&self, target: &ObjectRef, options: &DeleteOptions) -> Result<bool, KubeError> {
        self.check_kind(&target.api_version, &target.kind, Verb::Delete)?;
        let what = format!("delete of {} `{}`", target.kind, target.name);
        self.check_owned(&what, target.namespace.as_deref())?;
        self.inner.delete(target, options)
    }

    fn watch(&self, request: &WatchRequest) -> Result<Box<dyn WatchStream>, KubeError> {
        self.check_kind(&request.api_version, &request.kind, Verb::Watch)?;
        self.check_fence(
            &format!("watch of {}", request.kind),
            Some(&request.namespace),
        )?;
        self.inner.watch(request)
    }

    fn exec(&self, spec: &ExecSpec, caller: &CallerIo) -> Result<Box<dyn ExecStream>, KubeError> {
        self.check_lease_pod(
            &format!("exec in pod `{}`", spec.pod),
            &spec.namespace,
            &spec.pod,
        )?;
        self.inner.exec(spec, caller)
    }

    fn logs(
        &self,
        request: &LogsRequest,
        caller: &CallerIo,
    ) -> Result<Box<dyn LogFollow>, KubeError> {
        self.check_lease_pod(
            &format!("logs of pod `{}`", request.pod),
            &request.namespace,
            &request.pod,
        )?;
        self.inner.logs(request, caller)
    }

    fn apply_host_secret(
        &self,
        request: &HostSecretRequest,
    ) -> Result<(String, Vec<String>), KubeError> {
        let manifest = parse("apply-host-secret", &request.manifest)?;
        let api_version = str_at(&manifest, "/apiVersion").unwrap_or("");
        let kind = str_at(&manifest, "/kind").unwrap_or("");
        if (api_version, kind) != ("v1", "Secret") {
            return self.deny(
                Rule::HostSecretShape,
                format!("apply-host-secret of {api_version} {kind}: a host-filled secret must be a v1 Secret"),
            );
        }
        self.check_kind(api_version, kind, Verb::FillSecret)?;
        let name = str_at(&manifest, "/metadata/name").unwrap_or("");
        let what = format!("apply-host-secret of Secret `{name}`");
        let ungranted: Vec<&str> = request
            .host_keys
            .iter()
            .filter(|k| !self.grants.host_keys.contains(k.as_str()))
            .map(String::as_str)
            .collect();
        if !ungranted.is_empty() {
            return self.deny(
                Rule::HostSecretKeys,
                format!(
                    "{what}: host key(s) {} are not granted to policy modules; an operator grants \
                     them in the host settings (secrets.hostKeys or --host-secret-key)",
                    ungranted.join(", ")
                ),
            );
        }
        let own = lease_of(&manifest).map(|lease| format!("{lease}-env"));
        if own.as_deref() != Some(name) {
            return self.deny(
                Rule::HostSecretShape,
                format!(
                    "{what}: a host-filled Secret is named `<lease>-env` and labelled with its \
                     lease ({LEASE_LABEL})"
                ),
            );
        }
        self.check_owned(&what, str_at(&manifest, "/metadata/namespace"))?;
        let (stored, filled) = self.inner.apply_host_secret(request)?;
        Ok((secret_names_only(&stored)?, filled))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::cluster_io::Propagation;
    use rstest::rstest;
    use serde_json::json;

    const TENANT: &str = "leasebox-acme";
    const LEASE: &str = "lb-01jd8x7k2m3n4p5q6r7s8t9v0w";

    /// A cluster of stored objects: reads answer from the store, writes
    /// store, exec/logs/watch answer `NoCluster("passed")` so a test sees
    /// that the guard let the call through.
    #[derive(Default)]
    struct Store {
        objects: Mutex<BTreeMap<(String, String, String), Value>>,
        /// How many `get` calls reached the store.
        gets: std::sync::atomic::AtomicUsize,
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
            self.objects
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(key(&kind, ns.as_deref(), &name), object);
        }

        fn find(&self, kind: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
            self.objects
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&key(kind, namespace, name))
                .cloned()
        }
    }

    fn passed<T>() -> Result<T, KubeError> {
        Err(KubeError::NoCluster("passed".into()))
    }

    impl ClusterIo for Store {
        fn apply(&self, manifest: &str) -> Result<String, KubeError> {
            let value: Value = serde_json::from_str(manifest)
                .map_err(|e| KubeError::BadArgument(e.to_string()))?;
            self.put(value);
            Ok(manifest.to_string())
        }
        fn create(&self, manifest: &str) -> Result<String, KubeError> {
            let value: Value = serde_json::from_str(manifest)
                .map_err(|e| KubeError::BadArgument(e.to_string()))?;
            let kind = str_at(&value, "/kind").unwrap_or("");
            let name = str_at(&value, "/metadata/name").unwrap_or("");
            if self
                .find(kind, str_at(&value, "/metadata/namespace"), name)
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
            _: Option<&str>,
            _: &str,
        ) -> Result<Vec<String>, KubeError> {
            Ok(self
                .objects
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .filter(|((k, _, _), _)| k == kind)
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
    }

    /// A store holding the owned tenant namespace, a foreign namespace
    /// inside the prefix, a lease pod and a plain pod.
    fn store() -> Arc<Store> {
        let store = Store::default();
        store.put(json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":TENANT,"labels":{"app.kubernetes.io/managed-by":"leasebox"}}}));
        store.put(
            json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"leasebox-foreign"}}),
        );
        store.put(json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"kube-system"}}));
        store.put(json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":LEASE,"namespace":TENANT,"labels":{"app.kubernetes.io/managed-by":"leasebox","leasebox.dev/lease":LEASE}}}));
        store.put(
            json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"plain","namespace":TENANT}}),
        );
        Arc::new(store)
    }

    fn guard_over(store: Arc<Store>) -> GuardedCluster {
        GuardedCluster::new(store, Arc::new(Grants::default()), Audit::counting("f00d"))
    }

    fn guard() -> GuardedCluster {
        guard_over(store())
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

    fn pod(spec: Value) -> Value {
        json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":TENANT,"labels":{"leasebox.dev/lease":LEASE}},"spec":spec})
    }

    fn role(rules: Value) -> Value {
        json!({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"r","namespace":TENANT},"rules":rules})
    }

    fn binding(role_kind: &str, subject_namespace: &str) -> Value {
        json!({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"b","namespace":TENANT},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":role_kind,"name":"r"},"subjects":[{"kind":"ServiceAccount","name":"a","namespace":subject_namespace}]})
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
    #[case::plain_pod_allowed(pod(json!({"containers":[{"name":"agent","image":"busybox"}]})), "passed")]
    #[case::host_network_pod_denied(pod(json!({"hostNetwork":true,"containers":[{"name":"agent","image":"busybox"}]})), "pod-host-access")]
    #[case::host_pid_pod_denied(pod(json!({"hostPID":true,"containers":[{"name":"agent","image":"busybox"}]})), "pod-host-access")]
    #[case::host_path_pod_denied(pod(json!({"volumes":[{"name":"root","hostPath":{"path":"/"}}],"containers":[{"name":"agent","image":"busybox"}]})), "pod-host-access")]
    #[case::privileged_init_container_denied(pod(json!({"initContainers":[{"name":"i","image":"busybox","securityContext":{"privileged":true}}],"containers":[{"name":"agent","image":"busybox"}]})), "pod-host-access")]
    #[case::added_capability_denied(pod(json!({"containers":[{"name":"agent","image":"busybox","securityContext":{"capabilities":{"add":["SYS_ADMIN"]}}}]})), "pod-host-access")]
    #[case::own_lease_secret_allowed(pod(json!({"containers":[{"name":"agent","image":"busybox","envFrom":[{"secretRef":{"name":format!("{LEASE}-env")}}]}]})), "passed")]
    #[case::other_lease_secret_in_env_from_denied(pod(json!({"containers":[{"name":"agent","image":"busybox","envFrom":[{"secretRef":{"name":"lb-victim-env"}}]}]})), "pod-secret-ref")]
    #[case::other_secret_in_env_denied(pod(json!({"containers":[{"name":"agent","image":"busybox","env":[{"name":"K","valueFrom":{"secretKeyRef":{"name":"lb-victim-env","key":"K"}}}]}]})), "pod-secret-ref")]
    #[case::other_secret_volume_denied(pod(json!({"volumes":[{"name":"s","secret":{"secretName":"lb-victim-env"}}],"containers":[{"name":"agent","image":"busybox"}]})), "pod-secret-ref")]
    #[case::other_secret_projected_denied(pod(json!({"volumes":[{"name":"s","projected":{"sources":[{"secret":{"name":"lb-victim-env"}}]}}],"containers":[{"name":"agent","image":"busybox"}]})), "pod-secret-ref")]
    #[case::privileged_sandbox_template_denied(json!({"apiVersion":"agents.x-k8s.io/v1beta1","kind":"Sandbox","metadata":{"name":"s","namespace":TENANT},"spec":{"podTemplate":{"spec":{"containers":[{"name":"agent","image":"busybox","securityContext":{"privileged":true}}]}}}}), "pod-host-access")]
    #[case::host_network_job_template_denied(json!({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j","namespace":TENANT},"spec":{"template":{"spec":{"hostNetwork":true,"containers":[{"name":"agent","image":"busybox"}]}}}}), "pod-host-access")]
    fn apply_is_guarded(#[case] manifest: Value, #[case] expected: &str) {
        assert_eq!(verdict(guard().apply(&manifest.to_string())), expected);
    }

    #[test]
    fn workloads_carry_the_module_sha256_set_by_the_host() {
        let store = store();
        let guard = guard_over(store.clone());
        let mut manifest = pod(json!({"containers":[{"name":"agent","image":"busybox"}]}));
        manifest["metadata"]["annotations"] = json!({MODULE_ANNOTATION: "forged"});
        assert_eq!(verdict(guard.apply(&manifest.to_string())), "passed");
        let stored = store.find("Pod", Some(TENANT), "p").expect("applied");
        assert_eq!(stored["metadata"]["annotations"][MODULE_ANNOTATION], "f00d");
        let account = json!({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"a","namespace":TENANT}});
        assert_eq!(verdict(guard.apply(&account.to_string())), "passed");
        let stored = store
            .find("ServiceAccount", Some(TENANT), "a")
            .expect("applied");
        assert!(stored["metadata"].get("annotations").is_none(), "{stored}");
    }

    #[test]
    fn object_in_missing_namespace_is_not_found_not_written() {
        let manifest = json!({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"a","namespace":"leasebox-new"}});
        assert!(matches!(
            guard().apply(&manifest.to_string()),
            Err(KubeError::NotFound(m)) if m.contains("leasebox-new")
        ));
    }

    #[test]
    fn new_namespace_is_created_with_the_ownership_label_then_trusted() {
        let store = store();
        let guard = guard_over(store.clone());
        let manifest = json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"leasebox-new","labels":{"app.kubernetes.io/managed-by":"someone-else"}}});
        assert_eq!(verdict(guard.apply(&manifest.to_string())), "passed");
        let stored = store
            .find("Namespace", None, "leasebox-new")
            .expect("created");
        assert_eq!(
            stored["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "leasebox"
        );
        let inside = json!({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"a","namespace":"leasebox-new"}});
        assert_eq!(verdict(guard.apply(&inside.to_string())), "passed");
    }

    #[test]
    fn an_owned_namespace_the_module_read_is_not_read_again_before_a_write() {
        let store = store();
        let guard = guard_over(store.clone());
        let namespace = namespace_ref(TENANT);
        assert!(guard.get(&namespace).expect("read").is_some());
        assert_eq!(store.gets.load(std::sync::atomic::Ordering::Relaxed), 1);
        let inside = json!({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"a","namespace":TENANT}});
        assert_eq!(verdict(guard.apply(&inside.to_string())), "passed");
        assert_eq!(
            store.gets.load(std::sync::atomic::Ordering::Relaxed),
            1,
            "the write trusted the read"
        );
    }

    #[test]
    fn a_namespace_read_without_the_ownership_label_stays_unowned() {
        let store = store();
        let guard = guard_over(store.clone());
        assert!(
            guard
                .get(&namespace_ref("leasebox-foreign"))
                .expect("read")
                .is_some()
        );
        let inside = json!({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"a","namespace":"leasebox-foreign"}});
        assert_eq!(verdict(guard.apply(&inside.to_string())), "fence-unowned");
    }

    #[test]
    fn unowned_namespace_refusal_names_the_namespace_and_the_fix() {
        let manifest =
            json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"leasebox-foreign"}});
        let Err(KubeError::Denied(Denial { message, .. })) = guard().apply(&manifest.to_string())
        else {
            panic!("refused");
        };
        assert!(message.contains("leasebox-foreign"), "{message}");
        assert!(message.contains("never adopts"), "{message}");
    }

    #[test]
    fn config_prefix_outside_the_fence_is_denied_with_the_fix() {
        let manifest =
            json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"team-acme"}});
        let Err(KubeError::Denied(Denial { rule, message })) = guard().apply(&manifest.to_string())
        else {
            panic!("refused");
        };
        assert_eq!(rule, "fence-prefix");
        assert!(message.contains("namespacePrefix"), "{message}");
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

    #[test]
    fn cluster_wide_list_is_narrowed_to_the_fence() {
        let items = guard().list("v1", "Pod", None, "").expect("list");
        assert_eq!(items.len(), 2);
        let namespaces = guard().list("v1", "Namespace", None, "").expect("list");
        let names: Vec<String> = namespaces
            .iter()
            .filter_map(|n| serde_json::from_str::<Value>(n).ok())
            .filter_map(|n| str_at(&n, "/metadata/name").map(str::to_string))
            .collect();
        assert_eq!(names, ["leasebox-acme", "leasebox-foreign"]);
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
            max_stdout_bytes: None,
            max_stderr_bytes: None,
        }
    }

    #[rstest]
    #[case::lease_pod_allowed(TENANT, LEASE, None, "passed")]
    #[case::caller_lease_pod_allowed(TENANT, LEASE, Some(LEASE), "passed")]
    #[case::pod_without_lease_labels_denied(TENANT, "plain", None, "exec-target")]
    #[case::another_leases_pod_denied(
        TENANT,
        LEASE,
        Some("lb-01other0000000000000000000"),
        "exec-target"
    )]
    #[case::kube_system_denied("kube-system", "etcd", None, "fence-system")]
    fn exec_reaches_lease_pods_only(
        #[case] namespace: &str,
        #[case] pod: &str,
        #[case] scope: Option<&str>,
        #[case] expected: &str,
    ) {
        let guard = match scope {
            Some(lease) => guard().scoped_to_lease(lease),
            None => guard(),
        };
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
        HostSecretRequest {
            manifest: json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":name,"namespace":TENANT,"labels":{"leasebox.dev/lease":LEASE}}}).to_string(),
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

    #[test]
    fn host_secret_not_named_for_its_lease_is_denied() {
        let request = host_secret("other-env", &[]);
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
        };
        let guard = GuardedCluster::new(store(), Arc::new(grants), Audit::counting("f00d"));
        let request = host_secret(&format!("{LEASE}-env"), &["AWS_SECRET_ACCESS_KEY"]);
        assert_eq!(verdict(guard.apply_host_secret(&request)), "passed");
    }

    #[test]
    fn refusals_are_counted_and_logged_with_the_module_sha256() {
        let lines: Arc<Mutex<Vec<String>>> = Arc::default();
        let sink_lines = lines.clone();
        let audit = Audit {
            module_sha256: "f00d".into(),
            counts: Arc::default(),
            sink: Arc::new(move |line| {
                sink_lines
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(line.to_string())
            }),
        };
        let guard = GuardedCluster::new(store(), Arc::new(Grants::default()), audit);
        let _ = guard.get(&secret_ref(TENANT));
        let _ = guard.get(&secret_ref(TENANT));
        let _ = guard.apply(
            &json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"default"}})
                .to_string(),
        );
        assert_eq!(guard.denials().get(Rule::SecretRead), 2);
        assert_eq!(guard.denials().get(Rule::FenceSystem), 1);
        assert_eq!(guard.denials().total(), 3);
        let lines = lines.lock().unwrap_or_else(PoisonError::into_inner);
        assert_eq!(lines.len(), 3);
        assert!(
            lines[0].contains("sha256:f00d") && lines[0].contains("secret-read"),
            "{}",
            lines[0]
        );
    }

    #[test]
    fn rule_names_are_unique() {
        let names: HashSet<&str> = Rule::ALL.iter().map(|r| r.name()).collect();
        assert_eq!(names.len(), Rule::ALL.len());
    }
}
