//! Egress: CIDR and FQDN parsing, plans, warnings, and the two policy
//! builders.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use leasebox_policy::adapters::Adapter;
use leasebox_policy::config::{Config, EgressMode};
use leasebox_policy::egress::{
    self, EgressPlan, PUBLIC_V4_EXCEPT, PUBLIC_V6_EXCEPT, normalize_fqdn, parse_cidr,
};
use leasebox_policy::manifests::{cilium_policy, network_policy};
use rstest::rstest;
use serde_json::{Value, json};

#[rstest]
#[case::v4("10.0.0.0/8", "10.0.0.0/8", false)]
#[case::v4_host("192.168.1.7/32", "192.168.1.7/32", false)]
#[case::v4_zero("0.0.0.0/0", "0.0.0.0/0", false)]
#[case::v4_max_octets("255.255.255.255/32", "255.255.255.255/32", false)]
#[case::v4_trimmed(" 10.1.0.0/16 ", "10.1.0.0/16", false)]
#[case::v6_loopback("::1/128", "::1/128", true)]
#[case::v6_doc("2001:db8::/32", "2001:db8::/32", true)]
#[case::v6_full_form("2001:0db8:0000:0000:0000:0000:0000:0000/32", "2001:db8::/32", true)]
#[case::v6_uppercase("2001:DB8::/32", "2001:db8::/32", true)]
#[case::v6_all("::/0", "::/0", true)]
#[case::v6_ula("fc00::/7", "fc00::/7", true)]
#[case::v6_ipv4_tail("64:ff9b::192.0.2.0/120", "64:ff9b::c000:200/120", true)]
fn cidr_accepted(#[case] input: &str, #[case] canonical: &str, #[case] v6: bool) {
    let cidr = parse_cidr(input).expect("valid CIDR");
    assert_eq!(cidr.text, canonical);
    assert_eq!(cidr.v6, v6);
}

#[rstest]
#[case::octet_256("10.0.0.256/32", "out of range")]
#[case::prefix_33("10.0.0.0/33", "0 to 32")]
#[case::prefix_129("2001:db8::/129", "0 to 128")]
#[case::no_prefix("10.0.0.0", "address/prefix")]
#[case::empty_prefix("10.0.0.0/", "0 to 32")]
#[case::prefix_leading_zero("10.0.0.0/08", "0 to 32")]
#[case::prefix_sign("10.0.0.0/+8", "0 to 32")]
#[case::three_octets("10.0.0/8", "not an IPv4 address")]
#[case::five_octets("10.0.0.0.0/8", "not an IPv4 address")]
#[case::leading_zero_octet("10.0.0.01/32", "leading zero")]
#[case::empty_octet("10..0.0/8", "not an IPv4 octet")]
#[case::negative_octet("10.-1.0.0/16", "not an IPv4 octet")]
#[case::v6_garbage("2001:db8:::/32", "not an IPv6 address")]
#[case::v6_too_many_groups("1:2:3:4:5:6:7:8:9/128", "not an IPv6 address")]
#[case::v6_group_too_long("2001:db8a1::/32", "not an IPv6 address")]
#[case::v4_mapped("::ffff:10.0.0.0/104", "write it as IPv4: 10.0.0.0/8")]
#[case::two_slashes("10.0.0.0/8/8", "0 to 32")]
fn cidr_rejected(#[case] input: &str, #[case] says: &str) {
    let err = parse_cidr(input).expect_err("invalid CIDR");
    assert!(err.contains(says), "{err}");
}

#[rstest]
#[case::v4("10.0.0.1/8", "10.0.0.1/8 has host bits set; use 10.0.0.0/8")]
#[case::v6(
    "2001:db8::1/32",
    "2001:db8::1/32 has host bits set; use 2001:db8::/32"
)]
fn cidr_host_bits_name_the_network(#[case] input: &str, #[case] message: &str) {
    assert_eq!(parse_cidr(input).expect_err("host bits"), message);
}

#[rstest]
#[case::lowercased("API.Example.COM", EgressMode::Standard, "api.example.com")]
#[case::trailing_dot("api.example.com.", EgressMode::Standard, "api.example.com")]
#[case::trimmed("  api.example.com ", EgressMode::Standard, "api.example.com")]
#[case::digits_and_dashes("a-1.b2.io", EgressMode::Standard, "a-1.b2.io")]
#[case::wildcard_cilium("*.Example.com", EgressMode::Cilium, "*.example.com")]
#[case::punycode("xn--bcher-kva.example", EgressMode::Standard, "xn--bcher-kva.example")]
fn fqdn_accepted(#[case] input: &str, #[case] mode: EgressMode, #[case] expected: &str) {
    assert_eq!(normalize_fqdn(input, mode).as_deref(), Ok(expected));
}

