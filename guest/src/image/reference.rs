//! Image references, `[registry/]path[:tag][@digest]`: [`ImageRef`], and
//! parsing one.

use std::fmt;
use std::net::Ipv6Addr;

/// Longest repository name (registry + path), as in the distribution
/// reference grammar.
pub const MAX_NAME_LEN: usize = 255;
/// Longest tag.
pub const MAX_TAG_LEN: usize = 128;

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry host[:port], when the reference names one.
    pub registry: Option<String>,
    /// Repository path (`library/busybox`).
    pub repository: String,
    /// Tag.
    pub tag: Option<String>,
    /// Digest (`sha256:...`).
    pub digest: Option<String>,
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(registry) = &self.registry {
            write!(f, "{registry}/")?;
        }
        f.write_str(&self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// Parses an image reference.
///
/// The first path component is the registry when it contains `.` or `:` or
/// is `localhost`; path components are lowercase
/// `[a-z0-9]+` joined by `.`, `_`, `__` or runs of `-`; the tag is
/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`; the digest is `algorithm:hex`.
pub fn parse(reference: &str) -> Result<ImageRef, String> {
    let fail = |why: String| format!("image reference `{reference}` is not valid: {why}");
    if reference.is_empty() {
        return Err("image reference is empty: give `[registry/]path[:tag][@digest]`".into());
    }
    let (name_tag, digest) = match reference.split_once('@') {
        Some((n, d)) => {
            check_digest(d).map_err(fail)?;
            (n, Some(d.to_string()))
        }
        None => (reference, None),
    };
    let last_slash = name_tag.rfind('/');
    let (name, tag) = match name_tag.rfind(':') {
        Some(colon) if last_slash.is_none_or(|slash| colon > slash) => {
            let tag = &name_tag[colon + 1..];
            check_tag(tag).map_err(fail)?;
            (&name_tag[..colon], Some(tag.to_string()))
        }
        _ => (name_tag, None),
    };
    let (registry, path) = match name.split_once('/') {
        Some((first, rest)) if looks_like_registry(first) => {
            check_registry_host(first).map_err(fail)?;
            (Some(first.to_string()), rest)
        }
        _ => (None, name),
    };
    check_path(path).map_err(fail)?;
    if name.len() > MAX_NAME_LEN {
        return Err(fail(format!(
            "the name is {} characters long, the limit is {MAX_NAME_LEN}",
            name.len()
        )));
    }
    Ok(ImageRef {
        registry,
        repository: path.to_string(),
        tag,
        digest,
    })
}

/// True when the first component of a name is read as a registry host.
pub(crate) fn looks_like_registry(first: &str) -> bool {
    first.contains('.') || first.contains(':') || first == "localhost"
}

/// Checks `host[:port]` (host name, IPv4 or bracketed IPv6).
pub(crate) fn check_registry_host(host_port: &str) -> Result<(), String> {
    let (host, port) = if let Some(rest) = host_port.strip_prefix('[') {
        let Some((ip, after)) = rest.split_once(']') else {
            return Err(format!("registry `{host_port}` has an unclosed `[`"));
        };
        if ip.parse::<Ipv6Addr>().is_err() {
            return Err(format!(
                "registry `{host_port}`: `{ip}` is not an IPv6 address"
            ));
        }
        match after {
            "" => (None, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (None, Some(port)),
                None => {
                    return Err(format!(
                        "registry `{host_port}`: expected `:port` after `]`"
                    ));
                }
            },
        }
    } else {
        match host_port.split_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(host_port), None),
        }
    };
    if let Some(host) = host {
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if !host.split('.').all(label_ok) {
            return Err(format!(
                "registry host `{host}` is not a host name (dot-separated letters, digits and inner `-`)"
            ));
        }
    }
    if let Some(port) = port {
        let valid = !port.is_empty()
            && port.len() <= 5
            && port.chars().all(|c| c.is_ascii_digit())
            && port.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p));
        if !valid {
            return Err(format!(
                "registry `{host_port}`: port `{port}` is not a number from 1 to 65535"
            ));
        }
    }
    Ok(())
}

/// Checks one path component: `[a-z0-9]+` runs joined by `.`, `_`, `__` or
/// one or more `-`.
fn is_path_component(component: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let chars: Vec<char> = component.chars().collect();
    if chars.is_empty() || !chars.first().is_some_and(|c| alnum(*c)) {
        return false;
    }
    let mut i = 0;
    while i < chars.len() {
        if alnum(chars[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && !alnum(chars[i]) {
            i += 1;
        }
        let sep: String = chars[start..i].iter().collect();
        let ok = sep == "." || sep == "_" || sep == "__" || sep.chars().all(|c| c == '-');
        if !ok || i == chars.len() {
            return false;
        }
    }
    true
}

/// Checks a repository path (`/`-separated components).
pub(crate) fn check_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("the repository path is empty".into());
    }
    for component in path.split('/') {
        if !is_path_component(component) {
            return Err(format!(
                "path component `{component}` must be lowercase letters and digits \
                 joined by `.`, `_`, `__` or `-` (no leading or trailing separator)"
            ));
        }
    }
    Ok(())
}

fn check_tag(tag: &str) -> Result<(), String> {
    let first_ok = tag
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let rest_ok = tag
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !first_ok || !rest_ok || tag.len() > MAX_TAG_LEN {
        return Err(format!(
            "tag `{tag}` must be 1-{MAX_TAG_LEN} characters of letters, digits, `_`, `.`, `-`, \
             not starting with `.` or `-`"
        ));
    }
    Ok(())
}

fn check_digest(digest: &str) -> Result<(), String> {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return Err(format!(
            "digest `{digest}` must be `algorithm:hex` (`sha256:` + 64 hex digits)"
        ));
    };
    let algo_ok = !algorithm.is_empty()
        && algorithm.split(['+', '.', '_', '-']).all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        });
    if !algo_ok {
        return Err(format!(
            "digest `{digest}`: `{algorithm}` is not a digest algorithm"
        ));
    }
    let hex_ok = hex
        .chars()
        .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
    let want = match algorithm {
        "sha256" => Some(64),
        "sha512" => Some(128),
        _ => None,
    };
    let len_ok = match want {
        Some(n) => hex.len() == n,
        None => hex.len() >= 32,
    };
    if !hex_ok || !len_ok {
        let expected = want.map_or("at least 32".to_string(), |n| n.to_string());
        return Err(format!(
            "digest `{digest}` must have {expected} lowercase hex digits after `{algorithm}:`"
        ));
    }
    Ok(())
}
