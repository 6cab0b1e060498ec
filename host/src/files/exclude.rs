//! Exclude globs, matched against relative paths and their components.

use std::path::{Path, PathBuf};

use glob::{MatchOptions, Pattern};

use super::error::{Error, Result};

/// How every pattern is matched: `*` does not cross a `/` (so `src/*`
/// means the direct children of `src`), `*` does match a leading dot (so
/// `*.log` excludes `.hidden.log` as well), and case matters.
const MATCH: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

/// A set of exclude globs (`glob::Pattern` syntax).
///
/// A path relative to the root of a copy (the source root when packing,
/// the destination when unpacking) is excluded when a pattern matches the
/// path itself, any of its ancestors (so `build` or `src/gen` exclude
/// everything under them, and an excluded directory is never descended
/// into), or any single component name (so `node_modules` or `*.log`
/// exclude at any depth). The root itself is never excluded.
#[derive(Debug, Clone, Default)]
pub struct Excludes {
    patterns: Vec<Pattern>,
}

impl Excludes {
    /// Compiles the patterns; an invalid one is an [`Error::ExcludePattern`].
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Self> {
        let patterns = patterns
            .iter()
            .map(|pattern| {
                let pattern = pattern.as_ref();
                Pattern::new(pattern).map_err(|source| Error::ExcludePattern {
                    pattern: pattern.to_owned(),
                    source,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Self { patterns })
    }

    /// Whether `relative` (a path below the root of the copy, without `.`
    /// or `..` components) is excluded.
    pub fn is_excluded(&self, relative: &Path) -> bool {
        if self.patterns.is_empty() {
            return false;
        }
        let mut prefix = PathBuf::new();
        for component in relative.components() {
            prefix.push(component);
            let name = Path::new(component.as_os_str());
            if self
                .patterns
                .iter()
                .any(|p| p.matches_path_with(&prefix, MATCH) || p.matches_path_with(name, MATCH))
            {
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::name_at_any_depth("node_modules", "a/b/node_modules/x.js", true)]
    #[case::name_at_top("node_modules", "node_modules", true)]
    #[case::suffix_at_depth("*.log", "a/b/c.log", true)]
    #[case::suffix_matches_dotfile("*.log", ".hidden.log", true)]
    #[case::suffix_not_other("*.log", "a/b/c.txt", false)]
    #[case::double_star_children("build/**", "build/x/y.o", true)]
    #[case::double_star_not_sibling("build/**", "builder/x", false)]
    #[case::nested_path_excludes_children("src/gen", "src/gen/a.rs", true)]
    #[case::nested_path_not_elsewhere("src/gen", "lib/src/gen/a.rs", false)]
    #[case::star_stays_in_one_directory("src/*.rs", "src/a/b.rs", false)]
    #[case::star_in_directory("src/*.rs", "src/b.rs", true)]
    #[case::partial_name_is_not_a_match("node", "node_modules/x", false)]
    fn exclude_pattern_matches(#[case] pattern: &str, #[case] path: &str, #[case] excluded: bool) {
        let excludes = Excludes::new(&[pattern]).expect("pattern compiles");
        assert_eq!(excludes.is_excluded(Path::new(path)), excluded);
    }

    #[test]
    fn empty_excludes_nothing() {
        assert!(!Excludes::default().is_excluded(Path::new("anything/at/all")));
    }

    #[test]
    fn invalid_pattern_is_named_in_the_error() {
        let err = Excludes::new(&["a/***"]).expect_err("pattern is invalid");
        assert!(matches!(err, Error::ExcludePattern { .. }));
        assert!(
            err.to_string()
                .starts_with("invalid exclude pattern \"a/***\"")
        );
    }
}
