//! Validation of a configuration document: every problem, with its JSON
//! path.
//!
//! The raw `serde_json::Value` is walked field by field, so that one pass
//! reports every unknown field, wrong type and broken rule at once. Only a
//! document without errors is deserialized into [`Config`]; the walk also
//! builds the normalized document it is deserialized from (FQDNs lowercased
//! and deduplicated, CIDRs in canonical form).

use serde::Serialize;
use serde_json::{Map, Value};

use super::quantity::Quantity;
use super::syntax;
use super::{Config, EgressMode};
use crate::{adapters, egress, image, names};

/// One problem (or warning) at a JSON path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    /// JSON path (`egressAllowCidrs[2]`); empty for the whole document.
    pub path: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl Issue {
    /// An issue at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Issue {
        Issue {
            path: path.into(),
            message: message.into(),
        }
    }
}

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

/// Fields of the top-level object, in schema order.
pub(crate) const TOP_FIELDS: &[&str] = &[
    "inCluster",
    "kubeconfig",
    "namespacePrefix",
    "companySlug",
    "backend",
    "sandboxApiVersion",
    "adapterType",
    "adapters",
    "imageRegistry",
    "imageAllowList",
    "imagePullSecrets",
    "egressMode",
    "egressAllowFqdns",
    "egressAllowCidrs",
    "defaultResources",
    "runtimeClassName",
    "nodeSelector",
    "tolerations",
    "serviceAccountAnnotations",
    "gpu",
    "workspace",
    "jobTtlSecondsAfterFinished",
    "podActivityDeadlineSec",
    "podReadyTimeoutSec",
    "leaseMaxAgeSec",
    "quota",
    "supervisor",
    "serverCallback",
];
/// Fields of a declared adapter.
pub(crate) const ADAPTER_FIELDS: &[&str] = &[
    "adapterType",
    "image",
    "envKeys",
    "allowFqdns",
    "probeCommand",
    "defaultEnv",
];
/// Fields of a CIDR with ports.
pub(crate) const CIDR_FIELDS: &[&str] = &["cidr", "ports"];
/// Fields of a port.
pub(crate) const PORT_FIELDS: &[&str] = &["port", "protocol"];
/// Fields of `defaultResources`.
pub(crate) const RESOURCES_FIELDS: &[&str] = &["requests", "limits"];
/// Fields of `defaultResources.requests` and `.limits`.
pub(crate) const CPU_MEMORY_FIELDS: &[&str] = &["cpu", "memory"];
/// Fields of a toleration.
pub(crate) const TOLERATION_FIELDS: &[&str] =
    &["key", "operator", "value", "effect", "tolerationSeconds"];
/// Fields of an `emptyDir` workspace.
pub(crate) const EMPTY_DIR_FIELDS: &[&str] = &["type", "sizeLimit"];
/// Fields of a `pvc` workspace.
pub(crate) const PVC_FIELDS: &[&str] = &["type", "storageClass", "size"];
/// Fields of `quota`.
pub(crate) const QUOTA_FIELDS: &[&str] = &[
    "pods",
    "requestsCpu",
    "requestsMemory",
    "limitsCpu",
    "limitsMemory",
    "maxCpu",
    "maxMemory",
    "minCpu",
    "minMemory",
    "defaultCpu",
    "defaultMemory",
    "defaultRequestCpu",
    "defaultRequestMemory",
];
/// Fields of `supervisor`.
pub(crate) const SUPERVISOR_FIELDS: &[&str] = &["image", "binary", "args", "install"];
/// Fields of `serverCallback`.
pub(crate) const CALLBACK_FIELDS: &[&str] = &["namespace", "podLabels", "port"];

