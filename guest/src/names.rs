//! Names and labels: company slugs, namespaces, lease ids, label values.

mod lease_id;

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

pub use lease_id::check_lease_id;

use crate::config::document::Config;

/// ServiceAccount of the agent pods.
pub const SERVICE_ACCOUNT: &str = "leasebox-agent";
/// Role granting `get pods/log`.
pub const ROLE: &str = "leasebox-agent";
/// RoleBinding of [`ROLE`] to [`SERVICE_ACCOUNT`].
pub const ROLE_BINDING: &str = "leasebox-agent";
/// Tenant ResourceQuota.
pub const RESOURCE_QUOTA: &str = "leasebox-quota";
/// Tenant LimitRange.
pub const LIMIT_RANGE: &str = "leasebox-limits";
/// NetworkPolicy denying all ingress and egress.
pub const DENY_ALL_POLICY: &str = "leasebox-deny-all";
/// Legacy (0.1) tenant-wide NetworkPolicy of the `standard` egress mode,
/// which selected every agent pod of the namespace. Egress is per lease
/// since 0.2 ([`egress_policy_name`]); acquire deletes this one.
pub const EGRESS_POLICY: &str = "leasebox-egress";
/// Legacy (0.1) tenant-wide CiliumNetworkPolicy of the `cilium` egress
/// mode. Egress is per lease since 0.2 ([`egress_policy_name`]); acquire
/// deletes this one.
pub const CILIUM_EGRESS_POLICY: &str = "leasebox-egress-fqdn";
/// The agent container.
pub const AGENT_CONTAINER: &str = "agent";
/// The supervisor side-load init container.
pub const SUPERVISOR_INIT_CONTAINER: &str = "leasebox-supervisor-install";

/// `app.kubernetes.io/managed-by`.
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// Value of [`LABEL_MANAGED_BY`].
pub const MANAGED_BY: &str = "leasebox";
/// Lease id label.
pub const LABEL_LEASE: &str = "leasebox.dev/lease";
/// Run id label (sanitized).
pub const LABEL_RUN_ID: &str = "leasebox.dev/run-id";
/// Company id label (sanitized).
pub const LABEL_COMPANY_ID: &str = "leasebox.dev/company-id";
/// Adapter label.
pub const LABEL_ADAPTER: &str = "leasebox.dev/adapter";
/// Pod role label of agent pods (the egress policies select the lease
/// label, [`LABEL_LEASE`], instead).
pub const LABEL_ROLE: &str = "leasebox.dev/role";
/// Value of [`LABEL_ROLE`] on agent pods.
pub const ROLE_AGENT: &str = "agent";

/// Annotation: unsanitized company id.
pub const ANNOTATION_COMPANY_ID: &str = "leasebox.dev/company-id";
/// Annotation: unsanitized run id.
pub const ANNOTATION_RUN_ID: &str = "leasebox.dev/run-id";
/// Annotation: RFC 3339 creation time.
pub const ANNOTATION_CREATED_AT: &str = "leasebox.dev/created-at";
/// Annotation: RFC 3339 deadline read by `sweep`.
pub const ANNOTATION_EXPIRES_AT: &str = "leasebox.dev/expires-at";
/// Annotation: agent image.
pub const ANNOTATION_IMAGE: &str = "leasebox.dev/image";
/// Annotation the host stamps on every workload it applies: the SHA-256
/// (hex) of the policy module that applied it (`MODULE_ANNOTATION` of the
/// host's guard).
pub const ANNOTATION_MODULE_SHA256: &str = "leasebox.dev/module-sha256";
/// Annotation on the tenant Namespace, written once the tenant objects are
/// converged: the SHA-256 (hex) of those objects as rendered, a space and
/// the RFC 3339 time of that convergence.
pub const ANNOTATION_TENANT_APPLIED: &str = "leasebox.dev/tenant-applied";
/// Annotation on a workload whose configuration disables terminals
/// (`terminals.enabled: false`): [`TERMINALS_DISABLED`]. Absent: allowed.
/// The contract's calls carry no configuration, so what a lease allows is
/// recorded on its workload at acquire time and read back by each call.
pub const ANNOTATION_TERMINALS: &str = "leasebox.dev/terminals";
/// Value of [`ANNOTATION_TERMINALS`].
pub const TERMINALS_DISABLED: &str = "disabled";
/// Annotation on a workload whose configuration narrows the file roots
/// (`files.roots`): the roots as a JSON array of strings. Absent: the
/// default roots.
pub const ANNOTATION_FILE_ROOTS: &str = "leasebox.dev/file-roots";
/// Annotation on the planned Secret: keys the host fills.
pub const ANNOTATION_HOST_FILLED_KEYS: &str = "leasebox.dev/host-filled-keys";