#[rstest]
#[case::wildcard_standard(
    "*.example.com",
    EgressMode::Standard,
    "switch egressMode to cilium or list the exact names"
)]
#[case::single_label("localhost", EgressMode::Standard, "single label")]
#[case::wildcard_tld("*.com", EgressMode::Cilium, "top-level domain")]
#[case::inner_wildcard("api.*.com", EgressMode::Cilium, "only a leading `*.`")]
#[case::bare_star("*", EgressMode::Cilium, "only a leading `*.`")]
#[case::empty("", EgressMode::Standard, "empty")]
#[case::only_dot(".", EgressMode::Standard, "empty")]
#[case::double_dot("a..com", EgressMode::Standard, "empty label")]
#[case::leading_dash("-a.com", EgressMode::Standard, "starts or ends with `-`")]
#[case::trailing_dash("a-.com", EgressMode::Standard, "starts or ends with `-`")]
#[case::underscore("a_b.com", EgressMode::Standard, "has `_`")]
#[case::unicode("bücher.example", EgressMode::Standard, "punycode")]
#[case::label_64(&format!("{}.com", "a".repeat(64)), EgressMode::Standard, "at most 63")]
#[case::name_254(&format!("{}.{}.{}.{}", "a".repeat(63), "b".repeat(63), "c".repeat(63), "d".repeat(62)), EgressMode::Standard, "at most 253")]
#[case::ipv4("10.0.0.1", EgressMode::Standard, "egressAllowCidrs")]
#[case::ipv6("2001:db8::1", EgressMode::Standard, "egressAllowCidrs")]
#[case::numeric_tld("a.123", EgressMode::Standard, "all digits")]
#[case::url("https://api.example.com", EgressMode::Standard, "has `:`")]
fn fqdn_rejected(#[case] input: &str, #[case] mode: EgressMode, #[case] says: &str) {
    let err = normalize_fqdn(input, mode).expect_err("invalid name");
    assert!(err.contains(says), "{err}");
}

#[test]
fn fqdn_of_253_chars_is_accepted() {
    let name = format!(
        "{}.{}.{}.{}",
        "a".repeat(63),
        "b".repeat(63),
        "c".repeat(63),
        "d".repeat(61)
    );
    assert_eq!(name.len(), 253);
    assert_eq!(normalize_fqdn(&name, EgressMode::Standard), Ok(name));
}

fn config(extra: Value) -> Config {
    let mut base = json!({"inCluster": true});
    if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    serde_json::from_value(base).expect("test config deserializes")
}

fn adapter(fqdns: &[&str]) -> Adapter {
    Adapter {
        adapter_type: "claude_local".into(),
        image: "ghcr.io/paperclipai/agent-runtime-claude:v1".into(),
        env_keys: vec![],
        allow_fqdns: fqdns.iter().map(|s| s.to_string()).collect(),
        probe_command: None,
        default_env: BTreeMap::new(),
    }
}

#[test]
fn plan_merges_normalizes_dedups_and_sorts_names() {
    let c = config(
        json!({"egressAllowFqdns": ["Z.example.com", "api.anthropic.com.", "a.example.com"]}),
    );
    let p = egress::plan(&c, &adapter(&["api.anthropic.com"]));
    assert_eq!(
        p.fqdns,
        ["a.example.com", "api.anthropic.com", "z.example.com"]
    );
    assert!(p.public_fallback);
    assert_eq!(p.mode, EgressMode::Standard);
}

#[test]
fn plan_has_no_public_fallback_without_names() {
    let c = config(json!({"egressAllowCidrs": ["10.0.0.0/8"]}));
    let p = egress::plan(&c, &adapter(&[]));
    assert!(p.fqdns.is_empty());
    assert!(!p.public_fallback);
}

#[test]
fn plan_has_no_public_fallback_in_cilium_mode() {
    let c = config(json!({"egressMode": "cilium", "egressAllowFqdns": ["*.example.com"]}));
    let p = egress::plan(&c, &adapter(&["api.anthropic.com"]));
    assert_eq!(p.fqdns, ["*.example.com", "api.anthropic.com"]);
    assert!(!p.public_fallback);
}