const BACKENDS: &[&str] = &["sandbox-cr", "job", "pod"];
const SANDBOX_API_VERSIONS: &[&str] = &["v1beta1", "v1alpha1"];
const EGRESS_MODES: &[&str] = &["standard", "cilium"];
const PROTOCOLS: &[&str] = &["TCP", "UDP", "SCTP"];
const TOLERATION_OPERATORS: &[&str] = &["Equal", "Exists"];
const TOLERATION_EFFECTS: &[&str] = &["NoSchedule", "PreferNoSchedule", "NoExecute"];
const WORKSPACE_TYPES: &[&str] = &["emptyDir", "pvc"];

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
            if let Some(adapter) = adapters::find(&config, &config.adapter_type) {
                check.warnings.extend(egress::warnings(&config, &adapter));
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

/// The valid field an unknown one was probably meant to be.
fn suggestion<'f>(unknown: &str, fields: &[&'f str]) -> Option<&'f str> {
    let squash = |s: &str| {
        s.chars()
            .filter(|c| *c != '_' && *c != '-')
            .flat_map(char::to_lowercase)
            .collect::<String>()
    };
    let wanted = squash(unknown);
    if let Some(f) = fields.iter().find(|f| squash(f) == wanted) {
        return Some(f);
    }
    if unknown.len() < 4 {
        return None;
    }
    fields
        .iter()
        .map(|f| (edit_distance(&squash(f), &wanted), *f))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, f)| f)
}

/// Levenshtein distance.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == *cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

/// A quantity field's value and whether the document set it.
#[derive(Debug, Clone)]
struct Setting {
    path: String,
    text: String,
    /// `None` when the given text is invalid (already reported).
    value: Option<Quantity>,
    explicit: bool,
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

