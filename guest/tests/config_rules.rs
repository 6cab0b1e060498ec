//! Configuration validation: one failing document per rule (with the exact
//! JSON path of the error), every problem reported at once, unknown fields,
//! warnings, the normalized configuration and the JSON Schema.

use leasebox_policy::config::{
    Backend, Config, EgressMode, Issue, SandboxApiVersion, Validated, Workspace, json_schema,
    validate,
};
use rstest::rstest;
use serde_json::{Value, json};

/// `{"inCluster": true}` with the fields of `patch` set over it.
fn with(patch: Value) -> Validated {
    let mut doc = json!({"inCluster": true});
    if let (Some(base), Some(fields)) = (doc.as_object_mut(), patch.as_object()) {
        for (k, v) in fields {
            base.insert(k.clone(), v.clone());
        }
    }
    validate(&doc.to_string())
}

fn render(issues: &[Issue]) -> String {
    issues
        .iter()
        .map(|i| format!("  {:?}: {}", i.path, i.message))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Asserts that the document has an error at exactly `path` whose message
/// contains `word`, and no configuration.
fn assert_error(v: &Validated, path: &str, word: &str) {
    assert!(v.config.is_none(), "an invalid document has a config");
    assert!(
        v.errors
            .iter()
            .any(|i| i.path == path && i.message.contains(word)),
        "no error at {path:?} mentioning {word:?}; errors:\n{}",
        render(&v.errors)
    );
}

fn valid(v: Validated) -> (Config, Vec<Issue>) {
    match v.config {
        Some(config) if v.errors.is_empty() => (config, v.warnings),
        _ => panic!("expected a valid document; errors:\n{}", render(&v.errors)),
    }
}

fn adapter(fields: Value) -> Value {
    let mut a = json!({"adapterType": "mine", "image": "registry.example.com/mine:1"});
    if let (Some(base), Some(fields)) = (a.as_object_mut(), fields.as_object()) {
        for (k, v) in fields {
            base.insert(k.clone(), v.clone());
        }
    }
    a
}

#[rstest]
// connection
#[case::no_cluster_to_connect_to(json!({"inCluster": false}), "inCluster", "kubeconfig")]
#[case::in_cluster_not_a_boolean(json!({"inCluster": "yes"}), "inCluster", "boolean")]
#[case::kubeconfig_empty(json!({"kubeconfig": " "}), "kubeconfig", "empty")]
#[case::kubeconfig_not_a_string(json!({"kubeconfig": 1}), "kubeconfig", "string")]
// names
#[case::prefix_leading_dash(json!({"namespacePrefix": "-team"}), "namespacePrefix", "starts with `-`")]
#[case::prefix_over_32_chars(json!({"namespacePrefix": "a".repeat(33)}), "namespacePrefix", "at most 32")]
#[case::prefix_uppercase(json!({"namespacePrefix": "Team-"}), "namespacePrefix", "not allowed")]
#[case::prefix_empty(json!({"namespacePrefix": ""}), "namespacePrefix", "empty")]
#[case::prefix_null(json!({"namespacePrefix": null}), "namespacePrefix", "string")]
#[case::slug_trailing_dash(json!({"companySlug": "acme-"}), "companySlug", "ends with `-`")]
#[case::slug_leading_dash(json!({"companySlug": "-acme"}), "companySlug", "starts with `-`")]
#[case::slug_dot(json!({"companySlug": "acme.io"}), "companySlug", "not allowed")]
#[case::slug_over_32_chars(json!({"companySlug": "b".repeat(33)}), "companySlug", "at most 32")]
// enums
#[case::backend_unknown(json!({"backend": "deployment"}), "backend", "`sandbox-cr`")]
#[case::sandbox_api_version_unknown(json!({"sandboxApiVersion": "v1"}), "sandboxApiVersion", "`v1beta1`")]
#[case::egress_mode_unknown(json!({"egressMode": "calico"}), "egressMode", "`cilium`")]
// adapters
#[case::adapter_type_unknown(json!({"adapterType": "acpx_local"}), "adapterType", "`claude_local`")]
#[case::adapters_not_an_array(json!({"adapters": {}}), "adapters", "array")]
#[case::declared_adapter_not_an_object(json!({"adapters": ["mine"]}), "adapters[0]", "object")]
#[case::declared_adapter_type_bad_chars(json!({"adapters": [adapter(json!({"adapterType": "My Agent"}))]}), "adapters[0].adapterType", "not allowed")]
#[case::declared_adapter_type_over_63_chars(json!({"adapters": [adapter(json!({"adapterType": "a".repeat(64)}))]}), "adapters[0].adapterType", "1-63")]
#[case::declared_adapter_without_type(json!({"adapters": [{"image": "x/y:1"}]}), "adapters[0].adapterType", "missing")]
#[case::declared_adapter_without_image(json!({"adapters": [{"adapterType": "mine"}]}), "adapters[0].image", "missing")]
#[case::declared_adapter_bad_image(json!({"adapters": [adapter(json!({"image": "Registry/Bad Image"}))]}), "adapters[0].image", "image reference")]
#[case::declared_adapter_twice(json!({"adapters": [adapter(json!({})), adapter(json!({}))]}), "adapters[1].adapterType", "twice")]
#[case::declared_env_key_starts_with_digit(json!({"adapters": [adapter(json!({"envKeys": ["1KEY"]}))]}), "adapters[0].envKeys[0]", "environment variable")]
#[case::declared_env_key_reserved(json!({"adapters": [adapter(json!({"envKeys": ["OK_KEY", "BOOTSTRAP_TOKEN"]}))]}), "adapters[0].envKeys[1]", "reserved")]
#[case::declared_fqdn_invalid(json!({"adapters": [adapter(json!({"allowFqdns": ["bad_host.example.com"]}))]}), "adapters[0].allowFqdns[0]", "bad_host")]
#[case::declared_probe_empty(json!({"adapters": [adapter(json!({"probeCommand": ""}))]}), "adapters[0].probeCommand", "empty")]
#[case::declared_default_env_bad_name(json!({"adapters": [adapter(json!({"defaultEnv": {"MY-VAR": "1"}}))]}), "adapters[0].defaultEnv.MY-VAR", "environment variable")]
#[case::declared_default_env_not_a_string(json!({"adapters": [adapter(json!({"defaultEnv": {"LEVEL": 3}}))]}), "adapters[0].defaultEnv.LEVEL", "string")]
// images
#[case::registry_with_scheme(json!({"imageRegistry": "https://registry.example.com"}), "imageRegistry", "scheme")]
#[case::registry_port_out_of_range(json!({"imageRegistry": "registry.example.com:70000/team"}), "imageRegistry", "1 to 65535")]
#[case::registry_bad_path(json!({"imageRegistry": "registry.example.com/Team"}), "imageRegistry", "path component")]
#[case::allow_list_empty_pattern(json!({"imageAllowList": ["ghcr.io/acme/*", ""]}), "imageAllowList[1]", "empty")]
#[case::allow_list_not_strings(json!({"imageAllowList": [1]}), "imageAllowList[0]", "string")]
#[case::pull_secret_not_a_subdomain(json!({"imagePullSecrets": ["ok", "My_Secret"]}), "imagePullSecrets[1]", "DNS-1123")]
// egress
#[case::fqdn_invalid(json!({"egressAllowFqdns": ["api.example.com", "exa mple.com"]}), "egressAllowFqdns[1]", "exa mple.com")]
#[case::fqdn_ip_address(json!({"egressAllowFqdns": ["10.0.0.1"]}), "egressAllowFqdns[0]", "egressAllowCidrs")]
#[case::cidr_octet_out_of_range(json!({"egressAllowCidrs": ["10.0.0.0/8", "10.0.300.0/24"]}), "egressAllowCidrs[1]", "300")]
#[case::cidr_prefix_out_of_range(json!({"egressAllowCidrs": ["10.0.0.0/33"]}), "egressAllowCidrs[0]", "prefix")]
#[case::cidr_v6_prefix_out_of_range(json!({"egressAllowCidrs": ["2001:db8::/129"]}), "egressAllowCidrs[0]", "prefix")]
#[case::cidr_entry_a_number(json!({"egressAllowCidrs": [10]}), "egressAllowCidrs[0]", "CIDR string")]
#[case::cidr_object_bad_cidr(json!({"egressAllowCidrs": [{"cidr": "10.0.0/8"}]}), "egressAllowCidrs[0].cidr", "IPv4")]
#[case::cidr_object_without_cidr(json!({"egressAllowCidrs": [{"ports": []}]}), "egressAllowCidrs[0].cidr", "missing")]
#[case::cidr_port_zero(json!({"egressAllowCidrs": [{"cidr": "10.0.0.0/8", "ports": [{"port": 0}]}]}), "egressAllowCidrs[0].ports[0].port", "greater than 0")]
#[case::cidr_port_over_65535(json!({"egressAllowCidrs": [{"cidr": "10.0.0.0/8", "ports": [{"port": 443}, {"port": 70000}]}]}), "egressAllowCidrs[0].ports[1].port", "at most 65535")]
#[case::cidr_port_as_string(json!({"egressAllowCidrs": [{"cidr": "10.0.0.0/8", "ports": [{"port": "443"}]}]}), "egressAllowCidrs[0].ports[0].port", "integer")]
#[case::cidr_port_missing(json!({"egressAllowCidrs": [{"cidr": "10.0.0.0/8", "ports": [{"protocol": "TCP"}]}]}), "egressAllowCidrs[0].ports[0].port", "missing")]
#[case::cidr_protocol_unknown(json!({"egressAllowCidrs": [{"cidr": "10.0.0.0/8", "ports": [{"port": 53, "protocol": "ICMP"}]}]}), "egressAllowCidrs[0].ports[0].protocol", "`SCTP`")]
// resources
#[case::resources_not_a_quantity(json!({"defaultResources": {"requests": {"cpu": "two", "memory": "1Gi"}}}), "defaultResources.requests.cpu", "quantity")]
#[case::resources_negative(json!({"defaultResources": {"limits": {"cpu": "-1", "memory": "1Gi"}}}), "defaultResources.limits.cpu", "negative")]
#[case::resources_memory_missing(json!({"defaultResources": {"limits": {"cpu": "2"}}}), "defaultResources.limits.memory", "missing")]
#[case::resources_quantity_a_number(json!({"defaultResources": {"limits": {"cpu": 2, "memory": "4Gi"}}}), "defaultResources.limits.cpu", "string")]
#[case::cpu_limit_below_request(json!({"defaultResources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "500m", "memory": "2Gi"}}}), "defaultResources.limits.cpu", "below")]
#[case::memory_limit_below_request(json!({"defaultResources": {"requests": {"cpu": "1", "memory": "3Gi"}, "limits": {"cpu": "2", "memory": "2Gi"}}}), "defaultResources.limits.memory", "below")]
#[case::request_above_default_limit(json!({"defaultResources": {"requests": {"cpu": "3", "memory": "1Gi"}}}), "defaultResources.requests.cpu", "below")]
// scheduling
#[case::runtime_class_not_a_subdomain(json!({"runtimeClassName": "Kata_QEMU"}), "runtimeClassName", "DNS-1123")]
#[case::node_selector_bad_key(json!({"nodeSelector": {"-os": "linux"}}), "nodeSelector.-os", "label key")]
#[case::node_selector_bad_key_prefix(json!({"nodeSelector": {"Example.com/os": "linux"}}), "nodeSelector.Example.com/os", "prefix")]
#[case::node_selector_bad_value(json!({"nodeSelector": {"os": "linux!"}}), "nodeSelector.os", "label value")]
#[case::node_selector_value_not_a_string(json!({"nodeSelector": {"gpu": true}}), "nodeSelector.gpu", "string")]
#[case::toleration_not_an_object(json!({"tolerations": ["gpu"]}), "tolerations[0]", "object")]
#[case::toleration_operator_unknown(json!({"tolerations": [{"key": "gpu", "operator": "In"}]}), "tolerations[0].operator", "`Exists`")]
#[case::toleration_exists_with_value(json!({"tolerations": [{"key": "gpu", "operator": "Exists", "value": "yes"}]}), "tolerations[0].value", "Exists")]
#[case::toleration_equal_without_key(json!({"tolerations": [{"value": "yes"}]}), "tolerations[0].operator", "Exists")]
#[case::toleration_bad_key(json!({"tolerations": [{"key": "bad key", "operator": "Exists"}]}), "tolerations[0].key", "taint key")]
#[case::toleration_effect_unknown(json!({"tolerations": [{"operator": "Exists", "effect": "NoRun"}]}), "tolerations[0].effect", "`NoExecute`")]
#[case::toleration_seconds_without_no_execute(json!({"tolerations": [{"key": "k", "value": "v", "effect": "NoSchedule", "tolerationSeconds": 30}]}), "tolerations[0].tolerationSeconds", "NoExecute")]
#[case::toleration_seconds_as_float(json!({"tolerations": [{"operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 1.5}]}), "tolerations[0].tolerationSeconds", "integer")]
#[case::annotation_bad_key(json!({"serviceAccountAnnotations": {"iam role": "x"}}), "serviceAccountAnnotations.iam role", "annotation key")]
#[case::gpu_negative(json!({"gpu": -1}), "gpu", "at least 0")]
#[case::gpu_as_float(json!({"gpu": 1.0}), "gpu", "integer")]
#[case::gpu_as_string(json!({"gpu": "1"}), "gpu", "integer")]
// workspace
#[case::workspace_not_an_object(json!({"workspace": "emptyDir"}), "workspace", "object")]
#[case::workspace_without_type(json!({"workspace": {"sizeLimit": "8Gi"}}), "workspace.type", "missing")]
#[case::workspace_type_unknown(json!({"workspace": {"type": "hostPath"}}), "workspace.type", "`pvc`")]
#[case::workspace_size_limit_not_a_quantity(json!({"workspace": {"type": "emptyDir", "sizeLimit": "8 GB"}}), "workspace.sizeLimit", "quantity")]
#[case::workspace_size_limit_zero(json!({"workspace": {"type": "emptyDir", "sizeLimit": "0"}}), "workspace.sizeLimit", "greater than 0")]
#[case::workspace_pvc_size_zero(json!({"workspace": {"type": "pvc", "size": "0Gi"}}), "workspace.size", "greater than 0")]
#[case::workspace_pvc_bad_storage_class(json!({"workspace": {"type": "pvc", "storageClass": "Fast_SSD", "size": "20Gi"}}), "workspace.storageClass", "DNS-1123")]
#[case::workspace_field_of_the_other_type(json!({"workspace": {"type": "emptyDir", "size": "20Gi"}}), "workspace.size", "unknown field")]
// durations
#[case::job_ttl_negative(json!({"jobTtlSecondsAfterFinished": -1}), "jobTtlSecondsAfterFinished", "at least 0")]
#[case::activity_deadline_zero(json!({"podActivityDeadlineSec": 0}), "podActivityDeadlineSec", "greater than 0")]
#[case::ready_timeout_zero(json!({"podReadyTimeoutSec": 0}), "podReadyTimeoutSec", "greater than 0")]
#[case::ready_timeout_as_float(json!({"podReadyTimeoutSec": 300.0}), "podReadyTimeoutSec", "integer")]
#[case::lease_max_age_zero(json!({"leaseMaxAgeSec": 0}), "leaseMaxAgeSec", "greater than 0")]
#[case::lease_max_age_as_string(json!({"leaseMaxAgeSec": "86400"}), "leaseMaxAgeSec", "integer")]
#[case::lease_max_age_over_u32(json!({"leaseMaxAgeSec": 5_000_000_000_u64}), "leaseMaxAgeSec", "at most")]
// quota
#[case::quota_pods_zero(json!({"quota": {"pods": 0}}), "quota.pods", "greater than 0")]
#[case::quota_not_a_quantity(json!({"quota": {"maxCpu": "four"}}), "quota.maxCpu", "quantity")]
#[case::quota_min_above_default_request(json!({"quota": {"minCpu": "500m"}}), "quota.minCpu", "below")]
#[case::quota_default_request_above_default(json!({"quota": {"defaultRequestCpu": "2"}}), "quota.defaultRequestCpu", "below")]
#[case::quota_max_below_default(json!({"quota": {"maxMemory": "1Gi"}}), "quota.maxMemory", "below")]
#[case::quota_default_above_max_both_given(json!({"quota": {"defaultMemory": "16Gi", "maxMemory": "8Gi"}}), "quota.maxMemory", "min <= defaultRequest <= default <= max")]
// supervisor
#[case::supervisor_not_an_object(json!({"supervisor": "ghcr.io/x/y"}), "supervisor", "object")]
#[case::supervisor_without_binary(json!({"supervisor": {"image": "ghcr.io/acme/sv:1"}}), "supervisor.binary", "missing")]
#[case::supervisor_relative_binary(json!({"supervisor": {"image": "ghcr.io/acme/sv:1", "binary": "bin/sv"}}), "supervisor.binary", "absolute")]
#[case::supervisor_binary_with_dot_dot(json!({"supervisor": {"image": "ghcr.io/acme/sv:1", "binary": "/opt/../sv"}}), "supervisor.binary", "`..`")]
#[case::supervisor_bad_image(json!({"supervisor": {"image": "ghcr.io/acme/sv:bad tag", "binary": "/sv"}}), "supervisor.image", "image reference")]
#[case::supervisor_empty_install(json!({"supervisor": {"image": "ghcr.io/acme/sv:1", "binary": "/sv", "install": []}}), "supervisor.install", "empty")]
#[case::supervisor_install_not_strings(json!({"supervisor": {"image": "ghcr.io/acme/sv:1", "binary": "/sv", "install": [1]}}), "supervisor.install[0]", "string")]
#[case::supervisor_args_not_an_array(json!({"supervisor": {"image": "ghcr.io/acme/sv:1", "binary": "/sv", "args": "--serve"}}), "supervisor.args", "array")]
// server callback
#[case::callback_bad_namespace(json!({"serverCallback": {"namespace": "Paperclip", "podLabels": {"app": "server"}, "port": 3100}}), "serverCallback.namespace", "DNS-1123")]
#[case::callback_empty_pod_labels(json!({"serverCallback": {"namespace": "paperclip", "podLabels": {}, "port": 3100}}), "serverCallback.podLabels", "empty")]
#[case::callback_bad_label_value(json!({"serverCallback": {"namespace": "paperclip", "podLabels": {"app": "-server"}, "port": 3100}}), "serverCallback.podLabels.app", "label value")]
#[case::callback_port_zero(json!({"serverCallback": {"namespace": "paperclip", "podLabels": {"app": "server"}, "port": 0}}), "serverCallback.port", "greater than 0")]
#[case::callback_port_as_string(json!({"serverCallback": {"namespace": "paperclip", "podLabels": {"app": "server"}, "port": "3100"}}), "serverCallback.port", "integer")]
#[case::callback_without_port(json!({"serverCallback": {"namespace": "paperclip", "podLabels": {"app": "server"}}}), "serverCallback.port", "missing")]
fn invalid_field_is_reported_at_its_path(
    #[case] patch: Value,
    #[case] path: &str,
    #[case] word: &str,
) {
    assert_error(&with(patch), path, word);
}

#[rstest]
#[case::array("[]", "array")]
#[case::string("\"inCluster\"", "string")]
#[case::null("null", "null")]
#[case::broken_json("{\"inCluster\": true", "not valid JSON")]
fn document_that_is_not_an_object_is_one_error_at_the_root(#[case] doc: &str, #[case] word: &str) {
    let v = validate(doc);
    assert_eq!(v.errors.len(), 1, "{}", render(&v.errors));
    assert_eq!(v.errors[0].path, "");
    assert!(
        v.errors[0].message.contains(word),
        "{}",
        v.errors[0].message
    );
    assert!(v.config.is_none());
}

#[test]
fn every_problem_is_reported_at_once() {
    let v = validate(
        &json!({
            "namespacePrefix": "-x",
            "backend": "deployment",
            "egressAllowCidrs": ["10.0.0.0/8", "10.0.0.0/8", "1.2.3.4/40"],
            "defaultResources": {"limits": {"cpu": "abc", "memory": "4Gi"}},
            "workspace": {"type": "pvc", "size": "0"},
            "gpu": "2",
            "colour": "blue",
            "quota": {"pods": 0, "burst": 1},
        })
        .to_string(),
    );
    let paths: Vec<&str> = v.errors.iter().map(|i| i.path.as_str()).collect();
    for expected in [
        "inCluster",
        "namespacePrefix",
        "backend",
        "egressAllowCidrs[2]",
        "defaultResources.limits.cpu",
        "workspace.size",
        "gpu",
        "colour",
        "quota.pods",
        "quota.burst",
    ] {
        assert!(
            paths.contains(&expected),
            "{expected} not reported; errors:\n{}",
            render(&v.errors)
        );
    }
    assert_eq!(paths.len(), 10, "{}", render(&v.errors));
    assert!(v.config.is_none());
}

#[rstest]
#[case::top_level_snake_case(json!({"in_cluster": true}), "in_cluster", "did you mean `inCluster`?")]
#[case::top_level_unrelated(json!({"timeoutMs": 5}), "timeoutMs", "`podReadyTimeoutSec`")]
#[case::in_quota(json!({"quota": {"maxCPU": "4"}}), "quota.maxCPU", "did you mean `maxCpu`?")]
#[case::in_resources(json!({"defaultResources": {"requests": {"cpu": "1", "memory": "1Gi", "gpu": "1"}}}), "defaultResources.requests.gpu", "`cpu`, `memory`")]
#[case::in_declared_adapter(json!({"adapters": [adapter(json!({"enabled": true}))]}), "adapters[0].enabled", "`adapterType`")]
#[case::in_cidr_port(json!({"egressAllowCidrs": [{"cidr": "10.0.0.0/8", "ports": [{"port": 1, "endPort": 2}]}]}), "egressAllowCidrs[0].ports[0].endPort", "`protocol`")]
#[case::in_toleration(json!({"tolerations": [{"operator": "Exists", "seconds": 1}]}), "tolerations[0].seconds", "`tolerationSeconds`")]
#[case::in_pvc_workspace(json!({"workspace": {"type": "pvc", "accessMode": "RWO"}}), "workspace.accessMode", "`storageClass`")]
#[case::in_supervisor(json!({"supervisor": {"image": "a/b:1", "binary": "/b", "env": {}}}), "supervisor.env", "`install`")]
#[case::in_server_callback(json!({"serverCallback": {"namespace": "a", "podLabels": {"a": "b"}, "port": 1, "host": "x"}}), "serverCallback.host", "`podLabels`")]
fn unknown_field_is_an_error_listing_the_valid_ones(
    #[case] patch: Value,
    #[case] path: &str,
    #[case] word: &str,
) {
    let v = with(patch);
    assert_error(&v, path, "unknown field");
    assert_error(&v, path, word);
}

#[test]
fn minimal_document_gets_every_default() {
    let (config, _) = valid(validate(r#"{"inCluster":true}"#));
    assert!(config.in_cluster);
    assert_eq!(config.kubeconfig, None);
    assert_eq!(config.namespace_prefix, "leasebox-");
    assert_eq!(config.company_slug, None);
    assert_eq!(config.backend, Backend::SandboxCr);
    assert_eq!(config.sandbox_api_version, SandboxApiVersion::V1beta1);
    assert_eq!(config.adapter_type, "claude_local");
    assert!(config.adapters.is_empty());
    assert_eq!(config.image_registry, None);
    assert!(config.image_allow_list.is_empty());
    assert!(config.image_pull_secrets.is_empty());
    assert_eq!(config.egress_mode, EgressMode::Standard);
    assert!(config.egress_allow_fqdns.is_empty());
    assert!(config.egress_allow_cidrs.is_empty());
    assert_eq!(config.default_resources.requests.cpu, "250m");
    assert_eq!(config.default_resources.requests.memory, "512Mi");
    assert_eq!(config.default_resources.limits.cpu, "2");
    assert_eq!(config.default_resources.limits.memory, "4Gi");
    assert_eq!(config.runtime_class_name, None);
    assert!(config.node_selector.is_empty());
    assert!(config.tolerations.is_empty());
    assert!(config.service_account_annotations.is_empty());
    assert_eq!(config.gpu, 0);
    assert_eq!(
        config.workspace,
        Workspace::EmptyDir {
            size_limit: "8Gi".into()
        }
    );
    assert_eq!(config.job_ttl_seconds_after_finished, 900);
    assert_eq!(config.pod_activity_deadline_sec, 3600);
    assert_eq!(config.pod_ready_timeout_sec, 300);
    assert_eq!(config.lease_max_age_sec, 86400);
    let quota = &config.quota;
    assert_eq!(quota.pods, 20);
    assert_eq!(
        [
            &quota.requests_cpu,
            &quota.requests_memory,
            &quota.limits_cpu,
            &quota.limits_memory
        ],
        ["10", "20Gi", "20", "40Gi"]
    );
    assert_eq!(
        [
            &quota.max_cpu,
            &quota.max_memory,
            &quota.min_cpu,
            &quota.min_memory
        ],
        ["4", "8Gi", "100m", "128Mi"]
    );
    assert_eq!(
        [
            &quota.default_cpu,
            &quota.default_memory,
            &quota.default_request_cpu,
            &quota.default_request_memory
        ],
        ["1", "2Gi", "250m", "512Mi"]
    );
    assert_eq!(config.supervisor, None);
    assert_eq!(config.server_callback, None);
}

#[test]
fn kubeconfig_alone_is_enough_to_connect() {
    let (config, _) = valid(validate(r#"{"kubeconfig":"/etc/kube/config"}"#));
    assert!(!config.in_cluster);
    assert_eq!(config.kubeconfig.as_deref(), Some("/etc/kube/config"));
}

#[test]
fn fqdns_are_lowercased_and_deduplicated() {
    let (config, _) = valid(with(json!({
        "egressMode": "cilium",
        "egressAllowFqdns": ["API.Example.com", "api.example.com", "*.Example.org"],
        "adapters": [adapter(json!({"allowFqdns": ["Mine.Example.com", "mine.example.com"]}))],
    })));
    assert_eq!(
        config.egress_allow_fqdns,
        ["api.example.com", "*.example.org"]
    );
    assert_eq!(config.adapters[0].allow_fqdns, ["mine.example.com"]);
}

#[test]
fn cidrs_are_canonicalised_in_the_normalized_config() {
    let (config, _) = valid(with(json!({
        "egressAllowCidrs": [
            "2001:DB8:0:0::/32",
            {"cidr": "10.0.0.0/8", "ports": [{"port": 5432}, {"port": 53, "protocol": "UDP"}]},
        ],
    })));
    assert_eq!(config.egress_allow_cidrs[0].cidr(), "2001:db8::/32");
    assert_eq!(config.egress_allow_cidrs[1].cidr(), "10.0.0.0/8");
    let ports: Vec<(u16, &str)> = config.egress_allow_cidrs[1]
        .ports()
        .iter()
        .map(|p| (p.port, p.protocol.as_str()))
        .collect();
    assert_eq!(ports, [(5432, "TCP"), (53, "UDP")]);
}

#[test]
fn declared_adapter_can_be_selected() {
    let (config, _) = valid(with(json!({
        "adapterType": "mine",
        "adapters": [adapter(json!({"envKeys": ["MINE_KEY"], "defaultEnv": {"MODE": "fast"}}))],
    })));
    assert_eq!(config.adapter_type, "mine");
    assert_eq!(config.adapters[0].env_keys, ["MINE_KEY"]);
}

#[test]
fn optional_fields_may_be_null() {
    let (config, _) = valid(with(json!({
        "kubeconfig": null,
        "companySlug": null,
        "imageRegistry": null,
        "runtimeClassName": null,
        "supervisor": null,
        "serverCallback": null,
    })));
    assert_eq!(config.kubeconfig, None);
    assert_eq!(config.supervisor, None);
}

#[test]
fn full_document_is_valid() {
    let (config, _) = valid(with(json!({
        "namespacePrefix": "tenant-",
        "companySlug": "acme",
        "backend": "job",
        "sandboxApiVersion": "v1alpha1",
        "imageRegistry": "registry.internal:5000/mirror",
        "imageAllowList": ["registry.internal:5000/mirror/*"],
        "imagePullSecrets": ["regcred"],
        "runtimeClassName": "gvisor",
        "nodeSelector": {"kubernetes.io/os": "linux", "pool": ""},
        "tolerations": [
            {"key": "dedicated", "operator": "Equal", "value": "agents", "effect": "NoSchedule"},
            {"operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60},
        ],
        "serviceAccountAnnotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/x"},
        "gpu": 1,
        "workspace": {"type": "pvc", "storageClass": "fast-ssd", "size": "20Gi"},
        "jobTtlSecondsAfterFinished": 0,
        "quota": {"pods": 5, "maxCpu": "8", "maxMemory": "16Gi"},
        "supervisor": {"image": "ghcr.io/acme/sv@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "binary": "/sv", "args": ["--serve"], "install": ["/sv", "install", "/opt/leasebox/bin"]},
        "serverCallback": {"namespace": "paperclip", "podLabels": {"app": "paperclip-server"}, "port": 3100},
    })));
    assert_eq!(config.backend, Backend::Job);
    assert_eq!(config.quota.pods, 5);
    assert_eq!(config.tolerations[1].toleration_seconds, Some(60));
}

fn has_warning(warnings: &[Issue], path: &str, word: &str) -> bool {
    warnings
        .iter()
        .any(|w| w.path == path && w.message.contains(word))
}

#[test]
fn gpu_without_runtime_class_is_a_warning() {
    let (_, warnings) = valid(with(json!({"gpu": 1})));
    assert!(
        has_warning(&warnings, "gpu", "runtimeClassName"),
        "{}",
        render(&warnings)
    );
    let (_, warnings) = valid(with(json!({"gpu": 1, "runtimeClassName": "nvidia"})));
    assert!(
        !warnings.iter().any(|w| w.path == "gpu"),
        "{}",
        render(&warnings)
    );
}

#[rstest]
#[case::limit_above_limit_range_max(
    json!({"defaultResources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "6", "memory": "4Gi"}}}),
    "defaultResources.limits.cpu",
    "quota.maxCpu"
)]
#[case::memory_limit_above_lowered_max(
    json!({"quota": {"maxMemory": "2Gi", "defaultMemory": "1Gi", "defaultRequestMemory": "256Mi"}}),
    "quota.maxMemory",
    "defaultResources.limits.memory"
)]
#[case::request_below_limit_range_min(
    json!({"defaultResources": {"requests": {"cpu": "50m", "memory": "512Mi"}, "limits": {"cpu": "2", "memory": "4Gi"}}}),
    "defaultResources.requests.cpu",
    "quota.minCpu"
)]
#[case::limit_above_quota_total(
    json!({"quota": {"limitsMemory": "2Gi"}}),
    "quota.limitsMemory",
    "ResourceQuota"
)]
fn resources_the_limit_range_would_reject_are_a_warning(
    #[case] patch: Value,
    #[case] path: &str,
    #[case] word: &str,
) {
    let (_, warnings) = valid(with(patch));
    assert!(has_warning(&warnings, path, word), "{}", render(&warnings));
    assert!(
        has_warning(&warnings, path, "reject"),
        "{}",
        render(&warnings)
    );
}

