//! Relative paths inside an archive: checking them and renaming their top.

use std::ffi::OsStr;
use std::path::{Component, Path, PathBuf};

/// Returns `path` as plain `Normal` components, dropping `.` components;
/// `None` when it has a root, a prefix or a `..` anywhere.
///
/// The result may be empty (for `.` or `./`): the root of the copy.
pub(crate) fn relative_normal(path: &Path) -> Option<PathBuf> {
    let mut normal = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(name) => normal.push(name),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(normal)
}

/// Replaces the first component of `relative` (already normal) with `top`.
pub(crate) fn rename_top(relative: &Path, top: &OsStr) -> PathBuf {
    let mut components = relative.components();
    if components.next().is_none() {
        return PathBuf::new();
    }
    let mut renamed = PathBuf::from(top);
    renamed.extend(components);
    renamed
}

/// Whether `name` is usable as a new top component: one plain name.
pub(crate) fn is_single_name(name: &OsStr) -> bool {
    let mut components = Path::new(name).components();
    matches!(
        (components.next(), components.next()),
        (Some(Component::Normal(_)), None)
    ) && !name.as_encoded_bytes().contains(&b'/')
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::plain("a/b", Some("a/b"))]
    #[case::leading_dot("./a/b", Some("a/b"))]
    #[case::dot_alone(".", Some(""))]
    #[case::dot_slash("./", Some(""))]
    #[case::trailing_slash("a/b/", Some("a/b"))]
    #[case::doubled_slash("a//b", Some("a/b"))]
    #[case::parent_first("../x", None)]
    #[case::parent_inside("a/../../x", None)]
    #[case::parent_that_stays_inside_is_still_refused("a/../b", None)]
    #[case::absolute("/etc/x", None)]
    fn entry_path_is_normalised_or_refused(#[case] path: &str, #[case] normal: Option<&str>) {
        assert_eq!(relative_normal(Path::new(path)), normal.map(PathBuf::from));
    }

    #[rstest]
    #[case::top_alone("x", "here", "here")]
    #[case::below_top("x/a/b", "here", "here/a/b")]
    #[case::empty_stays_empty("", "here", "")]
    fn top_component_is_renamed(#[case] path: &str, #[case] top: &str, #[case] renamed: &str) {
        assert_eq!(
            rename_top(Path::new(path), OsStr::new(top)),
            PathBuf::from(renamed)
        );
    }

    #[rstest]
    #[case::plain("here", true)]
    #[case::nested("a/b", false)]
    #[case::dot(".", false)]
    #[case::parent("..", false)]
    #[case::empty("", false)]
    #[case::trailing_slash("here/", false)]
    fn single_name_is_one_plain_component(#[case] name: &str, #[case] single: bool) {
        assert_eq!(is_single_name(OsStr::new(name)), single);
    }
}
