//! The configuration reference in README.md agrees with the JSON Schema:
//! one row per schema property path, with the schema's default.

use std::collections::BTreeMap;

use serde_json::Value;

const START: &str = "<!-- config-reference:start -->";
const END: &str = "<!-- config-reference:end -->";

/// Marker of "no default" in the table.
const NO_DEFAULT: &str = "—";

/// Every property path of the schema (`quota.maxCpu`, `adapters[].image`)
/// with its `default`, if any.
fn schema_paths() -> BTreeMap<String, Option<Value>> {
    let schema: Value = match serde_json::from_str(&leasebox_policy::config::json_schema()) {
        Ok(v) => v,
        Err(e) => panic!("the schema is not JSON: {e}"),
    };
    let mut paths = BTreeMap::new();
    collect(&schema, &schema, "", &mut paths);
    paths
}

/// Follows `$ref`, `anyOf`/`oneOf` alternatives and array `items`,
/// recording each property under `prefix`.
fn collect(root: &Value, node: &Value, prefix: &str, out: &mut BTreeMap<String, Option<Value>>) {
    if let Some(reference) = node["$ref"].as_str() {
        let name = reference.trim_start_matches("#/$defs/");
        collect(root, &root["$defs"][name], prefix, out);
    }
    for key in ["anyOf", "oneOf"] {
        for alternative in node[key].as_array().into_iter().flatten() {
            collect(root, alternative, prefix, out);
        }
    }
    for (name, property) in node["properties"].as_object().into_iter().flatten() {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        let default = property.get("default").cloned();
        if let Some(Some(seen)) = out.get(&path)
            && Some(seen) != default.as_ref()
        {
            panic!("{path} has two different defaults in the schema");
        }
        out.insert(path.clone(), default);
        collect(root, property, &path, out);
    }
    if node.get("items").is_some() {
        collect(root, &node["items"], &format!("{prefix}[]"), out);
    }
}

/// The rows of the README table: field path -> default cell.
fn readme_rows() -> BTreeMap<String, String> {
    let readme = include_str!("../../README.md");
    let (Some(start), Some(end)) = (readme.find(START), readme.find(END)) else {
        panic!("README.md lacks the config-reference markers");
    };
    let mut rows = BTreeMap::new();
    for line in readme[start..end].lines() {
        if !line.starts_with("| `") {
            continue;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // "", field, type, default, constraint, ""
        assert_eq!(cells.len(), 6, "row does not have 4 cells: {line}");
        let field = cells[1].trim_matches('`').to_string();
        let previous = rows.insert(field.clone(), cells[3].to_string());
        assert!(previous.is_none(), "{field} is documented twice");
        assert!(!cells[4].is_empty(), "{field} has no constraint");
    }
    rows
}

#[test]
fn every_schema_property_has_a_readme_row() {
    let rows = readme_rows();
    let missing: Vec<String> = schema_paths()
        .into_keys()
        .filter(|path| !rows.contains_key(path))
        .collect();
    assert!(
        missing.is_empty(),
        "not documented in README.md: {missing:?}"
    );
}

#[test]
fn every_readme_row_is_a_schema_property() {
    let paths = schema_paths();
    let extra: Vec<String> = readme_rows()
        .into_keys()
        .filter(|field| !paths.contains_key(field))
        .collect();
    assert!(
        extra.is_empty(),
        "README.md documents unknown fields: {extra:?}"
    );
}

#[test]
fn readme_defaults_equal_the_schema_defaults() {
    let paths = schema_paths();
    for (field, cell) in readme_rows() {
        let Some(expected) = paths.get(&field) else {
            continue;
        };
        let documented = if cell == NO_DEFAULT {
            None
        } else {
            let json = cell
                .strip_prefix('`')
                .and_then(|c| c.strip_suffix('`'))
                .unwrap_or_else(|| panic!("{field}: default {cell} is not `json` or {NO_DEFAULT}"));
            match serde_json::from_str::<Value>(json) {
                Ok(v) => Some(v),
                Err(e) => panic!("{field}: default {json} is not JSON: {e}"),
            }
        };
        assert_eq!(
            &documented, expected,
            "{field}: README default differs from the schema"
        );
    }
}

#[test]
fn schema_walk_finds_nested_paths() {
    let paths = schema_paths();
    for path in [
        "defaultResources.requests.cpu",
        "workspace.sizeLimit",
        "workspace.size",
        "quota.maxCpu",
        "supervisor.binary",
        "serverCallback.port",
        "adapters[].image",
        "egressAllowCidrs[].ports[].port",
    ] {
        assert!(paths.contains_key(path), "{path} not found in the schema");
    }
    assert_eq!(
        paths.get("workspace"),
        Some(&Some(
            serde_json::json!({"type": "emptyDir", "sizeLimit": "8Gi"})
        ))
    );
}