#[test]
fn default_configuration_has_no_resource_warnings() {
    let (_, warnings) = valid(validate(r#"{"inCluster":true}"#));
    assert!(
        !warnings
            .iter()
            .any(|w| w.path.starts_with("defaultResources") || w.path.starts_with("quota")),
        "{}",
        render(&warnings)
    );
}

#[test]
fn standard_mode_with_fqdns_warns_what_is_opened_instead() {
    let (_, warnings) = valid(with(json!({"egressAllowFqdns": ["api.example.com"]})));
    assert!(
        has_warning(&warnings, "egressAllowFqdns", "cilium"),
        "{}",
        render(&warnings)
    );
    let (_, warnings) = valid(with(json!({
        "egressMode": "cilium",
        "egressAllowFqdns": ["api.example.com"],
    })));
    assert!(
        !warnings
            .iter()
            .any(|w| w.path.starts_with("egressAllowFqdns")),
        "{}",
        render(&warnings)
    );
}

fn schema() -> Value {
    serde_json::from_str(&json_schema()).unwrap_or(Value::Null)
}

#[test]
fn schema_is_draft_2020_12_and_closed() {
    let schema = schema();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(schema["additionalProperties"], false);
}

#[test]
fn schema_lists_every_config_field() {
    // Every optional field set, so that serialisation shows every field.
    let (config, _) = valid(with(json!({
        "kubeconfig": "/k",
        "companySlug": "acme",
        "imageRegistry": "r.example.com",
        "runtimeClassName": "gvisor",
        "supervisor": {"image": "a/b:1", "binary": "/b"},
        "serverCallback": {"namespace": "a", "podLabels": {"a": "b"}, "port": 1},
        "warmPool": {"size": 0},
    })));
    let serialized = serde_json::to_value(&config).unwrap_or(Value::Null);
    let mut fields: Vec<&String> = serialized
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    let schema = schema();
    let mut properties: Vec<&String> = schema["properties"]
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    fields.sort();
    properties.sort();
    assert_eq!(fields.len(), 31);
    assert_eq!(properties, fields);
}

#[test]
fn fqdn_wildcard_in_standard_mode_is_a_warning_not_an_error() {
    let v =
        validate(&json!({"inCluster": true, "egressAllowFqdns": ["*.Example.com"]}).to_string());
    assert!(v.errors.is_empty(), "{:?}", v.errors);
    assert!(
        has_warning(&v.warnings, "egressAllowFqdns[0]", "wildcard"),
        "{:?}",
        v.warnings
    );
    let config = v.config.expect("valid");
    assert_eq!(config.egress_allow_fqdns, vec!["*.example.com".to_string()]);
}