/// Longest DNS-1123 label (namespaces, most object names) and label value.
pub const MAX_LABEL_LEN: usize = 63;
/// Longest DNS-1123 subdomain.
pub const MAX_SUBDOMAIN_LEN: usize = 253;
/// Slug of an empty or all-symbol company id.
pub const FALLBACK_SLUG: &str = "company";
/// Length of the hash suffix (`-` + 8 hex) of a cut name.
const HASH_SUFFIX_LEN: usize = 9;

/// The first 8 hex digits of SHA-256 of `input`.
pub fn short_hash(input: &str) -> String {
    let digest = Sha256::digest(input.as_bytes());
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// Lowercases and turns every run of characters outside `[a-z0-9-]` into
/// one `-` (no trimming).
fn squash_to_dns(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut in_run = false;
    for c in raw.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('-');
            in_run = true;
        }
    }
    out
}

/// Cuts `s` (ASCII) to at most `max - 9` chars, trims trailing characters
/// that may not end a name, and appends `-` + 8 hex of SHA-256 of `hashed`.
fn cut_with_hash(s: &str, max: usize, hashed: &str, may_end: fn(char) -> bool) -> String {
    let keep = max.saturating_sub(HASH_SUFFIX_LEN);
    let cut: String = s.chars().take(keep).collect();
    let cut = cut.trim_end_matches(|c: char| !may_end(c));
    let hash = short_hash(hashed);
    if cut.is_empty() {
        hash
    } else {
        format!("{cut}-{hash}")
    }
}

/// Slug of `company_id` of at most `max_len` characters (at least 10 is
/// needed for a hash suffix; below that the plain slug is cut).
pub fn company_slug_within(company_id: &str, max_len: usize) -> String {
    let squashed = squash_to_dns(company_id);
    let slug = squashed.trim_matches('-');
    let slug = if slug.is_empty() { FALLBACK_SLUG } else { slug };
    if slug.len() <= max_len {
        return slug.to_string();
    }
    if max_len <= HASH_SUFFIX_LEN {
        let cut: String = slug.chars().take(max_len).collect();
        return cut.trim_end_matches('-').to_string();
    }
    cut_with_hash(slug, max_len, company_id, |c| c != '-')
}

/// Slug of a company id: lowercase, `[^a-z0-9-]` runs to `-`, trimmed,
/// `company` when empty; long slugs cut and suffixed with 8 hex of SHA-256.
///
/// On its own the slug fits a DNS-1123 label (63 chars);
/// [`tenant_namespace`] cuts it further so that prefix + slug fit.
pub fn company_slug(company_id: &str) -> String {
    company_slug_within(company_id, MAX_LABEL_LEN)
}

/// The namespace prefix as it is used: squashed to `[a-z0-9-]`, no leading
/// `-` (a valid prefix is unchanged).
fn clean_prefix(prefix: &str) -> String {
    squash_to_dns(prefix).trim_start_matches('-').to_string()
}

/// `prefix + slug`, always a valid DNS-1123 label of at most 63 chars.
///
/// A valid prefix and a slug that fit are joined unchanged. Anything else is
/// repaired rather than refused: invalid characters become `-`, an empty slug
/// becomes `company`, and a name over 63 chars is cut and suffixed with 8 hex
/// of SHA-256 of `prefix + slug`.
pub fn namespace(prefix: &str, slug: &str) -> String {
    let prefix = clean_prefix(prefix);
    let squashed = squash_to_dns(slug);
    let slug = squashed.trim_matches('-');
    let slug = if slug.is_empty() { FALLBACK_SLUG } else { slug };
    let full = format!("{prefix}{slug}");
    if full.len() <= MAX_LABEL_LEN {
        return full;
    }
    cut_with_hash(&full, MAX_LABEL_LEN, &format!("{prefix}{slug}"), |c| {
        c != '-'
    })
}

/// The tenant namespace of a company under a configuration.
///
/// Uses `companySlug` when set, else the slug of the company id cut so that
/// prefix + slug fit in 63 chars (the hash suffix is of the raw company id,
/// so distinct long ids stay distinct).
pub fn tenant_namespace(config: &Config, company_id: &str) -> String {
    let prefix = &config.namespace_prefix;
    match &config.company_slug {
        Some(slug) => namespace(prefix, slug),
        None => {
            let budget = MAX_LABEL_LEN.saturating_sub(clean_prefix(prefix).len());
            if budget <= HASH_SUFFIX_LEN {
                // Prefix too long to leave room for a slug + hash: let
                // `namespace` cut the whole name.
                namespace(prefix, &company_slug(company_id))
            } else {
                namespace(prefix, &company_slug_within(company_id, budget))
            }
        }
    }
}

