//! The example policy of `examples/policies/digest-pinned/`, built for
//! wasm32-wasip2 and run in the host: a custom module built on the policy
//! library answers like the default module everywhere but the one hook it
//! overrides, which refuses images not pinned by digest.

use std::sync::OnceLock;

use leasebox::contract as wit;
use leasebox::contract::Contract;
use leasebox::runtime::Policy;
use rstest::rstest;
use serde_json::{Value, json};

use crate::example_policy_module::example_policy_module;
use crate::support::{default_policy, offline, runtime};

const LEASE_ID: &str = "lb-01jd5z8k9m0000000000000000";
const NOW: &str = "2025-01-02T03:04:05Z";
const DIGEST: &str = "sha256:4b3c9a8f1e2d5c6b7a8f9e0d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a6f7e8d9c0b";

/// The example module, loaded once per test process.
fn example() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| {
        runtime()
            .load_file(example_policy_module())
            .expect("the example policy loads")
    })
}

/// A configuration of `backend` whose allow-list admits `ghcr.io/acme/*`.
fn config(backend: &str) -> Value {
    json!({
        "inCluster": true,
        "backend": backend,
        "egressAllowFqdns": ["pypi.org"],
        "imageAllowList": ["ghcr.io/acme/*"],
    })
}

fn request(config: &Value, image_override: Option<&str>) -> wit::LeaseRequest {
    wit::LeaseRequest {
        config: config.to_string(),
        company_id: "Acme Corp".into(),
        run_id: "run-1".into(),
        lease_id: LEASE_ID.into(),
        now: NOW.into(),
        adapter_type: None,
        image_override: image_override.map(str::to_string),
        command: Some(wit::Command::Argv(vec![
            "sh".into(),
            "-c".into(),
            "echo hi".into(),
        ])),
    }
}

#[allow(clippy::result_large_err)] // the contract's own error type, as generated
fn plan(policy: &Policy, request: &wit::LeaseRequest) -> Result<Vec<String>, wit::PolicyError> {
    policy
        .plan(&offline(), request)
        .expect("the module does not trap")
}

#[test]
fn example_is_a_module_of_the_current_contract() {
    assert_eq!(example().contract(), Contract::CURRENT);
}

#[rstest]
#[case::minimal(json!({"inCluster": true}).to_string())]
#[case::allow_list(config("job").to_string())]
#[case::many_errors(json!({
    "backend": "vm",
    "egressAllowCidrs": ["10.0.0.0/33"],
    "imageAllowList": [""],
    "surprise": true
}).to_string())]
#[case::not_json("{not json".to_string())]
fn validate_config_answers_like_the_default_module(#[case] document: String) {
    let through_example = example()
        .validate_config(&offline(), &document)
        .expect("the example does not trap");
    let through_default = default_policy()
        .validate_config(&offline(), &document)
        .expect("the default module does not trap");
    assert_eq!(through_example, through_default);
}

#[test]
fn config_schema_is_the_default_modules() {
    let through_example = example()
        .config_schema(&offline())
        .expect("the example does not trap");
    let through_default = default_policy()
        .config_schema(&offline())
        .expect("the default module does not trap");
    assert_eq!(through_example, through_default);
}

#[rstest]
fn digest_pinned_image_plans_exactly_like_the_default_module(
    #[values("sandbox-cr", "job", "pod")] backend: &str,
) {
    let pinned = format!("ghcr.io/acme/agent:1.2.3@{DIGEST}");
    let request = request(&config(backend), Some(&pinned));
    let through_example = plan(example(), &request);
    assert!(through_example.is_ok(), "{through_example:?}");
    assert_eq!(through_example, plan(default_policy(), &request));
}

#[rstest]
#[case::tag_only_override(
    Some("ghcr.io/acme/agent:1.2.3"),
    "image override `ghcr.io/acme/agent:1.2.3`"
)]
#[case::tagged_adapter_image(None, "of adapter `claude_local`")]
fn unpinned_image_is_not_allowed_with_the_fix_while_the_default_module_plans(
    #[case] image_override: Option<&str>,
    #[case] names: &str,
) {
    let request = request(&config("pod"), image_override);
    let through_default = plan(default_policy(), &request);
    assert!(through_default.is_ok(), "{through_default:?}");
    match plan(example(), &request) {
        Err(wit::PolicyError::NotAllowed(message)) => {
            assert!(message.contains(names), "{message}");
            assert!(message.contains("not pinned by digest"), "{message}");
            assert!(message.contains("pin it: `"), "{message}");
            assert!(message.contains("@sha256:<64 hex digits>`"), "{message}");
        }
        other => panic!("expected not-allowed, got {other:?}"),
    }
}
