//! `adapters` (declared adapters) and `adapterType` (the adapter run).

use serde_json::Value;

use super::schema_lists::ADAPTER_FIELDS;
use super::{Checker, field_path, list};
use crate::adapters;
use crate::config::syntax;

impl Checker {
    /// Checks the declared adapters; returns their types and the
    /// normalized array.
    pub(super) fn declared_adapters(&mut self, v: &Value) -> (Vec<String>, Value) {
        let mut types: Vec<String> = Vec::new();
        let mut normalized = Vec::new();
        for (path, item) in self.array("adapters", v) {
            let mut out = item.clone();
            let Some(map) = self.object(&path, item, ADAPTER_FIELDS) else {
                continue;
            };
            let type_path = field_path(&path, "adapterType");
            if let Some(t) = self
                .required(&path, map, "adapterType", "the adapter's name")
                .and_then(|t| self.string(&type_path, t))
            {
                self.syntax(&type_path, t, "adapter type", syntax::adapter_type);
                if types.iter().any(|seen| seen == t) {
                    self.error(
                        &type_path,
                        format!("adapter `{t}` is declared twice; keep one declaration"),
                    );
                }
                types.push(t.to_string());
            }
            if let Some(image) = self.required(&path, map, "image", "the agent image") {
                self.image_reference(&field_path(&path, "image"), image);
            }
            if let Some(keys) = map.get("envKeys") {
                for (key_path, key) in self.strings(&field_path(&path, "envKeys"), keys) {
                    self.syntax(&key_path, key, "env key", syntax::env_name);
                }
            }
            if let Some(fqdns) = map.get("allowFqdns") {
                let list = self.fqdns(&field_path(&path, "allowFqdns"), fqdns);
                if let Value::Object(o) = &mut out {
                    o.insert("allowFqdns".into(), list);
                }
            }
            let probe_path = field_path(&path, "probeCommand");
            if let Some(probe) = self.optional_string(&probe_path, map.get("probeCommand"))
                && probe.trim().is_empty()
            {
                self.error(&probe_path, "is empty; give a command or remove the field");
            }
            if let Some(env) = map.get("defaultEnv") {
                for (entry_path, key, _) in self.string_map(&field_path(&path, "defaultEnv"), env) {
                    self.syntax(&entry_path, key, "env name", syntax::env_name);
                }
            }
            normalized.push(out);
        }
        (types, Value::Array(normalized))
    }

    /// `adapterType`: a built-in or a declared adapter.
    pub(super) fn adapter_type(&mut self, v: &Value, declared: &[String]) {
        let Some(t) = self.string("adapterType", v) else {
            return;
        };
        let mut known: Vec<&str> = adapters::builtin_types();
        for d in declared {
            if !known.contains(&d.as_str()) {
                known.push(d);
            }
        }
        if !known.contains(&t) {
            self.error(
                "adapterType",
                format!(
                    "unknown adapter `{t}`; use one of {} or declare it in `adapters`",
                    list(&known)
                ),
            );
        }
    }
}
