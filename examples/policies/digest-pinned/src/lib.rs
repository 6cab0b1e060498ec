//! A leasebox policy that runs only images pinned by digest
//! (`image@sha256:<64 hex>`): the default policy with one hook overridden.
//!
//! ```sh
//! cargo build -p leasebox-policy-digest-pinned --target wasm32-wasip2 --release
//! leasebox plan --policy target/wasm32-wasip2/release/leasebox_policy_digest_pinned.wasm ...
//! ```

use leasebox_policy::error::PolicyError;
use leasebox_policy::hooks::{DefaultHooks, Hooks};
use leasebox_policy::image::{ImageCandidate, ImageSource, parse};

/// The default policy, except that an image must be pinned by a SHA-256
/// digest, whether it is the request's override or the adapter's own.
#[derive(Debug, Clone, Copy, Default)]
pub struct DigestPinned;

impl Hooks for DigestPinned {
    /// The default check first (an override must match `imageAllowList`),
    /// then the pin.
    fn image_policy(&self, candidate: &ImageCandidate<'_>) -> Result<(), PolicyError> {
        DefaultHooks.image_policy(candidate)?;
        if pinned_by_sha256(candidate.image) {
            return Ok(());
        }
        let image = candidate.image;
        let which = match candidate.source {
            ImageSource::Override => format!("image override `{image}`"),
            ImageSource::Adapter => format!(
                "image `{image}` of adapter `{}`",
                candidate.adapter.adapter_type
            ),
        };
        Err(PolicyError::NotAllowed(format!(
            "{which} is not pinned by digest, and this policy runs only pinned images; \
             pin it: `{image}@sha256:<64 hex digits>` (the digest the registry reports for it)"
        )))
    }
}

/// True when `image` carries a `sha256:` digest of 64 hex digits.
pub fn pinned_by_sha256(image: &str) -> bool {
    parse(image)
        .ok()
        .and_then(|reference| reference.digest)
        .and_then(|digest| digest.strip_prefix("sha256:").map(str::to_string))
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

leasebox_policy::export_policy!(DigestPinned);

#[cfg(test)]
mod tests {
    use leasebox_policy::lease::{Command, LeaseRequest};
    use leasebox_policy::plan::{plan, plan_with};
    use serde_json::json;

    use super::*;

    const DIGEST: &str = "sha256:4b3c9a8f1e2d5c6b7a8f9e0d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a6f7e8d9c0b";

    fn request(image_override: Option<&str>) -> LeaseRequest {
        LeaseRequest {
            config: json!({ "inCluster": true, "imageAllowList": ["ghcr.io/acme/*"] }).to_string(),
            company_id: "Acme Corp".into(),
            run_id: "run-1".into(),
            lease_id: "lb-01jd8x7k2m3n4p5q6r7s8t9v0w".into(),
            now: "2026-11-23T10:00:00Z".into(),
            adapter_type: None,
            image_override: image_override.map(str::to_string),
            command: Some(Command::Shell("true".into())),
        }
    }

    fn refusal(request: &LeaseRequest) -> String {
        match plan_with(&DigestPinned, request) {
            Err(PolicyError::NotAllowed(message)) => message,
            other => panic!("expected NotAllowed, got {other:?}"),
        }
    }

    #[test]
    fn tag_only_override_is_not_allowed_and_the_message_names_the_pin() {
        let message = refusal(&request(Some("ghcr.io/acme/agent:1.2.3")));
        assert!(message.contains("`ghcr.io/acme/agent:1.2.3`"), "{message}");
        assert!(
            message.contains("ghcr.io/acme/agent:1.2.3@sha256:"),
            "{message}"
        );
    }

    #[test]
    fn unpinned_adapter_image_is_not_allowed() {
        let message = refusal(&request(None));
        assert!(message.contains("of adapter `claude_local`"), "{message}");
        assert!(message.contains("@sha256:"), "{message}");
    }

    #[test]
    fn digest_pinned_override_plans_exactly_like_the_default_policy() {
        let pinned = format!("ghcr.io/acme/agent:1.2.3@{DIGEST}");
        let request = request(Some(&pinned));
        let planned = plan_with(&DigestPinned, &request).expect("a pinned image plans");
        assert_eq!(Ok(planned), plan(&request));
    }

    #[test]
    fn pinned_override_outside_the_allow_list_is_refused_by_the_allow_list() {
        let message = refusal(&request(Some(&format!("docker.io/evil/agent@{DIGEST}"))));
        assert!(message.contains("imageAllowList"), "{message}");
    }

    #[test]
    fn only_a_sha256_digest_counts_as_a_pin() {
        assert!(pinned_by_sha256(&format!("busybox@{DIGEST}")));
        assert!(!pinned_by_sha256("busybox:1.36"));
        assert!(!pinned_by_sha256(&format!(
            "busybox@sha512:{}",
            "a".repeat(128)
        )));
        assert!(!pinned_by_sha256("Not An Image"));
    }
}
