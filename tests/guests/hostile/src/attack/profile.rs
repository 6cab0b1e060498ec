//! Pods outside the Pod Security "restricted" profile, and a claim that
//! binds a volume of its own choosing. Each attack pod is otherwise a
//! well-formed pod of the calling lease (lease labels, the tenant's service
//! account, non-root, seccomp `RuntimeDefault`, no token, capabilities
//! dropped, named for the lease), so the one field the attack adds is what
//! the host must refuse.

use serde_json::{Value, json};

use super::{Order, POD_IMAGE, Verdict, apply};

/// Repository of `gitrepo-volume`: a path on the node, which the kubelet
/// clones as root (with the repository's hooks) when it mounts the volume.
const GITREPO_PATH: &str = "/some/path";

/// The tenant's service account (the default module's).
const SERVICE_ACCOUNT: &str = "leasebox-agent";

/// The node of `node-name` when the configuration names none.
const DEFAULT_NODE: &str = "hostile-node";

/// The host port `host-port` binds.
const HOST_PORT: u16 = 2929;

/// Where `probe-host` and `lifecycle-host` send the kubelet by default:
/// the node itself.
const NODE_LOCAL_HOST: &str = "127.0.0.1";

/// Their default port: the kubelet's API.
const KUBELET_PORT: u64 = 10250;

/// The priority class `system-priority` asks for.
const SYSTEM_PRIORITY: &str = "system-node-critical";

/// leasebox's own labels: who made an object, and its lease.
pub(super) const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "leasebox");
pub(super) const LEASE_LABEL: &str = "leasebox.dev/lease";

/// Runs `name` when it is one of this file's attacks.
pub(super) fn attack(order: &Order, name: &str) -> Result<Option<Verdict>, Verdict> {
    let namespace = || order.field("namespace");
    let pod = |spec: Value, container: Value| -> Result<Verdict, Verdict> {
        Ok(apply(lease_pod(
            order,
            name,
            &namespace()?,
            spec,
            container,
        )))
    };
    Ok(Some(match name {
        "gitrepo-volume" => pod(
            json!({ "volumes": [{
                "name": "repo",
                "gitRepo": { "repository": order.field_or("repository", GITREPO_PATH) }
            }] }),
            json!({ "volumeMounts": [{ "name": "repo", "mountPath": "/repo" }] }),
        )?,
        "automount-token" => pod(json!({ "automountServiceAccountToken": true }), json!({}))?,
        "projected-token" => pod(
            json!({ "volumes": [{
                "name": "token",
                "projected": { "sources": [{
                    "serviceAccountToken": { "path": "token", "expirationSeconds": 3600 }
                }] }
            }] }),
            json!({ "volumeMounts": [{ "name": "token", "mountPath": "/var/run/hostile" }] }),
        )?,
        "csi-secret" => pod(
            json!({ "volumes": [{
                "name": "csi",
                "csi": {
                    "driver": "secrets-store.csi.k8s.io",
                    "readOnly": true,
                    "nodePublishSecretRef": { "name": order.field("secret")? }
                }
            }] }),
            json!({ "volumeMounts": [{ "name": "csi", "mountPath": "/csi" }] }),
        )?,
        "cephfs-secret" => pod(
            json!({ "volumes": [{
                "name": "ceph",
                "cephfs": {
                    "monitors": ["192.0.2.1:6789"],
                    "user": "admin",
                    "secretRef": { "name": order.field("secret")? }
                }
            }] }),
            json!({ "volumeMounts": [{ "name": "ceph", "mountPath": "/ceph" }] }),
        )?,
        "host-port" => pod(
            json!({}),
            json!({ "ports": [{ "containerPort": HOST_PORT, "hostPort": HOST_PORT }] }),
        )?,
        "node-name" => pod(
            json!({ "nodeName": order.field_or("node", DEFAULT_NODE) }),
            json!({}),
        )?,
        "system-priority" => pod(json!({ "priorityClassName": SYSTEM_PRIORITY }), json!({}))?,
        "root-unconfined" => pod(
            json!({ "securityContext": {
                "runAsNonRoot": false,
                "runAsUser": 0,
                "seccompProfile": { "type": "Unconfined" }
            } }),
            json!({ "securityContext": { "runAsNonRoot": false, "runAsUser": 0 } }),
        )?,
        "gitrepo-job" => {
            let mut template = lease_pod(
                order,
                name,
                &namespace()?,
                json!({ "volumes": [{
                    "name": "repo",
                    "gitRepo": { "repository": order.field_or("repository", GITREPO_PATH) }
                }] }),
                json!({ "volumeMounts": [{ "name": "repo", "mountPath": "/repo" }] }),
            );
            let labels = template.pointer("/metadata/labels").cloned();
            apply(json!({
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": template.get("metadata").cloned(),
                "spec": {
                    "backoffLimit": 0,
                    "template": {
                        "metadata": { "labels": labels },
                        "spec": template.get_mut("spec").map(Value::take)
                    }
                }
            }))
        }
        "init-privileged" => pod(
            json!({ "initContainers": [{
                "name": "init",
                "image": POD_IMAGE,
                "command": ["true"],
                "securityContext": { "privileged": true }
            }] }),
            json!({}),
        )?,
        "apparmor-unconfined" => {
            let mut pod = lease_pod(order, name, &namespace()?, json!({}), json!({}));
            if let Some(metadata) = pod.get_mut("metadata").and_then(Value::as_object_mut) {
                metadata.insert(
                    "annotations".to_string(),
                    json!({ "container.apparmor.security.beta.kubernetes.io/main": "unconfined" }),
                );
            }
            apply(pod)
        }
        "ephemeral-volume-name" => pod(
            json!({ "volumes": [{
                "name": "scratch",
                "ephemeral": { "volumeClaimTemplate": { "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": "",
                    "volumeName": order.field("volume")?,
                    "resources": { "requests": { "storage": "1Gi" } }
                } } }
            }] }),
            json!({ "volumeMounts": [{ "name": "scratch", "mountPath": "/scratch" }] }),
        )?,
        // The kubelet runs probes and hooks from the node's network, where
        // no NetworkPolicy of the lease applies.
        "probe-host" => pod(
            json!({}),
            json!({ "livenessProbe": { "httpGet": {
                "host": order.field_or("host", NODE_LOCAL_HOST),
                "port": order.config.get("port").and_then(Value::as_u64).unwrap_or(KUBELET_PORT),
                "path": "/pods"
            } } }),
        )?,
        "lifecycle-host" => pod(
            json!({}),
            json!({ "lifecycle": { "postStart": { "httpGet": {
                "host": order.field_or("host", NODE_LOCAL_HOST),
                "port": order.config.get("port").and_then(Value::as_u64).unwrap_or(KUBELET_PORT),
                "path": "/pods"
            } } } }),
        )?,
        // Another lease's claim (its workspace), mounted by this lease's pod.
        "foreign-lease-claim" => pod(
            json!({ "volumes": [{
                "name": "theirs",
                "persistentVolumeClaim": { "claimName": order.field("claim")? }
            }] }),
            json!({ "volumeMounts": [{ "name": "theirs", "mountPath": "/theirs" }] }),
        )?,
        "pvc-volume-name" => apply(json!({
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {
                "name": pod_name(order, name),
                "namespace": namespace()?,
                "labels": lease_labels(order.position.lease.as_deref())
            },
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "",
                "volumeName": order.field("volume")?,
                "resources": { "requests": { "storage": "1Gi" } }
            }
        })),
        _ => return Ok(None),
    }))
}

