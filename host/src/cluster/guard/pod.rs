//! The pod profile enforced: a pod spec (and the metadata of its pod) walked
//! against the allow-list tables of `grants/pod_profile.rs`.

use serde_json::Value;

use super::rule::Rule;
use crate::cluster::grants::pod_profile::{
    APPARMOR_ANNOTATION_PREFIX, Allowed, CLAIM_BINDING_FIELDS, Field, POD_METADATA, POD_SPEC,
    SECCOMP_ANNOTATIONS, confined_profile,
};

/// A field outside the profile: the rule and what is wrong, naming the
/// field's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The rule broken.
    pub rule: Rule,
    /// What is wrong, naming the field.
    pub message: String,
}

fn violation(rule: Rule, message: String) -> Result<(), Violation> {
    Err(Violation { rule, message })
}

/// A pod's metadata and spec, where an object holds them.
#[derive(Debug, Clone, Copy, Default)]
pub struct At<'a> {
    /// The pod's (or pod template's) metadata.
    pub metadata: Option<&'a Value>,
    /// The pod's spec.
    pub spec: Option<&'a Value>,
}

/// Checks a pod's metadata and spec (`pod`, its spec at `path`: `spec`,
/// `spec.template.spec`, ...) against the profile; `own_secret` is the only
/// Secret the pod may reference (none: no Secret at all). `live` is the
/// same pod as the cluster holds it, for a re-apply: a field repeated
/// unchanged from it passes.
pub fn check_pod(
    pod: At<'_>,
    live: At<'_>,
    path: &str,
    own_secret: Option<&str>,
) -> Result<(), Violation> {
    let walker = Walker { own_secret };
    if let Some(metadata) = pod.metadata.and_then(Value::as_object) {
        for f in POD_METADATA {
            if let Some(value) = metadata.get(f.name) {
                let was = live.metadata.and_then(|m| m.get(f.name));
                walker.allowed(
                    &format!("{}.metadata.{}", parent(path), f.name),
                    value,
                    f,
                    was,
                )?;
            }
        }
    }
    let Some(spec) = pod.spec else {
        return violation(
            Rule::PodProfile,
            format!("`{path}` is missing: no pod spec"),
        );
    };
    walker.object(path, spec, POD_SPEC, live.spec)?;
    non_root_and_seccomp(path, spec)
}

/// Checks a claim spec at `path`: it never binds an existing volume.
pub fn check_claim_spec(path: &str, spec: &Value) -> Result<(), Violation> {
    for name in CLAIM_BINDING_FIELDS {
        if spec.get(name).is_some_and(|v| !v.is_null()) {
            return violation(
                Rule::ClaimBinding,
                format!(
                    "`{path}.{name}` is set: a claim never binds an existing volume (a \
                     PersistentVolume can be a path on the node); leave it to the storage class"
                ),
            );
        }
    }
    Ok(())
}

/// `spec.template.spec` -> `spec.template`.
fn parent(path: &str) -> &str {
    path.rsplit_once('.').map_or("", |(p, _)| p)
}

struct Walker<'a> {
    own_secret: Option<&'a str>,
}

impl Walker<'_> {
    /// An object with only `fields`, the required ones present.
    fn object(
        &self,
        path: &str,
        value: &Value,
        fields: &[Field],
        live: Option<&Value>,
    ) -> Result<(), Violation> {
        let Some(object) = value.as_object() else {
            return violation(Rule::PodProfile, format!("`{path}` is not an object"));
        };
        for (key, item) in object {
            let was = live.and_then(|l| l.get(key));
            if item.is_null() || was == Some(item) {
                continue;
            }
            let Some(f) = fields.iter().find(|f| f.name == key) else {
                return violation(
                    Rule::PodProfile,
                    format!(
                        "`{path}.{key}` is not in leasebox's pod profile (an allow-list after the \
                         Pod Security \"restricted\" profile; README, Security model)"
                    ),
                );
            };
            self.allowed(&format!("{path}.{key}"), item, f, was)?;
        }
        for f in fields.iter().filter(|f| f.required) {
            if object.get(f.name).is_none_or(Value::is_null) {
                return violation(
                    Rule::PodProfile,
                    format!(
                        "`{path}.{}` is required by {}",
                        f.name,
                        if f.why.is_empty() {
                            "the pod profile"
                        } else {
                            f.why
                        }
                    ),
                );
            }
        }
        Ok(())
    }

    /// `value` at `path` holds what `f` allows.
    fn allowed(
        &self,
        path: &str,
        value: &Value,
        f: &Field,
        live: Option<&Value>,
    ) -> Result<(), Violation> {
        if live == Some(value) {
            return Ok(());
        }
        let refuse = |shown: &str| {
            violation(
                Rule::PodProfile,
                format!("`{path}` is {shown}: {}", expectation(f)),
            )
        };
        match f.allowed {
            Allowed::Any => Ok(()),
            Allowed::Bool(b) => match value.as_bool() {
                Some(v) if v == b => Ok(()),
                _ => refuse(&value.to_string()),
            },
            Allowed::OneOf(options) => match value.as_str() {
                Some(v) if options.contains(&v) => Ok(()),
                _ => refuse(&value.to_string()),
            },
            Allowed::NotPrefixed(prefix) => match value.as_str() {
                Some(v) if !v.starts_with(prefix) => Ok(()),
                _ => refuse(&value.to_string()),
            },
            Allowed::NonZero => match value.as_i64() {
                Some(v) if v != 0 => Ok(()),
                _ => refuse(&value.to_string()),
            },
            Allowed::Holds(wanted) => {
                let holds = value
                    .as_array()
                    .is_some_and(|a| a.iter().any(|v| v.as_str() == Some(wanted)));
                if holds {
                    Ok(())
                } else {
                    refuse(&value.to_string())
                }
            }
            Allowed::EachOf(options) => {
                let each = value.as_array().is_some_and(|a| {
                    a.iter()
                        .all(|v| v.as_str().is_some_and(|s| options.contains(&s)))
                });
                if each {
                    Ok(())
                } else {
                    refuse(&value.to_string())
                }
            }
            Allowed::Object(fields) => self.object(path, value, fields, live),
            Allowed::List(fields) => {
                let Some(items) = value.as_array() else {
                    return refuse("not a list");
                };
                for (i, item) in items.iter().enumerate() {
                    let was = live.and_then(|l| l.get(i));
                    self.object(&format!("{path}[{i}]"), item, fields, was)?;
                }
                Ok(())
            }
            Allowed::OwnSecret => {
                let name = value.as_str().unwrap_or("");
                match self.own_secret {
                    Some(own) if own == name => Ok(()),
                    Some(own) => violation(
                        Rule::PodSecretRef,
                        format!(
                            "`{path}` references Secret `{name}`; a lease pod may reference only \
                             its own lease's Secret `{own}`"
                        ),
                    ),
                    None => violation(
                        Rule::PodSecretRef,
                        format!(
                            "`{path}` references Secret `{name}`; this call is for no lease, so \
                             its pods may reference no Secret"
                        ),
                    ),
                }
            }
            Allowed::ClaimSpec => check_claim_spec(path, value),
            Allowed::OwnClaim => {
                let name = value.as_str().unwrap_or("");
                let lease = self.own_secret.and_then(|s| s.strip_suffix("-env"));
                match crate::cluster::guard::marks::lease_in_name(name) {
                    Some(other) if Some(other) != lease => violation(
                        Rule::LeaseScope,
                        format!(
                            "`{path}` is `{name}`, a claim of lease `{other}`: a lease pod \
                             mounts its own lease's claims or the tenant's, never another lease's"
                        ),
                    ),
                    _ => Ok(()),
                }
            }
            Allowed::PodAnnotations => annotations(path, value),
        }
    }
}

