//! Image references: parsing, allow-list globs, registry rewrite, pull
//! policy, resolution.

use leasebox_policy::adapters::Adapter;
use leasebox_policy::config::Config;
use leasebox_policy::error::PolicyError;
use leasebox_policy::hooks::DefaultHooks;
use leasebox_policy::image::{
    ImageRef, glob_match, parse, parse_registry, pull_policy, rewrite_registry,
};
use leasebox_policy::plan::resolve;
use rstest::rstest;

const SHA: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn image(
    registry: Option<&str>,
    repository: &str,
    tag: Option<&str>,
    digest: Option<&str>,
) -> ImageRef {
    ImageRef {
        registry: registry.map(str::to_string),
        repository: repository.to_string(),
        tag: tag.map(str::to_string),
        digest: digest.map(str::to_string),
    }
}

#[rstest]
#[case::single_component("busybox", image(None, "busybox", None, None))]
#[case::single_with_tag("busybox:1.36", image(None, "busybox", Some("1.36"), None))]
#[case::hub_org(
    "library/busybox:latest",
    image(None, "library/busybox", Some("latest"), None)
)]
#[case::registry_dot(
    "ghcr.io/paperclipai/agent-runtime-claude:v1",
    image(Some("ghcr.io"), "paperclipai/agent-runtime-claude", Some("v1"), None)
)]
#[case::registry_port_untagged(
    "host:5000/org/img",
    image(Some("host:5000"), "org/img", None, None)
)]
#[case::registry_port_tagged(
    "host:5000/org/img:2",
    image(Some("host:5000"), "org/img", Some("2"), None)
)]
#[case::localhost("localhost/img", image(Some("localhost"), "img", None, None))]
#[case::ipv6_registry("[::1]:5000/img:x", image(Some("[::1]:5000"), "img", Some("x"), None))]
#[case::digest_only(&format!("ghcr.io/a/b@{SHA}"), image(Some("ghcr.io"), "a/b", None, Some(SHA)))]
#[case::tag_and_digest(&format!("ghcr.io/a/b:v1@{SHA}"), image(Some("ghcr.io"), "a/b", Some("v1"), Some(SHA)))]
#[case::separators(
    "a/b.c_d__e---f:T_a.g-1",
    image(None, "a/b.c_d__e---f", Some("T_a.g-1"), None)
)]
#[case::deep_path("reg.io/a/b/c/d:1", image(Some("reg.io"), "a/b/c/d", Some("1"), None))]
fn parse_accepts(#[case] reference: &str, #[case] expected: ImageRef) {
    let parsed = parse(reference).expect("valid reference");
    assert_eq!(parsed, expected);
    assert_eq!(parsed.to_string(), reference, "display round-trips");
}

#[rstest]
#[case::empty("")]
#[case::uppercase_path("ghcr.io/Org/img")]
#[case::first_uppercase_not_registry("Org/img")]
#[case::empty_component("ghcr.io/a//b")]
#[case::trailing_slash("ghcr.io/a/")]
#[case::leading_separator("ghcr.io/-a/b")]
#[case::trailing_separator("ghcr.io/a_/b")]
#[case::triple_underscore("a___b")]
#[case::tag_leading_dot("img:.v1")]
#[case::tag_too_long(&format!("img:{}", "a".repeat(129)))]
#[case::empty_tag("img:")]
#[case::bad_port("host:99999/img")]
#[case::port_letters("host:http/img")]
#[case::digest_short("img@sha256:abc")]
#[case::digest_uppercase(&format!("img@{}", SHA.to_uppercase()))]
#[case::digest_no_algo("img@0123456789abcdef0123456789abcdef")]
#[case::space("img :v1")]
#[case::name_too_long(&format!("reg.io/{}", "a".repeat(250)))]
#[case::registry_only("ghcr.io/")]
fn parse_rejects(#[case] reference: &str) {
    let err = parse(reference).expect_err("invalid reference");
    assert!(err.contains("image reference"), "{err}");
}

#[test]
fn parse_error_names_the_component() {
    let err = parse("ghcr.io/Org/img").expect_err("uppercase");
    assert!(err.contains("`Org`") && err.contains("lowercase"), "{err}");
}

