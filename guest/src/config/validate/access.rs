//! `terminals` and `files`: what a lease lets its caller do beyond
//! `execute` (contract 0.3).

use serde_json::Value;

use super::schema_lists::{FILES_FIELDS, TERMINALS_FIELDS};
use super::{Checker, field_path};
use crate::config::document::DEFAULT_FILE_ROOTS;
use crate::sandbox_path;

impl Checker {
    /// `terminals`: a boolean `enabled`.
    pub(super) fn terminals(&mut self, path: &str, v: &Value) {
        let Some(map) = self.object(path, v, TERMINALS_FIELDS) else {
            return;
        };
        if let Some(enabled) = map.get("enabled") {
            self.boolean(&field_path(path, "enabled"), enabled);
        }
    }

    /// `files`: `roots`, each an absolute directory in its lexical form
    /// inside one of [`DEFAULT_FILE_ROOTS`].
    pub(super) fn files(&mut self, path: &str, v: &Value) {
        let Some(map) = self.object(path, v, FILES_FIELDS) else {
            return;
        };
        let Some(roots) = map.get("roots") else {
            return;
        };
        let defaults = DEFAULT_FILE_ROOTS.join("`, `");
        for (root_path, root) in self.strings(&field_path(path, "roots"), roots) {
            let normal = match sandbox_path::normalize(root) {
                Ok(normal) => normal,
                Err(problem) => {
                    self.error(&root_path, format!("`{root}` {problem}"));
                    continue;
                }
            };
            if normal != root {
                self.error(
                    &root_path,
                    format!("`{root}` is not written in its plain form; write `{normal}`"),
                );
                continue;
            }
            if !DEFAULT_FILE_ROOTS
                .iter()
                .any(|d| sandbox_path::is_within(root, d))
            {
                self.error(
                    &root_path,
                    format!(
                        "`{root}` is outside the writable mounts of the pod; use `{defaults}` \
                         or a directory inside one of them"
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::validate;
    use rstest::rstest;
    use serde_json::{Value, json};

    fn issues(section: Value) -> Vec<(String, String)> {
        let mut doc = section;
        if let Value::Object(map) = &mut doc {
            map.insert("inCluster".into(), Value::Bool(true));
        }
        validate(&doc.to_string())
            .errors
            .into_iter()
            .map(|i| (i.path, i.message))
            .collect()
    }

    #[rstest]
    #[case::terminals_not_a_boolean(
        json!({"terminals": {"enabled": "no"}}),
        "terminals.enabled",
        "expected a boolean"
    )]
    #[case::terminals_unknown_field(
        json!({"terminals": {"enable": false}}),
        "terminals.enable",
        "did you mean `enabled`?"
    )]
    #[case::relative_root(
        json!({"files": {"roots": ["workspace"]}}),
        "files.roots[0]",
        "not absolute"
    )]
    #[case::dot_dot_root(
        json!({"files": {"roots": ["/workspace/../etc"]}}),
        "files.roots[0]",
        "write `/etc`"
    )]
    #[case::root_outside_the_mounts(
        json!({"files": {"roots": ["/workspace", "/etc"]}}),
        "files.roots[1]",
        "`/etc` is outside the writable mounts of the pod; use `/workspace`, `/home/agent`"
    )]
    #[case::trailing_slash(
        json!({"files": {"roots": ["/workspace/src/"]}}),
        "files.roots[0]",
        "write `/workspace/src`"
    )]
    #[case::files_unknown_field(
        json!({"files": {"root": ["/workspace"]}}),
        "files.root",
        "valid fields here are `roots`"
    )]
    fn access_section_errors_name_the_field_and_the_fix(
        #[case] section: Value,
        #[case] path: &str,
        #[case] says: &str,
    ) {
        let found = issues(section);
        assert!(
            found.iter().any(|(p, m)| p == path && m.contains(says)),
            "{found:?}"
        );
    }

    #[test]
    fn narrowed_roots_and_disabled_terminals_are_valid_and_normalized() {
        let v = validate(
            &json!({"inCluster": true, "terminals": {"enabled": false},
                    "files": {"roots": ["/workspace/out", "/tmp"]}})
            .to_string(),
        );
        assert!(v.errors.is_empty(), "{:?}", v.errors);
        let config = v.config.expect("valid");
        assert!(!config.terminals.enabled);
        assert_eq!(config.files.roots, ["/workspace/out", "/tmp"]);
    }

    #[test]
    fn defaults_allow_terminals_and_the_four_mounts() {
        let config = validate(&json!({"inCluster": true}).to_string())
            .config
            .expect("valid");
        assert!(config.terminals.enabled);
        assert_eq!(
            config.files.roots,
            ["/workspace", "/home/agent", "/home/agent/.cache", "/tmp"]
        );
    }
}
