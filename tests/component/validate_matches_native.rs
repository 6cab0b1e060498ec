//! `validate-config` through the component, of either contract version,
//! equals `leasebox_policy::config::validate` of the native crate.

use rstest::rstest;
use serde_json::{Value, json};

use crate::support::{default_policy, every_contract, offline};

#[rstest]
#[case::minimal(json!({"inCluster": true}).to_string())]
#[case::every_backend_field(json!({
    "kubeconfig": "/etc/kube/config",
    "backend": "job",
    "sandboxApiVersion": "v1alpha1",
    "egressMode": "cilium",
    "egressAllowFqdns": ["*.example.com", "PyPI.org", "pypi.org"],
    "gpu": 1,
    "workspace": {"type": "pvc", "size": "50Gi"}
}).to_string())]
#[case::many_errors(json!({
    "namespacePrefix": "-bad",
    "backend": "vm",
    "egressAllowCidrs": ["10.0.0.0/33", "300.1.1.1/8"],
    "defaultResources": {"requests": {"cpu": "4", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
    "surprise": true
}).to_string())]
#[case::not_an_object("[1, 2, 3]".to_string())]
#[case::not_json("{not json".to_string())]
fn validate_through_the_component_equals_native_validate(#[case] document: String) {
    let native = leasebox_policy::config::validate(&document);
    let native_pairs = |issues: &[leasebox_policy::config::Issue]| {
        issues
            .iter()
            .map(|i| (i.path.clone(), i.message.clone()))
            .collect::<Vec<_>>()
    };
    let native_normalized = native
        .config
        .as_ref()
        .map(|c| serde_json::to_value(c).expect("config serializes"));
    for (contract, policy) in every_contract() {
        let report = policy
            .validate_config(&offline(), &document)
            .expect("the module does not trap");
        let pairs = |issues: &[leasebox::contract::Issue]| {
            issues
                .iter()
                .map(|i| (i.path.clone(), i.message.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(report.ok, native.errors.is_empty(), "{contract}");
        let paths =
            |pairs: Vec<(String, String)>| pairs.into_iter().map(|(p, _)| p).collect::<Vec<_>>();
        if contract != every_contract()[0].0 {
            // An older module knows an older configuration (0.3.0 added
            // `terminals` and `files`): the same verdict on the same
            // fields, in its own words and with its own defaults.
            assert_eq!(
                paths(pairs(&report.errors)),
                paths(native_pairs(&native.errors)),
                "{contract}"
            );
            continue;
        }
        assert_eq!(
            pairs(&report.errors),
            native_pairs(&native.errors),
            "{contract}"
        );
        assert_eq!(
            pairs(&report.warnings),
            native_pairs(&native.warnings),
            "{contract}"
        );
        let normalized = report
            .normalized_config
            .as_deref()
            .map(|text| serde_json::from_str::<Value>(text).expect("normalized config is JSON"));
        assert_eq!(normalized, native_normalized, "{contract}");
    }
}

#[test]
fn schema_through_the_component_equals_native_schema() {
    let schema = default_policy()
        .config_schema(&offline())
        .expect("the module does not trap");
    assert_eq!(schema, leasebox_policy::config::json_schema());
}
