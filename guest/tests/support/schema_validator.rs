//! Offline JSON-schema validation of Kubernetes manifests, for tests.
//!
//! The schemas live in the repository (`tests/schemas/`, see its
//! `README.md`), so no test reads anything outside the work tree or the
//! network:
//!
//! - `k8s-v1.33.0/`: per-kind JSON schemas (draft 2020-12, "strict": unknown
//!   fields are errors) whose `$ref`s point into `_definitions.json`
//!   (`$id` [`K8S_DEFINITIONS_ID`]); every other built-in kind with exactly
//!   one group/version/kind is served straight from `_definitions.json`;
//! - `cilium/`: the CiliumNetworkPolicy JSON schema, selected by
//!   [`CILIUM_KINDS`];
//! - `agent-sandbox/`: the `Sandbox` CRD, whose served versions'
//!   `openAPIV3Schema`s are made strict like `kubectl --validate=strict`.
//!
//! CRD (and Cilium) schemas are prepared like this: every `type: object`
//! node with `properties` and neither `additionalProperties` nor
//! `x-kubernetes-preserve-unknown-fields` rejects unknown fields;
//! `nullable: true` admits null; `apiVersion` and `kind` must be the
//! selected ones; the top-level `metadata` is checked against the core
//! ObjectMeta schema. Besides the schema, the API server's name rules are
//! checked: `metadata.name` present and well-formed for its kind,
//! `metadata.namespace` a DNS-1123 label, label keys and values well-formed.
//! Not checked (as with the shared `validate-manifests` tool): CEL rules,
//! `format`, defaults, admission webhooks.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use jsonschema::{Draft, Registry, Validator};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The vendored schema folder.
pub const SCHEMAS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/schemas");
/// Folder of the Kubernetes schemas under [`SCHEMAS_DIR`].
pub const K8S_DIR: &str = "k8s-v1.33.0";
/// `$id` of `_definitions.json`, which the per-kind files `$ref`.
pub const K8S_DEFINITIONS_ID: &str = "https://kubernetes.io/api/_definitions.json";
/// Name of the core ObjectMeta definition in `_definitions.json`.
pub const OBJECT_META_DEF: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
/// Plain JSON schemas of CRD kinds: (file under `cilium/`, apiVersion, kind).
pub const CILIUM_KINDS: [(&str, &str, &str); 1] = [(
    "ciliumnetworkpolicy_v2.json",
    "cilium.io/v2",
    "CiliumNetworkPolicy",
)];
/// CRD files: (folder, file).
pub const CRD_FILES: [(&str, &str); 1] = [("agent-sandbox", "agents.x-k8s.io_sandboxes.yaml")];

/// Kinds whose name must be a DNS-1123 label (not a subdomain).
const LABEL_NAMED_KINDS: [&str; 1] = ["Namespace"];
/// Kinds whose name must be an RFC 1035 label.
const DNS1035_NAMED_KINDS: [&str; 1] = ["Service"];
/// Kinds whose name only has to be a valid path segment.
const PATH_SEGMENT_NAMED_KINDS: [&str; 4] =
    ["Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"];
/// Longest DNS-1123 label, label name part and label value.
const MAX_LABEL: usize = 63;
/// Longest DNS-1123 subdomain.
const MAX_SUBDOMAIN: usize = 253;

/// The schema of one apiVersion/kind.
struct KindSchema {
    /// The JSON schema (draft 2020-12).
    schema: Value,
    /// Where it came from, for messages.
    source: String,
    /// Deprecation warning of a deprecated CRD version.
    deprecation: Option<String>,
}

/// Every known kind's schema, with compiled validators cached per kind.
pub struct SchemaStore {
    registry: Registry<'static>,
    kinds: BTreeMap<(String, String), KindSchema>,
    validators: Mutex<BTreeMap<(String, String), Arc<Validator>>>,
}

