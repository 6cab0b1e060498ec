//! Validation of a configuration document: every problem, with its JSON
//! path.
//!
//! The raw `serde_json::Value` is walked field by field, so that one pass
//! reports every unknown field, wrong type and broken rule at once. Only a
//! document without errors is deserialized into [`Config`]; the walk also
//! builds the normalized document it is deserialized from (FQDNs lowercased
//! and deduplicated, CIDRs in canonical form).
//!
//! This file holds the walk's shared machinery (the [`Checker`], paths,
//! unknown-field and enum errors) and the top-level dispatch; each config
//! section is checked in its own file under `validate/`. The field and enum
//! lists the errors name are derived from the JSON Schema
//! ([`schema_lists`]), so they cannot drift from the types.

mod access;
mod adapters;
mod backend;
mod callback;
mod cluster;
mod egress;
mod image;
mod resources;
mod scheduling;
mod schema_lists;
mod suggest;
mod supervisor;
mod timeouts;
mod values;
mod warm_pool;
mod workspace;

use serde_json::{Map, Value};

use super::document::{Config, Issue};

pub use crate::bindings::leasebox::provider::types::ValidationReport;
use schema_lists::TOP_FIELDS;
use suggest::suggestion;

/// Result of [`validate`].
#[derive(Debug, Clone, PartialEq)]
pub struct Validated {
    /// The normalized configuration, when there are no errors.
    pub config: Option<Config>,
    /// Every error.
    pub errors: Vec<Issue>,
    /// Warnings.
    pub warnings: Vec<Issue>,
}

impl Validated {
    /// The `validation-report` of `wit/types.wit`: the normalized
    /// configuration as JSON when there are no errors.
    pub fn report(self) -> ValidationReport {
        let normalized = self
            .config
            .as_ref()
            .and_then(|c| serde_json::to_string(c).ok());
        ValidationReport {
            ok: self.errors.is_empty(),
            errors: self.errors,
            warnings: self.warnings,
            normalized_config: normalized,
        }
    }
}

/// Largest value of the `u32` fields.
const U32_MAX: i64 = u32::MAX as i64;

/// Validates a configuration document (JSON text).
pub fn validate(document: &str) -> Validated {
    let mut check = Checker::default();
    let root: Value = match serde_json::from_str(document) {
        Ok(v) => v,
        Err(e) => {
            check.error(
                "",
                format!(
                    "the configuration is not valid JSON: {e}; fix the syntax at that position"
                ),
            );
            return check.finish(None);
        }
    };
    let Value::Object(doc) = &root else {
        check.error(
            "",
            format!(
                "the configuration must be a JSON object like {{\"inCluster\": true}}, got {}",
                describe(&root)
            ),
        );
        return check.finish(None);
    };
    let normalized = check.document(doc);
    if !check.errors.is_empty() {
        return check.finish(None);
    }
    match serde_json::from_value::<Config>(Value::Object(normalized)) {
        Ok(config) => {
            if let Some(adapter) = crate::adapters::find(&config, &config.adapter_type) {
                check
                    .warnings
                    .extend(crate::egress::warnings(&config, &adapter));
            }
            check.finish(Some(config))
        }
        Err(e) => {
            check.error(
                "",
                format!("the configuration passed every check but does not deserialize: {e}"),
            );
            check.finish(None)
        }
    }
}

/// `parent.key`, or `key` at the top.
fn field_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// `parent[index]`.
fn index_path(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

/// What a value is, for "expected X, got Y".
fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) if n.is_f64() => format!("the number {n}"),
        Value::Number(n) => format!("the integer {n}"),
        Value::String(s) => format!("the string {}", Value::String(s.clone())),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// Comma-separated, backquoted list.
