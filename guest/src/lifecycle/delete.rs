//! Deleting a lease's objects, which release and sweep both do: the
//! workload first (with its uid as the precondition), then the objects it
//! owns besides ([`lease_dependents`]). Every delete is tried even after
//! one failed, and [`delete_lease_objects`] reports each outcome; each
//! caller words the report its own way.

use k8s_openapi::Resource;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, Secret};

use crate::cluster::{Cluster, DeleteOptions, KubeError, Propagation};
use crate::lease::{Backend, ObjectRef};

/// What became of a lease's workload.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum WorkloadDelete {
    /// Deleted by this call.
    Deleted,
    /// Already gone: the delete found nothing.
    AlreadyGone,
    /// The uid precondition failed (the server's message): the object of
    /// that name is not the lease's workload, which is therefore gone.
    OtherUid(String),
    /// The delete answered "not found" as an error, not as "already gone"
    /// (the kind or the namespace may be what is missing); it is not in
    /// [`LeaseDeletion::failed`]: whether the workload is gone is the
    /// caller's to say.
    NotFound(FailedDelete),
    /// The delete failed: the first of [`LeaseDeletion::failed`].
    Failed,
}

/// One delete that failed: its object is left.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FailedDelete {
    /// The object left.
    pub object: ObjectRef,
    /// `delete-<kind>`, the step that failed.
    pub step: String,
    /// What the cluster answered.
    pub error: KubeError,
}

/// Every outcome of deleting one lease's objects, in the order tried.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LeaseDeletion {
    /// What became of the workload.
    pub workload: WorkloadDelete,
    /// The objects this call deleted, the workload first.
    pub deleted: Vec<ObjectRef>,
    /// The deletes that failed, the workload's first. A dependent that was
    /// already gone is neither deleted nor failed.
    pub failed: Vec<FailedDelete>,
}

/// Deletes a lease's `workload` ([`workload_delete`]), then its
/// `dependents` ([`DEPENDENT_DELETE`]), trying every delete even after one
/// failed, so that a failure names exactly what is left.
pub(crate) fn delete_lease_objects(
    cluster: &dyn Cluster,
    workload: &ObjectRef,
    dependents: Vec<ObjectRef>,
) -> LeaseDeletion {
    let mut deletion = LeaseDeletion {
        workload: WorkloadDelete::Deleted,
        deleted: Vec::new(),
        failed: Vec::new(),
    };
    deletion.workload = match cluster.delete(workload, &workload_delete(workload)) {
        Ok(true) => {
            deletion.deleted.push(workload.clone());
            WorkloadDelete::Deleted
        }
        Ok(false) => WorkloadDelete::AlreadyGone,
        Err(KubeError::Conflict(message)) => WorkloadDelete::OtherUid(message),
        Err(error @ KubeError::NotFound(_)) => {
            WorkloadDelete::NotFound(failed(workload.clone(), error))
        }
        Err(error) => {
            deletion.failed.push(failed(workload.clone(), error));
            WorkloadDelete::Failed
        }
    };
    for dependent in dependents {
        match cluster.delete(&dependent, &DEPENDENT_DELETE) {
            Ok(true) => deletion.deleted.push(dependent),
            Ok(false) | Err(KubeError::NotFound(_)) => {}
            Err(error) => deletion.failed.push(failed(dependent, error)),
        }
    }
    deletion
}

/// A failed delete of `object`, as the step `delete-<kind-lowercase>`.
fn failed(object: ObjectRef, error: KubeError) -> FailedDelete {
    FailedDelete {
        step: format!("delete-{}", object.kind.to_ascii_lowercase()),
        object,
        error,
    }
}

/// The objects a lease owns besides its workload, which release and sweep
/// delete after it: the Secret `secret` and, for `pod`/`job`, the PVC
/// `<lease>-workspace` (sandbox-cr claims belong to the Sandbox).
pub(crate) fn lease_dependents(
    namespace: Option<String>,
    lease_id: &str,
    secret: String,
    backend: Backend,
) -> Vec<ObjectRef> {
    let object = |api_version: &str, kind: &str, name: String| ObjectRef {
        api_version: api_version.into(),
        kind: kind.into(),
        namespace: namespace.clone(),
        name,
        uid: None,
    };
    let mut dependents = vec![object(Secret::API_VERSION, Secret::KIND, secret)];
    if matches!(backend, Backend::Pod | Backend::Job) {
        dependents.push(object(
            PersistentVolumeClaim::API_VERSION,
            PersistentVolumeClaim::KIND,
            crate::names::workspace_claim_name(lease_id),
        ));
    }
    dependents
}

