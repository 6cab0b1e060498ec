//! The field and enum lists of the configuration, derived from its JSON
//! Schema so that they cannot drift from the types (STYLE rule 18).
//!
//! The schema of [`Config`] is generated once; a location is a config path
//! (`""` for the top level, `adapters[]`, `defaultResources.requests`,
//! `egressAllowCidrs[].ports[].protocol`), resolved through `$ref`,
//! `anyOf`/`oneOf` alternatives and array `items`. Lists come back in
//! schema order, which is the declaration order (schemars
//! `preserve_order`). A location the schema lacks gives an empty list, never
//! a panic: the walk then reports the fields as unknown, which the tests
//! catch.

use std::sync::LazyLock;

use serde_json::Value;

use crate::config::Config;

/// How deep `$ref`s and alternatives are followed; the configuration schema
/// is not recursive, this only bounds a mistake.
const MAX_DEPTH: usize = 16;

/// The generated schema of [`Config`].
static SCHEMA: LazyLock<Value> = LazyLock::new(|| schemars::schema_for!(Config).to_value());

/// Fields of the top-level object.
pub(super) static TOP_FIELDS: LazyLock<Vec<&'static str>> = LazyLock::new(|| fields(""));
/// Fields of a declared adapter.
pub(super) static ADAPTER_FIELDS: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| fields("adapters[]"));
/// Fields of a CIDR with ports.
pub(super) static CIDR_FIELDS: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| fields("egressAllowCidrs[]"));
/// Fields of a port.
pub(super) static PORT_FIELDS: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| fields("egressAllowCidrs[].ports[]"));
/// Fields of `defaultResources`.
pub(super) static RESOURCES_FIELDS: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| fields("defaultResources"));
/// Fields of `defaultResources.requests` and `.limits` (the same type).
pub(super) static CPU_MEMORY_FIELDS: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| fields("defaultResources.requests"));
/// Fields of a toleration.
pub(super) static TOLERATION_FIELDS: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| fields("tolerations[]"));
/// Fields of `quota`.
pub(super) static QUOTA_FIELDS: LazyLock<Vec<&'static str>> = LazyLock::new(|| fields("quota"));
/// Fields of `supervisor`.
pub(super) static SUPERVISOR_FIELDS: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| fields("supervisor"));
/// Fields of `serverCallback`.
pub(super) static CALLBACK_FIELDS: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| fields("serverCallback"));

/// Toleration operators (the empty one, which means `Equal`, left out).
pub(super) static TOLERATION_OPERATORS: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| non_empty(values("tolerations[].operator")));
/// Toleration effects (the empty one, which matches every effect, left out).
pub(super) static TOLERATION_EFFECTS: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| non_empty(values("tolerations[].effect")));

