//! `hand-over-secret` through the guard: a lease's Secret goes only into
//! its own lease's pod, and only into a file of a memory-backed `emptyDir`
//! that container mounts writable (rule `hand-over-target`).
//!
//! The Secret must be the call's lease's own (`<lease>-env`: the only
//! name the host-filled path writes for it, labelled for it), and the
//! host hands over only values it filled itself, never reading a Secret
//! back (it holds no `get` on Secrets). The host reads the pod itself,
//! whatever the module says of it: it must carry leasebox's ownership label
//! and the lease label of the call's lease. The path is held to the volume that
//! would really hold the file: the deepest mount of the container above
//! it, which must be an `emptyDir` with `medium: Memory`, not read-only,
//! and the whole volume (no `subPath`), so the values never reach a disk,
//! a volume shared with another pod, or a file the container cannot write.

use k8s_openapi::api::core::v1::{Container, Pod, Volume, VolumeMount};
use serde_json::Value;

use crate::cluster::grants::{LEASE_LABEL, OWNER_LABEL};
use crate::cluster::guard::rule::Rule;
use crate::cluster::guard::{GuardedCluster, has_owner_label, lease_of};
use crate::contract::{HandOverRequest, KubeError, ObjectRef};

impl GuardedCluster {
    /// Refuses a hand-over unless the call is about a lease for a company,
    /// the namespace is inside the fence and the company's, both objects
    /// are that lease's, and the path lies in a memory-backed `emptyDir`
    /// of the container (see the module docs).
    pub(in crate::cluster::guard) fn check_hand_over(
        &self,
        request: &HandOverRequest,
    ) -> Result<(), KubeError> {
        let HandOverRequest {
            namespace,
            secret,
            pod,
            container,
            path,
        } = request;
        let what = format!("hand-over-secret of `{secret}` to pod `{namespace}/{pod}`");
        let (Some(lease), Some(_)) = (self.scope.lease.as_deref(), &self.scope.company) else {
            return self.deny(
                Rule::LeaseScope,
                format!(
                    "{what}: a Secret is handed over only by a call about a lease for a company \
                     (claim-lease, acquire-lease)"
                ),
            );
        };
        self.check_write(&what, Some(namespace))?;
        if let Err(problem) = check_path_shape(path) {
            return self.deny(
                Rule::HandOverTarget,
                format!("{what}: `path` `{path}` {problem}"),
            );
        }
        let of_lease = |object: &Value| has_owner_label(object) && lease_of(object) == Some(lease);
        let marks = format!(
            "labels {}={} and {LEASE_LABEL}={lease}",
            OWNER_LABEL.0, OWNER_LABEL.1
        );
        let own = format!("{lease}-env");
        if *secret != own {
            return self.deny(
                Rule::HandOverTarget,
                format!(
                    "{what}: `secret` `{secret}` is not this lease's: only the Secret of the \
                     call's lease (`{own}`, written through apply-host-secret) is handed over; \
                     name the lease's own Secret"
                ),
            );
        }
        let object = match self.read(&object_ref("Pod", namespace, pod))? {
            Some(object) if of_lease(&object) => object,
            found => {
                let state = if found.is_some() {
                    "is not this lease's"
                } else {
                    "does not exist"
                };
                return self.deny(
                    Rule::HandOverTarget,
                    format!(
                        "{what}: `pod` `{pod}` {state}: a Secret is handed over only to the pod \
                         of the call's lease (its {marks}); claim the pod first"
                    ),
                );
            }
        };
        let typed: Pod = serde_json::from_value(object).map_err(|e| {
            KubeError::Transport(format!("{what}: the pod is not a readable Pod: {e}"))
        })?;
        if let Err(problem) = check_target(&typed, container, path) {
            return self.deny(Rule::HandOverTarget, format!("{what}: {problem}"));
        }
        Ok(())
    }
}

fn object_ref(kind: &str, namespace: &str, name: &str) -> ObjectRef {
    ObjectRef {
        api_version: "v1".into(),
        kind: kind.into(),
        namespace: Some(namespace.to_string()),
        name: name.to_string(),
        uid: None,
    }
}

/// The fix every path refusal ends with.
const PATH_FIX: &str = "write a file under the mountPath of an `emptyDir` volume with `medium: \
                        Memory` that the container mounts without `readOnly` or `subPath`";

