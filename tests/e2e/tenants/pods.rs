//! Pods outside the Pod Security "restricted" profile, asked for by the
//! hostile module from `acquire` (where a lease's pods may be applied):
//! each is refused with `denied` and no such pod, nor the claim binding a
//! host-path volume, exists in the cluster afterwards.

use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::{Value, json};

use super::{Call, all_pods, denied, hostile, make_tenant};
use crate::support::case::Case;
use crate::support::cluster::is_not_found;

/// What `gitrepo-volume` asks the kubelet to clone: a path on the node.
const NODE_REPOSITORY: &str = "/some/path";

/// The host-path PersistentVolume `pvc-volume-name` tries to bind (made by
/// the test, deleted when it ends).
const HOSTPATH_PV: &str = "red-profile-hostpath";

/// The pods with a `gitRepo` volume, as `namespace/name`.
fn pods_with_git_repo(case: &Case) -> Vec<String> {
    all_pods(case)
        .into_iter()
        .filter(|(_, pod)| {
            pod.spec
                .iter()
                .flat_map(|spec| spec.volumes.iter().flatten())
                .any(|volume| volume.git_repo.is_some())
        })
        .map(|(name, _)| name)
        .collect()
}

/// The pods and claims of the test's namespace (the test makes none: each
/// is an attack's).
fn pods_and_claims(case: &Case) -> Vec<String> {
    let client = case.client();
    let pods = case
        .block_on(
            Api::<Pod>::namespaced(client.clone(), &case.namespace).list(&ListParams::default()),
        )
        .unwrap_or_else(|e| panic!("list pods: {e}"))
        .items
        .into_iter()
        .filter_map(|pod| pod.metadata.name)
        .map(|name| format!("Pod {name}"));
    let claims = case
        .block_on(
            Api::<PersistentVolumeClaim>::namespaced(client, &case.namespace)
                .list(&ListParams::default()),
        )
        .unwrap_or_else(|e| panic!("list claims: {e}"))
        .items
        .into_iter()
        .filter_map(|claim| claim.metadata.name)
        .map(|name| format!("PersistentVolumeClaim {name}"));
    pods.chain(claims).collect()
}

#[test]
fn pod_with_a_git_repo_volume_is_refused_and_nothing_is_cloned() {
    let Some(case) = Case::start("red-gitrepo") else {
        return;
    };
    make_tenant(&case, &case.namespace, &case.company);
    let attack = json!({
        "attack": "gitrepo-volume",
        "namespace": case.namespace,
        "repository": NODE_REPOSITORY
    });
    let output = hostile(&case, Call::Acquire, &attack);
    let mut failures: Vec<String> = denied(Call::Acquire, &attack, &output)
        .err()
        .into_iter()
        .collect();
    // No pod with the volume: the kubelet clones only for a pod it runs.
    failures.extend(
        pods_with_git_repo(&case)
            .into_iter()
            .map(|pod| format!("pod {pod} has a gitRepo volume")),
    );
    assert!(
        failures.is_empty(),
        "a module got a gitRepo volume onto the node:\n\n{}\n{}",
        failures.join("\n\n"),
        output.describe()
    );
    case.finish();
}

/// A host-path PersistentVolume the test makes, deleted when dropped.
struct HostPathVolume {
    client: Client,
    handle: tokio::runtime::Handle,
}

