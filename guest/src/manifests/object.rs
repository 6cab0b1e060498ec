//! What every builder shares to make an object: its metadata, its owner
//! reference, resource lists, and the JSON it becomes.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use serde::Serialize;
use serde_json::Value;

use crate::lease::ObjectRef;

/// Serialises a typed object.
///
/// `serde_json::to_value` fails only for maps with non-string keys or a
/// failing `Serialize` impl, which none of our types have; should it ever
/// fail, the result is an object without `apiVersion`/`kind`, which the
/// host refuses to apply, rather than a panic across the wasm boundary.
pub(crate) fn to_value<T: Serialize>(object: &T) -> Value {
    serde_json::to_value(object).unwrap_or_else(
        |e| serde_json::json!({ "error": format!("failed to serialise a manifest: {e}") }),
    )
}

/// Metadata of a namespaced object.
pub(crate) fn meta(name: &str, namespace: &str, labels: BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: Some(namespace.to_string()),
        labels: Some(labels),
        ..ObjectMeta::default()
    }
}

/// A resource list (`cpu`, `memory`, ...) from name/quantity pairs.
pub(crate) fn quantities(pairs: &[(&str, &str)]) -> BTreeMap<String, Quantity> {
    pairs
        .iter()
        .map(|(name, value)| (name.to_string(), Quantity(value.to_string())))
        .collect()
}

/// The controller ownerReference to `owner`, so that deleting the owner
/// deletes the dependent. An owner without uid yields an empty uid, which
/// the API server rejects loudly instead of leaving an orphan behind.
pub(crate) fn controller_reference(owner: &ObjectRef) -> OwnerReference {
    OwnerReference {
        api_version: owner.api_version.clone(),
        kind: owner.kind.clone(),
        name: owner.name.clone(),
        uid: owner.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifests::fixture::LEASE;

    #[test]
    fn controller_reference_blocks_owner_deletion() {
        let owner = ObjectRef {
            api_version: "batch/v1".into(),
            kind: "Job".into(),
            namespace: Some("ns".into()),
            name: LEASE.into(),
            uid: Some("u-1".into()),
        };
        let reference = controller_reference(&owner);
        assert_eq!(reference.uid, "u-1");
        assert_eq!(reference.controller, Some(true));
        assert_eq!(reference.block_owner_deletion, Some(true));
    }
}