/// The verdict on one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectReport {
    /// `Kind/name`.
    pub object: String,
    /// Every problem, `path: message`; empty when the object is valid.
    pub problems: Vec<String>,
    /// Deprecation warning of the schema used (valid objects too).
    pub deprecation: Option<String>,
    /// The schema used, when one was found.
    pub source: Option<String>,
}

impl ObjectReport {
    /// True when the object passed.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// `OK Kind/name` or `FAIL Kind/name: problem; problem`.
    pub fn line(&self) -> String {
        if self.ok() {
            format!("OK {}", self.object)
        } else {
            format!("FAIL {}: {}", self.object, self.problems.join("; "))
        }
    }
}

/// The store loaded from [`SCHEMAS_DIR`] once per test binary.
///
/// Panics (failing the calling test) when the vendored schemas cannot be
/// loaded: a broken schema folder must not let tests pass.
pub fn store() -> &'static SchemaStore {
    static STORE: OnceLock<Result<SchemaStore, String>> = OnceLock::new();
    match STORE.get_or_init(|| SchemaStore::load(Path::new(SCHEMAS_DIR))) {
        Ok(store) => store,
        Err(e) => panic!("cannot load the schemas in {SCHEMAS_DIR}: {e}"),
    }
}

impl SchemaStore {
    /// Loads the Kubernetes, Cilium and CRD schemas under `root`.
    pub fn load(root: &Path) -> Result<SchemaStore, String> {
        let k8s = root.join(K8S_DIR);
        let definitions = read_json(&k8s.join("_definitions.json"))?;
        let defs = definitions
            .get("$defs")
            .and_then(Value::as_object)
            .cloned()
            .ok_or("_definitions.json has no `$defs`")?;
        if !defs.contains_key(OBJECT_META_DEF) {
            return Err(format!("_definitions.json lacks {OBJECT_META_DEF}"));
        }
        let id = definitions
            .get("$id")
            .and_then(Value::as_str)
            .unwrap_or(K8S_DEFINITIONS_ID)
            .to_string();
        let registry = Registry::new()
            .add(id, definitions)
            .and_then(|builder| builder.prepare())
            .map_err(|e| format!("registering _definitions.json: {e}"))?;

        let mut store = SchemaStore {
            registry,
            kinds: BTreeMap::new(),
            validators: Mutex::new(BTreeMap::new()),
        };
        store.load_k8s_kind_files(&k8s)?;
        store.load_k8s_definitions(&defs);
        for (file, api_version, kind) in CILIUM_KINDS {
            let schema = read_json(&root.join("cilium").join(file))?;
            store.add(
                api_version,
                kind,
                prepare_crd_schema(schema, api_version, kind),
                format!("cilium/{file}"),
                None,
            );
        }
        for (folder, file) in CRD_FILES {
            store.load_crd_file(&root.join(folder).join(file), &format!("{folder}/{file}"))?;
        }
        Ok(store)
    }

    /// The first schema registered for a kind wins (per-kind files before
    /// `_definitions.json` entries).
    fn add(
        &mut self,
        api_version: &str,
        kind: &str,
        schema: Value,
        source: String,
        deprecation: Option<String>,
    ) {
        self.kinds
            .entry((api_version.to_string(), kind.to_string()))
            .or_insert(KindSchema {
                schema,
                source,
                deprecation,
            });
    }

    fn load_k8s_kind_files(&mut self, folder: &Path) -> Result<(), String> {
        let mut files: Vec<PathBuf> = fs::read_dir(folder)
            .map_err(|e| format!("reading {}: {e}", folder.display()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                name.ends_with(".json") && !name.starts_with('_')
            })
            .collect();
        files.sort();
        for path in files {
            let schema = read_json(&path)?;
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("?")
                .to_string();
            let gvks = schema
                .get("x-kubernetes-group-version-kind")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for gvk in gvks {
                if let Some((api_version, kind)) = gvk_of(&gvk) {
                    self.add(&api_version, &kind, schema.clone(), name.clone(), None);
                }
            }
        }
        Ok(())
    }

