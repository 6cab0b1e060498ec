//! The `cilium` egress mode's CiliumNetworkPolicy (`cilium.io/v2`), which
//! can allow DNS names (`toFQDNs`).
//!
//! k8s-openapi has no Cilium types: the few fields used are typed here
//! (checked against the Cilium v1.18 CRD schema; ports are strings there).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::{PortSpec, Protocol};
use crate::egress::EgressPlan;
use crate::names::{self, LABEL_LEASE};

/// `apiVersion` of a CiliumNetworkPolicy.
pub const API_VERSION: &str = "cilium.io/v2";
/// `kind` of a CiliumNetworkPolicy.
pub const KIND: &str = "CiliumNetworkPolicy";
/// Cilium's label for the namespace of an endpoint.
pub const POD_NAMESPACE_LABEL: &str = "k8s:io.kubernetes.pod.namespace";
/// Namespace of the cluster DNS.
pub const DNS_NAMESPACE: &str = "kube-system";
/// Label of the cluster DNS pods.
pub const DNS_POD_LABEL: (&str, &str) = ("k8s-app", "kube-dns");

/// A CiliumNetworkPolicy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CiliumNetworkPolicy {
    /// `cilium.io/v2`.
    pub api_version: String,
    /// `CiliumNetworkPolicy`.
    pub kind: String,
    /// Name, namespace, labels.
    pub metadata: ObjectMeta,
    /// The rule.
    pub spec: CiliumPolicySpec,
}

/// The rule of a CiliumNetworkPolicy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CiliumPolicySpec {
    /// Endpoints the rule applies to.
    pub endpoint_selector: EndpointSelector,
    /// Egress allows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub egress: Vec<EgressRule>,
}

/// A label selector of endpoints.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointSelector {
    /// Labels an endpoint must carry.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
}

/// One egress allow: peers (endpoints, names or CIDRs) and ports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EgressRule {
    /// Endpoints by label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_endpoints: Option<Vec<EndpointSelector>>,
    /// DNS names.
    #[serde(rename = "toFQDNs", default, skip_serializing_if = "Option::is_none")]
    pub to_fqdns: Option<Vec<FqdnSelector>>,
    /// CIDRs.
    #[serde(rename = "toCIDRSet", default, skip_serializing_if = "Option::is_none")]
    pub to_cidr_set: Option<Vec<CidrRule>>,
    /// Ports (and L7 rules); absent: all ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_ports: Option<Vec<PortRule>>,
}

/// A DNS name (`matchName`) or pattern (`matchPattern`, `*` wildcards).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FqdnSelector {
    /// Exact name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_name: Option<String>,
    /// Pattern.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_pattern: Option<String>,
}

/// One CIDR.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CidrRule {
    /// The CIDR.
    pub cidr: String,
    /// Sub-ranges excluded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub except: Option<Vec<String>>,
}

/// Ports, with optional L7 rules.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortRule {
    /// The ports.
    pub ports: Vec<PortProtocol>,
    /// L7 rules (the DNS proxy rule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<L7Rules>,
}

/// A port (a string in Cilium's schema) and its protocol.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortProtocol {
    /// Port number as text.
    pub port: String,
    /// `TCP`, `UDP`, `SCTP` or `ANY`.
    pub protocol: String,
}

/// L7 rules of a port rule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct L7Rules {
    /// DNS rules: which names the DNS proxy lets through (and learns).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<FqdnSelector>,
}

impl CiliumNetworkPolicy {
    /// The policy as JSON.
    pub fn to_value(&self) -> Value {
        // Only strings, maps and vectors: serialisation cannot fail.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

fn port(number: u16, protocol: Protocol) -> PortProtocol {
    PortProtocol {
        port: number.to_string(),
        protocol: protocol.as_str().to_string(),
    }
}

fn selector<K: ToString, V: ToString>(
    labels: impl IntoIterator<Item = (K, V)>,
) -> EndpointSelector {
    EndpointSelector {
        match_labels: labels
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn fqdn_selector(name: &str) -> FqdnSelector {
    if name.contains('*') {
        FqdnSelector {
            match_pattern: Some(name.to_string()),
            ..FqdnSelector::default()
        }
    } else {
        FqdnSelector {
            match_name: Some(name.to_string()),
            ..FqdnSelector::default()
        }
    }
}

fn port_rules(specs: &[PortSpec]) -> Option<Vec<PortRule>> {
    if specs.is_empty() {
        None
    } else {
        Some(vec![PortRule {
            ports: specs.iter().map(|p| port(p.port, p.protocol)).collect(),
            rules: None,
        }])
    }
}

/// `<lease>-egress`: what the pod of lease `lease_id` may reach in `cilium`
/// mode. `metadata` names, labels and owns the policy; it selects only the
/// endpoint labelled `leasebox.dev/lease=<lease_id>`, so the leases of one
/// tenant never share (or change) each other's egress.
///
/// Rules, in order: cluster DNS through the DNS proxy (`matchPattern: *`,
/// which `toFQDNs` needs to learn addresses); the names on TCP 443; the
/// server callback; one rule per CIDR (its ports, or all).
pub fn egress_fqdn(metadata: ObjectMeta, lease_id: &str, plan: &EgressPlan) -> CiliumNetworkPolicy {
    let mut egress = vec![EgressRule {
        to_endpoints: Some(vec![selector([
            (POD_NAMESPACE_LABEL, DNS_NAMESPACE),
            DNS_POD_LABEL,
        ])]),
        to_ports: Some(vec![PortRule {
            ports: vec![port(53, Protocol::Udp), port(53, Protocol::Tcp)],
            rules: Some(L7Rules {
                dns: vec![FqdnSelector {
                    match_pattern: Some("*".into()),
                    ..FqdnSelector::default()
                }],
            }),
        }]),
        ..EgressRule::default()
    }];
    if !plan.fqdns.is_empty() {
        egress.push(EgressRule {
            to_fqdns: Some(plan.fqdns.iter().map(|n| fqdn_selector(n)).collect()),
            to_ports: Some(vec![PortRule {
                ports: vec![port(443, Protocol::Tcp)],
                rules: None,
            }]),
            ..EgressRule::default()
        });
    }
    if let Some(callback) = &plan.callback {
        let mut peer = selector(&callback.pod_labels);
        peer.match_labels
            .insert(POD_NAMESPACE_LABEL.to_string(), callback.namespace.clone());
        egress.push(EgressRule {
            to_endpoints: Some(vec![peer]),
            to_ports: Some(vec![PortRule {
                ports: vec![port(callback.port, Protocol::Tcp)],
                rules: None,
            }]),
            ..EgressRule::default()
        });
    }
    for allowed in &plan.cidrs {
        egress.push(EgressRule {
            to_cidr_set: Some(vec![CidrRule {
                cidr: allowed.cidr.text.clone(),
                except: None,
            }]),
            to_ports: port_rules(&allowed.ports),
            ..EgressRule::default()
        });
    }
    CiliumNetworkPolicy {
        api_version: API_VERSION.to_string(),
        kind: KIND.to_string(),
        metadata,
        spec: CiliumPolicySpec {
            endpoint_selector: selector([(LABEL_LEASE.to_string(), names::label_value(lease_id))]),
            egress,
        },
    }
}
