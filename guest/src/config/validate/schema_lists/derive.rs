//! The derivation of the lists from the JSON Schema of [`Config`], and the
//! source of `derived.rs` (tests only).
//!
//! A location is a config path (`""` for the top level, `adapters[]`,
//! `defaultResources.requests`, `egressAllowCidrs[].ports[].protocol`),
//! resolved through `$ref`, `anyOf`/`oneOf` alternatives and array `items`.
//! Lists come back in schema order, which is the declaration order
//! (schemars `preserve_order`). A location the schema lacks gives an empty
//! list, never a panic.

use std::fmt::Write as _;
use std::sync::LazyLock;

use serde_json::Value;

use crate::config::Config;

/// How deep `$ref`s and alternatives are followed; the configuration schema
/// is not recursive, this only bounds a mistake.
const MAX_DEPTH: usize = 16;

/// The generated schema of [`Config`].
pub(super) static SCHEMA: LazyLock<Value> =
    LazyLock::new(|| schemars::schema_for!(Config).to_value());

/// `values` without the empty string.
fn non_empty(values: Vec<&'static str>) -> Vec<&'static str> {
    values.into_iter().filter(|v| !v.is_empty()).collect()
}

/// The property names of the object(s) at `path`, in schema order (the
/// union over its alternatives, each name once).
pub(super) fn fields(path: &str) -> Vec<&'static str> {
    let mut out = Vec::new();
    for node in nodes(path) {
        push_properties(node, &mut out);
    }
    out
}

/// The property names of the alternative at `path` whose `tag` property is
/// the constant `kind` (`workspace`, `type`, `pvc`), in schema order.
pub(super) fn variant_fields(path: &str, tag: &str, kind: &str) -> Vec<&'static str> {
    let mut out = Vec::new();
    for node in nodes(path) {
        let tag_const = node
            .get("properties")
            .and_then(|p| p.get(tag))
            .and_then(|t| t.get("const"))
            .and_then(Value::as_str);
        if tag_const == Some(kind) {
            push_properties(node, &mut out);
        }
    }
    out
}

/// The string values the schema allows at `path` (its `enum`, or the
/// `const` of each alternative), in schema order, each once.
pub(super) fn values(path: &str) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for node in nodes(path) {
        let consts = node.get("const").into_iter();
        let enums = node.get("enum").and_then(Value::as_array).into_iter();
        for value in consts.chain(enums.flatten()) {
            if let Some(s) = value.as_str()
                && !out.contains(&s)
            {
                out.push(s);
            }
        }
    }
    out
}

/// Appends the property names of `node` not already in `out`.
fn push_properties(node: &'static Value, out: &mut Vec<&'static str>) {
    let names = node
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|p| p.keys());
    for name in names {
        if !out.contains(&name.as_str()) {
            out.push(name.as_str());
        }
    }
}

/// Every schema node at the config path `path`, alternatives expanded.
fn nodes(path: &str) -> Vec<&'static Value> {
    let root: &'static Value = &SCHEMA;
    let mut current = Vec::new();
    expand(root, &mut current, 0);
    for segment in path.split('.').filter(|s| !s.is_empty()) {
        let (name, items) = match segment.strip_suffix("[]") {
            Some(name) => (name, true),
            None => (segment, false),
        };
        let mut next = Vec::new();
        for node in current {
            let Some(property) = node.get("properties").and_then(|p| p.get(name)) else {
                continue;
            };
            // An array's elements; a non-array at `name[]` has none.
            let child = if items {
                property.get("items")
            } else {
                Some(property)
            };
            if let Some(child) = child {
                expand(child, &mut next, 0);
            }
        }
        current = next;
    }
    current
}

/// Pushes `node`, the target of its `$ref` and its `anyOf`/`oneOf`
/// alternatives (recursively) onto `out`.
fn expand(node: &'static Value, out: &mut Vec<&'static Value>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    out.push(node);
    let root: &'static Value = &SCHEMA;
    if let Some(target) = node
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix('#'))
        .and_then(|pointer| root.pointer(pointer))
    {
        expand(target, out, depth + 1);
    }
    for key in ["anyOf", "oneOf"] {
        for alternative in node
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            expand(alternative, out, depth + 1);
        }
    }
}