#[test]
fn plan_keeps_cidr_ports_and_callback() {
    let c = config(json!({
        "egressAllowCidrs": ["10.0.0.0/8", {"cidr": "2001:db8::/32", "ports": [{"port": 5432}, {"port": 53, "protocol": "UDP"}]}, "10.0.0.0/8"],
        "serverCallback": {"namespace": "paperclip", "podLabels": {"app": "server"}, "port": 3100}
    }));
    let p = egress::plan(&c, &adapter(&[]));
    assert_eq!(p.cidrs.len(), 2, "duplicate entry dropped");
    assert_eq!(p.cidrs[0].cidr.text, "10.0.0.0/8");
    assert!(p.cidrs[0].ports.is_empty());
    assert!(p.cidrs[1].cidr.v6);
    assert_eq!(p.cidrs[1].ports.len(), 2);
    assert_eq!(p.callback.as_ref().map(|cb| cb.port), Some(3100));
}

#[test]
fn standard_mode_with_names_warns_what_is_opened() {
    let c = config(json!({"egressAllowFqdns": ["api.example.com"]}));
    let warnings = egress::warnings(&c, &adapter(&["api.anthropic.com"]));
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].path, "egressAllowFqdns");
    let msg = &warnings[0].message;
    assert!(msg.contains("cannot enforce names"), "{msg}");
    assert!(
        msg.contains("0.0.0.0/0") && msg.contains("::/0") && msg.contains("TCP 443"),
        "{msg}"
    );
    for range in PUBLIC_V4_EXCEPT.iter().chain(PUBLIC_V6_EXCEPT.iter()) {
        assert!(msg.contains(range), "{range} missing: {msg}");
    }
    assert!(msg.contains("egressMode to cilium"), "{msg}");
    assert!(
        msg.contains("api.example.com") && msg.contains("api.anthropic.com"),
        "{msg}"
    );
}

#[test]
fn adapter_only_names_warn_at_adapter_type() {
    let c = config(json!({}));
    let warnings = egress::warnings(&c, &adapter(&["api.anthropic.com"]));
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].path, "adapterType");
    assert!(warnings[0].message.contains("claude_local"));
}

#[test]
fn standard_mode_wildcard_warns_at_its_index() {
    let c = config(json!({"egressAllowFqdns": ["api.example.com", "*.example.com"]}));
    let warnings = egress::warnings(&c, &adapter(&[]));
    assert_eq!(warnings.len(), 2);
    assert_eq!(warnings[1].path, "egressAllowFqdns[1]");
    assert!(warnings[1].message.contains("cilium"));
}

#[rstest]
#[case::cilium_mode(json!({"egressMode": "cilium", "egressAllowFqdns": ["api.example.com"]}), &["api.anthropic.com"])]
#[case::no_names(json!({"egressAllowCidrs": ["10.0.0.0/8"]}), &[])]
fn no_egress_warnings(#[case] extra: Value, #[case] fqdns: &[&str]) {
    assert!(egress::warnings(&config(extra), &adapter(fqdns)).is_empty());
}

fn labels() -> BTreeMap<String, String> {
    BTreeMap::from([(
        "app.kubernetes.io/managed-by".to_string(),
        "leasebox".to_string(),
    )])
}

const LEASE: &str = "lb-01jd8x7k2m3n4p5q6r7s8t9v0w";

/// Metadata of a lease's egress policy, as `manifests::egress_policy`
/// passes it to the builders.
fn policy_meta(namespace: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(format!("{LEASE}-egress")),
        namespace: Some(namespace.to_string()),
        labels: Some(labels()),
        ..ObjectMeta::default()
    }
}

fn full_plan(mode: EgressMode, fqdns: &[&str]) -> EgressPlan {
    let mode_name = match mode {
        EgressMode::Standard => "standard",
        EgressMode::Cilium => "cilium",
    };
    let c = config(json!({
        "egressMode": mode_name,
        "egressAllowCidrs": [
            "10.20.0.0/16",
            {"cidr": "2001:db8::/32", "ports": [{"port": 5432}, {"port": 53, "protocol": "UDP"}]}
        ],
        "serverCallback": {"namespace": "paperclip", "podLabels": {"app": "paperclip-server"}, "port": 3100}
    }));
    egress::plan(&c, &adapter(fqdns))
}

fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("serializes")
}

#[test]
fn deny_all_selects_every_pod_with_no_rules() {
    let np = to_json(&network_policy::deny_all("leasebox-acme", &labels()));
    assert_eq!(
        np,
        json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {
                "name": "leasebox-deny-all",
                "namespace": "leasebox-acme",
                "labels": {"app.kubernetes.io/managed-by": "leasebox"}
            },
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
        })
    );
}