    fn string<'v>(&mut self, path: &str, v: &'v Value) -> Option<&'v str> {
        match v {
            Value::String(s) => Some(s),
            _ => {
                self.type_error(path, "a string", v);
                None
            }
        }
    }

    /// A string that may be `null` (treated as absent).
    fn optional_string<'v>(&mut self, path: &str, v: Option<&'v Value>) -> Option<&'v str> {
        match v {
            None | Some(Value::Null) => None,
            Some(v) => self.string(path, v),
        }
    }

    fn boolean(&mut self, path: &str, v: &Value) -> Option<bool> {
        match v {
            Value::Bool(b) => Some(*b),
            _ => {
                self.type_error(path, "a boolean (`true` or `false`)", v);
                None
            }
        }
    }

    /// An integer in `min..=max`; floats and strings are type errors.
    fn integer(&mut self, path: &str, v: &Value, min: i64, max: i64) -> Option<i64> {
        let Value::Number(n) = v else {
            self.type_error(path, "an integer", v);
            return None;
        };
        let Some(i) = n.as_i64() else {
            if n.is_u64() {
                self.error(
                    path,
                    format!("{n} is too large; the largest value is {max}"),
                );
            } else {
                self.type_error(path, "an integer (no decimal point)", v);
            }
            return None;
        };
        if i < min {
            let bound = if min == 1 {
                "greater than 0".to_string()
            } else {
                format!("at least {min}")
            };
            self.error(path, format!("must be {bound}, got {i}"));
            return None;
        }
        if i > max {
            self.error(path, format!("must be at most {max}, got {i}"));
            return None;
        }
        Some(i)
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

    /// An array, with the path of each element.
    fn array<'v>(&mut self, path: &str, v: &'v Value) -> Vec<(String, &'v Value)> {
        match v {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| (index_path(path, i), item))
                .collect(),
            _ => {
                self.type_error(path, "an array", v);
                Vec::new()
            }
        }
    }

    /// An array of strings, with the path of each; non-strings reported.
    fn strings<'v>(&mut self, path: &str, v: &'v Value) -> Vec<(String, &'v str)> {
        let mut out = Vec::new();
        for (item_path, item) in self.array(path, v) {
            if let Some(s) = self.string(&item_path, item) {
                out.push((item_path, s));
            }
        }
        out
    }

    /// An object of string values: `(path, key, value)` for each entry.
    fn string_map<'v>(&mut self, path: &str, v: &'v Value) -> Vec<(String, &'v str, &'v str)> {
        let Value::Object(map) = v else {
            self.type_error(path, "an object of strings", v);
            return Vec::new();
        };
        let mut out = Vec::new();
        for (key, value) in map {
            let entry_path = field_path(path, key);
            if let Some(s) = self.string(&entry_path, value) {
                out.push((entry_path, key.as_str(), s));
            }
        }
        out
    }

    /// A quantity string.
    fn quantity(&mut self, path: &str, v: &Value) -> Option<Quantity> {
        let s = self.string(path, v)?;
        match Quantity::parse(s) {
            Ok(q) => Some(q),
            Err(e) => {
                self.error(path, e);
                None
            }
        }
    }

    /// A quantity field with a default.
    fn setting(&mut self, path: String, v: Option<&Value>, default: &str) -> Setting {
        match v {
            Some(v) => {
                let value = self.quantity(&path, v);
                Setting {
                    text: v.as_str().unwrap_or_default().to_string(),
                    path,
                    value,
                    explicit: true,
                }
            }
            None => Setting {
                path,
                text: default.to_string(),
                value: Quantity::parse(default).ok(),
                explicit: false,
            },
        }
    }

    /// A quantity that must be greater than zero.
    fn positive_quantity(&mut self, path: &str, v: &Value) {
        if let Some(q) = self.quantity(path, v)
            && q.is_zero()
        {
            self.error(path, "must be greater than 0");
        }
    }

    fn image_reference(&mut self, path: &str, v: &Value) {
        if let Some(s) = self.string(path, v)
            && let Err(e) = image::parse(s)
        {
            self.error(path, format!("`{s}` is not a valid image reference: {e}"));
        }
    }

    fn dns_subdomain(&mut self, path: &str, s: &str, what: &str) {
        if !names::is_dns1123_subdomain(s) {
            self.error(
                path,
                format!(
                    "`{s}` is not a valid {what}: use a DNS-1123 subdomain (lowercase letters, \
                     digits, `-` and `.`, at most 253 characters, starting and ending with a \
                     letter or digit)"
                ),
            );
        }
    }

    fn syntax(&mut self, path: &str, s: &str, what: &str, rule: fn(&str) -> Result<(), String>) {
        if let Err(why) = rule(s) {
            self.error(path, format!("`{s}` is not a valid {what}: {why}"));
        }
    }

    /// Labels: keys are qualified names, values label values.
    fn labels(&mut self, path: &str, v: &Value) {
        for (entry_path, key, value) in self.string_map(path, v) {
            self.syntax(&entry_path, key, "label key", syntax::qualified_name);
            self.syntax(&entry_path, value, "label value", syntax::label_value);
        }
    }

    /// Walks the top-level object; returns the normalized document.
    fn document(&mut self, doc: &Map<String, Value>) -> Map<String, Value> {
        let mut out = doc.clone();
        self.unknown_fields("", doc, TOP_FIELDS);
        self.connection(doc);
        if let Some(s) = doc
            .get("namespacePrefix")
            .and_then(|v| self.string("namespacePrefix", v))
        {
            self.syntax(
                "namespacePrefix",
                s,
                "namespace prefix",
                syntax::namespace_prefix,
            );
        }
        if let Some(s) = self.optional_string("companySlug", doc.get("companySlug")) {
            self.syntax("companySlug", s, "company slug", syntax::company_slug);
        }
        if let Some(v) = doc.get("backend") {
            self.enumeration("backend", v, BACKENDS);
        }
        if let Some(v) = doc.get("sandboxApiVersion") {
            self.enumeration("sandboxApiVersion", v, SANDBOX_API_VERSIONS);
        }
        if let Some(v) = doc.get("egressMode") {
            self.enumeration("egressMode", v, EGRESS_MODES);
        }

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
        for (key, min) in [
            ("jobTtlSecondsAfterFinished", 0),
            ("podActivityDeadlineSec", 1),
            ("podReadyTimeoutSec", 1),
            ("leaseMaxAgeSec", 1),
        ] {
            if let Some(v) = doc.get(key) {
                self.integer(key, v, min, U32_MAX);
            }
        }
        let resources = self.default_resources(doc.get("defaultResources"));
        let quota = self.quota(doc.get("quota"));
        self.resources_against_quota(&resources, &quota);
        if let Some(v) = doc.get("supervisor").filter(|v| !v.is_null()) {
            self.supervisor("supervisor", v);
        }
        if let Some(v) = doc.get("serverCallback").filter(|v| !v.is_null()) {
            self.server_callback("serverCallback", v);
        }
        out
    }

    /// `inCluster`, `kubeconfig`, and the rule that one of them is set.
    fn connection(&mut self, doc: &Map<String, Value>) {
        let in_cluster = match doc.get("inCluster") {
            Some(v) => self.boolean("inCluster", v),
            None => Some(false),
        };
        let kubeconfig = self.optional_string("kubeconfig", doc.get("kubeconfig"));
        let kubeconfig_set = match kubeconfig {
            Some(s) if s.trim().is_empty() => {
                self.error(
                    "kubeconfig",
                    "is empty; give a kubeconfig path or inline YAML, or remove the field",
                );
                return;
            }
            Some(_) => true,
            None => doc.get("kubeconfig").is_some_and(|v| !v.is_null()),
        };
        if in_cluster == Some(false) && !kubeconfig_set {
            self.error(
                "inCluster",
                "no cluster to connect to: set `inCluster` to true (running in a pod) or \
                 give `kubeconfig` (a path or inline YAML)",
            );
        }
    }

    /// Checks the declared adapters; returns their types and the
    /// normalized array.
    fn declared_adapters(&mut self, v: &Value) -> (Vec<String>, Value) {
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

    fn adapter_type(&mut self, v: &Value, declared: &[String]) {
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

    /// `imageRegistry`, `imageAllowList`, `imagePullSecrets`.
    fn images(&mut self, doc: &Map<String, Value>) {
        if let Some(s) = self.optional_string("imageRegistry", doc.get("imageRegistry")) {
            self.syntax("imageRegistry", s, "image registry", syntax::registry);
        }
        if let Some(v) = doc.get("imageAllowList") {
            for (path, pattern) in self.strings("imageAllowList", v) {
                if pattern.trim().is_empty() {
                    self.error(
                        &path,
                        "the pattern is empty; write a glob like `ghcr.io/acme/*`",
                    );
                }
            }
        }
        if let Some(v) = doc.get("imagePullSecrets") {
            for (path, name) in self.strings("imagePullSecrets", v) {
                self.dns_subdomain(&path, name, "Secret name");
            }
        }
    }

    /// A list of DNS names: each checked, lowercased; duplicates dropped.
    /// `*.` wildcards are accepted in both modes: in `standard` mode they
    /// are a warning (SPEC §1: the name cannot be enforced there), raised by
    /// `egress::warnings`.
    fn fqdns(&mut self, path: &str, v: &Value) -> Value {
        let mut out: Vec<Value> = Vec::new();
        for (item_path, name) in self.strings(path, v) {
            match egress::normalize_fqdn(name, EgressMode::Cilium) {
                Ok(n) => {
                    let n = Value::String(n);
                    if !out.contains(&n) {
                        out.push(n);
                    }
                }
                Err(e) => self.error(&item_path, e),
            }
        }
        Value::Array(out)
    }

    /// `egressAllowCidrs`: strings or `{cidr, ports}`; CIDRs canonicalised.
    fn cidrs(&mut self, path: &str, v: &Value) -> Value {
        let mut out = Vec::new();
        for (item_path, item) in self.array(path, v) {
            match item {
                Value::String(s) => {
                    out.push(Value::String(self.cidr(&item_path, s)));
                }
                Value::Object(_) => {
                    let mut normalized = item.clone();
                    let Some(map) = self.object(&item_path, item, CIDR_FIELDS) else {
                        continue;
                    };
                    let cidr_path = field_path(&item_path, "cidr");
                    if let Some(s) = self
                        .required(&item_path, map, "cidr", "like `10.0.0.0/8`")
                        .and_then(|c| self.string(&cidr_path, c))
                    {
                        let canonical = self.cidr(&cidr_path, s);
                        if let Value::Object(o) = &mut normalized {
                            o.insert("cidr".into(), Value::String(canonical));
                        }
                    }
                    if let Some(ports) = map.get("ports") {
                        self.ports(&field_path(&item_path, "ports"), ports);
                    }
                    out.push(normalized);
                }
                _ => self.type_error(
                    &item_path,
                    "a CIDR string or an object {\"cidr\": ..., \"ports\": [...]}",
                    item,
                ),
            }
        }
        Value::Array(out)
    }

    /// One CIDR; returns its canonical text (the input on error).
    fn cidr(&mut self, path: &str, s: &str) -> String {
        match egress::parse_cidr(s) {
            Ok(c) => c.text,
            Err(e) => {
                self.error(path, e);
                s.to_string()
            }
        }
    }

    fn ports(&mut self, path: &str, v: &Value) {
        for (port_path, item) in self.array(path, v) {
            let Some(map) = self.object(&port_path, item, PORT_FIELDS) else {
                continue;
            };
            if let Some(port) = self.required(&port_path, map, "port", "a number from 1 to 65535") {
                self.integer(&field_path(&port_path, "port"), port, 1, 65535);
            }
            if let Some(protocol) = map.get("protocol") {
                self.enumeration(&field_path(&port_path, "protocol"), protocol, PROTOCOLS);
            }
        }
    }

    /// `runtimeClassName`, `nodeSelector`, `tolerations`,
    /// `serviceAccountAnnotations`, `gpu`.
    fn scheduling(&mut self, doc: &Map<String, Value>) {
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

    fn workspace(&mut self, path: &str, v: &Value) {
        let Value::Object(map) = v else {
            self.type_error(
                path,
                "an object like {\"type\": \"emptyDir\", \"sizeLimit\": \"8Gi\"}",
                v,
            );
            return;
        };
        let type_path = field_path(path, "type");
        let Some(kind) = self
            .required(path, map, "type", "`emptyDir` or `pvc`")
            .and_then(|t| self.enumeration(&type_path, t, WORKSPACE_TYPES))
        else {
            return;
        };
        if kind == "emptyDir" {
            self.object(path, v, EMPTY_DIR_FIELDS);
            if let Some(size) = map.get("sizeLimit") {
                self.positive_quantity(&field_path(path, "sizeLimit"), size);
            }
        } else {
            self.object(path, v, PVC_FIELDS);
            if let Some(size) = map.get("size") {
                self.positive_quantity(&field_path(path, "size"), size);
            }
            let class_path = field_path(path, "storageClass");
            if let Some(class) = self.optional_string(&class_path, map.get("storageClass")) {
                self.dns_subdomain(&class_path, class, "StorageClass name");
            }
        }
    }

    /// `defaultResources`: quantities, limits >= requests. Returns the
    /// effective `[requests cpu, requests memory, limits cpu, limits memory]`.
    fn default_resources(&mut self, v: Option<&Value>) -> [Setting; 4] {
        let base = "defaultResources";
        let defaults = serde_json::to_value(super::Resources::default()).unwrap_or_default();
        let map = v.and_then(|v| self.object(base, v, RESOURCES_FIELDS));
        let requests = self.cpu_memory(base, map, "requests", &defaults);
        let limits = self.cpu_memory(base, map, "limits", &defaults);
        let [req_cpu, req_mem] = requests;
        let [lim_cpu, lim_mem] = limits;
        for (request, limit) in [(&req_cpu, &lim_cpu), (&req_mem, &lim_mem)] {
            let (Some(r), Some(l)) = (request.value, limit.value) else {
                continue;
            };
            if l < r {
                let path = if limit.explicit || !request.explicit {
                    &limit.path
                } else {
                    &request.path
                };
                self.error(
                    path,
                    format!(
                        "the limit `{}` is below the request `{}`; raise `{}` or lower `{}`",
                        limit.text, request.text, limit.path, request.path
                    ),
                );
            } else if l.is_zero() {
                self.error(
                    &limit.path,
                    "a limit of 0 leaves the container nothing; give a positive quantity",
                );
            }
        }
        [req_cpu, req_mem, lim_cpu, lim_mem]
    }

    /// `defaultResources.<side>`: both quantities required when the side
    /// is given; the defaults otherwise.
    fn cpu_memory(
        &mut self,
        base: &str,
        map: Option<&Map<String, Value>>,
        side: &str,
        defaults: &Value,
    ) -> [Setting; 2] {
        let side_path = field_path(base, side);
        let side_map = map
            .and_then(|m| m.get(side))
            .and_then(|v| self.object(&side_path, v, CPU_MEMORY_FIELDS));
        ["cpu", "memory"].map(|resource| {
            let path = field_path(&side_path, resource);
            let default = defaults[side][resource].as_str().unwrap_or_default();
            let Some(m) = side_map else {
                return self.setting(path, None, default);
            };
            match self.required(
                &side_path,
                m,
                resource,
                "a quantity; give both `cpu` and `memory`",
            ) {
                Some(given) => self.setting(path, Some(given), default),
                None => Setting {
                    path,
                    text: String::new(),
                    value: None,
                    explicit: true,
                },
            }
        })
    }

    /// `quota`: quantities, `pods`, and min <= defaultRequest <= default <=
    /// max per resource. Returns the settings by field name.
    fn quota(&mut self, v: Option<&Value>) -> Vec<(&'static str, Setting)> {
        let base = "quota";
        let map = v.and_then(|v| self.object(base, v, QUOTA_FIELDS));
        if let Some(pods) = map.and_then(|m| m.get("pods")) {
            self.integer("quota.pods", pods, 1, U32_MAX);
        }
        let defaults = serde_json::to_value(super::Quota::default()).unwrap_or_default();
        let mut settings = Vec::new();
        for key in QUOTA_FIELDS.iter().filter(|k| **k != "pods") {
            let given = map.and_then(|m| m.get(*key));
            let default = defaults[*key].as_str().unwrap_or_default();
            let setting = self.setting(field_path(base, key), given, default);
            settings.push((*key, setting));
        }
        let get = |key: &str| {
            settings
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, s)| s.clone())
        };
        for resource in ["Cpu", "Memory"] {
            let chain = ["min", "defaultRequest", "default", "max"]
                .map(|stage| get(&format!("{stage}{resource}")));
            for pair in chain.windows(2) {
                let (Some(lower), Some(upper)) = (&pair[0], &pair[1]) else {
                    continue;
                };
                if let (Some(l), Some(u)) = (lower.value, upper.value)
                    && u < l
                {
                    let path = if upper.explicit || !lower.explicit {
                        &upper.path
                    } else {
                        &lower.path
                    };
                    self.error(
                        path,
                        format!(
                            "`{}` = `{}` is below `{}` = `{}`; the LimitRange needs min <= \
                             defaultRequest <= default <= max",
                            upper.path, upper.text, lower.path, lower.text
                        ),
                    );
                }
            }
        }
        settings
    }

    /// Warnings: the default resources would make the LimitRange or the
    /// ResourceQuota reject the pod.
    fn resources_against_quota(&mut self, resources: &[Setting; 4], quota: &[(&str, Setting)]) {
        let get = |key: &str| quota.iter().find(|(k, _)| *k == key).map(|(_, s)| s);
        let [req_cpu, req_mem, lim_cpu, lim_mem] = resources;
        // (resource setting, quota field, true when the resource must not exceed it)
        let checks = [
            (lim_cpu, "maxCpu", true, "LimitRange max"),
            (lim_mem, "maxMemory", true, "LimitRange max"),
            (req_cpu, "minCpu", false, "LimitRange min"),
            (req_mem, "minMemory", false, "LimitRange min"),
            (
                req_cpu,
                "requestsCpu",
                true,
                "ResourceQuota total of requests",
            ),
            (
                req_mem,
                "requestsMemory",
                true,
                "ResourceQuota total of requests",
            ),
            (lim_cpu, "limitsCpu", true, "ResourceQuota total of limits"),
            (
                lim_mem,
                "limitsMemory",
                true,
                "ResourceQuota total of limits",
            ),
        ];
        for (resource, key, is_max, what) in checks {
            let Some(bound) = get(key) else { continue };
            let (Some(r), Some(b)) = (resource.value, bound.value) else {
                continue;
            };
            let broken = if is_max { r > b } else { r < b };
            if !broken {
                continue;
            }
            let path = if resource.explicit || !bound.explicit {
                &resource.path
            } else {
                &bound.path
            };
            let (relation, fix) = if is_max {
                ("above", "lower")
            } else {
                ("below", "raise")
            };
            let counter = if is_max { "raise" } else { "lower" };
            self.warn(
                path,
                format!(
                    "`{}` = `{}` is {relation} the {what} `{}` = `{}`: the API server would \
                     reject every sandbox pod; {fix} `{}` or {counter} `{}`",
                    resource.path, resource.text, bound.path, bound.text, resource.path, bound.path
                ),
            );
        }
    }

    fn supervisor(&mut self, path: &str, v: &Value) {
        let Some(map) = self.object(path, v, SUPERVISOR_FIELDS) else {
            return;
        };
        if let Some(image) = self.required(path, map, "image", "the image holding the binary") {
            self.image_reference(&field_path(path, "image"), image);
        }
        let binary_path = field_path(path, "binary");
        if let Some(binary) = self
            .required(path, map, "binary", "an absolute path inside the image")
            .and_then(|b| self.string(&binary_path, b))
        {
            self.syntax(
                &binary_path,
                binary,
                "binary path",
                syntax::absolute_file_path,
            );
        }
        if let Some(args) = map.get("args") {
            self.strings(&field_path(path, "args"), args);
        }
        if let Some(install) = map.get("install").filter(|v| !v.is_null()) {
            let install_path = field_path(path, "install");
            let argv = self.strings(&install_path, install);
            if matches!(install, Value::Array(items) if items.is_empty()) {
                self.error(
                    &install_path,
                    "is empty; give the argv of the install command or remove `install` for \
                     the default `cp <binary> /opt/leasebox/bin/`",
                );
            }
            if let Some((first_path, program)) = argv.first()
                && program.trim().is_empty()
            {
                self.error(first_path, "the program to run is empty");
            }
        }
    }

    fn server_callback(&mut self, path: &str, v: &Value) {
        let Some(map) = self.object(path, v, CALLBACK_FIELDS) else {
            return;
        };
        let namespace_path = field_path(path, "namespace");
        if let Some(ns) = self
            .required(path, map, "namespace", "the server's namespace")
            .and_then(|n| self.string(&namespace_path, n))
            && !names::is_dns1123_label(ns)
        {
            self.error(
                &namespace_path,
                format!(
                    "`{ns}` is not a valid namespace: use a DNS-1123 label (lowercase letters, \
                     digits and `-`, at most 63 characters, starting and ending with a letter or \
                     digit)"
                ),
            );
        }
        let labels_path = field_path(path, "podLabels");
        if let Some(labels) =
            self.required(path, map, "podLabels", "labels selecting the server's pods")
        {
            if matches!(labels, Value::Object(m) if m.is_empty()) {
                self.error(
                    &labels_path,
                    "is empty, which would select every pod in the namespace; give the \
                     server's pod labels",
                );
            }
            self.labels(&labels_path, labels);
        }
        if let Some(port) = self.required(path, map, "port", "a number from 1 to 65535") {
            self.integer(&field_path(path, "port"), port, 1, 65535);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// The properties of a schema object (following one `$ref`).
    fn schema_fields(schema: &Value, def: Option<&str>) -> Vec<String> {
        let node = match def {
            Some(name) => &schema["$defs"][name],
            None => schema,
        };
        let mut fields = Vec::new();
        let mut collect = |n: &Value| {
            if let Some(props) = n["properties"].as_object() {
                fields.extend(props.keys().cloned());
            }
        };
        collect(node);
        fields
    }

    #[rstest]
    #[case::top(None, TOP_FIELDS)]
    #[case::adapter(Some("AdapterDecl"), ADAPTER_FIELDS)]
    #[case::cidr(Some("CidrWithPorts"), CIDR_FIELDS)]
    #[case::port(Some("PortSpec"), PORT_FIELDS)]
    #[case::resources(Some("Resources"), RESOURCES_FIELDS)]
    #[case::cpu_memory(Some("CpuMemory"), CPU_MEMORY_FIELDS)]
    #[case::toleration(Some("Toleration"), TOLERATION_FIELDS)]
    #[case::quota(Some("Quota"), QUOTA_FIELDS)]
    #[case::supervisor(Some("Supervisor"), SUPERVISOR_FIELDS)]
    #[case::callback(Some("ServerCallback"), CALLBACK_FIELDS)]
    fn field_lists_match_the_schema(#[case] def: Option<&str>, #[case] fields: &[&str]) {
        let schema: Value = serde_json::from_str(&super::super::json_schema()).unwrap_or_default();
        assert_eq!(schema_fields(&schema, def), fields);
    }

    #[test]
    fn workspace_field_lists_match_the_schema_variants() {
        let schema: Value = serde_json::from_str(&super::super::json_schema()).unwrap_or_default();
        let variants = schema["$defs"]["Workspace"]["oneOf"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let fields: Vec<Vec<String>> = variants
            .iter()
            .map(|v| {
                v["properties"]
                    .as_object()
                    .map(|p| p.keys().cloned().collect())
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(fields, [EMPTY_DIR_FIELDS, PVC_FIELDS]);
    }

    #[rstest]
    #[case::snake_case("in_cluster", Some("inCluster"))]
    #[case::wrong_case("namespaceprefix", Some("namespacePrefix"))]
    #[case::typo("egresMode", Some("egressMode"))]
    #[case::unrelated("colour", None)]
    fn unknown_field_suggests_the_closest_valid_one(
        #[case] unknown: &str,
        #[case] expected: Option<&str>,
    ) {
        assert_eq!(suggestion(unknown, TOP_FIELDS), expected);
    }

    #[test]
    fn document_that_is_not_json_is_one_error_at_the_root() {
        let v = validate("{\"inCluster\": tru");
        assert_eq!(v.errors.len(), 1);
        assert_eq!(v.errors[0].path, "");
        assert!(v.errors[0].message.contains("not valid JSON"));
    }
}
