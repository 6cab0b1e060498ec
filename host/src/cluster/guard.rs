//! The capability guard between a policy module and the cluster.
//!
//! A policy module is operator-swappable, possibly hostile code; the guard
//! lets it do only what the operator's [`Grants`] allow, for whom the host
//! says the call is ([`CallScope`]), whatever the module asks for:
//!
//! - **kinds and verbs** from the one table [`crate::cluster::grants::KINDS`];
//! - **the fence**: `kube-*` and `default` are never touched, other
//!   namespaces only when they start with the operator's prefix, and a
//!   namespace is written only when it carries leasebox's ownership label
//!   ([`OWNER_LABEL`]). The host sets that label on every namespace it
//!   creates and refuses to adopt one that exists without it;
//! - **tenants**: a call for a company reads and writes only namespaces
//!   carrying that company's mark ([`COMPANY_ANNOTATION`], stamped by the
//!   host when it creates the namespace); a call about a lease writes only
//!   that lease's objects, execs only into its pod;
//! - **marks of identity** ([`marks`]): lease, company and module marks,
//!   the ownership label and the Pod Security labels are stamped by the
//!   host; a module cannot set them to another value;
//! - **no Secret reads**: a Secret is written only through the host-filled
//!   path, whose answer carries names and filled keys, never values; a pod
//!   may only reference its own lease's Secret; host keys must be granted;
//! - **the pod profile** ([`crate::cluster::grants::pod_profile`]): an allow-list
//!   after the Pod Security "restricted" profile, on every pod-bearing
//!   object, whatever admission the cluster runs;
//! - **RBAC within a ceiling** ([`ROLE_CEILING`]) and **egress** only into
//!   the namespaces the operator allows.
//!
//! Every refusal is [`KubeError::Denied`] carrying a [`Denial`] that names the
//! [`Rule`]; it is counted ([`DenialCounts`]) and logged with the module's
//! SHA-256 ([`Audit`]), its message capped and its log lines rate-limited.

mod egress;
mod expiry;
mod hand_over;
mod io;
pub mod marks;
mod pod;
mod pool;
mod rbac;
mod rule;
mod tenant;
mod watch;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::cluster::grants::pod_profile;
use crate::cluster::grants::{Grants, KindGrant, LEASE_LABEL, OWNER_LABEL, Verb};
use crate::cluster::io::{CallScope, ClusterIo};
use crate::contract::{Denial, KubeError, ObjectRef};
use marks::Marks;
pub use marks::{COMPANY_ANNOTATION, MODULE_ANNOTATION};
pub use rule::{
    Audit, DenialCounts, LOG_WINDOW, MAX_DENIAL_LINES, MAX_DENIAL_MESSAGE, Rule, capped,
};

/// True for a kind that runs a pod (a lease workload), which carries the
/// lease, company and module marks.
fn is_workload(kind: &str) -> bool {
    pod_profile::pod_bearing(kind).is_some()
}

/// What the guard learned of a namespace during one call.
#[derive(Debug, Clone, PartialEq, Eq)]
struct NamespaceFacts {
    /// It carries leasebox's ownership label.
    owned: bool,
    /// Its company mark.
    company: Option<String>,
}

impl NamespaceFacts {
    fn of(object: &Value) -> NamespaceFacts {
        NamespaceFacts {
            owned: has_owner_label(object),
            company: object
                .pointer("/metadata/annotations")
                .and_then(|a| a.get(COMPANY_ANNOTATION))
                .and_then(Value::as_str)
                .map(str::to_string),
        }
    }
}

/// A [`ClusterIo`] that enforces the grants before delegating.
#[derive(Clone)]
pub struct GuardedCluster {
    inner: Arc<dyn ClusterIo>,
    grants: Arc<Grants>,
    audit: Audit,
    /// Whom the call is for, as the host knows it.
    scope: CallScope,
    /// Namespaces read (or created) during this call: each call reads them
    /// again, so a namespace deleted and made anew by someone else is never
    /// trusted on an earlier call's word.
    namespaces: Arc<Mutex<HashMap<String, Option<NamespaceFacts>>>>,
    /// For a sweep: whether each (namespace, lease) it looked at expired.
    expired: Arc<Mutex<HashMap<(String, String), bool>>>,
}

impl std::fmt::Debug for GuardedCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardedCluster")
            .field("grants", &self.grants)
            .field("scope", &self.scope)
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

/// Kinds without a namespace (among those granted).
fn cluster_scoped(kind: &str) -> bool {
    matches!(kind, "Namespace" | "SelfSubjectAccessReview")
}

