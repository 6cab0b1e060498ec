//! The field and enum lists of the configuration, derived from its JSON
//! Schema so that they cannot drift from the types (STYLE rule 18).
//!
//! Deriving them means generating the schema of [`Config`](crate::config::Config)
//! and walking it: about a quarter of a millisecond in the policy module, where
//! every lifecycle call runs in a fresh instance and would pay it again. So
//! the derivation (`schema_lists/derive.rs`) runs in the tests, and what it
//! derives is committed as `schema_lists/derived.rs`: the test
//! `committed_lists_are_the_ones_the_schema_gives` fails when the types and
//! the file disagree, and `LEASEBOX_BLESS=1 cargo test -p leasebox-policy
//! --lib schema_lists` rewrites the file.

#[rustfmt::skip]
mod derived;
#[cfg(test)]
mod derive;

pub(super) use derived::*;

/// The fields of the `workspace` variant whose `type` is `kind` (none for
/// a kind the schema does not have).
pub(super) fn workspace_variant_fields(kind: &str) -> &'static [&'static str] {
    WORKSPACE_VARIANT_FIELDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or(&[], |(_, fields)| fields)
}

#[cfg(test)]
mod tests {
    use super::derive::{SCHEMA, fields, render, values, variant_fields};
    use super::*;
    use crate::config::{Backend, EgressMode, Protocol, SandboxApiVersion};
    use rstest::rstest;

    const DERIVED_FILE: &str = "src/config/validate/schema_lists/derived.rs";

    #[test]
    fn committed_lists_are_the_ones_the_schema_gives() {
        let rendered = render();
        if std::env::var("LEASEBOX_BLESS").is_ok_and(|v| v == "1") {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(DERIVED_FILE);
            std::fs::write(&path, &rendered).expect("derived.rs is writable");
            return;
        }
        assert_eq!(
            include_str!("schema_lists/derived.rs"),
            rendered,
            "{DERIVED_FILE} is not what the schema of Config gives; rewrite it with \
             LEASEBOX_BLESS=1 cargo test -p leasebox-policy --lib schema_lists and review the diff"
        );
    }

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
    #[case::adapter(ADAPTER_FIELDS, "AdapterDecl")]
    #[case::cidr(CIDR_FIELDS, "CidrWithPorts")]
    #[case::port(PORT_FIELDS, "PortSpec")]
    #[case::resources(RESOURCES_FIELDS, "Resources")]
    #[case::cpu_memory(CPU_MEMORY_FIELDS, "CpuMemory")]
    #[case::toleration(TOLERATION_FIELDS, "Toleration")]
    #[case::quota(QUOTA_FIELDS, "Quota")]
    #[case::supervisor(SUPERVISOR_FIELDS, "Supervisor")]
    #[case::callback(CALLBACK_FIELDS, "ServerCallback")]
    #[case::terminals(TERMINALS_FIELDS, "Terminals")]
    #[case::files(FILES_FIELDS, "Files")]
    fn field_list_at_a_config_path_is_its_schema_definitions_properties(
        #[case] derived: &[&str],
        #[case] def: &str,
    ) {
        assert!(!derived.is_empty(), "{def}: no fields derived");
        assert_eq!(derived, definition_fields(def));
    }

    #[test]
    fn top_level_fields_are_every_schema_property_in_declaration_order() {
        let properties: Vec<&str> = SCHEMA["properties"]
            .as_object()
            .map(|p| p.keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(TOP_FIELDS.len(), 31);
        assert_eq!(TOP_FIELDS, properties);
        assert_eq!(TOP_FIELDS.first(), Some(&"inCluster"));
        assert_eq!(TOP_FIELDS.last(), Some(&"warmPool"));
    }

    #[rstest]
    #[case::backend(BACKENDS, spellings(&[Backend::SandboxCr, Backend::Job, Backend::Pod]))]
    #[case::sandbox_api_version(
        SANDBOX_API_VERSIONS,
        spellings(&[SandboxApiVersion::V1beta1, SandboxApiVersion::V1alpha1])
    )]
    #[case::egress_mode(EGRESS_MODES, spellings(&[EgressMode::Standard, EgressMode::Cilium]))]
    #[case::protocol(PROTOCOLS, spellings(&[Protocol::Tcp, Protocol::Udp, Protocol::Sctp]))]
    fn enum_values_are_the_serde_spellings_in_declaration_order(
        #[case] derived: &[&str],
        #[case] expected: Vec<String>,
    ) {
        assert_eq!(expected.len(), derived.len());
        assert_eq!(derived, expected);
    }

    #[test]
    fn toleration_values_come_from_the_schema_without_the_empty_default() {
        assert_eq!(TOLERATION_OPERATORS, ["Equal", "Exists"]);
        assert_eq!(
            TOLERATION_EFFECTS,
            ["NoSchedule", "PreferNoSchedule", "NoExecute"]
        );
    }

    #[test]
    fn workspace_types_are_the_tags_of_the_schema_variants() {
        assert_eq!(WORKSPACE_TYPES, ["emptyDir", "pvc"]);
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
        assert_eq!(workspace_variant_fields(kind), expected);
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
        assert_eq!(SUPERVISOR_FIELDS, ["image", "binary", "args", "install"]);
    }
}
