//! Syntax checks of the strings a configuration holds: name prefixes,
//! label keys and values, environment names, registries, paths.
//!
//! Each check returns the reason a string is refused, phrased so that it can
//! follow "`<value>` is not valid: ".

use crate::names;

/// Longest namespace prefix and company slug: together with the other
/// part they must fit the 63 characters of a namespace.
pub(crate) const MAX_PREFIX_LEN: usize = 32;

/// Longest name part of a label key, and longest label value.
const MAX_LABEL_LEN: usize = 63;

/// Longest adapter type (it becomes a label value).
const MAX_ADAPTER_TYPE_LEN: usize = 63;

/// Env key the host always puts into the per-run Secret.
pub(crate) const RESERVED_ENV_KEY: &str = "BOOTSTRAP_TOKEN";

fn is_lower_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// Common part of the prefix and slug rules.
fn label_part(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("it is empty; use 1-32 characters from `a-z`, `0-9` and `-`".into());
    }
    if s.len() > MAX_PREFIX_LEN {
        return Err(format!(
            "it has {} characters, at most {MAX_PREFIX_LEN} are allowed",
            s.len()
        ));
    }
    if let Some(c) = s.chars().find(|c| !(is_lower_alnum(*c) || *c == '-')) {
        return Err(format!(
            "`{c}` is not allowed; use only lowercase letters, digits and `-`"
        ));
    }
    if s.starts_with('-') {
        return Err("it starts with `-`; start with a letter or a digit".into());
    }
    Ok(())
}

/// A namespace prefix: 1-32 characters of `[a-z0-9-]`, not starting with
/// `-` (it may end with `-`, as `leasebox-` does).
pub(crate) fn namespace_prefix(s: &str) -> Result<(), String> {
    label_part(s)
}

/// A company slug: like a prefix, and it ends the namespace name, so it
/// must also end with a letter or a digit.
pub(crate) fn company_slug(s: &str) -> Result<(), String> {
    label_part(s)?;
    if s.ends_with('-') {
        return Err("it ends with `-`; end with a letter or a digit".into());
    }
    Ok(())
}

/// An adapter type: 1-63 characters of `[a-z0-9_-]`.
pub(crate) fn adapter_type(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > MAX_ADAPTER_TYPE_LEN {
        return Err(format!(
            "use 1-{MAX_ADAPTER_TYPE_LEN} characters from `a-z`, `0-9`, `_` and `-`"
        ));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(is_lower_alnum(*c) || *c == '_' || *c == '-'))
    {
        return Err(format!(
            "`{c}` is not allowed; use only lowercase letters, digits, `_` and `-`"
        ));
    }
    Ok(())
}

/// The name part of a qualified name, which is also the grammar of a
/// non-empty label value: at most 63 characters of `[A-Za-z0-9._-]`,
/// starting and ending with a letter or a digit.
fn label_name(s: &str, what: &str) -> Result<(), String> {
    if s.len() > MAX_LABEL_LEN {
        return Err(format!(
            "the {what} has {} characters, at most {MAX_LABEL_LEN} are allowed",
            s.len()
        ));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "`{c}` is not allowed in the {what}; use letters, digits, `-`, `_` and `.`"
        ));
    }
    let ends_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !ends_ok(s.chars().next()) || !ends_ok(s.chars().last()) {
        return Err(format!(
            "the {what} must start and end with a letter or a digit"
        ));
    }
    Ok(())
}

/// A qualified name (label or annotation key): an optional DNS-1123
/// subdomain prefix and `/`, then a name of at most 63 characters.
pub(crate) fn qualified_name(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("the key is empty; use `name` or `prefix/name`".into());
    }
    let (prefix, name) = match s.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, s),
    };
    if let Some(prefix) = prefix {
        if prefix.is_empty() || !names::is_dns1123_subdomain(prefix) {
            return Err(format!(
                "the prefix `{prefix}` is not a DNS subdomain (lowercase, like `example.com`)"
            ));
        }
        if name.contains('/') {
            return Err("a key has at most one `/`".into());
        }
    }
    if name.is_empty() {
        return Err("the name after `/` is empty".into());
    }
    label_name(name, "name")
}

/// A label value: empty, or at most 63 characters of `[A-Za-z0-9._-]`
/// starting and ending with a letter or a digit.
pub(crate) fn label_value(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Ok(());
    }
    label_name(s, "value")
}

/// An environment variable name (`[A-Za-z_][A-Za-z0-9_]*`) other than the
/// reserved `BOOTSTRAP_TOKEN`.
pub(crate) fn env_name(s: &str) -> Result<(), String> {
    let mut chars = s.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(
            "an environment variable name is letters, digits and `_`, not starting with a digit"
                .into(),
        );
    }
    if s == RESERVED_ENV_KEY {
        return Err(format!(
            "`{RESERVED_ENV_KEY}` is reserved: leasebox puts the lease's bootstrap token there"
        ));
    }
    Ok(())
}

/// A registry `host[:port][/path]`, without scheme, tag or digest.
pub(crate) fn registry(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err(
            "it is empty; write `host[:port][/path]`, like `registry.example.com:5000/team`".into(),
        );
    }
    if s.contains("://") {
        return Err("remove the scheme: write `host[:port][/path]` without `https://`".into());
    }
    let (authority, path) = match s.split_once('/') {
        Some((authority, path)) => (authority, Some(path)),
        None => (s, None),
    };
    let (host, port) = split_port(authority)?;
    check_host(host)?;
    if let Some(port) = port {
        let number: u32 =
            if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) || port.len() > 5 {
                0
            } else {
                port.parse().unwrap_or(0)
            };
        if !(1..=65535).contains(&number) {
            return Err(format!("port `{port}` is not a number from 1 to 65535"));
        }
    }
    if let Some(path) = path {
        for component in path.split('/') {
            path_component(component)?;
        }
    }
    Ok(())
}