impl GuardedCluster {
    /// Guards `inner` with `grants`, reporting refusals to `audit`. The
    /// guard is for no company and no lease until [`GuardedCluster::for_call`]
    /// says otherwise (the runtime does, for each export it calls).
    pub fn new(inner: Arc<dyn ClusterIo>, grants: Arc<Grants>, audit: Audit) -> GuardedCluster {
        GuardedCluster {
            inner,
            grants,
            audit,
            scope: CallScope::default(),
            namespaces: Arc::default(),
            expired: Arc::default(),
        }
    }

    /// The same guard for one call for `scope`, with nothing remembered of
    /// earlier calls.
    /// A company id the operator declared an alias of another
    /// (`fence.companyAliases`) is that other company.
    pub fn for_call(&self, scope: &CallScope) -> GuardedCluster {
        let company = scope
            .company
            .as_deref()
            .map(|c| self.grants.company(c).to_string());
        GuardedCluster {
            scope: CallScope {
                company,
                ..scope.clone()
            },
            namespaces: Arc::default(),
            expired: Arc::default(),
            ..self.clone()
        }
    }

    /// `target` as the cluster holds it, read by the host itself; `None`
    /// when it does not exist.
    fn read(&self, target: &ObjectRef) -> Result<Option<Value>, KubeError> {
        let Some(text) = self.inner.get(target)? else {
            return Ok(None);
        };
        serde_json::from_str(&text).map(Some).map_err(|e| {
            KubeError::Transport(format!(
                "{} `{}` is not readable JSON: {e}",
                target.kind, target.name
            ))
        })
    }

    /// The refusal counters.
    pub fn denials(&self) -> &Arc<DenialCounts> {
        &self.audit.counts
    }

