//! `warmPool`: a size, for a configuration whose leases a pool can serve.

use serde_json::{Map, Value};

use super::schema_lists::WARM_POOL_FIELDS;
use super::{Checker, field_path};
use crate::config::document::MAX_WARM_POOL_SIZE;

impl Checker {
    /// `warmPool`: `size` 0-64; only with backend `pod` and an `emptyDir`
    /// workspace (a pool pod is made before its lease, so it cannot mount a
    /// claim named for that lease, and a Sandbox's pod is its controller's).
    pub(super) fn warm_pool(&mut self, path: &str, v: &Value, doc: &Map<String, Value>) {
        let Some(map) = self.object(path, v, WARM_POOL_FIELDS) else {
            return;
        };
        let size_path = field_path(path, "size");
        let Some(size) = self.required(path, map, "size", "an integer 0-64") else {
            return;
        };
        let Some(size) = self.integer(&size_path, size, 0, i64::from(MAX_WARM_POOL_SIZE)) else {
            return;
        };
        if size == 0 {
            return;
        }
        let backend = doc
            .get("backend")
            .and_then(Value::as_str)
            .unwrap_or("sandbox-cr");
        if backend != "pod" {
            self.error(
                &size_path,
                format!(
                    "a warm pool serves the `pod` backend only, and this configuration's backend \
                     is `{backend}`; set \"backend\": \"pod\", or set warmPool.size to 0"
                ),
            );
        }
        let workspace = doc
            .get("workspace")
            .and_then(|w| w.get("type"))
            .and_then(Value::as_str);
        if workspace == Some("pvc") {
            self.error(
                &size_path,
                "a warm pool needs an `emptyDir` workspace: a pool pod starts before its lease, \
                 so it cannot mount a claim made for that lease; use {\"type\": \"emptyDir\"} or \
                 set warmPool.size to 0",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::config::validate::validate;

    fn errors(doc: serde_json::Value) -> Vec<(String, String)> {
        validate(&doc.to_string())
            .errors
            .into_iter()
            .map(|i| (i.path, i.message))
            .collect()
    }

    #[test]
    fn a_pool_of_a_pod_backend_with_an_empty_dir_workspace_is_valid() {
        let doc = json!({"inCluster": true, "backend": "pod", "warmPool": {"size": 8}});
        assert_eq!(errors(doc), vec![]);
    }

    #[test]
    fn a_pool_of_another_backend_is_refused_naming_the_size() {
        let found = errors(json!({"inCluster": true, "warmPool": {"size": 2}}));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "warmPool.size");
        assert!(found[0].1.contains("`sandbox-cr`"), "{}", found[0].1);
    }

    #[test]
    fn a_pool_with_a_claim_workspace_is_refused() {
        let doc = json!({"inCluster": true, "backend": "pod", "warmPool": {"size": 2},
            "workspace": {"type": "pvc", "size": "1Gi"}});
        let found = errors(doc);
        assert!(
            found
                .iter()
                .any(|(p, m)| p == "warmPool.size" && m.contains("emptyDir")),
            "{found:?}"
        );
    }

    #[test]
    fn a_size_beyond_the_largest_and_unknown_fields_are_named() {
        let found = errors(
            json!({"inCluster": true, "backend": "pod", "warmPool": {"size": 65, "min": 1}}),
        );
        assert!(found.iter().any(|(p, _)| p == "warmPool.size"), "{found:?}");
        assert!(found.iter().any(|(p, _)| p == "warmPool.min"), "{found:?}");
    }

    #[test]
    fn a_size_of_zero_asks_for_no_pool_on_any_backend() {
        assert_eq!(
            errors(json!({"inCluster": true, "warmPool": {"size": 0}})),
            vec![]
        );
    }
}
