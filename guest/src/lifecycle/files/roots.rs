//! The rule `file-roots`, checked lexically in the guest before any exec:
//! a file call's path, absolute and with `..` resolved against the text,
//! must be one of the lease's roots or below one. The in-pod half (the
//! same rule after symbolic links, `scripts::PRELUDE`) answers
//! [`super::scripts::EXIT_OUTSIDE_ROOTS`], which [`refused_in_pod`] words.

use crate::error::PolicyError;
use crate::sandbox_path;

/// The rule's name in refusals.
pub(crate) const RULE: &str = "file-roots";

/// The roots as the scripts take them: their count, then each.
pub(crate) fn script_args(roots: &[String]) -> Vec<String> {
    let mut args = vec![roots.len().to_string()];
    args.extend(roots.iter().cloned());
    args
}

fn listed(roots: &[String]) -> String {
    if roots.is_empty() {
        return "none (the configuration's `files.roots` is empty)".into();
    }
    roots
        .iter()
        .map(|r| format!("`{r}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The lexical form of `path` when it is inside one of `roots`;
/// `bad-request` for a path that is not absolute, `not-allowed` naming
/// the path, the roots and the rule for one outside them.
pub(crate) fn confine(path: &str, roots: &[String]) -> Result<String, PolicyError> {
    let normal = sandbox_path::normalize(path)
        .map_err(|problem| PolicyError::BadRequest(format!("path `{path}` {problem}")))?;
    if roots
        .iter()
        .any(|root| sandbox_path::is_within(&normal, root))
    {
        return Ok(normal);
    }
    let resolved = if normal == path {
        String::new()
    } else {
        format!(" (which is `{normal}` once `.` and `..` are resolved)")
    };
    Err(PolicyError::NotAllowed(format!(
        "path `{path}`{resolved} is outside the file roots of this lease: {} (rule `{RULE}`); \
         use a path inside one of them, or widen `files.roots` in the configuration",
        listed(roots)
    )))
}

/// True when `normal` (lexical) is one of `roots`.
pub(crate) fn is_root(normal: &str, roots: &[String]) -> bool {
    roots.iter().any(|root| root == normal)
}

/// The refusal for a path that the pod resolved (through a symbolic link)
/// outside every root.
pub(crate) fn refused_in_pod(path: &str, roots: &[String]) -> PolicyError {
    PolicyError::NotAllowed(format!(
        "path `{path}` resolves in the sandbox, through a symbolic link, outside the file roots \
         of this lease: {} (rule `{RULE}`); nothing was read or written",
        listed(roots)
    ))
}

/// The refusal for removing a root itself.
pub(crate) fn root_not_removable(path: &str, roots: &[String]) -> PolicyError {
    PolicyError::NotAllowed(format!(
        "path `{path}` is a file root of this lease ({}), which is never removed (rule \
         `{RULE}`); remove what is inside it instead",
        listed(roots)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_FILE_ROOTS;
    use rstest::rstest;

    fn defaults() -> Vec<String> {
        DEFAULT_FILE_ROOTS.iter().map(|r| r.to_string()).collect()
    }

    #[rstest]
    #[case::workspace_file("/workspace/src/main.rs", "/workspace/src/main.rs")]
    #[case::a_root_itself("/tmp", "/tmp")]
    #[case::dot_dot_that_stays_inside("/workspace/a/../b", "/workspace/b")]
    #[case::home_cache("/home/agent/.cache/x", "/home/agent/.cache/x")]
    fn path_inside_a_root_is_allowed_in_its_plain_form(#[case] path: &str, #[case] normal: &str) {
        assert_eq!(confine(path, &defaults()).as_deref(), Ok(normal));
    }

    #[rstest]
    #[case::dot_dot_escape_refused("/workspace/../etc/passwd")]
    #[case::outside_every_root_refused("/etc/passwd")]
    #[case::prefix_sibling_refused("/workspace2/x")]
    #[case::the_file_system_root_refused("/")]
    fn path_outside_the_roots_is_not_allowed_naming_path_roots_and_rule(#[case] path: &str) {
        let Err(PolicyError::NotAllowed(message)) = confine(path, &defaults()) else {
            panic!("{path} is not refused as not-allowed");
        };
        assert!(message.contains(&format!("`{path}`")), "{message}");
        assert!(message.contains("`/workspace`, `/home/agent`"), "{message}");
        assert!(message.contains("rule `file-roots`"), "{message}");
    }

    #[test]
    fn narrowed_roots_refuse_the_rest_of_the_workspace() {
        let roots = vec!["/workspace/out".to_string()];
        assert!(confine("/workspace/out/a", &roots).is_ok());
        assert!(matches!(
            confine("/workspace/src", &roots),
            Err(PolicyError::NotAllowed(_))
        ));
    }

    #[test]
    fn no_roots_refuse_everything_and_say_why() {
        let Err(PolicyError::NotAllowed(message)) = confine("/workspace", &[]) else {
            panic!("not refused");
        };
        assert!(message.contains("`files.roots` is empty"), "{message}");
    }

    #[rstest]
    #[case::relative("workspace/a")]
    #[case::nul("/workspace/a\0")]
    fn path_that_is_no_absolute_path_is_a_bad_request(#[case] path: &str) {
        assert!(matches!(
            confine(path, &defaults()),
            Err(PolicyError::BadRequest(_))
        ));
    }

    #[test]
    fn script_args_count_the_roots_first() {
        assert_eq!(
            script_args(&["/a".into(), "/b c".into()]),
            ["2", "/a", "/b c"]
        );
    }
}
