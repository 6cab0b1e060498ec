//! What a lease allows beyond `execute`, read back from its workload: the
//! contract's calls get no configuration, so acquire records a
//! configuration that narrows the defaults (terminals off, narrowed file
//! roots) as annotations of the workload (`manifests::pod_baseline`), and
//! the terminal and file calls read them here. An annotation that does not
//! read allows nothing (fail closed).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::step::kube_failure;
use crate::cluster::{Cluster, Level};
use crate::config::DEFAULT_FILE_ROOTS;
use crate::error::PolicyError;
use crate::lease::{Lease, annotation, metadata};
use crate::{names, sandbox_path};

/// What one lease allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LeaseAccess {
    /// `open-terminal` may open a terminal.
    pub terminals: bool,
    /// The directories the file calls may reach (lexical, absolute).
    pub file_roots: Vec<String>,
}

/// Reads the lease's workload; a workload that is gone (or replaced by
/// another with the same name) is `lease-not-found`.
pub(crate) fn read(
    cluster: &dyn Cluster,
    lease: &Lease,
    step: &str,
) -> Result<LeaseAccess, PolicyError> {
    let workload = &lease.workload;
    let object = cluster
        .get(workload)
        .map_err(|e| kube_failure(step, &format!("reading {}", workload.display()), &e))?
        .ok_or_else(|| {
            PolicyError::LeaseNotFound(format!(
                "lease {}: its {} is gone (released or swept)",
                lease.id,
                workload.display()
            ))
        })?;
    let meta = metadata(&object).map_err(|m| PolicyError::step(step, "Invalid", m))?;
    if let (Some(want), Some(found)) = (&workload.uid, &meta.uid)
        && want != found
    {
        return Err(PolicyError::LeaseNotFound(format!(
            "lease {}: {} now has uid {found}, not {want}: the lease was released and the \
             name reused",
            lease.id,
            workload.display()
        )));
    }
    Ok(from_metadata(cluster, &workload.display(), &meta))
}

/// What the annotations of a workload (`display` in warnings) allow.
pub(crate) fn from_metadata(
    cluster: &dyn Cluster,
    display: &str,
    meta: &ObjectMeta,
) -> LeaseAccess {
    let terminals = match annotation(meta, names::ANNOTATION_TERMINALS) {
        None => true,
        Some(value) => {
            if value != names::TERMINALS_DISABLED {
                cluster.log(
                    Level::Warn,
                    "lease-access",
                    &format!(
                        "{display}: annotation {} is `{value}`, not `{}`; terminals stay off",
                        names::ANNOTATION_TERMINALS,
                        names::TERMINALS_DISABLED
                    ),
                );
            }
            false
        }
    };
    let file_roots = match annotation(meta, names::ANNOTATION_FILE_ROOTS) {
        None => DEFAULT_FILE_ROOTS.iter().map(|r| r.to_string()).collect(),
        Some(text) => match roots_of(text) {
            Some(roots) => roots,
            None => {
                cluster.log(
                    Level::Warn,
                    "lease-access",
                    &format!(
                        "{display}: annotation {} is `{text}`, not a list of roots inside the \
                         default ones; every file call is refused",
                        names::ANNOTATION_FILE_ROOTS
                    ),
                );
                Vec::new()
            }
        },
    };
    LeaseAccess {
        terminals,
        file_roots,
    }
}

/// The roots of the annotation: a JSON array of lexical absolute paths
/// inside the default roots; none when any entry is not.
fn roots_of(text: &str) -> Option<Vec<String>> {
    let roots: Vec<String> = serde_json::from_str(text).ok()?;
    let valid = roots.iter().all(|root| {
        sandbox_path::normalize(root).is_ok_and(|n| &n == root)
            && DEFAULT_FILE_ROOTS
                .iter()
                .any(|d| sandbox_path::is_within(root, d))
    });
    valid.then_some(roots)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake_cluster::FakeCluster;
    use rstest::rstest;
    use std::collections::BTreeMap;

    fn meta(annotations: &[(&str, &str)]) -> ObjectMeta {
        ObjectMeta {
            annotations: Some(
                annotations
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<BTreeMap<_, _>>(),
            ),
            ..ObjectMeta::default()
        }
    }

    #[test]
    fn a_workload_without_annotations_allows_the_defaults() {
        let access = from_metadata(&FakeCluster::new(), "Pod/ns/p", &meta(&[]));
        assert!(access.terminals);
        assert_eq!(access.file_roots, DEFAULT_FILE_ROOTS);
    }

    #[rstest]
    #[case::disabled("disabled")]
    #[case::unreadable_value_fails_closed("maybe")]
    fn terminals_annotation_turns_terminals_off(#[case] value: &str) {
        let access = from_metadata(
            &FakeCluster::new(),
            "Pod/ns/p",
            &meta(&[(names::ANNOTATION_TERMINALS, value)]),
        );
        assert!(!access.terminals);
    }

    #[rstest]
    #[case::narrowed(r#"["/workspace/out"]"#, &["/workspace/out"])]
    #[case::not_json("/workspace", &[])]
    #[case::outside_the_mounts(r#"["/etc"]"#, &[])]
    #[case::not_plain(r#"["/workspace/../etc"]"#, &[])]
    fn file_roots_annotation_narrows_or_fails_closed(#[case] text: &str, #[case] roots: &[&str]) {
        let access = from_metadata(
            &FakeCluster::new(),
            "Pod/ns/p",
            &meta(&[(names::ANNOTATION_FILE_ROOTS, text)]),
        );
        assert_eq!(access.file_roots, roots);
    }
}