    /// Every top-level kind of `_definitions.json` (one group/version/kind),
    /// as a `$ref` into it.
    fn load_k8s_definitions(&mut self, defs: &Map<String, Value>) {
        for (name, definition) in defs {
            let Some(gvks) = definition
                .get("x-kubernetes-group-version-kind")
                .and_then(Value::as_array)
            else {
                continue;
            };
            let [gvk] = gvks.as_slice() else {
                continue; // shared helper types (DeleteOptions, WatchEvent, ...)
            };
            let Some((api_version, kind)) = gvk_of(gvk) else {
                continue;
            };
            let wrapper = json!({
                "$ref": format!("{K8S_DEFINITIONS_ID}#/$defs/{name}"),
                "properties": {
                    "apiVersion": { "const": api_version },
                    "kind": { "const": kind },
                },
            });
            self.add(
                &api_version,
                &kind,
                wrapper,
                format!("_definitions.json#{name}"),
                None,
            );
        }
    }

    /// Every served version of every CustomResourceDefinition in a YAML file.
    fn load_crd_file(&mut self, path: &Path, source: &str) -> Result<(), String> {
        for crd in read_documents(path)? {
            if crd.get("kind").and_then(Value::as_str) != Some("CustomResourceDefinition") {
                continue;
            }
            let spec = &crd["spec"];
            let group = spec["group"].as_str().unwrap_or_default();
            let kind = spec["names"]["kind"].as_str().unwrap_or_default();
            let versions = spec["versions"].as_array().cloned().unwrap_or_default();
            for version in versions {
                if version.get("served").and_then(Value::as_bool) == Some(false) {
                    continue;
                }
                let Some(schema) = version.pointer("/schema/openAPIV3Schema") else {
                    continue;
                };
                let name = version["name"].as_str().unwrap_or_default();
                let api_version = format!("{group}/{name}");
                let deprecation =
                    (version.get("deprecated").and_then(Value::as_bool) == Some(true)).then(|| {
                        version
                            .get("deprecationWarning")
                            .and_then(Value::as_str)
                            .map(str::to_string)
                            .unwrap_or_else(|| format!("{api_version} {kind} is deprecated"))
                    });
                self.add(
                    &api_version,
                    kind,
                    prepare_crd_schema(schema.clone(), &api_version, kind),
                    source.to_string(),
                    deprecation,
                );
            }
        }
        Ok(())
    }

    /// True when a schema is known for this apiVersion/kind.
    pub fn knows(&self, api_version: &str, kind: &str) -> bool {
        self.kinds
            .contains_key(&(api_version.to_string(), kind.to_string()))
    }

    /// The schema of a kind, as prepared (for tests of the preparation).
    pub fn schema_of(&self, api_version: &str, kind: &str) -> Option<&Value> {
        self.kinds
            .get(&(api_version.to_string(), kind.to_string()))
            .map(|k| &k.schema)
    }

    fn validator(&self, api_version: &str, kind: &str) -> Result<Arc<Validator>, String> {
        let key = (api_version.to_string(), kind.to_string());
        let entry = self
            .kinds
            .get(&key)
            .ok_or_else(|| format!("unknown apiVersion/kind {api_version} {kind} (no schema)"))?;
        let mut cache = self
            .validators
            .lock()
            .map_err(|_| "validator cache poisoned by an earlier panic".to_string())?;
        if let Some(validator) = cache.get(&key) {
            return Ok(Arc::clone(validator));
        }
        let validator = jsonschema::options()
            .with_draft(Draft::Draft202012)
            .with_registry(&self.registry)
            .offline()
            .build(&entry.schema)
            .map_err(|e| format!("schema {} does not compile: {e}", entry.source))?;
        let validator = Arc::new(validator);
        cache.insert(key, Arc::clone(&validator));
        Ok(validator)
    }