#[rstest]
#[case::star_in_component("ghcr.io/paperclipai/*", "ghcr.io/paperclipai/agent:v1", true)]
#[case::star_covers_digest("ghcr.io/paperclipai/*", &format!("ghcr.io/paperclipai/agent@{SHA}"), true)]
#[case::star_never_crosses_slash("ghcr.io/paperclipai/*", "ghcr.io/paperclipai/sub/img:v1", false)]
#[case::star_matches_empty("ghcr.io/a/img*", "ghcr.io/a/img", true)]
#[case::two_stars("*/*/img:*", "ghcr.io/a/img:v1", true)]
#[case::question_one_char("img:v?", "img:v1", true)]
#[case::question_not_two("img:v?", "img:v10", false)]
#[case::question_not_slash("a?b", "a/b", false)]
#[case::whole_string("ghcr.io/a/img", "ghcr.io/a/img:v1", false)]
#[case::whole_string_prefix("a/img:v1", "ghcr.io/a/img:v1", false)]
#[case::case_sensitive("ghcr.io/A/*", "ghcr.io/a/img", false)]
#[case::dot_is_literal("ghcr.io/a/*", "ghcrxio/a/img", false)]
#[case::exact_literal("busybox:1.36", "busybox:1.36", true)]
#[case::empty_pattern("", "", true)]
#[case::empty_pattern_value("", "x", false)]
#[case::star_alone("*", "busybox:1", true)]
#[case::star_alone_not_path("*", "a/busybox:1", false)]
#[case::backtracking("*a*b", "xaybzab", true)]
fn glob(#[case] pattern: &str, #[case] value: &str, #[case] matches: bool) {
    assert_eq!(glob_match(pattern, value), matches);
}

#[rstest]
#[case::replaces_registry_and_org(
    "ghcr.io/paperclipai/agent-runtime-claude:v1",
    "registry.corp",
    "registry.corp/agent-runtime-claude:v1"
)]
#[case::registry_with_path(
    "ghcr.io/paperclipai/agent:v1",
    "registry.corp/mirror/ai",
    "registry.corp/mirror/ai/agent:v1"
)]
#[case::registry_port_untagged_image(
    "ghcr.io/org/img",
    "mirror.local:5000",
    "mirror.local:5000/img"
)]
#[case::image_registry_port_untagged("host:5000/org/img", "mirror.local", "mirror.local/img")]
#[case::both_ports_untagged("host:5000/org/img", "mirror.local:5000/x", "mirror.local:5000/x/img")]
#[case::digest_kept(&format!("ghcr.io/org/img@{SHA}"), "mirror.local:5000", &format!("mirror.local:5000/img@{SHA}"))]
#[case::tag_and_digest_kept(&format!("ghcr.io/org/img:v2@{SHA}"), "mirror.local:5000", &format!("mirror.local:5000/img:v2@{SHA}"))]
#[case::deep_path_kept("ghcr.io/org/team/img:1", "mirror.local", "mirror.local/team/img:1")]
#[case::single_component_keeps_name(
    "busybox:1",
    "mirror.local:5000/lib",
    "mirror.local:5000/lib/busybox:1"
)]
#[case::hub_org_replaced("library/busybox:1", "mirror.local", "mirror.local/busybox:1")]
#[case::trailing_slash_ignored("ghcr.io/org/img:1", "mirror.local/", "mirror.local/img:1")]
fn rewrite(#[case] image: &str, #[case] registry: &str, #[case] expected: &str) {
    assert_eq!(rewrite_registry(image, registry).as_deref(), Ok(expected));
}

#[rstest]
#[case::scheme("https://mirror.local", "scheme")]
#[case::not_a_host("mirror/path", "Docker Hub organisation")]
#[case::bad_port("mirror.local:0", "port")]
#[case::bad_path("mirror.local/Bad", "lowercase")]
#[case::empty("", "empty")]
fn registry_rejected(#[case] registry: &str, #[case] says: &str) {
    let err = parse_registry(registry).expect_err("invalid registry");
    assert!(err.contains(says), "{err}");
    assert!(rewrite_registry("ghcr.io/org/img:1", registry).is_err());
}

#[test]
fn rewrite_rejects_invalid_image() {
    assert!(rewrite_registry("Bad Image", "mirror.local").is_err());
}

