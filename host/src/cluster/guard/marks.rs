//! The marks of identity the host owns: which lease, which company and
//! which module an object belongs to, leasebox's ownership label and the
//! namespace's Pod Security labels. The host stamps them; a module may
//! repeat the host's value but never set another (rule `identity-mark`).

use serde_json::{Value, json};

use super::rule::Rule;
use crate::cluster::grants::pod_profile::pod_bearing;
use crate::cluster::grants::{LEASE_LABEL, OWNER_LABEL};

/// The annotation the host sets on every workload (Pod, Job, Sandbox) a
/// module applies: the SHA-256 of that module, so a later module or an
/// operator can tell which module created a lease.
pub const MODULE_ANNOTATION: &str = "leasebox.dev/module-sha256";

/// The annotation naming the company a tenant namespace (and each lease
/// workload in it) belongs to: the exact company id of the call that
/// created it.
pub const COMPANY_ANNOTATION: &str = "leasebox.dev/company";

/// The Pod Security admission labels of a tenant namespace, pinned to the
/// "restricted" profile.
pub const POD_SECURITY_LABELS: [(&str, &str); 3] = [
    ("pod-security.kubernetes.io/enforce", "restricted"),
    ("pod-security.kubernetes.io/audit", "restricted"),
    ("pod-security.kubernetes.io/warn", "restricted"),
];

/// The prefix of every Pod Security admission label.
const POD_SECURITY_PREFIX: &str = "pod-security.kubernetes.io/";

/// The values the host stamps on one object.
#[derive(Debug, Clone, Default)]
pub struct Marks<'a> {
    /// `leasebox.dev/lease`.
    pub lease: Option<&'a str>,
    /// `leasebox.dev/company`.
    pub company: Option<&'a str>,
    /// `leasebox.dev/module-sha256`.
    pub module: Option<&'a str>,
}

/// The metadata objects of an object of `kind` the marks apply to: its
/// own and, for a workload, its pod template's (a Pod's are one).
pub fn metadata_paths(kind: &str) -> Vec<&'static str> {
    let mut paths = vec!["/metadata"];
    paths.extend(
        pod_bearing(kind)
            .map(|p| p.metadata)
            .filter(|m| *m != "/metadata"),
    );
    paths
}

/// Refuses a module's value for a mark the host owns that differs from the
/// host's (`expected`; `None` for the lease: the call is for no lease, so
/// the module may not name one).
pub fn check(object: &Value, kind: &str, expected: &Marks<'_>) -> Result<(), (Rule, String)> {
    for path in metadata_paths(kind) {
        let Some(metadata) = object.pointer(path) else {
            continue;
        };
        let label = |key: &str| metadata.pointer(&format!("/labels/{}", escape(key)));
        let annotation = |key: &str| metadata.pointer(&format!("/annotations/{}", escape(key)));
        if let Some(v) = label(OWNER_LABEL.0)
            && v.as_str() != Some(OWNER_LABEL.1)
        {
            return Err(refusal(
                path,
                "label",
                OWNER_LABEL.0,
                v,
                Some(OWNER_LABEL.1),
            ));
        }
        if let Some(v) = label(LEASE_LABEL)
            && v.as_str() != expected.lease
        {
            return Err(refusal(path, "label", LEASE_LABEL, v, expected.lease));
        }
        if let Some(v) = annotation(COMPANY_ANNOTATION)
            && v.as_str() != expected.company
        {
            return Err(refusal(path, "annotation", COMPANY_ANNOTATION, v, None));
        }
        if let Some(v) = annotation(MODULE_ANNOTATION)
            && v.as_str() != expected.module
        {
            return Err(refusal(
                path,
                "annotation",
                MODULE_ANNOTATION,
                v,
                expected.module,
            ));
        }
        if kind == "Namespace"
            && let Some(labels) = metadata.get("labels").and_then(Value::as_object)
        {
            for (key, v) in labels {
                if !key.starts_with(POD_SECURITY_PREFIX) {
                    continue;
                }
                let pinned = POD_SECURITY_LABELS
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, value)| *value);
                if pinned.is_none() || v.as_str() != pinned {
                    return Err(refusal(path, "label", key, v, pinned));
                }
            }
        }
    }
    Ok(())
}