    /// Checks one object: its schema, then the API server's name rules.
    pub fn check(&self, object: &Value) -> ObjectReport {
        let display = display(object);
        let fail = |problem: String| ObjectReport {
            object: display.clone(),
            problems: vec![problem],
            deprecation: None,
            source: None,
        };
        if !object.is_object() {
            return fail("document is not an object".into());
        }
        let (Some(api_version), Some(kind)) = (
            object.get("apiVersion").and_then(Value::as_str),
            object.get("kind").and_then(Value::as_str),
        ) else {
            return fail("apiVersion and kind are required strings".into());
        };
        let key = (api_version.to_string(), kind.to_string());
        let Some(entry) = self.kinds.get(&key) else {
            return fail(format!(
                "unknown apiVersion/kind {api_version} {kind} (no schema)"
            ));
        };
        let validator = match self.validator(api_version, kind) {
            Ok(v) => v,
            Err(e) => return fail(e),
        };
        let mut problems: Vec<String> = validator
            .iter_errors(object)
            .map(|error| format!("{}: {error}", dotted_path(error.instance_path())))
            .collect();
        problems.sort();
        problems.dedup();
        problems.extend(api_server_checks(object, kind));
        ObjectReport {
            object: display,
            problems,
            deprecation: entry.deprecation.clone(),
            source: Some(entry.source.clone()),
        }
    }

    /// Checks every object of every document (arrays and `*List` kinds are
    /// unpacked).
    pub fn check_documents(&self, documents: &[Value]) -> Vec<ObjectReport> {
        documents
            .iter()
            .flat_map(flatten)
            .map(|object| self.check(&object))
            .collect()
    }
}

/// `v1` or `group/version` of an `x-kubernetes-group-version-kind` entry.
fn gvk_of(gvk: &Value) -> Option<(String, String)> {
    let group = gvk.get("group").and_then(Value::as_str).unwrap_or("");
    let version = gvk.get("version").and_then(Value::as_str)?;
    let kind = gvk.get("kind").and_then(Value::as_str)?;
    let api_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some((api_version, kind.to_string()))
}

/// A CRD's `openAPIV3Schema` (or a converted CRD JSON schema) as a strict
/// draft 2020-12 schema of the whole object.
pub fn prepare_crd_schema(schema: Value, api_version: &str, kind: &str) -> Value {
    let mut schema = strictify(schema);
    if let Some(root) = schema.as_object_mut() {
        let properties = root
            .entry("properties")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(properties) = properties.as_object_mut() {
            properties.insert("apiVersion".into(), json!({ "const": api_version }));
            properties.insert("kind".into(), json!({ "const": kind }));
            properties.insert(
                "metadata".into(),
                json!({ "$ref": format!("{K8S_DEFINITIONS_ID}#/$defs/{OBJECT_META_DEF}") }),
            );
        }
        root.insert("additionalProperties".into(), Value::Bool(false));
        root.insert("type".into(), json!("object"));
    }
    schema
}

/// OpenAPI v3 to JSON Schema: `nullable: true` admits null, and objects that
/// list `properties` (without `additionalProperties` or
/// `x-kubernetes-preserve-unknown-fields`) reject unknown fields.
pub fn strictify(node: Value) -> Value {
    match node {
        Value::Array(items) => Value::Array(items.into_iter().map(strictify).collect()),
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, value) in map {
                let value = match key.as_str() {
                    "properties" | "patternProperties" | "$defs" | "definitions" => match value {
                        Value::Object(children) => Value::Object(
                            children
                                .into_iter()
                                .map(|(k, v)| (k, strictify(v)))
                                .collect(),
                        ),
                        other => other,
                    },
                    "items" | "additionalProperties" | "not" | "allOf" | "anyOf" | "oneOf" => {
                        strictify(value)
                    }
                    _ => value,
                };
                out.insert(key, value);
            }
            if out.get("nullable") == Some(&Value::Bool(true))
                && let Some(Value::String(t)) = out.get("type").cloned()
            {
                out.insert("type".into(), json!([t, "null"]));
            }
            let closed_object = out.get("type") == Some(&json!("object"))
                && out.contains_key("properties")
                && !out.contains_key("additionalProperties")
                && out.get("x-kubernetes-preserve-unknown-fields") != Some(&Value::Bool(true));
            if closed_object {
                out.insert("additionalProperties".into(), Value::Bool(false));
            }
            Value::Object(out)
        }
        other => other,
    }
}

