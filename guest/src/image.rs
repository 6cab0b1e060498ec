//! Image references: parsing, allow-list globs, registry rewrite, pull
//! policy.

mod candidate;
mod glob;
mod reference;

use crate::adapters::Adapter;
use crate::config::document::Config;
use crate::config::document::Issue;
use crate::error::PolicyError;

pub use candidate::{ImageCandidate, ImageSource};
pub use glob::glob_match;
pub use reference::{ImageRef, MAX_NAME_LEN, MAX_TAG_LEN, parse};

/// Splits and checks a registry `host[:port][/path]` (no scheme).
///
/// The host must read as a registry (contain `.` or `:`, or be
/// `localhost`), otherwise images under it would be taken for Docker Hub
/// paths.
pub fn parse_registry(registry: &str) -> Result<(String, Option<String>), String> {
    let trimmed = registry.trim().trim_end_matches('/');
    if trimmed.is_empty() {
        return Err("registry is empty: give `host[:port][/path]`".into());
    }
    if let Some((scheme, rest)) = trimmed.split_once("://") {
        return Err(format!(
            "registry `{registry}` has a scheme `{scheme}://`: image references take none; use `{rest}`"
        ));
    }
    let (host, path) = match trimmed.split_once('/') {
        Some((h, p)) => (h, Some(p)),
        None => (trimmed, None),
    };
    if !reference::looks_like_registry(host) {
        return Err(format!(
            "registry `{registry}`: `{host}` would be read as a Docker Hub organisation, not a \
             registry host; use a name with a dot or a port (`{host}.local`, `{host}:5000`) or `localhost`"
        ));
    }
    reference::check_registry_host(host)?;
    if let Some(path) = path {
        reference::check_path(path).map_err(|e| format!("registry `{registry}`: {e}"))?;
    }
    Ok((host.to_string(), path.map(str::to_string)))
}

/// Replaces the registry (and organisation) of `image` with `registry`.
///
/// `registry` is `host[:port][/path]`; the image's registry and its first
/// path component (the organisation) are replaced, the rest of the path,
/// the tag and the digest are kept. A single-component image
/// (`busybox:1`) keeps its name under the registry.
pub fn rewrite_registry(image: &str, registry: &str) -> Result<String, String> {
    let parsed = parse(image)?;
    let (host, registry_path) = parse_registry(registry)?;
    let rest = match parsed.repository.split_once('/') {
        Some((_organisation, rest)) => rest.to_string(),
        None => parsed.repository.clone(),
    };
    let repository = match registry_path {
        Some(prefix) => format!("{prefix}/{rest}"),
        None => rest,
    };
    let rewritten = ImageRef {
        registry: Some(host),
        repository,
        tag: parsed.tag,
        digest: parsed.digest,
    }
    .to_string();
    // The joined name may exceed the length limit: check the result.
    parse(&rewritten).map_err(|e| format!("rewriting `{image}` to registry `{registry}`: {e}"))?;
    Ok(rewritten)
}

/// `IfNotPresent` for digests and pinned tags, `Always` for `latest` and
/// untagged references.
///
/// An unparsable reference (which cannot run anyway) gets `Always`.
pub fn pull_policy(image: &str) -> &'static str {
    match parse(image) {
        Ok(ImageRef {
            digest: Some(_), ..
        }) => "IfNotPresent",
        Ok(ImageRef { tag: Some(tag), .. }) if tag != "latest" => "IfNotPresent",
        _ => "Always",
    }
}

/// The adapter's image, rewritten to `imageRegistry` when one is set.
pub fn adapter_image(config: &Config, adapter: &Adapter) -> Result<String, PolicyError> {
    match &config.image_registry {
        Some(registry) => rewrite_registry(&adapter.image, registry).map_err(|e| {
            PolicyError::InvalidConfig(vec![Issue::new(
                "imageRegistry",
                format!(
                    "cannot rewrite the image of adapter `{}`: {e}",
                    adapter.adapter_type
                ),
            )])
        }),
        None => Ok(adapter.image.clone()),
    }
}

/// The default image policy: an override must match a pattern of
/// `imageAllowList` (an empty list allows none); the adapter's image is
/// the operator's own choice and always admitted.
pub fn check_allow_list(candidate: &ImageCandidate<'_>) -> Result<(), PolicyError> {
    if candidate.source == ImageSource::Adapter {
        return Ok(());
    }
    let image = candidate.image;
    let allow_list = &candidate.config.image_allow_list;
    if allow_list.is_empty() {
        return Err(PolicyError::NotAllowed(format!(
            "image override `{image}`: imageAllowList is empty, so no override is allowed; \
             add a pattern that matches it (e.g. `{}`) to imageAllowList or drop the override",
            suggest_pattern(image)
        )));
    }
    if !allow_list.iter().any(|pattern| glob_match(pattern, image)) {
        return Err(PolicyError::NotAllowed(format!(
            "image override `{image}` matches no pattern of imageAllowList [{}] \
             (`*` and `?` never match `/`, the whole reference must match); \
             add a matching pattern or use an allowed image",
            allow_list.join(", ")
        )));
    }
    Ok(())
}

/// An allow-list pattern for the image's repository (`host/org/*`).
fn suggest_pattern(image: &str) -> String {
    let name = image.split(['@']).next().unwrap_or(image);
    match name.rfind('/') {
        Some(slash) => format!("{}/*", &name[..slash]),
        None => "*".to_string(),
    }
}