/// How release and sweep delete a lease's workload: with its uid as the
/// precondition, a Pod with Background propagation, a Sandbox or Job with
/// Foreground.
///
/// A Pod owns the lease's egress policy. Foreground would have the garbage
/// collector delete that policy at once, while the kubelet still stops the
/// container (up to its grace period), and keep the Pod object until the
/// collector is done; Background leaves the policy in force until the Pod is
/// gone, and the Pod's removal waits only on the kubelet. A Sandbox or Job
/// does not run the agent itself: Foreground keeps it until its pod is gone,
/// so that a lease's workload outlives its processes.
pub(crate) fn workload_delete(workload: &ObjectRef) -> DeleteOptions {
    let propagation = if workload.kind == Pod::KIND {
        Propagation::Background
    } else {
        Propagation::Foreground
    };
    DeleteOptions {
        propagation,
        precondition_uid: workload.uid.clone(),
        grace_period_seconds: None,
    }
}

/// How release and sweep delete a lease's dependents.
pub(crate) const DEPENDENT_DELETE: DeleteOptions = DeleteOptions {
    propagation: Propagation::Background,
    precondition_uid: None,
    grace_period_seconds: None,
};

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::fake_cluster::FakeCluster;

    const LEASE: &str = "lb-01jd8x7k2m3n4p5q6r7s8t9v0w";

    fn pod(uid: &str) -> ObjectRef {
        ObjectRef {
            api_version: "v1".into(),
            kind: "Pod".into(),
            namespace: Some("ns".into()),
            name: LEASE.into(),
            uid: Some(uid.into()),
        }
    }

    fn stored(reference: &ObjectRef) -> serde_json::Value {
        json!({
            "apiVersion": reference.api_version,
            "kind": reference.kind,
            "metadata": {
                "name": reference.name,
                "namespace": reference.namespace,
                "uid": reference.uid,
            }
        })
    }

    fn dependents() -> Vec<ObjectRef> {
        lease_dependents(
            Some("ns".into()),
            LEASE,
            format!("{LEASE}-env"),
            Backend::Pod,
        )
    }

    #[test]
    fn every_dependent_is_tried_after_the_workload_delete_failed() {
        let fake = FakeCluster::new();
        fake.fail_on("delete", "Pod", KubeError::Forbidden("no".into()));
        for dependent in dependents() {
            fake.put(stored(&dependent));
        }

        let deletion = delete_lease_objects(&fake, &pod("u-1"), dependents());

        assert_eq!(deletion.workload, WorkloadDelete::Failed);
        assert_eq!(deletion.deleted, dependents());
        let failed: Vec<(&str, &str)> = deletion
            .failed
            .iter()
            .map(|f| (f.object.kind.as_str(), f.step.as_str()))
            .collect();
        assert_eq!(failed, [("Pod", "delete-pod")]);
    }

    #[test]
    fn deleted_objects_come_workload_first() {
        let fake = FakeCluster::new();
        fake.put(stored(&pod("u-1")));
        for dependent in dependents() {
            fake.put(stored(&dependent));
        }

        let deletion = delete_lease_objects(&fake, &pod("u-1"), dependents());

        assert_eq!(deletion.workload, WorkloadDelete::Deleted);
        let mut expected = vec![pod("u-1")];
        expected.extend(dependents());
        assert_eq!(deletion.deleted, expected);
        assert!(deletion.failed.is_empty());
    }

    #[test]
    fn dependents_already_gone_are_neither_deleted_nor_failed() {
        let fake = FakeCluster::new();

        let deletion = delete_lease_objects(&fake, &pod("u-1"), dependents());

        assert_eq!(deletion.workload, WorkloadDelete::AlreadyGone);
        assert!(deletion.deleted.is_empty());
        assert!(deletion.failed.is_empty());
    }

    #[test]
    fn a_workload_not_found_as_an_error_is_reported_apart_from_the_failures() {
        let fake = FakeCluster::new();
        fake.fail_on("delete", "Pod", KubeError::NotFound("no kind".into()));

        let deletion = delete_lease_objects(&fake, &pod("u-1"), Vec::new());

        match deletion.workload {
            WorkloadDelete::NotFound(not_found) => assert_eq!(not_found.step, "delete-pod"),
            other => panic!("expected NotFound, got {other:?}"),
        }
        assert!(deletion.failed.is_empty());
    }

    #[test]
    fn a_workload_of_another_uid_is_gone_and_left_alone() {
        let fake = FakeCluster::new();
        fake.put(stored(&pod("u-other")));

        let deletion = delete_lease_objects(&fake, &pod("u-1"), Vec::new());

        assert!(
            matches!(deletion.workload, WorkloadDelete::OtherUid(_)),
            "{deletion:?}"
        );
        assert!(deletion.failed.is_empty());
        assert!(fake.object("Pod", Some("ns"), LEASE).is_some());
    }
}