/// What a field accepts, for the refusal.
fn expectation(f: &Field) -> String {
    let what = match f.allowed {
        Allowed::Bool(b) => format!("only `{b}` is allowed"),
        Allowed::OneOf(options) => format!("only {} are allowed", quoted(options)),
        Allowed::NotPrefixed(prefix) => format!("values starting with `{prefix}` are refused"),
        Allowed::NonZero => "0 (root) is refused".to_string(),
        Allowed::Holds(wanted) => format!("it must hold `{wanted}`"),
        Allowed::EachOf(options) => format!("only {} are allowed", quoted(options)),
        _ => "it is outside the profile".to_string(),
    };
    if f.why.is_empty() {
        what
    } else {
        format!("{what} ({})", f.why)
    }
}

fn quoted(options: &[&str]) -> String {
    options
        .iter()
        .map(|o| format!("`{o}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// AppArmor and legacy seccomp annotations must confine the pod.
fn annotations(path: &str, value: &Value) -> Result<(), Violation> {
    let Some(map) = value.as_object() else {
        return Ok(());
    };
    for (key, v) in map {
        let profile = key.starts_with(APPARMOR_ANNOTATION_PREFIX)
            || key == SECCOMP_ANNOTATIONS[0]
            || key.starts_with(SECCOMP_ANNOTATIONS[1]);
        let text = v.as_str().unwrap_or("");
        if profile && !confined_profile(text) {
            return violation(
                Rule::PodProfile,
                format!(
                    "`{path}.{key}` is `{text}`: only `runtime/default` or `localhost/...` \
                     profiles are allowed (the Pod Security \"restricted\" profile)"
                ),
            );
        }
    }
    Ok(())
}

/// `runAsNonRoot: true` and a confined seccomp profile, on the pod or on
/// every container (the profile's two controls that may sit at either
/// level).
fn non_root_and_seccomp(path: &str, spec: &Value) -> Result<(), Violation> {
    let containers: Vec<&Value> = ["containers", "initContainers"]
        .iter()
        .filter_map(|list| spec.get(*list).and_then(Value::as_array))
        .flatten()
        .collect();
    let everywhere = |pointer: &str, ok: &dyn Fn(&Value) -> bool| {
        spec.pointer(&format!("/securityContext{pointer}"))
            .is_some_and(ok)
            || (!containers.is_empty()
                && containers.iter().all(|c| {
                    c.pointer(&format!("/securityContext{pointer}"))
                        .is_some_and(ok)
                }))
    };
    if !everywhere("/runAsNonRoot", &|v| v.as_bool() == Some(true)) {
        return violation(
            Rule::PodProfile,
            format!(
                "`{path}.securityContext.runAsNonRoot` is not true, nor is it on every container: \
                 lease pods run as non-root (the Pod Security \"restricted\" profile)"
            ),
        );
    }
    if !everywhere("/seccompProfile/type", &|v| v.as_str().is_some()) {
        return violation(
            Rule::PodProfile,
            format!(
                "`{path}.securityContext.seccompProfile` is not set, nor is it on every \
                 container: set type `RuntimeDefault` (the Pod Security \"restricted\" profile)"
            ),
        );
    }
    Ok(())
}