#[test]
fn standard_egress_policy_rules_in_order_with_public_fallback() {
    let plan = full_plan(EgressMode::Standard, &["api.anthropic.com"]);
    let np = to_json(&network_policy::egress_allow(
        policy_meta("leasebox-acme"),
        LEASE,
        &plan,
    ));
    assert_eq!(np["metadata"]["name"], format!("{LEASE}-egress"));
    assert_eq!(
        np["spec"]["podSelector"],
        json!({"matchLabels": {"leasebox.dev/lease": LEASE}})
    );
    assert_eq!(np["spec"]["policyTypes"], json!(["Egress"]));
    let v4_except: Vec<&str> = PUBLIC_V4_EXCEPT.to_vec();
    let v6_except: Vec<&str> = PUBLIC_V6_EXCEPT.to_vec();
    assert_eq!(
        np["spec"]["egress"],
        json!([
            {
                "to": [{
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}
                }],
                "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
            },
            {
                "to": [{
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "paperclip"}},
                    "podSelector": {"matchLabels": {"app": "paperclip-server"}}
                }],
                "ports": [{"port": 3100, "protocol": "TCP"}]
            },
            {"to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}]},
            {
                "to": [{"ipBlock": {"cidr": "2001:db8::/32"}}],
                "ports": [{"port": 5432, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]
            },
            {
                "to": [
                    {"ipBlock": {"cidr": "0.0.0.0/0", "except": v4_except}},
                    {"ipBlock": {"cidr": "::/0", "except": v6_except}}
                ],
                "ports": [{"port": 443, "protocol": "TCP"}]
            }
        ])
    );
}

#[test]
fn standard_egress_policy_without_names_opens_no_public_range() {
    let plan = full_plan(EgressMode::Standard, &[]);
    let np = to_json(&network_policy::egress_allow(
        policy_meta("ns"),
        LEASE,
        &plan,
    ));
    let rules = np["spec"]["egress"].as_array().expect("rules");
    assert_eq!(rules.len(), 4, "dns, callback, two CIDRs");
    assert!(!np.to_string().contains("0.0.0.0/0"));
    assert!(!np.to_string().contains("::/0"));
}

#[test]
fn cilium_policy_uses_dns_proxy_names_callback_and_cidrs() {
    let plan = full_plan(EgressMode::Cilium, &["api.anthropic.com", "*.example.com"]);
    let cnp = cilium_policy::egress_fqdn(policy_meta("leasebox-acme"), LEASE, &plan).to_value();
    assert_eq!(
        cnp,
        json!({
            "apiVersion": "cilium.io/v2",
            "kind": "CiliumNetworkPolicy",
            "metadata": {
                "name": format!("{LEASE}-egress"),
                "namespace": "leasebox-acme",
                "labels": {"app.kubernetes.io/managed-by": "leasebox"}
            },
            "spec": {
                "endpointSelector": {"matchLabels": {"leasebox.dev/lease": LEASE}},
                "egress": [
                    {
                        "toEndpoints": [{"matchLabels": {
                            "k8s-app": "kube-dns",
                            "k8s:io.kubernetes.pod.namespace": "kube-system"
                        }}],
                        "toPorts": [{
                            "ports": [{"port": "53", "protocol": "UDP"}, {"port": "53", "protocol": "TCP"}],
                            "rules": {"dns": [{"matchPattern": "*"}]}
                        }]
                    },
                    {
                        "toFQDNs": [{"matchPattern": "*.example.com"}, {"matchName": "api.anthropic.com"}],
                        "toPorts": [{"ports": [{"port": "443", "protocol": "TCP"}]}]
                    },
                    {
                        "toEndpoints": [{"matchLabels": {
                            "app": "paperclip-server",
                            "k8s:io.kubernetes.pod.namespace": "paperclip"
                        }}],
                        "toPorts": [{"ports": [{"port": "3100", "protocol": "TCP"}]}]
                    },
                    {"toCIDRSet": [{"cidr": "10.20.0.0/16"}]},
                    {
                        "toCIDRSet": [{"cidr": "2001:db8::/32"}],
                        "toPorts": [{"ports": [
                            {"port": "5432", "protocol": "TCP"},
                            {"port": "53", "protocol": "UDP"}
                        ]}]
                    }
                ]
            }
        })
    );
}

#[test]
fn cilium_policy_without_names_has_no_fqdn_rule() {
    let plan = full_plan(EgressMode::Cilium, &[]);
    let cnp = cilium_policy::egress_fqdn(policy_meta("ns"), LEASE, &plan).to_value();
    assert!(!cnp.to_string().contains("toFQDNs"));
    assert_eq!(cnp["spec"]["egress"].as_array().map(Vec::len), Some(4));
}
