//! The PVC of a `pod`/`job` lease with a `pvc` workspace.

use k8s_openapi::api::core::v1::PersistentVolumeClaim;

use super::context::Context;
use super::object::{controller_reference, meta};
use super::sandbox_cr::claim_spec;
use crate::config::{Backend, Workspace};
use crate::lease::ObjectRef;
use crate::names;

/// The claim `<lease>-workspace` (ReadWriteOnce, the configured size and
/// StorageClass), owned by the workload when `owner` is given. None for a
/// Sandbox (its controller makes the claim from `volumeClaimTemplates`)
/// and for an `emptyDir` workspace.
pub fn workspace_claim(ctx: &Context, owner: Option<&ObjectRef>) -> Option<PersistentVolumeClaim> {
    let Workspace::Pvc {
        storage_class,
        size,
    } = &ctx.config.workspace
    else {
        return None;
    };
    if ctx.config.backend == Backend::SandboxCr {
        return None;
    }
    let mut metadata = meta(
        &names::workspace_claim_name(&ctx.lease_id),
        &ctx.namespace,
        ctx.lease_labels(),
    );
    metadata.owner_references = owner.map(|o| vec![controller_reference(o)]);
    Some(PersistentVolumeClaim {
        metadata,
        spec: Some(claim_spec(storage_class.as_deref(), size)),
        ..PersistentVolumeClaim::default()
    })
}

#[cfg(test)]
mod tests {
    use rstest::rstest;
    use serde_json::json;

    use super::*;
    use crate::manifests::{fixture, to_value};

    #[rstest]
    #[case::sandbox_cr_pvc("sandbox-cr", "pvc")]
    #[case::sandbox_cr_empty_dir("sandbox-cr", "emptyDir")]
    #[case::pod_empty_dir("pod", "emptyDir")]
    #[case::job_empty_dir("job", "emptyDir")]
    fn no_claim_without_a_pod_or_job_pvc(#[case] backend: &str, #[case] workspace: &str) {
        let ctx =
            fixture::context(json!({ "backend": backend, "workspace": { "type": workspace } }));
        assert_eq!(workspace_claim(&ctx, None), None);
    }

    #[rstest]
    #[case::pod("pod")]
    #[case::job("job")]
    fn pod_and_job_pvc_workspace_gets_a_lease_claim(#[case] backend: &str) {
        let ctx = fixture::context(json!({
            "backend": backend,
            "workspace": { "type": "pvc", "storageClass": "standard", "size": "5Gi" }
        }));
        let value = to_value(&workspace_claim(&ctx, None).expect("a claim"));
        assert_eq!(value["kind"], "PersistentVolumeClaim");
        assert_eq!(
            value["metadata"]["name"],
            format!("{}-workspace", ctx.lease_id).as_str()
        );
        assert_eq!(value["metadata"]["labels"], to_value(&ctx.lease_labels()));
        assert!(value["metadata"].get("ownerReferences").is_none());
        assert_eq!(
            value["spec"],
            json!({
                "accessModes": ["ReadWriteOnce"],
                "resources": { "requests": { "storage": "5Gi" } },
                "storageClassName": "standard"
            })
        );
    }

    #[test]
    fn claim_is_owned_by_the_workload_when_given() {
        let ctx = fixture::context(json!({ "backend": "pod", "workspace": { "type": "pvc" } }));
        let mut owner = ctx.workload_ref();
        owner.uid = Some("0c7e-uid".into());
        let value = to_value(&workspace_claim(&ctx, Some(&owner)).expect("a claim"));
        assert_eq!(
            value["metadata"]["ownerReferences"],
            json!([{
                "apiVersion": "v1",
                "blockOwnerDeletion": true,
                "controller": true,
                "kind": "Pod",
                "name": ctx.lease_id,
                "uid": "0c7e-uid"
            }])
        );
    }
}