/// `spec.containers[0].image` from a JSON pointer location; `(root)` when
/// empty.
fn dotted_path(location: &jsonschema::paths::Location) -> String {
    let mut out = String::new();
    for segment in location.iter() {
        match segment {
            jsonschema::paths::LocationSegment::Index(i) => out.push_str(&format!("[{i}]")),
            jsonschema::paths::LocationSegment::Property(p) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&p);
            }
        }
    }
    if out.is_empty() { "(root)".into() } else { out }
}

/// `Kind/name` of an object, for messages.
pub fn display(object: &Value) -> String {
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("<no-kind>");
    let meta = object.get("metadata");
    let name = meta
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .or_else(|| {
            meta.and_then(|m| m.get("generateName"))
                .and_then(Value::as_str)
                .map(|g| format!("{g}*"))
        })
        .unwrap_or_else(|| "<no-name>".into());
    format!("{kind}/{name}")
}

fn is_dns_label_shape(s: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !s.is_empty()
        && s.chars().all(|c| alnum(c) || c == '-')
        && s.starts_with(alnum)
        && s.ends_with(alnum)
}

/// DNS-1123 label: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters.
pub fn is_dns1123_label(s: &str) -> bool {
    s.len() <= MAX_LABEL && is_dns_label_shape(s)
}

/// DNS-1123 subdomain: dot-separated label shapes, at most 253 characters.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= MAX_SUBDOMAIN && s.split('.').all(is_dns_label_shape)
}

/// RFC 1035 label: a DNS-1123 label starting with a letter.
fn is_dns1035_label(s: &str) -> bool {
    is_dns1123_label(s) && s.starts_with(|c: char| c.is_ascii_lowercase())
}

fn is_label_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// Label value: empty, or at most 63 of `[A-Za-z0-9_.-]` with alphanumeric
/// ends.
pub fn is_label_value(s: &str) -> bool {
    s.is_empty() || is_label_name(s)
}

/// Name part of a label key: 1-63 of `[A-Za-z0-9_.-]` with alphanumeric ends.
fn is_label_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_LABEL
        && s.chars().all(is_label_char)
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// The problem with `name` for an object of `kind`, if any.
fn check_name(kind: &str, name: &str) -> Option<String> {
    if PATH_SEGMENT_NAMED_KINDS.contains(&kind) {
        if name == "." || name == ".." || name.contains('/') || name.contains('%') {
            return Some("may not be '.', '..' or contain '/' or '%'".into());
        }
        return None;
    }
    let (ok, what, limit) = if DNS1035_NAMED_KINDS.contains(&kind) {
        (is_dns1035_label(name), "an RFC 1035 label", MAX_LABEL)
    } else if LABEL_NAMED_KINDS.contains(&kind) {
        (is_dns1123_label(name), "an RFC 1123 label", MAX_LABEL)
    } else {
        (
            is_dns1123_subdomain(name),
            "an RFC 1123 subdomain",
            MAX_SUBDOMAIN,
        )
    };
    (!ok).then(|| {
        let dot = if limit == MAX_SUBDOMAIN { ", '.'" } else { "" };
        format!("must be {what} (lowercase alphanumerics and '-'{dot}, at most {limit} characters)")
    })
}

/// The problem with a label key, if any.
fn check_label_key(key: &str) -> Option<String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (prefix, name),
        None => ("", key),
    };
    if prefix.contains('/') {
        return Some(format!("label key '{key}' has more than one '/'"));
    }
    if !prefix.is_empty() && !is_dns1123_subdomain(prefix) {
        return Some(format!("label key '{key}': prefix must be a DNS subdomain"));
    }
    if !is_label_name(name) {
        return Some(format!(
            "label key '{key}': name part must be 1-63 alphanumerics, '-', '_' or '.'"
        ));
    }
    None
}