fn list(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Collects errors and warnings during one walk.
#[derive(Debug, Default)]
struct Checker {
    errors: Vec<Issue>,
    warnings: Vec<Issue>,
}

impl Checker {
    fn error(&mut self, path: &str, message: impl Into<String>) {
        self.errors.push(Issue::new(path, message));
    }

    fn warn(&mut self, path: &str, message: impl Into<String>) {
        self.warnings.push(Issue::new(path, message));
    }

    fn finish(self, config: Option<Config>) -> Validated {
        Validated {
            config,
            errors: self.errors,
            warnings: self.warnings,
        }
    }

    fn type_error(&mut self, path: &str, expected: &str, got: &Value) {
        self.error(path, format!("expected {expected}, got {}", describe(got)));
    }

    /// An object whose keys are all in `fields`.
    fn object<'v>(
        &mut self,
        path: &str,
        v: &'v Value,
        fields: &[&str],
    ) -> Option<&'v Map<String, Value>> {
        let Value::Object(map) = v else {
            self.type_error(path, "an object", v);
            return None;
        };
        self.unknown_fields(path, map, fields);
        Some(map)
    }

    /// Reports every key of `map` that is not in `fields`.
    fn unknown_fields(&mut self, path: &str, map: &Map<String, Value>, fields: &[&str]) {
        for key in map.keys() {
            if fields.contains(&key.as_str()) {
                continue;
            }
            let hint = suggestion(key, fields)
                .map(|f| format!(" (did you mean `{f}`?)"))
                .unwrap_or_default();
            self.error(
                &field_path(path, key),
                format!(
                    "unknown field `{key}`{hint}; valid fields here are {}",
                    list(fields)
                ),
            );
        }
    }

    /// A required field of an object.
    fn required<'v>(
        &mut self,
        path: &str,
        map: &'v Map<String, Value>,
        key: &str,
        what: &str,
    ) -> Option<&'v Value> {
        let found = map.get(key);
        if found.is_none() {
            self.error(
                &field_path(path, key),
                format!("missing required field `{key}` ({what})"),
            );
        }
        found
    }

    /// A string from a fixed set.
    fn enumeration<'v>(&mut self, path: &str, v: &'v Value, allowed: &[&str]) -> Option<&'v str> {
        let s = self.string(path, v)?;
        if allowed.contains(&s) {
            Some(s)
        } else {
            self.error(path, format!("`{s}` is not one of {}", list(allowed)));
            None
        }
    }

    /// Walks the top-level object; returns the normalized document.
    fn document(&mut self, doc: &Map<String, Value>) -> Map<String, Value> {
        let mut out = doc.clone();
        self.unknown_fields("", doc, TOP_FIELDS);
        self.cluster(doc);
        self.backend(doc);
        self.egress_mode(doc);
        let declared = match doc.get("adapters") {
            Some(v) => {
                let (types, normalized) = self.declared_adapters(v);
                out.insert("adapters".into(), normalized);
                types
            }
            None => Vec::new(),
        };
        if let Some(v) = doc.get("adapterType") {
            self.adapter_type(v, &declared);
        }
        self.images(doc);
        if let Some(v) = doc.get("egressAllowFqdns") {
            let normalized = self.fqdns("egressAllowFqdns", v);
            out.insert("egressAllowFqdns".into(), normalized);
        }
        if let Some(v) = doc.get("egressAllowCidrs") {
            let normalized = self.cidrs("egressAllowCidrs", v);
            out.insert("egressAllowCidrs".into(), normalized);
        }
        self.scheduling(doc);
        if let Some(v) = doc.get("workspace") {
            self.workspace("workspace", v);
        }
        self.timeouts(doc);
        self.resources(doc);
        if let Some(v) = doc.get("supervisor").filter(|v| !v.is_null()) {
            self.supervisor("supervisor", v);
        }
        if let Some(v) = doc.get("serverCallback").filter(|v| !v.is_null()) {
            self.server_callback("serverCallback", v);
        }
        if let Some(v) = doc.get("terminals") {
            self.terminals("terminals", v);
        }
        if let Some(v) = doc.get("files") {
            self.files("files", v);
        }
        if let Some(v) = doc.get("warmPool").filter(|v| !v.is_null()) {
            self.warm_pool("warmPool", v, doc);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    /// The errors of a document.
    fn errors_of(document: &Value) -> Vec<Issue> {
        validate(&document.to_string()).errors
    }

    #[test]
    fn document_that_is_not_json_is_one_error_at_the_root() {
        let v = validate("{\"inCluster\": tru");
        assert_eq!(v.errors.len(), 1);
        assert_eq!(v.errors[0].path, "");
        assert!(v.errors[0].message.contains("not valid JSON"));
    }

    #[test]
    fn every_top_level_schema_property_is_accepted_as_a_field() {
        let schema = schemars::schema_for!(Config).to_value();
        let properties = schema["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        assert_eq!(properties.len(), 31);
        // Each property set to `null`: a type error perhaps, never an unknown field.
        let doc: Map<String, Value> = properties
            .keys()
            .map(|k| (k.clone(), Value::Null))
            .collect();
        let unknown: Vec<Issue> = errors_of(&Value::Object(doc))
            .into_iter()
            .filter(|e| e.message.starts_with("unknown field"))
            .collect();
        assert!(unknown.is_empty(), "{unknown:?}");
    }

    #[test]
    fn unknown_top_level_field_is_reported_with_the_schema_properties() {
        let errors = errors_of(&json!({"inCluster": true, "colour": "blue"}));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].path, "colour");
        let schema = schemars::schema_for!(Config).to_value();
        let properties: Vec<&str> = schema["properties"]
            .as_object()
            .map(|p| p.keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(
            errors[0].message,
            format!(
                "unknown field `colour`; valid fields here are {}",
                list(&properties)
            )
        );
        assert!(
            errors[0]
                .message
                .ends_with("`supervisor`, `serverCallback`, `terminals`, `files`, `warmPool`")
        );
    }

    #[test]
    fn backend_error_lists_the_schema_enum_in_declaration_order() {
        let errors = errors_of(&json!({"inCluster": true, "backend": "vm"}));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].path, "backend");
        assert_eq!(
            errors[0].message,
            "`vm` is not one of `sandbox-cr`, `job`, `pod`"
        );
    }

    #[rstest]
    #[case::protocol(
        json!({"egressAllowCidrs": [{"cidr": "10.0.0.0/8", "ports": [{"port": 1, "protocol": "ICMP"}]}]}),
        "egressAllowCidrs[0].ports[0].protocol",
        "`ICMP` is not one of `TCP`, `UDP`, `SCTP`"
    )]
    #[case::egress_mode(
        json!({"egressMode": "calico"}),
        "egressMode",
        "`calico` is not one of `standard`, `cilium`"
    )]
    #[case::sandbox_api_version(
        json!({"sandboxApiVersion": "v1"}),
        "sandboxApiVersion",
        "`v1` is not one of `v1beta1`, `v1alpha1`"
    )]
    #[case::workspace_type(
        json!({"workspace": {"type": "hostPath"}}),
        "workspace.type",
        "`hostPath` is not one of `emptyDir`, `pvc`"
    )]
    #[case::pvc_field(
        json!({"workspace": {"type": "pvc", "sizeLimit": "1Gi"}}),
        "workspace.sizeLimit",
        "unknown field `sizeLimit`; valid fields here are `type`, `storageClass`, `size`"
    )]
    #[case::port_field(
        json!({"egressAllowCidrs": [{"cidr": "10.0.0.0/8", "ports": [{"port": 1, "proto": "TCP"}]}]}),
        "egressAllowCidrs[0].ports[0].proto",
        "unknown field `proto`; valid fields here are `port`, `protocol`"
    )]
    fn schema_derived_list_appears_in_the_error_message(
        #[case] document: Value,
        #[case] path: &str,
        #[case] message: &str,
    ) {
        let mut document = document;
        if let Value::Object(doc) = &mut document {
            doc.insert("inCluster".into(), Value::Bool(true));
        }
        let errors = errors_of(&document);
        assert!(
            errors
                .iter()
                .any(|e| e.path == path && e.message == message),
            "{errors:?}"
        );
    }
}
