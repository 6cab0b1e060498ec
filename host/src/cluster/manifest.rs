//! A manifest as the host carries it from a module's `apply` or `create`
//! down to the wire: parsed once, where it enters the host (the `kube`
//! import), and passed down typed through the guard and the shared watches
//! to the client.

use serde_json::Value;

use crate::contract::KubeError;

/// One object to write: the document, and what the layers below read of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// The whole object. A layer may add to its metadata (the guard stamps
    /// its marks there) but leaves its apiVersion, kind, name and namespace
    /// as read.
    pub value: Value,
    /// `apiVersion` (empty when absent).
    pub api_version: String,
    /// `kind` (empty when absent).
    pub kind: String,
    /// `metadata.name` (empty when absent, as for review objects).
    pub name: String,
    /// `metadata.namespace`, when set and not empty.
    pub namespace: Option<String>,
}

impl Manifest {
    /// Parses the text of a `verb` (`apply`, `create`); only JSON is
    /// required here: what a kind needs is for the layers below to say.
    pub fn parse(verb: &str, text: &str) -> Result<Manifest, KubeError> {
        let value = serde_json::from_str(text)
            .map_err(|e| KubeError::BadArgument(format!("{verb}: manifest is not JSON: {e}")))?;
        Ok(Manifest::from_value(value))
    }

    /// `value`, with its apiVersion, kind, name and namespace read.
    pub fn from_value(value: Value) -> Manifest {
        let text = |pointer: &str| {
            value
                .pointer(pointer)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let api_version = text("/apiVersion");
        let kind = text("/kind");
        let name = text("/metadata/name");
        let namespace = Some(text("/metadata/namespace")).filter(|ns| !ns.is_empty());
        Manifest {
            value,
            api_version,
            kind,
            name,
            namespace,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_once_and_absent_ones_are_empty() {
        let m = Manifest::parse(
            "apply",
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"ns"}}"#,
        )
        .expect("a JSON manifest parses");
        assert_eq!(
            (m.api_version.as_str(), m.kind.as_str(), m.name.as_str()),
            ("v1", "Pod", "p")
        );
        assert_eq!(m.namespace.as_deref(), Some("ns"));
        let bare = Manifest::parse("create", "{}").expect("an empty object parses");
        assert!(bare.kind.is_empty() && bare.namespace.is_none());
    }

    #[test]
    fn text_that_is_not_json_is_a_bad_argument_naming_the_verb() {
        match Manifest::parse("apply", "kind: Pod") {
            Err(KubeError::BadArgument(message)) => {
                assert!(
                    message.starts_with("apply: manifest is not JSON"),
                    "{message}"
                )
            }
            other => panic!("expected a bad argument, got {other:?}"),
        }
    }
}