/// JSON-pointer escaping of a key (`/` is `~1`).
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn refusal(path: &str, what: &str, key: &str, value: &Value, host: Option<&str>) -> (Rule, String) {
    let host = match host {
        Some(v) => format!("the host sets it to `{v}`"),
        None => "the host sets it, and this call leaves it unset".to_string(),
    };
    (
        Rule::IdentityMark,
        format!(
            "{} {what} `{key}` is {value}: it is a mark of identity only the host writes ({host})",
            path.trim_start_matches('/').replace('/', "."),
        ),
    )
}

/// Stamps the host's marks on `object` (every metadata path of its kind):
/// leasebox's ownership label always, the others where given.
pub fn stamp(object: &mut Value, kind: &str, marks: &Marks<'_>) {
    for path in metadata_paths(kind) {
        let Some(metadata) = pointer_object(object, path) else {
            continue;
        };
        set(metadata, "labels", OWNER_LABEL.0, OWNER_LABEL.1);
        if let Some(lease) = marks.lease {
            set(metadata, "labels", LEASE_LABEL, lease);
        }
        if path == "/metadata" {
            if let Some(company) = marks.company {
                set(metadata, "annotations", COMPANY_ANNOTATION, company);
            }
            if let Some(module) = marks.module {
                set(metadata, "annotations", MODULE_ANNOTATION, module);
            }
            if kind == "Namespace" {
                for (key, value) in POD_SECURITY_LABELS {
                    set(metadata, "labels", key, value);
                }
            }
        }
    }
}

/// The object at `path` (`/metadata`, `/spec/template/metadata`), made
/// when missing below an existing parent.
fn pointer_object<'a>(
    object: &'a mut Value,
    path: &str,
) -> Option<&'a mut serde_json::Map<String, Value>> {
    let mut at = object;
    for part in path.split('/').skip(1) {
        let map = at.as_object_mut()?;
        at = map.entry(part).or_insert_with(|| json!({}));
    }
    at.as_object_mut()
}

fn set(metadata: &mut serde_json::Map<String, Value>, map: &str, key: &str, value: &str) {
    let entries = metadata.entry(map).or_insert_with(|| json!({}));
    if let Some(entries) = entries.as_object_mut() {
        entries.insert(key.into(), Value::String(value.into()));
    }
}

/// The lease an object names itself for: `lb-` and 26 lowercase Crockford
/// characters at the start of its name (the lease id, as the host mints it).
pub fn lease_in_name(name: &str) -> Option<&str> {
    const LEN: usize = 3 + 26;
    let id = name.get(..LEN)?;
    let crockford = |c: char| c.is_ascii_digit() || c.is_ascii_lowercase();
    let rest_ok = name.len() == LEN || name[LEN..].starts_with('-');
    (id.starts_with("lb-") && id[3..].chars().all(crockford) && rest_ok).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_made_for_a_lease_names_it() {
        let lease = "lb-01jd8x7k2m3n4p5q6r7s8t9v0w";
        assert_eq!(lease_in_name(lease), Some(lease));
        assert_eq!(lease_in_name(&format!("{lease}-env")), Some(lease));
        assert_eq!(lease_in_name("leasebox-agent"), None);
        assert_eq!(lease_in_name(&format!("{lease}x")), None);
    }

    #[test]
    fn stamping_sets_the_template_lease_and_the_object_company() {
        let mut job = json!({"kind":"Job","metadata":{"name":"j"},"spec":{"template":{"spec":{}}}});
        let marks = Marks {
            lease: Some("lb-x"),
            company: Some("Acme Corp"),
            module: Some("f00d"),
        };
        stamp(&mut job, "Job", &marks);
        assert_eq!(
            job["metadata"]["annotations"][COMPANY_ANNOTATION],
            "Acme Corp"
        );
        assert_eq!(
            job["spec"]["template"]["metadata"]["labels"][LEASE_LABEL],
            "lb-x"
        );
        assert!(
            job["spec"]["template"]["metadata"]
                .get("annotations")
                .is_none()
        );
        assert!(check(&job, "Job", &marks).is_ok());
    }

    #[test]
    fn a_pod_security_label_other_than_restricted_is_refused() {
        let ns = json!({"metadata":{"labels":{"pod-security.kubernetes.io/enforce":"privileged"}}});
        let (rule, message) = check(&ns, "Namespace", &Marks::default()).expect_err("refused");
        assert_eq!(rule, Rule::IdentityMark);
        assert!(message.contains("restricted"), "{message}");
    }
}