/// leasebox's labels for an object of `lease` (none for the lease when the
/// call has no lease).
pub(super) fn lease_labels(lease: Option<&str>) -> Value {
    let mut labels = json!({ (MANAGED_BY.0): MANAGED_BY.1 });
    if let (Some(lease), Some(map)) = (lease, labels.as_object_mut()) {
        map.insert(LEASE_LABEL.to_string(), Value::String(lease.to_string()));
    }
    labels
}

/// The name of an attack's pod: `<lease>-<attack>` in a call for a lease
/// (a workload is named for its lease), else `hostile-<attack>`.
pub(super) fn pod_name(order: &Order, attack: &str) -> String {
    match &order.position.lease {
        Some(lease) => format!("{lease}-{attack}"),
        None => format!("hostile-{attack}"),
    }
}

/// The pod of `attack` of the calling lease in `namespace`, with `spec`
/// and `container` merged into the restricted pod.
fn lease_pod(order: &Order, attack: &str, namespace: &str, spec: Value, container: Value) -> Value {
    restricted_pod(
        &pod_name(order, attack),
        namespace,
        order.position.lease.as_deref(),
        spec,
        container,
    )
}

/// A pod `name` in `namespace` labelled for `lease` that the restricted
/// profile allows, with `spec` and `container` merged in (JSON merge
/// patch).
pub(super) fn restricted_pod(
    name: &str,
    namespace: &str,
    lease: Option<&str>,
    spec: Value,
    container: Value,
) -> Value {
    let mut main = json!({
        "name": "main",
        "image": POD_IMAGE,
        "command": ["sleep", "3600"],
        "resources": {
            "requests": { "cpu": "10m", "memory": "16Mi" },
            "limits": { "cpu": "100m", "memory": "64Mi" }
        },
        "securityContext": {
            "allowPrivilegeEscalation": false,
            "capabilities": { "drop": ["ALL"] },
            "runAsNonRoot": true
        }
    });
    merge(&mut main, &container);
    let mut pod_spec = json!({
        "automountServiceAccountToken": false,
        "serviceAccountName": SERVICE_ACCOUNT,
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": 0,
        "securityContext": {
            "runAsNonRoot": true,
            "runAsUser": 1000,
            "runAsGroup": 1000,
            "seccompProfile": { "type": "RuntimeDefault" }
        }
    });
    merge(&mut pod_spec, &spec);
    if let Some(map) = pod_spec.as_object_mut() {
        map.insert("containers".to_string(), json!([main]));
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": lease_labels(lease)
        },
        "spec": pod_spec
    })
}

/// JSON merge patch (RFC 7386) of `patch` into `target`.
fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    let Some(object) = target.as_object_mut() else {
        return;
    };
    for (key, value) in patch {
        if value.is_null() {
            object.remove(key);
        } else {
            merge(object.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}