fn non_empty(values: Vec<&'static str>) -> Vec<&'static str> {
    values.into_iter().filter(|v| !v.is_empty()).collect()
}

/// Values of `backend`.
pub(super) static BACKENDS: LazyLock<Vec<&'static str>> = LazyLock::new(|| values("backend"));
/// Values of `sandboxApiVersion`.
pub(super) static SANDBOX_API_VERSIONS: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| values("sandboxApiVersion"));
/// Values of `egressMode`.
pub(super) static EGRESS_MODES: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| values("egressMode"));
/// Values of a port's `protocol`.
pub(super) static PROTOCOLS: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| values("egressAllowCidrs[].ports[].protocol"));
/// Values of `workspace.type` (one per variant).
pub(super) static WORKSPACE_TYPES: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| values("workspace.type"));

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Backend, EgressMode, Protocol, SandboxApiVersion};
    use rstest::rstest;

    /// The property names of `$defs/<def>`, read directly.
    fn definition_fields(def: &str) -> Vec<String> {
        SCHEMA["$defs"][def]["properties"]
            .as_object()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The serde spellings of a config enum's variants.
    fn spellings<T: serde::Serialize>(variants: &[T]) -> Vec<String> {
        variants
            .iter()
            .filter_map(|v| serde_json::to_value(v).ok())
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    }

    #[rstest]
    #[case::adapter(&ADAPTER_FIELDS, "AdapterDecl")]
    #[case::cidr(&CIDR_FIELDS, "CidrWithPorts")]
    #[case::port(&PORT_FIELDS, "PortSpec")]
    #[case::resources(&RESOURCES_FIELDS, "Resources")]
    #[case::cpu_memory(&CPU_MEMORY_FIELDS, "CpuMemory")]
    #[case::toleration(&TOLERATION_FIELDS, "Toleration")]
    #[case::quota(&QUOTA_FIELDS, "Quota")]
    #[case::supervisor(&SUPERVISOR_FIELDS, "Supervisor")]
    #[case::callback(&CALLBACK_FIELDS, "ServerCallback")]
    fn field_list_at_a_config_path_is_its_schema_definitions_properties(
        #[case] derived: &LazyLock<Vec<&'static str>>,
        #[case] def: &str,
    ) {
        assert!(!derived.is_empty(), "{def}: no fields derived");
        assert_eq!(**derived, definition_fields(def));
    }

    #[test]
    fn top_level_fields_are_every_schema_property_in_declaration_order() {
        let properties: Vec<&str> = SCHEMA["properties"]
            .as_object()
            .map(|p| p.keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(TOP_FIELDS.len(), 28);
        assert_eq!(*TOP_FIELDS, properties);
        assert_eq!(TOP_FIELDS.first(), Some(&"inCluster"));
        assert_eq!(TOP_FIELDS.last(), Some(&"serverCallback"));
    }

    #[rstest]
    #[case::backend(&BACKENDS, spellings(&[Backend::SandboxCr, Backend::Job, Backend::Pod]))]
    #[case::sandbox_api_version(
        &SANDBOX_API_VERSIONS,
        spellings(&[SandboxApiVersion::V1beta1, SandboxApiVersion::V1alpha1])
    )]
    #[case::egress_mode(&EGRESS_MODES, spellings(&[EgressMode::Standard, EgressMode::Cilium]))]
    #[case::protocol(&PROTOCOLS, spellings(&[Protocol::Tcp, Protocol::Udp, Protocol::Sctp]))]
    fn enum_values_are_the_serde_spellings_in_declaration_order(
        #[case] derived: &LazyLock<Vec<&'static str>>,
        #[case] expected: Vec<String>,
    ) {
        assert_eq!(expected.len(), derived.len());
        assert_eq!(**derived, expected);
    }

    #[test]
    fn toleration_values_come_from_the_schema_without_the_empty_default() {
        assert_eq!(*TOLERATION_OPERATORS, ["Equal", "Exists"]);
        assert_eq!(
            *TOLERATION_EFFECTS,
            ["NoSchedule", "PreferNoSchedule", "NoExecute"]
        );
    }

    #[test]
    fn workspace_types_are_the_tags_of_the_schema_variants() {
        assert_eq!(*WORKSPACE_TYPES, ["emptyDir", "pvc"]);
    }

    #[rstest]
    #[case::empty_dir("emptyDir", &["type", "sizeLimit"])]
    #[case::pvc("pvc", &["type", "storageClass", "size"])]
    #[case::unknown_kind("hostPath", &[])]
    fn workspace_variant_fields_are_the_properties_of_the_selected_variant(
        #[case] kind: &str,
        #[case] expected: &[&str],
    ) {
        let variants = SCHEMA["$defs"]["Workspace"]["oneOf"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let from_schema: Vec<String> = variants
            .iter()
            .filter(|v| v["properties"]["type"]["const"] == kind)
            .flat_map(|v| {
                v["properties"]
                    .as_object()
                    .map(|p| p.keys().cloned().collect::<Vec<_>>())
                    .unwrap_or_default()
            })
            .collect();
        let derived = variant_fields("workspace", "type", kind);
        assert_eq!(derived, expected);
        assert_eq!(derived, from_schema);
    }

    #[rstest]
    #[case::unknown_field("colour")]
    #[case::items_of_a_non_array("backend[]")]
    #[case::below_a_string("kubeconfig.path")]
    fn location_the_schema_lacks_gives_empty_lists(#[case] path: &str) {
        assert!(fields(path).is_empty());
        assert!(values(path).is_empty());
    }

    #[test]
    fn nullable_section_fields_come_from_its_object_alternative() {
        // `supervisor` is `anyOf: [{$ref: Supervisor}, {type: null}]`.
        assert_eq!(*SUPERVISOR_FIELDS, ["image", "binary", "args", "install"]);
    }
}