    fn deny<T>(&self, rule: Rule, message: String) -> Result<T, KubeError> {
        let denial = Denial {
            rule: rule.name().to_string(),
            message: capped(message),
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

    /// A write of `object` named `name` by a call about a lease: objects
    /// named for a lease are this call's lease's; a call about a lease but
    /// for no company (renew, release) writes only objects that exist and
    /// carry its lease label (it does not know the lease's company, so it
    /// makes nothing new anywhere); a call for neither writes nothing.
    ///
    /// Returns the object as it is in the cluster when the check read it (a
    /// call about a lease but for no company).
    pub(super) fn check_lease_write(
        &self,
        what: &str,
        target: &ObjectRef,
    ) -> Result<Option<Value>, KubeError> {
        self.check_lease_object(what, target, false)
    }

    /// [`GuardedCluster::check_lease_write`]; `gone_ok`: an object that no
    /// longer exists passes (a delete of it changes nothing).
    pub(super) fn check_lease_object(
        &self,
        what: &str,
        target: &ObjectRef,
        gone_ok: bool,
    ) -> Result<Option<Value>, KubeError> {
        let lease = self.scope.lease.as_deref();
        let scoped = lease.is_some() || self.scope.company.is_some();
        if let Some(named) = marks::lease_in_name(&target.name)
            && Some(named) != lease
            && scoped
        {
            return self.deny(
                Rule::LeaseScope,
                format!(
                    "{what}: the object is named for lease `{named}`, and this call is {}",
                    for_lease(lease)
                ),
            );
        }
        if self.scope.company.is_some() {
            return Ok(None);
        }
        let Some(lease) = lease else {
            // A sweep: it deletes expired leases' objects, and nothing else.
            if let Some(now) = self.scope.sweep_now.filter(|_| gone_ok) {
                let live = self.read(target)?;
                let Some(object) = live.as_ref() else {
                    return Ok(None);
                };
                let Some(of) = lease_of(object) else {
                    // An unclaimed warm-pool pod belongs to no lease; a
                    // sweep deletes it once idle past its own deadline.
                    if is_workload(&target.kind)
                        && has_owner_label(object)
                        && pool::pool_of(object).is_some()
                        && expiry::workload_expired(object, now)
                    {
                        return Ok(live);
                    }
                    return self.deny(
                        Rule::LeaseScope,
                        format!(
                            "{what}: a sweep deletes only objects that carry a lease label \
                             ({LEASE_LABEL}), and unclaimed warm-pool pods idle past their \
                             deadline"
                        ),
                    );
                };
                let namespace = target.namespace.as_deref().unwrap_or("");
                let expired = if is_workload(&target.kind) {
                    expiry::workload_expired(object, now)
                } else {
                    self.lease_expired(namespace, of, now)?
                };
                if expired {
                    return Ok(live);
                }
                return self.deny(
                    Rule::LeaseScope,
                    format!(
                        "{what}: lease `{of}` has not expired by the sweep's time ({now}); a \
                         sweep deletes only expired leases (their workloads' \
                         {} annotation)",
                        expiry::EXPIRES_AT_ANNOTATION
                    ),
                );
            }
            return self.deny(
                Rule::LeaseScope,
                format!("{what}: this call is for no company and no lease, and writes nothing"),
            );
        };
        let live = self.read(target)?;
        if live.is_none() && gone_ok {
            return Ok(None);
        }
        if live.as_ref().is_some_and(|o| lease_of(o) == Some(lease)) {
            Ok(live)
        } else {
            self.deny(
                Rule::LeaseScope,
                format!(
                    "{what}: this call is about lease `{lease}` and writes only objects that exist \
                     and carry its label {LEASE_LABEL}"
                ),
            )
        }
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

    /// Checks what a manifest a module wants applied holds, everything but
    /// where it goes.
    ///
    /// `live`: the object as it is in the cluster, when this is a re-apply
    /// (a renew): a field the manifest repeats unchanged from it is not the
    /// module's choice (the API server and the scheduler fill some, such as
    /// `nodeName`) and passes; a changed one is checked. The caller
    /// checked the kind already.
    fn check_manifest(&self, manifest: &Value, live: Option<&Value>) -> Result<String, KubeError> {
        let kind = str_at(manifest, "/kind").unwrap_or("");
        let name = str_at(manifest, "/metadata/name").unwrap_or("");
        let what = format!("apply of {kind} `{name}`");
        let own_secret = self.scope.lease.as_deref().map(|l| format!("{l}-env"));
        let own_secret = own_secret.as_deref();
        let checked = match kind {
            "Role" => return self.check_role(&what, manifest).map(|()| what),
            "RoleBinding" => return self.check_role_binding(&what, manifest).map(|()| what),
            "NetworkPolicy" | "CiliumNetworkPolicy" => {
                if let Err(message) =
                    egress::check(kind, manifest, &self.grants.callback_namespaces)
                {
                    return self.deny(Rule::EgressNamespace, format!("{what}: {message}"));
                }
                Ok(())
            }
            "PersistentVolumeClaim" => match manifest.get("spec") {
                Some(spec) => pod::check_claim_spec("spec", spec),
                None => Ok(()),
            },
            _ => match pod_profile::pod_bearing(kind) {
                Some(at) => pod::check_pod(
                    pod::At {
                        metadata: manifest.pointer(at.metadata),
                        spec: manifest.pointer(at.spec),
                    },
                    pod::At {
                        metadata: live.and_then(|l| l.pointer(at.metadata)),
                        spec: live.and_then(|l| l.pointer(at.spec)),
                    },
                    &at.spec[1..].replace('/', "."),
                    own_secret,
                )
                .and_then(|()| claim_templates(manifest)),
                None => Ok(()),
            },
        };
        match checked {
            Ok(()) => Ok(what),
            Err(violation) => self.deny(violation.rule, format!("{what}: {}", violation.message)),
        }
    }

    /// Exec and logs only into a lease pod inside the fence (labels
    /// [`OWNER_LABEL`] and [`LEASE_LABEL`]), and only the pod of the lease
    /// this call is about.
    fn check_lease_pod(&self, what: &str, namespace: &str, pod: &str) -> Result<(), KubeError> {
        self.check_write(what, Some(namespace))?;
        let target = ObjectRef {
            api_version: "v1".into(),
            kind: "Pod".into(),
            namespace: Some(namespace.to_string()),
            name: pod.to_string(),
            uid: None,
        };
        let Some(object) = self.read(&target)? else {
            return Err(KubeError::NotFound(format!(
                "{what}: pod `{pod}` does not exist in `{namespace}`"
            )));
        };
        let Some(lease) = lease_of(&object).filter(|_| has_owner_label(&object)) else {
            if let Some(pool) = pool::pool_of(&object).filter(|_| has_owner_label(&object)) {
                return self.deny(
                    Rule::ExecTarget,
                    format!(
                        "{what}: pod `{namespace}/{pod}` is an unclaimed pod of warm pool                          `{pool}`: it belongs to no lease until an acquire claims it"
                    ),
                );
            }
            return self.deny(
                Rule::ExecTarget,
                format!(
                    "{what}: pod `{namespace}/{pod}` is not a leasebox lease pod (labels \
                     {}={} and {LEASE_LABEL})",
                    OWNER_LABEL.0, OWNER_LABEL.1
                ),
            );
        };
        let Some(scope) = self.scope.lease.as_deref() else {
            return self.deny(
                Rule::LeaseScope,
                format!(
                    "{what}: this call is about no lease, and exec and logs reach only the pod of \
                     the lease a call is about"
                ),
            );
        };
        if lease != scope {
            return self.deny(
                Rule::LeaseScope,
                format!(
                    "{what}: pod `{namespace}/{pod}` belongs to lease `{lease}`, but this call is \
                     about lease `{scope}`"
                ),
            );
        }
        Ok(())
    }

    /// Refuses a read by a call about one lease of what is not that lease's.
    fn deny_lease_read<T>(&self, what: &str) -> Result<T, KubeError> {
        let lease = self.lease_only().unwrap_or("");
        self.deny(
            Rule::LeaseScope,
            format!(
                "{what}: this call is about lease `{lease}` and reads only its objects (labelled \
                 {LEASE_LABEL}={lease})"
            ),
        )
    }

    /// A workload's pods run as one of the tenant's service accounts, never
    /// the namespace's `default` (which the cluster makes, outside any
    /// call). Every other account in a namespace marked for a company was
    /// applied by a call for that company (or by an administrator), its
    /// bindings held to the Role ceiling, and no token of it reaches the pod
    /// (`automountServiceAccountToken: false`, no projected token), so the
    /// check needs no read of the account: a warm acquire makes no request
    /// more for it.
    fn check_service_account(
        &self,
        what: &str,
        kind: &str,
        object: &Value,
    ) -> Result<(), KubeError> {
        let Some(pod) = pod_profile::pod_bearing(kind) else {
            return Ok(());
        };
        let pointer = format!("{}/serviceAccountName", pod.spec);
        match str_at(object, &pointer) {
            Some(name) if !name.is_empty() && name != "default" => Ok(()),
            name => self.deny(
                Rule::PodProfile,
                format!(
                    "{what}: `{}` is {}: a lease pod runs as the tenant's own service account, \
                     never the namespace's `default`",
                    pointer[1..].replace('/', "."),
                    name.map_or("missing".to_string(), |n| format!("`{n}`"))
                ),
            ),
        }
    }

    /// The marks this call stamps on `object` of `kind` in a namespace
    /// known by `facts`.
    ///
    /// A workload that exists (`live`) keeps the module mark of the module
    /// that made it: a renew by a module swapped in since does not take the
    /// lease over.
    fn marks_for<'a>(
        &'a self,
        kind: &str,
        facts: &'a NamespaceFacts,
        live: Option<&'a Value>,
    ) -> Marks<'a> {
        let workload = is_workload(kind);
        let maker = live
            .and_then(|l| l.pointer("/metadata/annotations"))
            .and_then(|a| a.get(MODULE_ANNOTATION))
            .and_then(Value::as_str);
        Marks {
            lease: self.scope.lease.as_deref(),
            company: if workload {
                facts.company.as_deref()
            } else {
                None
            },
            module: workload.then(|| maker.unwrap_or(self.audit.module_sha256.as_str())),
        }
    }
}

/// A Sandbox's claim templates (none for other kinds) never bind a volume.
fn claim_templates(manifest: &Value) -> Result<(), pod::Violation> {
    let templates = manifest.pointer("/spec/volumeClaimTemplates");
    for (i, t) in templates
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if let Some(spec) = t.get("spec") {
            pod::check_claim_spec(&format!("spec.volumeClaimTemplates[{i}].spec"), spec)?;
        }
    }
    Ok(())
}

/// "for lease `L`" or "about no lease".
fn for_lease(lease: Option<&str>) -> String {
    match lease {
        Some(l) => format!("about lease `{l}`"),
        None => "about no lease".to_string(),
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

/// The lease an object belongs to (its `leasebox.dev/lease` label).
fn lease_of(object: &Value) -> Option<&str> {
    object
        .pointer("/metadata/labels")
        .and_then(|labels| labels.get(LEASE_LABEL))
        .and_then(Value::as_str)
        .filter(|lease| !lease.is_empty())
}

/// The object reference of a manifest.
fn target_of(manifest: &Value) -> ObjectRef {
    ObjectRef {
        api_version: str_at(manifest, "/apiVersion").unwrap_or("").to_string(),
        kind: str_at(manifest, "/kind").unwrap_or("").to_string(),
        namespace: str_at(manifest, "/metadata/namespace").map(str::to_string),
        name: str_at(manifest, "/metadata/name").unwrap_or("").to_string(),
        uid: None,
    }
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

#[cfg(test)]
mod tests;
