//! Undoing a failed acquire: the lease's own objects (workload, egress
//! policy, PVC, Secret) are deleted again; tenant objects are shared by every lease of
//! the tenant and stay (they converge on the next acquire).

use k8s_openapi::Resource;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;

use crate::cluster::{Cluster, DeleteOptions, KubeError, Level, Propagation};
use crate::error::{Failure, PolicyError};
use crate::lease::ObjectRef;

/// Grace period of a rolled-back pod (a `pod` workload, or a Job's pods):
/// none. The agent never became ready, so there is nothing to shut down
/// gently, and any grace at all leaves the pod to the kubelet, which
/// confirms the deletion only at its next sync of the pod: up to a minute
/// for a pod in image-pull back-off. With 0 the API server removes the pod
/// at once and the kubelet stops whatever is left of it.
const POD_GRACE_SECONDS: u32 = 0;

/// The pods of a Job, by the `controller-uid` label the Job controller sets
/// (by `job-name` when the uid is unknown). A failed list leaves them to the
/// garbage collector.
fn job_pods(cluster: &dyn Cluster, job: &ObjectRef) -> Vec<ObjectRef> {
    let selector = match &job.uid {
        Some(uid) => format!("controller-uid={uid}"),
        None => format!("job-name={}", job.name),
    };
    let Ok(pods) = cluster.list(
        Pod::API_VERSION,
        Pod::KIND,
        job.namespace.as_deref(),
        &selector,
    ) else {
        return Vec::new();
    };
    pods.iter().filter_map(ObjectRef::of).collect()
}

/// The lease objects an acquire has tried to create, in order. An object is
/// tracked *before* its write, so a write that failed halfway (the server
/// stored it, the answer was lost) is still cleaned up; lease names are
/// unique, so deleting by name cannot hit another lease's object.
#[derive(Debug, Default)]
pub(crate) struct Created {
    workload: Option<ObjectRef>,
    others: Vec<ObjectRef>,
}

fn same_object(a: &ObjectRef, b: &ObjectRef) -> bool {
    a.api_version == b.api_version
        && a.kind == b.kind
        && a.namespace == b.namespace
        && a.name == b.name
}

impl Created {
    /// Tracks the workload (again, with its uid once known).
    pub(crate) fn workload(&mut self, workload: ObjectRef) {
        self.workload = Some(workload);
    }

    /// Tracks another lease object (again, with its uid once known).
    pub(crate) fn other(&mut self, object: ObjectRef) {
        match self.others.iter_mut().find(|o| same_object(o, &object)) {
            Some(existing) => *existing = object,
            None => self.others.push(object),
        }
    }

    /// Deletes everything tracked and folds the outcome into `error`:
    /// the workload first (Foreground, uid precondition when known), then
    /// the other objects newest first. `rolled_back` lists the objects
    /// deleted, `left_behind` those whose delete failed.
    pub(crate) fn roll_back(self, cluster: &dyn Cluster, error: PolicyError) -> PolicyError {
        if self.workload.is_none() && self.others.is_empty() {
            return error;
        }
        let mut rolled_back = Vec::new();
        let mut left_behind = Vec::new();
        // A Job's pods are deleted here, not left to the garbage collector:
        // a Foreground delete keeps the Job until the collector has removed
        // its pods, which can take minutes on a busy control plane.
        let job_pods = self
            .workload
            .as_ref()
            .filter(|w| w.kind == Job::KIND)
            .map(|job| job_pods(cluster, job))
            .unwrap_or_default();
        let workload = self.workload.into_iter().map(|w| {
            let propagation = if w.kind == Job::KIND {
                Propagation::Background
            } else {
                Propagation::Foreground
            };
            let options = DeleteOptions {
                propagation,
                precondition_uid: w.uid.clone(),
                grace_period_seconds: (w.kind == "Pod").then_some(POD_GRACE_SECONDS),
            };
            (w, options)
        });
        let pods = job_pods.into_iter().map(|pod| {
            let options = DeleteOptions {
                propagation: Propagation::Background,
                precondition_uid: pod.uid.clone(),
                grace_period_seconds: Some(POD_GRACE_SECONDS),
            };
            (pod, options)
        });
        let others = self.others.into_iter().rev().map(|o| {
            let options = DeleteOptions {
                propagation: Propagation::Background,
                precondition_uid: o.uid.clone(),
                grace_period_seconds: None,
            };
            (o, options)
        });
        for (object, options) in workload.chain(pods).chain(others) {
            match cluster.delete(&object, &options) {
                Ok(true) => rolled_back.push(object),
                Ok(false) => {}
                // The uid changed: the object by that name is not the one
                // this call created, so it is not ours to delete.
                Err(KubeError::Conflict(message)) => cluster.log(
                    Level::Warn,
                    "rollback",
                    &format!(
                        "kept {}: it is not the object acquire created ({message})",
                        object.display()
                    ),
                ),
                Err(e) => {
                    cluster.log(
                        Level::Error,
                        "rollback",
                        &format!(
                            "could not delete {}: {}; delete it by hand or run sweep",
                            object.display(),
                            e.describe()
                        ),
                    );
                    left_behind.push(object);
                }
            }
        }
        if !rolled_back.is_empty() {
            let names: Vec<String> = rolled_back.iter().map(ObjectRef::display).collect();
            cluster.log(
                Level::Info,
                "rollback",
                &format!("deleted {}", names.join(", ")),
            );
        }
        let (mut failure, cancelled) = match error {
            PolicyError::Failed(failure) => (failure, false),
            PolicyError::Cancelled(failure) => (failure, true),
            other => (Failure::new("acquire", "Failed", other.describe()), false),
        };
        failure.rolled_back.extend(rolled_back);
        failure.left_behind.extend(left_behind);
        if cancelled {
            PolicyError::Cancelled(failure)
        } else {
            PolicyError::Failed(failure)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::fake_cluster::FakeCluster;

    #[test]
    fn rolled_back_job_pods_are_removed_without_grace() {
        let fake = FakeCluster::new();
        fake.put(json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "lb-x-abcde",
                "namespace": "ns",
                "uid": "u-pod",
                "labels": {"controller-uid": "u-job"}
            }
        }));
        let mut created = Created::default();
        created.workload(ObjectRef {
            api_version: "batch/v1".into(),
            kind: "Job".into(),
            namespace: Some("ns".into()),
            name: "lb-x".into(),
            uid: Some("u-job".into()),
        });

        created.roll_back(
            &fake,
            PolicyError::step("wait-ready", "ErrImagePull", "no image"),
        );

        let (_, options) = fake
            .deletes()
            .into_iter()
            .find(|(r, _)| r.kind == "Pod")
            .expect("the job's pod is deleted by the rollback");
        assert_eq!(options.grace_period_seconds, Some(0));
        assert_eq!(options.precondition_uid.as_deref(), Some("u-pod"));
    }

    #[test]
    fn a_rolled_back_pod_workload_is_removed_without_grace() {
        let fake = FakeCluster::new();
        let mut created = Created::default();
        created.workload(ObjectRef {
            api_version: "v1".into(),
            kind: "Pod".into(),
            namespace: Some("ns".into()),
            name: "lb-x".into(),
            uid: Some("u-pod".into()),
        });

        created.roll_back(
            &fake,
            PolicyError::step("wait-ready", "ErrImagePull", "no image"),
        );

        let (_, options) = fake
            .deletes()
            .into_iter()
            .find(|(r, _)| r.kind == "Pod")
            .expect("the pod is deleted by the rollback");
        assert_eq!(options.grace_period_seconds, Some(0));
        assert_eq!(options.propagation, Propagation::Foreground);
    }
}