#[rstest]
#[case::digest(&format!("img@{SHA}"), "IfNotPresent")]
#[case::latest_with_digest(&format!("img:latest@{SHA}"), "IfNotPresent")]
#[case::pinned_tag("img:v1.2.3", "IfNotPresent")]
#[case::latest("img:latest", "Always")]
#[case::untagged("img", "Always")]
#[case::untagged_with_port("host:5000/img", "Always")]
#[case::port_and_tag("host:5000/img:1", "IfNotPresent")]
#[case::unparsable("Not An Image", "Always")]
fn pull_policies(#[case] image: &str, #[case] policy: &str) {
    assert_eq!(pull_policy(image), policy);
}

fn config(json: serde_json::Value) -> Config {
    let mut base = serde_json::json!({"inCluster": true});
    if let (Some(b), Some(extra)) = (base.as_object_mut(), json.as_object()) {
        b.extend(extra.clone());
    }
    serde_json::from_value(base).expect("test config deserializes")
}

fn adapter() -> Adapter {
    Adapter {
        adapter_type: "claude_local".into(),
        image: "ghcr.io/paperclipai/agent-runtime-claude:v1".into(),
        env_keys: vec!["ANTHROPIC_API_KEY".into()],
        allow_fqdns: vec!["api.anthropic.com".into()],
        probe_command: None,
        default_env: Default::default(),
    }
}

#[test]
fn resolve_uses_adapter_image_without_registry() {
    let c = config(serde_json::json!({}));
    assert_eq!(
        resolve::image(&DefaultHooks, &c, &adapter(), None),
        Ok(adapter().image)
    );
}

#[test]
fn resolve_rewrites_adapter_image_to_registry() {
    let c = config(serde_json::json!({"imageRegistry": "mirror.local:5000/ai"}));
    assert_eq!(
        resolve::image(&DefaultHooks, &c, &adapter(), None).as_deref(),
        Ok("mirror.local:5000/ai/agent-runtime-claude:v1")
    );
}

#[test]
fn resolve_reports_bad_registry_at_its_path() {
    let c = config(serde_json::json!({"imageRegistry": "https://mirror.local"}));
    match resolve::image(&DefaultHooks, &c, &adapter(), None) {
        Err(PolicyError::InvalidConfig(issues)) => assert_eq!(issues[0].path, "imageRegistry"),
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
}

#[test]
fn override_matching_allow_list_is_used_as_given() {
    let c = config(serde_json::json!({
        "imageRegistry": "mirror.local",
        "imageAllowList": ["docker.io/other/*", "ghcr.io/acme/*"]
    }));
    assert_eq!(
        resolve::image(&DefaultHooks, &c, &adapter(), Some("ghcr.io/acme/agent:v2")).as_deref(),
        Ok("ghcr.io/acme/agent:v2")
    );
}

#[test]
fn override_with_empty_allow_list_is_not_allowed() {
    let c = config(serde_json::json!({}));
    match resolve::image(&DefaultHooks, &c, &adapter(), Some("ghcr.io/acme/agent:v2")) {
        Err(PolicyError::NotAllowed(msg)) => {
            assert!(msg.contains("ghcr.io/acme/agent:v2"), "{msg}");
            assert!(msg.contains("imageAllowList is empty"), "{msg}");
            assert!(msg.contains("ghcr.io/acme/*"), "suggests a pattern: {msg}");
        }
        other => panic!("expected NotAllowed, got {other:?}"),
    }
}

#[test]
fn override_not_matching_names_image_and_list() {
    let c = config(serde_json::json!({"imageAllowList": ["ghcr.io/acme/*"]}));
    match resolve::image(
        &DefaultHooks,
        &c,
        &adapter(),
        Some("ghcr.io/acme/sub/agent:v2"),
    ) {
        Err(PolicyError::NotAllowed(msg)) => {
            assert!(msg.contains("ghcr.io/acme/sub/agent:v2"), "{msg}");
            assert!(msg.contains("[ghcr.io/acme/*]"), "{msg}");
            assert!(msg.contains("add a matching pattern"), "{msg}");
        }
        other => panic!("expected NotAllowed, got {other:?}"),
    }
}

#[test]
fn invalid_override_is_a_bad_request() {
    let c = config(serde_json::json!({"imageAllowList": ["*"]}));
    assert!(matches!(
        resolve::image(&DefaultHooks, &c, &adapter(), Some("Bad Image")),
        Err(PolicyError::BadRequest(_))
    ));
}
