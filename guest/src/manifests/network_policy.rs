//! The `standard` egress mode's NetworkPolicies: the tenant's deny-all and
//! the egress allow policy of one lease's pod.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::config::{PortSpec, Protocol};
use crate::egress::{EgressPlan, PUBLIC_V4_EXCEPT, PUBLIC_V6_EXCEPT};
use crate::names::{self, DENY_ALL_POLICY, LABEL_LEASE};

/// Label every namespace carries with its own name (Kubernetes >= 1.21).
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";
/// Namespace of the cluster DNS.
pub const DNS_NAMESPACE: &str = "kube-system";
/// Label of the cluster DNS pods (CoreDNS and kube-dns alike).
pub const DNS_POD_LABEL: (&str, &str) = ("k8s-app", "kube-dns");
/// DNS port.
pub const DNS_PORT: u16 = 53;
/// Port opened by the public fallback of names that cannot be enforced.
pub const HTTPS_PORT: u16 = 443;

fn metadata(name: &str, namespace: &str, labels: &BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: Some(namespace.to_string()),
        labels: Some(labels.clone()),
        ..ObjectMeta::default()
    }
}

fn match_labels<K: ToString, V: ToString>(
    labels: impl IntoIterator<Item = (K, V)>,
) -> LabelSelector {
    LabelSelector {
        match_labels: Some(
            labels
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        ..LabelSelector::default()
    }
}

fn port(number: u16, protocol: Protocol) -> NetworkPolicyPort {
    NetworkPolicyPort {
        port: Some(IntOrString::Int(i32::from(number))),
        protocol: Some(protocol.as_str().to_string()),
        ..NetworkPolicyPort::default()
    }
}

fn ports(specs: &[PortSpec]) -> Option<Vec<NetworkPolicyPort>> {
    if specs.is_empty() {
        None
    } else {
        Some(specs.iter().map(|p| port(p.port, p.protocol)).collect())
    }
}

fn ip_block(cidr: &str, except: &[&str]) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        ip_block: Some(IPBlock {
            cidr: cidr.to_string(),
            except: if except.is_empty() {
                None
            } else {
                Some(except.iter().map(|c| c.to_string()).collect())
            },
        }),
        ..NetworkPolicyPeer::default()
    }
}

/// `leasebox-deny-all`: every pod of the namespace, all ingress and egress
/// denied (no rules).
pub fn deny_all(namespace: &str, labels: &BTreeMap<String, String>) -> NetworkPolicy {
    NetworkPolicy {
        metadata: metadata(DENY_ALL_POLICY, namespace, labels),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
            ..NetworkPolicySpec::default()
        }),
    }
}

/// `<lease>-egress`: what the pod of lease `lease_id` may reach in
/// `standard` mode. `metadata` names, labels and owns the policy; it
/// selects only the pod labelled `leasebox.dev/lease=<lease_id>`, so the
/// leases of one tenant never share (or change) each other's egress.
///
/// Rules, in order: cluster DNS (UDP+TCP 53); the server callback; one rule
/// per CIDR (its ports, or all); and, when names were asked for (which a
/// NetworkPolicy cannot match), public IPv4 and IPv6 on TCP 443 except
/// private, loopback, link-local, CGNAT and multicast ranges.
pub fn egress_allow(metadata: ObjectMeta, lease_id: &str, plan: &EgressPlan) -> NetworkPolicy {
    let mut rules = vec![NetworkPolicyEgressRule {
        to: Some(vec![NetworkPolicyPeer {
            namespace_selector: Some(match_labels([(NAMESPACE_NAME_LABEL, DNS_NAMESPACE)])),
            pod_selector: Some(match_labels([DNS_POD_LABEL])),
            ..NetworkPolicyPeer::default()
        }]),
        ports: Some(vec![
            port(DNS_PORT, Protocol::Udp),
            port(DNS_PORT, Protocol::Tcp),
        ]),
    }];
    if let Some(callback) = &plan.callback {
        rules.push(NetworkPolicyEgressRule {
            to: Some(vec![NetworkPolicyPeer {
                namespace_selector: Some(match_labels([(
                    NAMESPACE_NAME_LABEL,
                    callback.namespace.as_str(),
                )])),
                pod_selector: Some(match_labels(&callback.pod_labels)),
                ..NetworkPolicyPeer::default()
            }]),
            ports: Some(vec![port(callback.port, Protocol::Tcp)]),
        });
    }
    for allowed in &plan.cidrs {
        rules.push(NetworkPolicyEgressRule {
            to: Some(vec![ip_block(&allowed.cidr.text, &[])]),
            ports: ports(&allowed.ports),
        });
    }
    if plan.public_fallback {
        rules.push(NetworkPolicyEgressRule {
            to: Some(vec![
                ip_block("0.0.0.0/0", &PUBLIC_V4_EXCEPT),
                ip_block("::/0", &PUBLIC_V6_EXCEPT),
            ]),
            ports: Some(vec![port(HTTPS_PORT, Protocol::Tcp)]),
        });
    }
    NetworkPolicy {
        metadata,
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(match_labels([(
                LABEL_LEASE.to_string(),
                names::label_value(lease_id),
            )])),
            policy_types: Some(vec!["Egress".into()]),
            egress: Some(rules),
            ..NetworkPolicySpec::default()
        }),
    }
}
