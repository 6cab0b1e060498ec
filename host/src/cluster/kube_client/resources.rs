//! Which URL path serves an `apiVersion` + `kind`: a table of the kinds
//! leasebox writes (no discovery round trip, works where discovery is
//! restricted), then API discovery for anything else, cached per client.

use std::collections::HashMap;
use std::sync::Mutex;

use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::Scope;

use crate::contract::KubeError;

/// A resolved kind: its resource (plural, group, version) and scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// Group, version, kind, plural.
    pub resource: ApiResource,
    /// Namespaced (true) or cluster-scoped.
    pub namespaced: bool,
}

/// Kinds known without discovery: (apiVersion, kind, plural, namespaced).
const KNOWN: &[(&str, &str, &str, bool)] = &[
    ("v1", "Namespace", "namespaces", false),
    ("v1", "Pod", "pods", true),
    ("v1", "Secret", "secrets", true),
    ("v1", "ConfigMap", "configmaps", true),
    ("v1", "ServiceAccount", "serviceaccounts", true),
    ("v1", "Service", "services", true),
    ("v1", "ResourceQuota", "resourcequotas", true),
    ("v1", "LimitRange", "limitranges", true),
    (
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        true,
    ),
    ("v1", "Event", "events", true),
    ("v1", "Node", "nodes", false),
    ("batch/v1", "Job", "jobs", true),
    ("rbac.authorization.k8s.io/v1", "Role", "roles", true),
    (
        "rbac.authorization.k8s.io/v1",
        "RoleBinding",
        "rolebindings",
        true,
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "ClusterRole",
        "clusterroles",
        false,
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        false,
    ),
    (
        "networking.k8s.io/v1",
        "NetworkPolicy",
        "networkpolicies",
        true,
    ),
    (
        "authorization.k8s.io/v1",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreviews",
        false,
    ),
    (
        "authorization.k8s.io/v1",
        "SelfSubjectRulesReview",
        "selfsubjectrulesreviews",
        false,
    ),
    (
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        false,
    ),
    ("agents.x-k8s.io/v1beta1", "Sandbox", "sandboxes", true),
    ("agents.x-k8s.io/v1alpha1", "Sandbox", "sandboxes", true),
    (
        "cilium.io/v2",
        "CiliumNetworkPolicy",
        "ciliumnetworkpolicies",
        true,
    ),
];

/// Splits `apiVersion` into group and version (`v1` is the core group).
pub(crate) fn group_version(api_version: &str) -> Result<(String, String), KubeError> {
    let parts: Vec<&str> = api_version.split('/').collect();
    match parts.as_slice() {
        [version] if !version.is_empty() => Ok((String::new(), (*version).to_string())),
        [group, version] if !group.is_empty() && !version.is_empty() => {
            Ok(((*group).to_string(), (*version).to_string()))
        }
        _ => Err(KubeError::BadArgument(format!(
            "apiVersion {api_version:?} is not of the form \"v1\" or \"group/version\""
        ))),
    }
}

/// The entry of [`KNOWN`] for this kind, if any.
pub(crate) fn known(api_version: &str, kind: &str) -> Option<Resolved> {
    let (_, _, plural, namespaced) = KNOWN
        .iter()
        .find(|(v, k, _, _)| *v == api_version && *k == kind)?;
    let (group, version) = group_version(api_version).ok()?;
    let gvk = GroupVersionKind::gvk(&group, &version, kind);
    Some(Resolved {
        resource: ApiResource::from_gvk_with_plural(&gvk, plural),
        namespaced: *namespaced,
    })
}

/// Resolves kinds, caching discovery answers.
#[derive(Debug, Default)]
pub(crate) struct Resolver {
    cache: Mutex<HashMap<(String, String), Resolved>>,
}

impl Resolver {
    /// The resource for `api_version` + `kind`: table, cache, then discovery.
    pub(crate) async fn resolve(
        &self,
        client: &kube::Client,
        api_version: &str,
        kind: &str,
    ) -> Result<Resolved, KubeError> {
        if kind.is_empty() {
            return Err(KubeError::BadArgument(
                "kind is empty: every object needs a kind".into(),
            ));
        }
        let (group, version) = group_version(api_version)?;
        if let Some(found) = known(api_version, kind) {
            return Ok(found);
        }
        let key = (api_version.to_string(), kind.to_string());
        if let Some(found) = self.cached(&key) {
            return Ok(found);
        }
        let gvk = GroupVersionKind::gvk(&group, &version, kind);
        let (resource, caps) = kube::discovery::pinned_kind(client, &gvk)
            .await
            .map_err(|e| super::error::from_kube(&format!("discover {api_version} {kind}"), &e))?;
        let found = Resolved {
            resource,
            namespaced: caps.scope == Scope::Namespaced,
        };
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(key, found.clone());
        }
        Ok(found)
    }

    fn cached(&self, key: &(String, String)) -> Option<Resolved> {
        self.cache.lock().ok()?.get(key).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::core("v1", "", "v1")]
    #[case::grouped("batch/v1", "batch", "v1")]
    fn api_version_splits_into_group_and_version(
        #[case] input: &str,
        #[case] group: &str,
        #[case] version: &str,
    ) {
        assert_eq!(
            group_version(input),
            Ok((group.to_string(), version.to_string()))
        );
    }

    #[rstest]
    #[case::empty("")]
    #[case::three_parts("a/b/c")]
    #[case::empty_group("/v1")]
    fn malformed_api_version_is_a_bad_argument(#[case] input: &str) {
        assert!(matches!(
            group_version(input),
            Err(KubeError::BadArgument(_))
        ));
    }

    #[test]
    fn sandbox_crd_is_known_without_discovery() {
        let found = known("agents.x-k8s.io/v1beta1", "Sandbox");
        let found = found.map(|r| (r.resource.plural, r.resource.group, r.namespaced));
        assert_eq!(
            found,
            Some(("sandboxes".to_string(), "agents.x-k8s.io".to_string(), true))
        );
    }

    #[test]
    fn namespace_is_cluster_scoped() {
        assert_eq!(known("v1", "Namespace").map(|r| r.namespaced), Some(false));
    }
}
