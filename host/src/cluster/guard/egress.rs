//! Which namespaces a lease's network policy may open egress into: the
//! cluster DNS (pods `k8s-app=kube-dns` in `kube-system`, port 53 only)
//! and the namespaces the operator allows for server callbacks (host
//! settings `fence.callbackNamespaces`). Any other namespace selector,
//! including one that selects every namespace, is refused. Peers inside
//! the policy's own namespace, CIDRs and FQDNs are the configuration's
//! choice and pass.

use std::collections::BTreeSet;

use serde_json::Value;

/// The namespace of the cluster DNS.
const DNS_NAMESPACE: &str = "kube-system";

/// The label of the cluster DNS pods.
const DNS_POD_LABEL: (&str, &str) = ("k8s-app", "kube-dns");

/// The label every namespace carries with its own name (Kubernetes 1.21+;
/// leasebox's policies select by it).
const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// The label of a Cilium endpoint's namespace.
const CILIUM_NAMESPACE_LABEL: &str = "k8s:io.kubernetes.pod.namespace";

/// Checks every egress peer of a NetworkPolicy or CiliumNetworkPolicy;
/// `Err` says which peer opens what.
pub fn check(kind: &str, policy: &Value, allowed: &BTreeSet<String>) -> Result<(), String> {
    let Some(rules) = policy.pointer("/spec/egress").and_then(Value::as_array) else {
        return Ok(());
    };
    for (i, rule) in rules.iter().enumerate() {
        let dns_ports = only_dns_ports(kind, rule);
        match kind {
            "NetworkPolicy" => {
                let peers = rule.get("to").and_then(Value::as_array);
                for (j, peer) in peers.into_iter().flatten().enumerate() {
                    let Some(selector) = peer.get("namespaceSelector") else {
                        continue;
                    };
                    let namespace = selector
                        .pointer("/matchLabels")
                        .and_then(Value::as_object)
                        .filter(|m| m.len() == 1 && selector.get("matchExpressions").is_none())
                        .and_then(|m| m.get(NAMESPACE_NAME_LABEL))
                        .and_then(Value::as_str);
                    let pod_label = peer
                        .pointer(&format!("/podSelector/matchLabels/{}", DNS_POD_LABEL.0))
                        .and_then(Value::as_str);
                    verdict(
                        &format!("spec.egress[{i}].to[{j}].namespaceSelector"),
                        namespace,
                        pod_label == Some(DNS_POD_LABEL.1) && dns_ports,
                        allowed,
                    )?;
                }
            }
            _ => {
                let peers = rule.get("toEndpoints").and_then(Value::as_array);
                for (j, peer) in peers.into_iter().flatten().enumerate() {
                    let labels = peer.get("matchLabels").and_then(Value::as_object);
                    let Some(namespace) = labels.and_then(|m| m.get(CILIUM_NAMESPACE_LABEL)) else {
                        if peer.get("matchExpressions").is_some() {
                            return Err(format!(
                                "spec.egress[{i}].toEndpoints[{j}] selects by expressions, which \
                                 can reach other namespaces; select by matchLabels"
                            ));
                        }
                        continue;
                    };
                    let dns_pod = labels
                        .and_then(|m| m.get(DNS_POD_LABEL.0))
                        .and_then(Value::as_str)
                        == Some(DNS_POD_LABEL.1);
                    verdict(
                        &format!("spec.egress[{i}].toEndpoints[{j}]"),
                        namespace.as_str(),
                        dns_pod && dns_ports,
                        allowed,
                    )?;
                }
                if let Some(entities) = rule.get("toEntities").and_then(Value::as_array)
                    && entities.iter().any(|e| e.as_str() != Some("world"))
                {
                    return Err(format!(
                        "spec.egress[{i}].toEntities opens {}: only `world` is allowed (`host`, \
                         `cluster`, `kube-apiserver` and the others reach inside the cluster)",
                        Value::Array(entities.clone())
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The peer at `at` selecting `namespace`: the cluster DNS, an allowed
/// callback namespace, or refused.
fn verdict(
    at: &str,
    namespace: Option<&str>,
    is_dns: bool,
    allowed: &BTreeSet<String>,
) -> Result<(), String> {
    match namespace {
        Some(DNS_NAMESPACE) if is_dns => Ok(()),
        Some(ns) if allowed.contains(ns) => Ok(()),
        Some(ns) => Err(format!(
            "{at} opens egress into namespace `{ns}`, which the operator did not allow; an \
             operator allows a server callback's namespace in the host settings \
             (fence.callbackNamespaces), and `{DNS_NAMESPACE}` only for DNS (pods {}={}, port 53)",
            DNS_POD_LABEL.0, DNS_POD_LABEL.1
        )),
        None => Err(format!(
            "{at} selects namespaces other than by exactly one `{NAMESPACE_NAME_LABEL}` label, \
             which can reach every namespace; select one namespace by name"
        )),
    }
}

/// True when the rule's ports are all port 53 (and there is at least one).
fn only_dns_ports(kind: &str, rule: &Value) -> bool {
    let ports: Vec<&Value> = match kind {
        "NetworkPolicy" => rule
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .collect(),
        _ => rule
            .get("toPorts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| p.get("ports").and_then(Value::as_array))
            .flatten()
            .collect(),
    };
    !ports.is_empty()
        && ports.iter().all(|p| {
            let port = p.get("port");
            port.and_then(Value::as_i64) == Some(53) || port.and_then(Value::as_str) == Some("53")
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(peer: Value, ports: Value) -> Value {
        json!({"spec":{"egress":[{"to":[peer],"ports":ports}]}})
    }

    fn dns_peer(namespace: &str) -> Value {
        json!({"namespaceSelector":{"matchLabels":{NAMESPACE_NAME_LABEL:namespace}},"podSelector":{"matchLabels":{"k8s-app":"kube-dns"}}})
    }

    #[test]
    fn dns_in_kube_system_on_port_53_passes() {
        let p = policy(
            dns_peer("kube-system"),
            json!([{"port":53,"protocol":"UDP"}]),
        );
        assert!(check("NetworkPolicy", &p, &BTreeSet::new()).is_ok());
    }

    #[test]
    fn kube_system_on_another_port_is_refused() {
        let p = policy(dns_peer("kube-system"), json!([{"port":443}]));
        let e = check("NetworkPolicy", &p, &BTreeSet::new()).expect_err("refused");
        assert!(e.contains("fence.callbackNamespaces"), "{e}");
    }

    #[test]
    fn an_allowed_callback_namespace_passes_and_others_do_not() {
        let peer = json!({"namespaceSelector":{"matchLabels":{NAMESPACE_NAME_LABEL:"paperclip"}}});
        let p = policy(peer, json!([{"port":3100}]));
        assert!(check("NetworkPolicy", &p, &BTreeSet::new()).is_err());
        let allowed = BTreeSet::from(["paperclip".to_string()]);
        assert!(check("NetworkPolicy", &p, &allowed).is_ok());
    }

    #[test]
    fn every_namespace_selector_is_refused() {
        let p = policy(json!({"namespaceSelector":{}}), json!([]));
        assert!(check("NetworkPolicy", &p, &BTreeSet::new()).is_err());
    }

    #[test]
    fn cilium_host_entity_is_refused() {
        let p = json!({"spec":{"egress":[{"toEntities":["host"]}]}});
        assert!(check("CiliumNetworkPolicy", &p, &BTreeSet::new()).is_err());
    }
}