/// One constant of `derived.rs`: its name, its doc line, its strings.
struct List {
    name: &'static str,
    doc: &'static str,
    items: Vec<&'static str>,
}

/// Every list the checker uses, derived.
fn lists() -> Vec<List> {
    let list = |name, doc, items| List { name, doc, items };
    vec![
        list("TOP_FIELDS", "Fields of the top-level object.", fields("")),
        list(
            "ADAPTER_FIELDS",
            "Fields of a declared adapter.",
            fields("adapters[]"),
        ),
        list(
            "CIDR_FIELDS",
            "Fields of a CIDR with ports.",
            fields("egressAllowCidrs[]"),
        ),
        list(
            "PORT_FIELDS",
            "Fields of a port.",
            fields("egressAllowCidrs[].ports[]"),
        ),
        list(
            "RESOURCES_FIELDS",
            "Fields of `defaultResources`.",
            fields("defaultResources"),
        ),
        list(
            "CPU_MEMORY_FIELDS",
            "Fields of `defaultResources.requests` and `.limits` (the same type).",
            fields("defaultResources.requests"),
        ),
        list(
            "TOLERATION_FIELDS",
            "Fields of a toleration.",
            fields("tolerations[]"),
        ),
        list("QUOTA_FIELDS", "Fields of `quota`.", fields("quota")),
        list(
            "SUPERVISOR_FIELDS",
            "Fields of `supervisor`.",
            fields("supervisor"),
        ),
        list(
            "CALLBACK_FIELDS",
            "Fields of `serverCallback`.",
            fields("serverCallback"),
        ),
        list(
            "TERMINALS_FIELDS",
            "Fields of `terminals`.",
            fields("terminals"),
        ),
        list("FILES_FIELDS", "Fields of `files`.", fields("files")),
        list(
            "WARM_POOL_FIELDS",
            "Fields of `warmPool`.",
            fields("warmPool"),
        ),
        list(
            "TOLERATION_OPERATORS",
            "Toleration operators (the empty one, which means `Equal`, left out).",
            non_empty(values("tolerations[].operator")),
        ),
        list(
            "TOLERATION_EFFECTS",
            "Toleration effects (the empty one, which matches every effect, left out).",
            non_empty(values("tolerations[].effect")),
        ),
        list("BACKENDS", "Values of `backend`.", values("backend")),
        list(
            "SANDBOX_API_VERSIONS",
            "Values of `sandboxApiVersion`.",
            values("sandboxApiVersion"),
        ),
        list(
            "EGRESS_MODES",
            "Values of `egressMode`.",
            values("egressMode"),
        ),
        list(
            "PROTOCOLS",
            "Values of a port's `protocol`.",
            values("egressAllowCidrs[].ports[].protocol"),
        ),
        list(
            "WORKSPACE_TYPES",
            "Values of `workspace.type` (one per variant).",
            values("workspace.type"),
        ),
    ]
}

/// A Rust string literal of `s`.
fn literal(s: &str) -> String {
    format!("{s:?}")
}

/// The source of `derived.rs`: every list of [`lists`], then the fields of
/// each workspace variant.
pub(super) fn render() -> String {
    let mut out = String::from(
        "// The lists of the configuration checker, derived from the JSON Schema of\n\
         // `Config` by `schema_lists/derive.rs`. Do not edit: rewrite it with\n\
         // LEASEBOX_BLESS=1 cargo test -p leasebox-policy --lib schema_lists\n",
    );
    for list in lists() {
        let items: Vec<String> = list.items.iter().map(|s| literal(s)).collect();
        let _ = write!(
            out,
            "\n/// {}\npub(crate) const {}: &[&str] = &[{}];\n",
            list.doc,
            list.name,
            items.join(", ")
        );
    }
    out.push_str(
        "\n/// The fields of each `workspace` variant, by its `type`.\n\
         pub(crate) const WORKSPACE_VARIANT_FIELDS: &[(&str, &[&str])] = &[\n",
    );
    for kind in values("workspace.type") {
        let items: Vec<String> = variant_fields("workspace", "type", kind)
            .iter()
            .map(|s| literal(s))
            .collect();
        let _ = writeln!(out, "    ({}, &[{}]),", literal(kind), items.join(", "));
    }
    out.push_str("];\n");
    out
}