impl HostPathVolume {
    fn make(case: &Case) -> HostPathVolume {
        let api = Api::<PersistentVolume>::all(case.client());
        match case.block_on(api.delete(HOSTPATH_PV, &DeleteParams::default())) {
            Ok(_) => {
                let gone = case.block_on(crate::support::cluster::eventually(
                    crate::support::cluster::GONE_LIMIT,
                    || async { matches!(api.get_opt(HOSTPATH_PV).await, Ok(None)) },
                ));
                assert!(
                    gone,
                    "PersistentVolume {HOSTPATH_PV} of an earlier run stays"
                );
            }
            Err(e) if is_not_found(&e) => {}
            Err(e) => panic!("deleting PersistentVolume {HOSTPATH_PV}: {e}"),
        }
        let volume: PersistentVolume = serde_json::from_value(json!({
            "metadata": { "name": HOSTPATH_PV },
            "spec": {
                "capacity": { "storage": "1Gi" },
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "",
                "persistentVolumeReclaimPolicy": "Retain",
                "hostPath": { "path": "/", "type": "Directory" }
            }
        }))
        .expect("the literal is a PersistentVolume");
        case.block_on(api.create(&PostParams::default(), &volume))
            .unwrap_or_else(|e| panic!("creating PersistentVolume {HOSTPATH_PV}: {e}"));
        HostPathVolume {
            client: case.client(),
            handle: case.handle(),
        }
    }

    /// The claim bound to the volume, if any.
    fn claim(&self) -> Option<String> {
        let api = Api::<PersistentVolume>::all(self.client.clone());
        let volume = self
            .handle
            .block_on(api.get(HOSTPATH_PV))
            .unwrap_or_else(|e| panic!("PersistentVolume {HOSTPATH_PV}: {e}"));
        volume.spec.and_then(|s| s.claim_ref).map(|claim| {
            format!(
                "{}/{}",
                claim.namespace.unwrap_or_default(),
                claim.name.unwrap_or_default()
            )
        })
    }
}

impl Drop for HostPathVolume {
    fn drop(&mut self) {
        let api = Api::<PersistentVolume>::all(self.client.clone());
        match self
            .handle
            .block_on(api.delete(HOSTPATH_PV, &DeleteParams::default()))
        {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => eprintln!("cleanup: deleting PersistentVolume {HOSTPATH_PV}: {e}"),
        }
    }
}

/// The name of a node of the cluster, for `node-name` to bypass the
/// scheduler with.
fn a_node(case: &Case) -> String {
    case.block_on(Api::<Node>::all(case.client()).list(&ListParams::default()))
        .unwrap_or_else(|e| panic!("list nodes: {e}"))
        .items
        .into_iter()
        .find_map(|node| node.metadata.name)
        .expect("the cluster has a node")
}

#[test]
fn pods_outside_the_restricted_profile_are_refused_and_never_created() {
    let Some(case) = Case::start("red-profile") else {
        return;
    };
    make_tenant(&case, &case.namespace, &case.company);
    let volume = HostPathVolume::make(&case);
    let ns = case.namespace.clone();
    // Any Secret name will do: these volume types are refused whatever
    // they reference.
    let secret = "red-profile-env";
    let attacks: Vec<Value> = vec![
        json!({ "attack": "automount-token", "namespace": ns }),
        json!({ "attack": "projected-token", "namespace": ns }),
        json!({ "attack": "csi-secret", "namespace": ns, "secret": secret }),
        json!({ "attack": "cephfs-secret", "namespace": ns, "secret": secret }),
        json!({ "attack": "host-port", "namespace": ns }),
        json!({ "attack": "node-name", "namespace": ns, "node": a_node(&case) }),
        json!({ "attack": "system-priority", "namespace": ns }),
        json!({ "attack": "root-unconfined", "namespace": ns }),
        json!({ "attack": "pvc-volume-name", "namespace": ns, "volume": HOSTPATH_PV }),
    ];
    let mut failures = Vec::new();
    for attack in &attacks {
        let output = hostile(&case, Call::Acquire, attack);
        failures.extend(denied(Call::Acquire, attack, &output).err());
    }
    failures.extend(
        pods_and_claims(&case)
            .into_iter()
            .map(|object| format!("{object} exists in {ns}")),
    );
    if let Some(claim) = volume.claim() {
        failures.push(format!(
            "the host-path volume {HOSTPATH_PV} is claimed by {claim}"
        ));
    }
    assert!(
        failures.is_empty(),
        "a module got pods outside the restricted profile:\n\n{}",
        failures.join("\n\n")
    );
    drop(volume);
    case.finish();
}
