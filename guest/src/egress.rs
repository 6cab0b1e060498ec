//! Egress rules: CIDR and FQDN parsing, what each mode opens, warnings.

mod cidr;
mod fqdn;

use crate::adapters::Adapter;
use crate::config::document::{Config, EgressMode, Issue, PortSpec, ServerCallback};

pub use cidr::{Cidr, parse_cidr};
pub use fqdn::{MAX_FQDN_LABEL_LEN, MAX_FQDN_LEN, normalize_fqdn};

/// Public IPv4 is opened as 0.0.0.0/0 except these.
pub const PUBLIC_V4_EXCEPT: [&str; 8] = [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "224.0.0.0/4",
];
/// Public IPv6 is opened as ::/0 except these.
pub const PUBLIC_V6_EXCEPT: [&str; 4] = ["::1/128", "fc00::/7", "fe80::/10", "ff00::/8"];

/// One allowed CIDR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedCidr {
    /// Canonical CIDR.
    pub cidr: Cidr,
    /// Ports; empty: all.
    pub ports: Vec<PortSpec>,
}

/// What a lease's egress policy allows (besides DNS, always allowed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EgressPlan {
    /// Mode.
    pub mode: EgressMode,
    /// DNS names (adapter's + configured), lowercased, deduplicated, sorted.
    pub fqdns: Vec<String>,
    /// CIDRs.
    pub cidrs: Vec<AllowedCidr>,
    /// The server callback.
    pub callback: Option<ServerCallback>,
    /// Standard mode with FQDNs: public IPv4/IPv6 TCP 443 opened instead.
    pub public_fallback: bool,
}

/// The egress plan of a configuration for an adapter.
///
/// Expects a validated configuration: names and CIDRs that do not parse are
/// left out (validation reports them). Names are checked for syntax only
/// (wildcards kept in both modes): in `standard` mode they only decide the
/// public fallback, which covers wildcard names too.
pub fn plan(config: &Config, adapter: &Adapter) -> EgressPlan {
    let mut fqdns: Vec<String> = adapter
        .allow_fqdns
        .iter()
        .chain(&config.egress_allow_fqdns)
        .filter_map(|name| normalize_fqdn(name, EgressMode::Cilium).ok())
        .collect();
    fqdns.sort();
    fqdns.dedup();
    let mut cidrs: Vec<AllowedCidr> = Vec::new();
    for entry in &config.egress_allow_cidrs {
        let Ok(cidr) = parse_cidr(entry.cidr()) else {
            continue;
        };
        let allowed = AllowedCidr {
            cidr,
            ports: entry.ports().to_vec(),
        };
        if !cidrs.contains(&allowed) {
            cidrs.push(allowed);
        }
    }
    let public_fallback = config.egress_mode == EgressMode::Standard && !fqdns.is_empty();
    EgressPlan {
        mode: config.egress_mode,
        fqdns,
        cidrs,
        callback: config.server_callback.clone(),
        public_fallback,
    }
}

/// What the public fallback opens, in words.
pub fn public_fallback_description() -> String {
    format!(
        "public IPv4 0.0.0.0/0 except {} and IPv6 ::/0 except {}, on TCP 443",
        PUBLIC_V4_EXCEPT.join(", "),
        PUBLIC_V6_EXCEPT.join(", ")
    )
}

/// Egress warnings of a (valid) configuration for its adapter.
///
/// In `standard` mode: names cannot be enforced, so the warning says what is
/// opened instead (at `egressAllowFqdns`, or at `adapterType` when only the
/// adapter brings names); and each wildcard name gets its own warning.
pub fn warnings(config: &Config, adapter: &Adapter) -> Vec<Issue> {
    let mut issues = Vec::new();
    if config.egress_mode != EgressMode::Standard {
        return issues;
    }
    let plan = plan(config, adapter);
    if plan.fqdns.is_empty() {
        return issues;
    }
    let (path, whose) = if config.egress_allow_fqdns.is_empty() {
        (
            "adapterType",
            format!("adapter `{}` needs DNS names", adapter.adapter_type),
        )
    } else {
        ("egressAllowFqdns", "DNS names are allowed".to_string())
    };
    issues.push(Issue::new(
        path,
        format!(
            "{whose} ({}), but egressMode standard cannot enforce names (a NetworkPolicy matches \
             addresses only); instead agent pods may reach {}; set egressMode to cilium to \
             enforce the names",
            plan.fqdns.join(", "),
            public_fallback_description()
        ),
    ));
    for (i, name) in config.egress_allow_fqdns.iter().enumerate() {
        if name.trim().starts_with("*.") {
            issues.push(Issue::new(
                format!("egressAllowFqdns[{i}]"),
                format!(
                    "`{}` is a wildcard, which egressMode standard cannot enforce; switch \
                     egressMode to cilium or list the exact names",
                    name.trim()
                ),
            ));
        }
    }
    issues
}