/// The API server's rules on names, namespaces and labels.
pub fn api_server_checks(object: &Value, kind: &str) -> Vec<String> {
    let Some(meta) = object.get("metadata").and_then(Value::as_object) else {
        return vec!["metadata: required".into()];
    };
    let mut errors = Vec::new();
    let name = meta.get("name").and_then(Value::as_str).unwrap_or("");
    let generate = meta
        .get("generateName")
        .and_then(Value::as_str)
        .unwrap_or("");
    if name.is_empty() && generate.is_empty() {
        errors.push("metadata.name: required (or metadata.generateName)".into());
    }
    if !name.is_empty()
        && let Some(problem) = check_name(kind, name)
    {
        errors.push(format!("metadata.name: '{name}' {problem}"));
    }
    if let Some(ns) = meta.get("namespace").and_then(Value::as_str)
        && !is_dns1123_label(ns)
    {
        errors.push(format!(
            "metadata.namespace: '{ns}' must be an RFC 1123 label"
        ));
    }
    if let Some(labels) = meta.get("labels").and_then(Value::as_object) {
        for (key, value) in labels {
            if let Some(problem) = check_label_key(key) {
                errors.push(format!("metadata.labels: {problem}"));
            }
            if let Some(value) = value.as_str()
                && !is_label_value(value)
            {
                errors.push(format!(
                    "metadata.labels[{key}]: value '{value}' must be at most 63 \
                     alphanumerics, '-', '_' or '.', starting and ending alphanumeric"
                ));
            }
        }
    }
    errors
}

/// The objects in a document: arrays and `List`/`*List` kinds are
/// unpacked (items of a typed list inherit its apiVersion and kind).
pub fn flatten(document: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    flatten_into(document, None, &mut out);
    out
}

fn flatten_into(document: &Value, inherited: Option<(&Value, &str)>, out: &mut Vec<Value>) {
    if let Value::Array(items) = document {
        for item in items {
            flatten_into(item, None, out);
        }
        return;
    }
    let mut document = document.clone();
    if let (Some(map), Some((api_version, kind))) = (document.as_object_mut(), inherited) {
        map.entry("apiVersion")
            .or_insert_with(|| api_version.clone());
        map.entry("kind").or_insert_with(|| json!(kind));
    }
    let kind = document.get("kind").and_then(Value::as_str).unwrap_or("");
    if let (Some(item_kind), Some(items)) = (
        kind.strip_suffix("List"),
        document.get("items").and_then(Value::as_array),
    ) {
        let api_version = document.get("apiVersion").cloned().unwrap_or(Value::Null);
        for item in items {
            let defaults = (!item_kind.is_empty()).then_some((&api_version, item_kind));
            flatten_into(item, defaults, out);
        }
        return;
    }
    out.push(document);
}

/// Reads a JSON file.
pub fn read_json(path: &Path) -> Result<Value, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("parsing {}: {e}", path.display()))
}

/// Reads a JSON file, or every (non-empty) document of a YAML file.
pub fn read_documents(path: &Path) -> Result<Vec<Value>, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    if path.extension().and_then(|e| e.to_str()) == Some("json") {
        return serde_json::from_str(&text)
            .map(|v| vec![v])
            .map_err(|e| format!("parsing {}: {e}", path.display()));
    }
    yaml_documents(&text).map_err(|e| format!("parsing {}: {e}", path.display()))
}

/// Every non-empty document of a (multi-document) YAML text, as JSON.
///
/// Timestamps stay strings, as the API server sees them.
pub fn yaml_documents(text: &str) -> Result<Vec<Value>, String> {
    let mut documents = Vec::new();
    for document in serde_yaml::Deserializer::from_str(text) {
        let value = Value::deserialize(document).map_err(|e| e.to_string())?;
        if !value.is_null() {
            documents.push(value);
        }
    }
    Ok(documents)
}
