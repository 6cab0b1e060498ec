//! DNS names of egress allows.

use std::net::IpAddr;

use crate::config::document::EgressMode;

/// Longest DNS name (without the trailing dot).
pub const MAX_FQDN_LEN: usize = 253;
/// Longest DNS label.
pub const MAX_FQDN_LABEL_LEN: usize = 63;

/// Lowercases and checks a DNS name; `*.` wildcards only in `cilium` mode.
///
/// Trims whitespace, strips one trailing `.`; labels are 1-63 chars of
/// `[a-z0-9-]` not starting or ending with `-`, at least two labels, 253
/// chars in all. A leading `*.` (cilium only) must cover a domain of at
/// least two labels (`*.example.com`, not `*.com`).
pub fn normalize_fqdn(s: &str, mode: EgressMode) -> Result<String, String> {
    let trimmed = s.trim();
    let lowered = trimmed.to_ascii_lowercase();
    let name = lowered.strip_suffix('.').unwrap_or(&lowered);
    if name.is_empty() {
        return Err("DNS name is empty".into());
    }
    if name.parse::<IpAddr>().is_ok() {
        return Err(format!(
            "`{trimmed}` is an IP address, not a DNS name; put it in egressAllowCidrs (`{name}/32` or `/128`)"
        ));
    }
    let (wildcard, domain) = match name.strip_prefix("*.") {
        Some(domain) => (true, domain),
        None => (false, name),
    };
    if wildcard && mode == EgressMode::Standard {
        return Err(format!(
            "`{trimmed}` is a wildcard, which egressMode standard cannot enforce (a NetworkPolicy \
             matches no names); switch egressMode to cilium or list the exact names"
        ));
    }
    if name.len() > MAX_FQDN_LEN {
        return Err(format!(
            "`{trimmed}` is {} characters long, a DNS name has at most {MAX_FQDN_LEN}",
            name.len()
        ));
    }
    let labels: Vec<&str> = domain.split('.').collect();
    for label in &labels {
        check_label(trimmed, label)?;
    }
    if labels.len() < 2 {
        return Err(if wildcard {
            format!(
                "`{trimmed}` would match a whole top-level domain; a wildcard needs a domain of \
                 at least two labels (`*.example.com`)"
            )
        } else {
            format!(
                "`{trimmed}` is a single label; give a fully qualified name (`api.example.com`)"
            )
        });
    }
    if labels
        .last()
        .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(format!(
            "`{trimmed}`: the top-level label is all digits, which no DNS name has"
        ));
    }
    Ok(name.to_string())
}

fn check_label(name: &str, label: &str) -> Result<(), String> {
    if label.is_empty() {
        return Err(format!(
            "`{name}` has an empty label (`..` or a leading `.`)"
        ));
    }
    if label.len() > MAX_FQDN_LABEL_LEN {
        return Err(format!(
            "`{name}`: label `{label}` is {} characters long, at most {MAX_FQDN_LABEL_LEN}",
            label.len()
        ));
    }
    if let Some(bad) = label
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        let hint = if bad == '*' {
            "; only a leading `*.` wildcard is supported".to_string()
        } else if !bad.is_ascii() {
            "; write internationalised names in their punycode (`xn--`) form".to_string()
        } else {
            String::new()
        };
        return Err(format!(
            "`{name}`: label `{label}` has `{bad}`; labels are letters, digits and `-`{hint}"
        ));
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(format!("`{name}`: label `{label}` starts or ends with `-`"));
    }
    Ok(())
}
