//! The subset of Kubernetes label and field selectors the fake understands,
//! and what a watch selects with them.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::cluster::{KubeError, WatchRequest};

/// True when `labels` match `selector`: comma-separated terms `k=v`,
/// `k==v`, `k!=v`, `k` (exists) and `!k` (absent); empty matches all.
pub fn matches_label_selector(
    selector: &str,
    labels: &BTreeMap<String, String>,
) -> Result<bool, KubeError> {
    for term in selector.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let ok = if let Some((k, v)) = term.split_once("!=") {
            labels.get(k.trim()).map(String::as_str) != Some(v.trim())
        } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
            labels.get(k.trim()).map(String::as_str) == Some(v.trim())
        } else if let Some(k) = term.strip_prefix('!') {
            !labels.contains_key(k.trim())
        } else if term.contains(' ') || term.contains('(') {
            return Err(KubeError::BadArgument(format!(
                "the fake cluster does not understand the selector term `{term}`"
            )));
        } else {
            labels.contains_key(term)
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

/// True when `object` matches `selector`: comma-separated
/// `metadata.name=x` / `metadata.namespace=y` (also with `!=`).
pub fn matches_field_selector(selector: &str, object: &Value) -> Result<bool, KubeError> {
    for term in selector.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let (field, want, negate) = if let Some((f, v)) = term.split_once("!=") {
            (f, v, true)
        } else if let Some((f, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
            (f, v, false)
        } else {
            return Err(KubeError::BadArgument(format!(
                "field selector term `{term}` needs `=` or `!=`"
            )));
        };
        let have = match field.trim() {
            "metadata.name" => object["metadata"]["name"].as_str(),
            "metadata.namespace" => object["metadata"]["namespace"].as_str(),
            "status.phase" => object["status"]["phase"].as_str(),
            other => {
                return Err(KubeError::BadArgument(format!(
                    "the fake cluster does not support field `{other}` in a field selector"
                )));
            }
        };
        if (have == Some(want.trim())) == negate {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The labels of a stored object.
pub(super) fn labels_of(object: &Value) -> BTreeMap<String, String> {
    object
        .get("metadata")
        .and_then(|m| m.get("labels"))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// True when `object` is in scope of the watch `request`.
pub(super) fn watch_matches(request: &WatchRequest, object: &Value) -> Result<bool, KubeError> {
    if object["kind"].as_str().is_some_and(|k| k != request.kind) {
        return Ok(false);
    }
    if !request.namespace.is_empty()
        && object["metadata"]["namespace"]
            .as_str()
            .is_some_and(|ns| ns != request.namespace)
    {
        return Ok(false);
    }
    Ok(
        matches_label_selector(&request.label_selector, &labels_of(object))?
            && matches_field_selector(&request.field_selector, object)?,
    )
}

#[cfg(test)]
mod tests {
    use rstest::rstest;
    use serde_json::json;

    use super::*;

    fn labels() -> BTreeMap<String, String> {
        [("a", "b"), ("c", "d")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[rstest]
    #[case::empty_matches_all("", true)]
    #[case::equality("a=b", true)]
    #[case::double_equals("a==b", true)]
    #[case::wrong_value("a=x", false)]
    #[case::exists_and_equality("a=b,c", true)]
    #[case::missing_key("zz", false)]
    #[case::not_equal("a!=x", true)]
    #[case::absent("!zz", true)]
    #[case::absent_but_present("!a", false)]
    fn label_selector_terms(#[case] selector: &str, #[case] expected: bool) {
        assert_eq!(
            matches_label_selector(selector, &labels()).expect("understood"),
            expected
        );
    }

    #[test]
    fn field_selector_by_name() {
        let obj = json!({"metadata": {"name": "x", "namespace": "ns"}});
        assert!(matches_field_selector("metadata.name=x", &obj).expect("ok"));
        assert!(!matches_field_selector("metadata.name=y", &obj).expect("ok"));
        assert!(
            matches_field_selector("metadata.name!=y,metadata.namespace=ns", &obj).expect("ok")
        );
    }
}
