//! `runtimeClassName`, `nodeSelector`, `tolerations`,
//! `serviceAccountAnnotations`, `gpu`: where and how the sandbox pod runs.

use serde_json::{Map, Value};

use super::schema_lists::{TOLERATION_EFFECTS, TOLERATION_FIELDS, TOLERATION_OPERATORS};
use super::{Checker, U32_MAX, field_path};
use crate::config::syntax;

impl Checker {
    /// `runtimeClassName`, `nodeSelector`, `tolerations`,
    /// `serviceAccountAnnotations`, `gpu`.
    pub(super) fn scheduling(&mut self, doc: &Map<String, Value>) {
        let runtime_class = self.optional_string("runtimeClassName", doc.get("runtimeClassName"));
        if let Some(s) = runtime_class {
            self.dns_subdomain("runtimeClassName", s, "RuntimeClass name");
        }
        if let Some(v) = doc.get("nodeSelector") {
            self.labels("nodeSelector", v);
        }
        if let Some(v) = doc.get("tolerations") {
            for (path, item) in self.array("tolerations", v) {
                self.toleration(&path, item);
            }
        }
        if let Some(v) = doc.get("serviceAccountAnnotations") {
            for (path, key, _) in self.string_map("serviceAccountAnnotations", v) {
                self.syntax(&path, key, "annotation key", syntax::qualified_name);
            }
        }
        if let Some(v) = doc.get("gpu")
            && let Some(gpu) = self.integer("gpu", v, 0, U32_MAX)
            && gpu > 0
            && runtime_class.is_none()
        {
            self.warn(
                "gpu",
                format!(
                    "{gpu} GPU requested without `runtimeClassName`: on clusters where the \
                     NVIDIA runtime is not the default the container will not see the GPU; set \
                     `runtimeClassName` (often `nvidia`)"
                ),
            );
        }
    }

    /// One toleration: key, operator/value pairing, effect, seconds.
    fn toleration(&mut self, path: &str, v: &Value) {
        let Some(map) = self.object(path, v, TOLERATION_FIELDS) else {
            return;
        };
        let key_path = field_path(path, "key");
        let key = self.optional_string(&key_path, map.get("key"));
        if let Some(k) = key.filter(|k| !k.is_empty()) {
            self.syntax(&key_path, k, "taint key", syntax::qualified_name);
        }
        let operator_path = field_path(path, "operator");
        let operator = match map.get("operator").filter(|v| !v.is_null()) {
            None => Some("Equal"),
            Some(Value::String(s)) if s.is_empty() => Some("Equal"),
            Some(v) => self.enumeration(&operator_path, v, TOLERATION_OPERATORS),
        };
        let value_path = field_path(path, "value");
        let value = self.optional_string(&value_path, map.get("value"));
        match (operator, value) {
            (Some("Exists"), Some(v)) if !v.is_empty() => self.error(
                &value_path,
                "must be empty with operator `Exists`; remove `value` or use operator `Equal`",
            ),
            (Some("Equal"), Some(v)) => {
                self.syntax(&value_path, v, "taint value", syntax::label_value)
            }
            _ => {}
        }
        if operator == Some("Equal") && key.is_none_or(str::is_empty) {
            self.error(
                &operator_path,
                "an empty `key` matches every taint only with operator `Exists`; set `key` or \
                 use `Exists`",
            );
        }
        let effect_path = field_path(path, "effect");
        // `Err` when the effect is invalid (already reported).
        let effect: Result<Option<&str>, ()> = match map.get("effect").filter(|v| !v.is_null()) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(v) => self
                .enumeration(&effect_path, v, TOLERATION_EFFECTS)
                .map(Some)
                .ok_or(()),
        };
        let seconds_path = field_path(path, "tolerationSeconds");
        if let Some(seconds) = map.get("tolerationSeconds").filter(|v| !v.is_null())
            && self
                .integer(&seconds_path, seconds, i64::MIN, i64::MAX)
                .is_some()
            && effect.is_ok_and(|e| e != Some("NoExecute"))
        {
            self.error(
                &seconds_path,
                "only applies to effect `NoExecute`; set `effect` to `NoExecute` or remove \
                 `tolerationSeconds`",
            );
        }
    }
}