/// Per-run Secret name: `<lease>-env`.
/// Label of a warm-pool pod naming its pool (kept after a claim).
pub const LABEL_POOL: &str = "leasebox.dev/pool";

/// Role label value of an unclaimed pool pod: no egress policy selects it.
pub const ROLE_POOL: &str = "pool";

/// Annotation of a pool pod: the hash of the pod it was built as, so a pod
/// of another configuration is never handed out.
pub const ANNOTATION_POOL_SPEC: &str = "leasebox.dev/pool-spec";

/// The pool of an adapter and image: `pool-` + 8 hex of both.
pub fn pool_name(adapter_type: &str, image: &str) -> String {
    format!("pool-{}", short_hash(&format!("{adapter_type}\n{image}")))
}

/// Name of pool pod `index` of `pool`.
pub fn pool_pod_name(pool: &str, index: u32) -> String {
    format!("{pool}-{index}")
}

/// True for the name of a pool pod (`pool-<8 hex>-<index>`): a lease whose
/// pod has such a name came from the pool.
pub fn is_pool_pod_name(name: &str) -> bool {
    let mut parts = name.splitn(3, '-');
    let (Some("pool"), Some(hash), Some(index)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    hash.len() == 8
        && hash
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        && !index.is_empty()
        && index.bytes().all(|b| b.is_ascii_digit())
}

pub fn secret_name(lease_id: &str) -> String {
    format!("{lease_id}-env")
}

/// Per-lease egress policy name (NetworkPolicy or CiliumNetworkPolicy):
/// `<lease>-egress`. A lease id is 29 chars, so the name is a DNS-1123
/// label well within the 253 chars of an object name.
pub fn egress_policy_name(lease_id: &str) -> String {
    format!("{lease_id}-egress")
}

/// PVC name of a `pod`/`job` workspace: `<lease>-workspace`.
pub fn workspace_claim_name(lease_id: &str) -> String {
    format!("{lease_id}-workspace")
}

fn is_label_value_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// Sanitizes a string into a label value (<= 63, `[A-Za-z0-9._-]`,
/// alphanumeric ends).
///
/// Other characters become `-`; non-alphanumeric ends are trimmed; a value
/// over 63 chars is cut and suffixed with 8 hex of SHA-256 of `raw`, so
/// distinct long inputs stay distinct. An empty result is a valid (empty)
/// label value.
pub fn label_value(raw: &str) -> String {
    let mapped: String = raw
        .chars()
        .map(|c| if is_label_value_char(c) { c } else { '-' })
        .collect();
    let trimmed = mapped.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if trimmed.len() <= MAX_LABEL_LEN {
        return trimmed.to_string();
    }
    cut_with_hash(trimmed, MAX_LABEL_LEN, raw, |c| c.is_ascii_alphanumeric())
}

/// True for a valid label value: empty, or <= 63 chars of `[A-Za-z0-9._-]`
/// with alphanumeric ends.
pub fn is_label_value(s: &str) -> bool {
    if s.is_empty() {
        return true;
    }
    s.len() <= MAX_LABEL_LEN
        && s.chars().all(is_label_value_char)
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?` with no length limit.
fn is_dns_label_shape(s: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !s.is_empty()
        && s.chars().all(|c| alnum(c) || c == '-')
        && s.starts_with(alnum)
        && s.ends_with(alnum)
}

/// True for a DNS-1123 label: 1-63 chars of `[a-z0-9-]`, alphanumeric ends.
pub fn is_dns1123_label(s: &str) -> bool {
    s.len() <= MAX_LABEL_LEN && is_dns_label_shape(s)
}

/// True for a DNS-1123 subdomain: at most 253 chars, dot-separated parts of
/// `[a-z0-9-]` with alphanumeric ends (the Kubernetes rule for most object
/// names).
pub fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= MAX_SUBDOMAIN_LEN && s.split('.').all(is_dns_label_shape)
}

/// Labels of tenant objects.
pub fn tenant_labels(company_id: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_MANAGED_BY.to_string(), MANAGED_BY.to_string()),
        (LABEL_COMPANY_ID.to_string(), label_value(company_id)),
    ])
}

/// Labels of a lease's objects (workload, pod template, Secret).
pub fn lease_labels(
    lease_id: &str,
    run_id: &str,
    company_id: &str,
    adapter_type: &str,
) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_MANAGED_BY.to_string(), MANAGED_BY.to_string()),
        (LABEL_LEASE.to_string(), label_value(lease_id)),
        (LABEL_RUN_ID.to_string(), label_value(run_id)),
        (LABEL_COMPANY_ID.to_string(), label_value(company_id)),
        (LABEL_ADAPTER.to_string(), label_value(adapter_type)),
    ])
}
