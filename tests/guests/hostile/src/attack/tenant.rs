//! Another company's tenant, another lease's objects, and leasebox's own
//! marks: a call is for one company and (where it names one) one lease, and
//! the company, lease and module marks are the host's. The configuration
//! names the victim: its tenant `namespace`, its `lease`, its lease `pod`
//! and `container`, its `company`.

use serde_json::{Value, json};

use super::profile::{LEASE_LABEL, MANAGED_BY, lease_labels, pod_name, restricted_pod};
use super::{Order, Verdict, apply, core_ref, exec_pod, refused};
use crate::bindings::leasebox::provider::kube::{
    self, DeleteOptions, HostSecretRequest, LogsRequest, Propagation,
};
use crate::bindings::leasebox::provider::types::{EnvVar, ObjectRef};

/// The annotation naming the company of a tenant namespace (the host's).
const COMPANY_MARK: &str = "leasebox.dev/company";

/// The annotation naming the module that made a workload (the host's).
const MODULE_MARK: &str = "leasebox.dev/module-sha256";

/// The module `forge-module-mark` claims to be.
const FORGED_MODULE: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What `foreign-host-secret` writes into the victim's Secret.
const FORGED_TOKEN: &str = "hostile-forged-token";

/// The NetworkPolicy of every tenant that keeps its pods' egress closed.
const DENY_ALL: &str = "leasebox-deny-all";

/// The ResourceQuota of every tenant.
const QUOTA: &str = "leasebox-quota";

/// At most this much of a log is read.
const LOG_BYTES: u64 = 64 << 10;

/// How long `logs-foreign-lease` waits for each chunk, in milliseconds.
const LOG_WAIT_MS: u64 = 5000;