/// Splits `host:port` (`[v6]:port` for IPv6 literals).
fn split_port(authority: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(rest) = authority.strip_prefix('[') {
        let Some((inside, after)) = rest.split_once(']') else {
            return Err("the IPv6 host has no closing `]`".into());
        };
        if inside.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("`[{inside}]` is not an IPv6 address"));
        }
        return match after {
            "" => Ok((authority, None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok(("[::]", Some(port))),
                None => Err(format!("unexpected `{after}` after the IPv6 host")),
            },
        };
    }
    Ok(match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    })
}

/// A registry host: DNS labels (letters, digits, `-`) joined by `.`, or a
/// bracketed IPv6 literal (checked by [`split_port`]).
fn check_host(host: &str) -> Result<(), String> {
    if host.starts_with('[') {
        return Ok(());
    }
    if host.is_empty() {
        return Err("the host is empty; write `host[:port][/path]`".into());
    }
    for label in host.split('.') {
        let ok = !label.is_empty()
            && label.len() <= MAX_LABEL_LEN
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(format!(
                "the host `{host}` is not a DNS name or IP address (labels of letters, digits and `-`, joined by `.`)"
            ));
        }
    }
    Ok(())
}

/// One repository path component: lowercase alphanumeric runs joined by
/// `.`, `_`, `__` or runs of `-`.
fn path_component(component: &str) -> Result<(), String> {
    let ends_ok = |c: Option<char>| c.is_some_and(is_lower_alnum);
    let chars_ok = component
        .chars()
        .all(|c| is_lower_alnum(c) || matches!(c, '.' | '_' | '-'));
    let separators_ok = !component.contains("..") && !component.contains("___");
    if !chars_ok
        || !separators_ok
        || !ends_ok(component.chars().next())
        || !ends_ok(component.chars().last())
    {
        return Err(format!(
            "the path component `{component}` is not valid: use lowercase letters and digits, \
             separated by `.`, `_` or `-`"
        ));
    }
    Ok(())
}

/// An absolute file path without `..` components, naming a file (not
/// ending with `/`).
pub(crate) fn absolute_file_path(s: &str) -> Result<(), String> {
    if !s.starts_with('/') {
        return Err(
            "use an absolute path inside the image, like `/usr/local/bin/supervisor`".into(),
        );
    }
    if s.split('/').any(|part| part == "..") {
        return Err("`..` is not allowed in the path; write the resolved path".into());
    }
    if s.ends_with('/') {
        return Err("the path ends with `/`; name the binary itself".into());
    }
    if s.contains('\0') {
        return Err("the path contains a NUL character".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::default_prefix("leasebox-", true)]
    #[case::digits("team1", true)]
    #[case::leading_dash("-x", false)]
    #[case::uppercase("Leasebox-", false)]
    #[case::dot("a.b", false)]
    #[case::empty("", false)]
    #[case::thirty_three_chars("abcdefghijabcdefghijabcdefghijabc", false)]
    fn namespace_prefix_rule(#[case] s: &str, #[case] ok: bool) {
        assert_eq!(namespace_prefix(s).is_ok(), ok, "{s}");
    }

    #[rstest]
    #[case::plain("acme", true)]
    #[case::trailing_dash("acme-", false)]
    #[case::inner_dash("acme-corp", true)]
    fn company_slug_rule(#[case] s: &str, #[case] ok: bool) {
        assert_eq!(company_slug(s).is_ok(), ok, "{s}");
    }

    #[rstest]
    #[case::host("registry.example.com", true)]
    #[case::host_port("registry.example.com:5000", true)]
    #[case::host_port_path("localhost:5000/team/sub", true)]
    #[case::ipv6("[::1]:5000/x", true)]
    #[case::scheme("https://registry.example.com", false)]
    #[case::port_zero("registry:0", false)]
    #[case::port_too_big("registry:65536", false)]
    #[case::port_not_a_number("registry:http", false)]
    #[case::uppercase_path("registry/Team", false)]
    #[case::empty_path("registry/", false)]
    #[case::tag_in_path("registry/team:v1", false)]
    #[case::underscore_host("my_registry", false)]
    fn registry_rule(#[case] s: &str, #[case] ok: bool) {
        assert_eq!(registry(s).is_ok(), ok, "{s}: {:?}", registry(s));
    }

    #[rstest]
    #[case::plain("FOO_BAR", true)]
    #[case::underscore_first("_X", true)]
    #[case::digit_first("1X", false)]
    #[case::dash("A-B", false)]
    #[case::reserved("BOOTSTRAP_TOKEN", false)]
    fn env_name_rule(#[case] s: &str, #[case] ok: bool) {
        assert_eq!(env_name(s).is_ok(), ok, "{s}");
    }

    #[rstest]
    #[case::absolute("/usr/bin/sv", true)]
    #[case::relative("bin/sv", false)]
    #[case::dot_dot("/usr/../bin/sv", false)]
    #[case::directory("/usr/bin/", false)]
    fn absolute_file_path_rule(#[case] s: &str, #[case] ok: bool) {
        assert_eq!(absolute_file_path(s).is_ok(), ok, "{s}");
    }

    #[rstest]
    #[case::empty("", true)]
    #[case::plain("v1.2_beta-3", true)]
    #[case::trailing_dash("abc-", false)]
    #[case::slash("a/b", false)]
    #[case::sixty_four_chars(&"a".repeat(64), false)]
    fn label_value_rule(#[case] s: &str, #[case] ok: bool) {
        assert_eq!(label_value(s).is_ok(), ok, "{s}");
    }
}
