//! Absolute paths inside the sandbox, read lexically: the one spelling of a
//! path that the configuration's file roots and the file calls' requests
//! are compared in. `..` is resolved against the text alone (never against
//! the pod's file system: that check is the in-pod script's), so
//! `/workspace/../etc` is `/etc` here, outside every root.

/// The lexical form of an absolute path: no `.`, no `..` (resolved; `..`
/// of `/` is `/`), no empty parts, no trailing `/`. `Err` says what is
/// wrong with a path that has no such form (relative, empty, NUL byte).
pub fn normalize(path: &str) -> Result<String, String> {
    if path.contains('\0') {
        return Err("contains a NUL byte, which no file name can hold".into());
    }
    if !path.starts_with('/') {
        return Err("is not absolute; start it with `/`, like `/workspace/src`".into());
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            name => parts.push(name),
        }
    }
    Ok(format!("/{}", parts.join("/")))
}

/// True when `path` is `root` or below it (both lexical, see [`normalize`]).
pub fn is_within(path: &str, root: &str) -> bool {
    if root == "/" {
        return path.starts_with('/');
    }
    path == root
        || path
            .strip_prefix(root)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The parent directory and the last part of a lexical path other than
/// `/` (`/workspace/a` → `/workspace`, `a`); none for `/`.
pub fn split_last(path: &str) -> Option<(&str, &str)> {
    let (parent, name) = path.rsplit_once('/')?;
    if name.is_empty() {
        return None;
    }
    Some((if parent.is_empty() { "/" } else { parent }, name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::plain("/workspace/src", "/workspace/src")]
    #[case::trailing_slash("/workspace/", "/workspace")]
    #[case::doubled_slashes("//workspace//src", "/workspace/src")]
    #[case::dot("/workspace/./src", "/workspace/src")]
    #[case::dot_dot("/workspace/src/../lib", "/workspace/lib")]
    #[case::dot_dot_past_the_root("/../../etc", "/etc")]
    #[case::root("/", "/")]
    #[case::spaces_kept("/workspace/a b", "/workspace/a b")]
    fn normalize_resolves_dots_lexically(#[case] path: &str, #[case] expected: &str) {
        assert_eq!(normalize(path).as_deref(), Ok(expected));
    }

    #[rstest]
    #[case::relative("workspace", "not absolute")]
    #[case::empty("", "not absolute")]
    #[case::nul("/workspace/a\0b", "NUL")]
    fn normalize_refuses_what_is_no_absolute_path(#[case] path: &str, #[case] says: &str) {
        let err = normalize(path).expect_err("refused");
        assert!(err.contains(says), "{err}");
    }

    #[rstest]
    #[case::itself("/workspace", "/workspace", true)]
    #[case::below("/workspace/a", "/workspace", true)]
    #[case::sibling_with_the_prefix("/workspace2", "/workspace", false)]
    #[case::above("/", "/workspace", false)]
    #[case::everything_below_root("/etc", "/", true)]
    fn is_within_compares_whole_parts(#[case] path: &str, #[case] root: &str, #[case] ok: bool) {
        assert_eq!(is_within(path, root), ok);
    }

    #[rstest]
    #[case::nested("/workspace/a/b", Some(("/workspace/a", "b")))]
    #[case::top("/workspace", Some(("/", "workspace")))]
    #[case::root("/", None)]
    fn split_last_gives_parent_and_name(
        #[case] path: &str,
        #[case] expected: Option<(&str, &str)>,
    ) {
        assert_eq!(split_last(path), expected);
    }
}