/// Runs `name` when it is one of this file's attacks.
pub(super) fn attack(order: &Order, name: &str) -> Result<Option<Verdict>, Verdict> {
    let namespace = || order.field("namespace");
    let victim_lease = || order.field("lease");
    let own_lease = order.position.lease.as_deref();
    Ok(Some(match name {
        // A pod in the victim's tenant, as the victim's lease, reading the
        // victim's Secret into its environment.
        "foreign-secret-pod" => {
            let lease = victim_lease()?;
            apply(restricted_pod(
                &pod_name(order, name),
                &namespace()?,
                Some(&lease),
                json!({}),
                json!({ "envFrom": [{ "secretRef": { "name": format!("{lease}-env") } }] }),
            ))
        }
        // A pod of the calling lease referencing a Secret that is not its
        // lease's.
        "foreign-secret-ref" => apply(restricted_pod(
            &pod_name(order, name),
            &namespace()?,
            own_lease,
            json!({}),
            json!({ "envFrom": [{ "secretRef": { "name": order.field("secret")? } }] }),
        )),
        "exec-foreign-lease" => exec_pod(
            &namespace()?,
            &order.field("pod")?,
            &order.field("container")?,
            &["env"],
        ),
        "logs-foreign-lease" => logs(
            &namespace()?,
            &order.field("pod")?,
            &order.field("container")?,
        ),
        "list-foreign-pods" => match kube::list_objects("v1", "Pod", Some(&namespace()?), "") {
            Ok(items) => Verdict::Succeeded(format!("{} pods: [{}]", items.len(), items.join(","))),
            Err(error) => refused(error),
        },
        "read-foreign-pod" => {
            match kube::get(&core_ref("Pod", &namespace()?, &order.field("pod")?)) {
                Ok(Some(pod)) => Verdict::Succeeded(pod),
                Ok(None) => Verdict::Succeeded("the pod does not exist".to_string()),
                Err(error) => refused(error),
            }
        }
        "delete-foreign-pod" => {
            let options = DeleteOptions {
                propagation: Propagation::Background,
                precondition_uid: None,
                grace_period_seconds: Some(0),
            };
            let target = core_ref("Pod", &namespace()?, &order.field("pod")?);
            match kube::delete(&target, &options) {
                Ok(deleted) => Verdict::Succeeded(format!("deleted: {deleted}")),
                Err(error) => refused(error),
            }
        }
        // A pod of the calling lease in another company's tenant (its
        // quota, its network).
        "foreign-lease-pod" => apply(restricted_pod(
            &pod_name(order, name),
            &namespace()?,
            own_lease,
            json!({}),
            json!({}),
        )),
        // A policy of the calling lease in another company's tenant that
        // opens ingress to every pod there (policies add up).
        "foreign-open-ingress" => apply(json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {
                "name": pod_name(order, name),
                "namespace": namespace()?,
                "labels": lease_labels(own_lease)
            },
            "spec": {
                "podSelector": {},
                "policyTypes": ["Ingress"],
                "ingress": [{}]
            }
        })),
        // The victim tenant's deny-all, deleted (its pods' ingress opens).
        "delete-foreign-deny-all" => {
            let target = ObjectRef {
                api_version: "networking.k8s.io/v1".to_string(),
                kind: "NetworkPolicy".to_string(),
                namespace: Some(namespace()?),
                name: DENY_ALL.to_string(),
                uid: None,
            };
            match kube::delete(
                &target,
                &DeleteOptions {
                    propagation: Propagation::Background,
                    precondition_uid: None,
                    grace_period_seconds: None,
                },
            ) {
                Ok(deleted) => Verdict::Succeeded(format!("deleted: {deleted}")),
                Err(error) => refused(error),
            }
        }
        "foreign-quota" => apply(json!({
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {
                "name": QUOTA,
                "namespace": namespace()?,
                "labels": lease_labels(None)
            },
            "spec": { "hard": { "pods": "0" } }
        })),
        // The victim's deny-all, replaced by a policy that allows
        // everything.
        "foreign-deny-all" => apply(json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {
                "name": DENY_ALL,
                "namespace": namespace()?,
                "labels": lease_labels(None)
            },
            "spec": {
                "podSelector": {},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{}],
                "egress": [{}]
            }
        })),
        "foreign-host-secret" => {
            let lease = victim_lease()?;
            let manifest = json!({
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": format!("{lease}-env"),
                    "namespace": namespace()?,
                    "labels": lease_labels(Some(&lease))
                }
            });
            match kube::apply_host_secret(&HostSecretRequest {
                manifest: manifest.to_string(),
                random_keys: Vec::new(),
                host_keys: Vec::new(),
                literal: vec![EnvVar {
                    name: "BOOTSTRAP_TOKEN".to_string(),
                    value: FORGED_TOKEN.to_string(),
                }],
            }) {
                Ok((_, filled)) => Verdict::Succeeded(format!("rewrote {lease}-env: {filled:?}")),
                Err(error) => refused(error),
            }
        }
        // A pod of the attacker's own tenant carrying the victim's lease
        // label, for the host to find when the victim's lease is used.
        "decoy-pod" => apply(restricted_pod(
            &pod_name(order, name),
            &namespace()?,
            Some(&victim_lease()?),
            json!({}),
            json!({}),
        )),
        // An egress policy labelled as the victim lease's, opening egress
        // for pods labelled with it.
        "forge-lease-label" => {
            let lease = victim_lease()?;
            apply(json!({
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {
                    "name": "hostile-forge-lease-label",
                    "namespace": namespace()?,
                    "labels": lease_labels(Some(&lease))
                },
                "spec": {
                    "podSelector": { "matchLabels": { LEASE_LABEL: lease } },
                    "policyTypes": ["Egress"],
                    "egress": [{}]
                }
            }))
        }
        // The attacker's own namespace, claiming to be the victim
        // company's.
        "forge-company-mark" => apply(namespace_with(
            &namespace()?,
            json!({ (MANAGED_BY.0): MANAGED_BY.1 }),
            json!({ COMPANY_MARK: order.field("company")? }),
        )),
        // A pod of the calling lease claiming another company, or another
        // module.
        "forge-pod-company" => apply(annotated(
            restricted_pod(
                &pod_name(order, name),
                &namespace()?,
                own_lease,
                json!({}),
                json!({}),
            ),
            COMPANY_MARK,
            &order.field("company")?,
        )),
        "forge-module-mark" => apply(annotated(
            restricted_pod(
                &pod_name(order, name),
                &namespace()?,
                own_lease,
                json!({}),
                json!({}),
            ),
            MODULE_MARK,
            FORGED_MODULE,
        )),
        // The attacker's own namespace, out of the restricted pod security
        // level.
        "forge-pod-security" => apply(namespace_with(
            &namespace()?,
            json!({
                (MANAGED_BY.0): MANAGED_BY.1,
                "pod-security.kubernetes.io/enforce": "privileged"
            }),
            json!({}),
        )),
        // Egress of the calling lease's pods into kube-system, every port.
        "egress-kube-system" => apply(json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {
                "name": "hostile-egress-kube-system",
                "namespace": namespace()?,
                "labels": lease_labels(own_lease)
            },
            "spec": {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [{ "to": [{ "namespaceSelector": {
                    "matchLabels": { "kubernetes.io/metadata.name": "kube-system" }
                } }] }]
            }
        })),
        _ => return Ok(None),
    }))
}

/// Reads the log of `namespace`/`pod`/`container`; what it printed.
fn logs(namespace: &str, pod: &str, container: &str) -> Verdict {
    let stream = match kube::logs(&LogsRequest {
        namespace: namespace.to_string(),
        pod: pod.to_string(),
        container: container.to_string(),
        follow: false,
        forward_output: false,
        max_bytes: Some(LOG_BYTES),
    }) {
        Ok(stream) => stream,
        Err(error) => return refused(error),
    };
    let mut log = Vec::new();
    loop {
        match stream.read(LOG_WAIT_MS) {
            Ok(Some(chunk)) => log.extend(chunk),
            Ok(None) => break,
            Err(error) => return refused(error),
        }
    }
    Verdict::Succeeded(format!(
        "log of {namespace}/{pod}: {:?}",
        String::from_utf8_lossy(&log)
    ))
}

/// `object` with annotation `key` = `value`.
fn annotated(mut object: Value, key: &str, value: &str) -> Value {
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.insert("annotations".to_string(), json!({ key: value }));
    }
    object
}

/// A Namespace `name` with `labels` and `annotations`.
fn namespace_with(name: &str, labels: Value, annotations: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": { "name": name, "labels": labels, "annotations": annotations }
    })
}