/// A path the pod reads as written: absolute, with no `.`, `..` or empty
/// segment, no NUL, no trailing `/`.
fn check_path_shape(path: &str) -> Result<(), String> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(format!("is not absolute; {PATH_FIX}"));
    };
    if path.contains('\0') {
        return Err(format!("holds a NUL byte; {PATH_FIX}"));
    }
    if rest
        .split('/')
        .any(|segment| matches!(segment, "" | "." | ".."))
    {
        return Err(format!(
            "is not normalised (an empty, `.` or `..` segment, or a trailing `/`); write it \
             without them, and {PATH_FIX}"
        ));
    }
    Ok(())
}

/// `container` is one of the pod's containers, and the mount that holds
/// `path` in it is a writable, whole, memory-backed `emptyDir`.
fn check_target(pod: &Pod, container: &str, path: &str) -> Result<(), String> {
    let spec = pod.spec.as_ref();
    let Some(found) = spec
        .into_iter()
        .flat_map(|s| &s.containers)
        .find(|c| c.name == container)
    else {
        return Err(format!(
            "`container` `{container}` is not one of the pod's `spec.containers`; name the \
             container that reads the file"
        ));
    };
    let Some(mount) = holding_mount(found, path) else {
        return Err(format!(
            "`path` `{path}` is under no volume mount of container `{container}`; {PATH_FIX}"
        ));
    };
    let name = &mount.name;
    let at = format!(
        "`path` `{path}` lies in mount `{name}` at `{}`",
        mount.mount_path
    );
    if mount.read_only == Some(true) {
        return Err(format!("{at}, which is readOnly; {PATH_FIX}"));
    }
    if has_value(&mount.sub_path) || has_value(&mount.sub_path_expr) {
        return Err(format!("{at}, which mounts a subPath; {PATH_FIX}"));
    }
    let volume: Option<&Volume> = spec
        .and_then(|s| s.volumes.as_ref())
        .and_then(|volumes| volumes.iter().find(|v| &v.name == name));
    let in_memory = volume
        .and_then(|v| v.empty_dir.as_ref())
        .is_some_and(|dir| dir.medium.as_deref() == Some("Memory"));
    if !in_memory {
        return Err(format!(
            "{at}, whose volume is not an `emptyDir` with `medium: Memory` (the values would \
             reach a disk or another pod); {PATH_FIX}"
        ));
    }
    Ok(())
}

/// The mount of `container` that holds `path`: the deepest one whose
/// mountPath lies strictly above it (a mount below another shadows it).
fn holding_mount<'a>(container: &'a Container, path: &str) -> Option<&'a VolumeMount> {
    container
        .volume_mounts
        .iter()
        .flatten()
        .filter(|m| strictly_under(path, &m.mount_path))
        .max_by_key(|m| m.mount_path.trim_end_matches('/').len())
}

/// `path` names something inside the directory `dir`, not `dir` itself.
fn strictly_under(path: &str, dir: &str) -> bool {
    path.strip_prefix(dir.trim_end_matches('/'))
        .is_some_and(|rest| rest.len() > 1 && rest.starts_with('/'))
}

fn has_value(field: &Option<String>) -> bool {
    field.as_deref().is_some_and(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::relative("run/leasebox/lease.env")]
    #[case::dot_dot("/run/leasebox/../etc/profile")]
    #[case::dot("/run/leasebox/./lease.env")]
    #[case::double_slash("/run/leasebox//lease.env")]
    #[case::trailing_slash("/run/leasebox/")]
    #[case::nul("/run/leasebox/lease.env\0")]
    #[case::root("/")]
    fn a_path_that_is_not_absolute_and_normalised_is_refused(#[case] path: &str) {
        assert!(check_path_shape(path).is_err(), "{path}");
    }

    #[test]
    fn a_normalised_absolute_path_passes() {
        assert_eq!(check_path_shape("/run/leasebox/lease.env"), Ok(()));
    }

    #[rstest]
    #[case::inside("/run/leasebox/lease.env", "/run/leasebox", true)]
    #[case::inside_with_a_slash_ended_mount("/run/leasebox/a", "/run/leasebox/", true)]
    #[case::the_mount_itself("/run/leasebox", "/run/leasebox", false)]
    #[case::a_sibling_sharing_a_prefix("/run/leasebox2/a", "/run/leasebox", false)]
    #[case::under_root("/a", "/", true)]
    fn strictly_under_means_inside_the_directory(
        #[case] path: &str,
        #[case] dir: &str,
        #[case] expected: bool,
    ) {
        assert_eq!(strictly_under(path, dir), expected);
    }
}
