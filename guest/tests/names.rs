//! Names and labels: slugs, namespaces, lease ids, label values.

use leasebox_policy::config::Config;
use leasebox_policy::names::{
    self, check_lease_id, company_slug, is_dns1123_label, is_dns1123_subdomain, is_label_value,
    label_value, lease_labels, namespace, short_hash, tenant_labels, tenant_namespace,
};
use rstest::rstest;

fn config(json: serde_json::Value) -> Config {
    serde_json::from_value(json).expect("test config deserializes")
}

/// Inputs that stress slugging: unicode, emoji, symbols, long, dashes.
fn hostile_inputs() -> Vec<String> {
    let mut inputs: Vec<String> = [
        "",
        "-",
        "---",
        "Acme Inc.",
        "ACME",
        "acme--corp",
        "-leading-and-trailing-",
        "Ünïcödé GmbH",
        "日本語の会社",
        "🚀🚀🚀",
        "rocket 🚀 co",
        "İstanbul",
        "a/b\\c:d@e",
        "tab\tnew\nline",
        "   ",
        "0",
        "9-lives",
        "x",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    inputs.push("a".repeat(100));
    inputs.push("-".repeat(100) + "z");
    inputs.push("ab-".repeat(40));
    inputs.push("é".repeat(70));
    inputs.push("Company With A Very Long Legal Name That Goes On And On Incorporated Ltd".into());
    // Pseudo-random printable strings (deterministic LCG).
    let alphabet: Vec<char> = "aZ09-_. /🚀é日-".chars().collect();
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    for len in 0..80 {
        let mut s = String::new();
        for _ in 0..len {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            s.push(alphabet[(seed >> 33) as usize % alphabet.len()]);
        }
        inputs.push(s);
    }
    inputs
}

#[rstest]
#[case::lowercases("ACME", "acme")]
#[case::symbol_runs_become_one_dash("Acme,  Inc.", "acme-inc")]
#[case::existing_dashes_kept("acme--corp", "acme--corp")]
#[case::trimmed("--acme--", "acme")]
#[case::empty_is_company("", "company")]
#[case::all_symbols_is_company("🚀🚀", "company")]
#[case::unicode_letters_replaced("Ünïcödé", "n-c-d")]
fn company_slug_rules(#[case] input: &str, #[case] expected: &str) {
    assert_eq!(company_slug(input), expected);
}

#[test]
fn company_slug_over_63_chars_is_cut_with_hash_of_raw_id() {
    let raw = "A".repeat(100);
    let slug = company_slug(&raw);
    assert_eq!(slug.len(), 63);
    assert_eq!(slug, format!("{}-{}", "a".repeat(54), short_hash(&raw)));
}

#[test]
fn short_hash_is_sha256_prefix() {
    // sha256("abc") = ba7816bf...
    assert_eq!(short_hash("abc"), "ba7816bf");
}

#[test]
fn namespace_over_63_chars_is_hashed_with_longest_prefix() {
    let prefix = "p".repeat(31) + "-"; // 32 chars, the longest allowed prefix
    let company = "Big Company ".repeat(10);
    let config = config(serde_json::json!({"inCluster": true, "namespacePrefix": prefix}));
    let ns = tenant_namespace(&config, &company);
    assert_eq!(ns.len(), 63, "{ns}");
    assert!(is_dns1123_label(&ns), "{ns}");
    assert!(ns.starts_with(&prefix), "{ns}");
    assert!(ns.ends_with(&format!("-{}", short_hash(&company))), "{ns}");
}

#[test]
fn namespace_hash_suffix_trims_dash_before_suffix() {
    // The cut would end on `-`: it is trimmed before the suffix.
    let prefix = "leasebox-";
    let company = format!("{}-{}", "a".repeat(44), "b".repeat(30)); // cut at 45 = `...a-`
    let config = config(serde_json::json!({"inCluster": true, "namespacePrefix": prefix}));
    let ns = tenant_namespace(&config, &company);
    assert_eq!(
        ns,
        format!("leasebox-{}-{}", "a".repeat(44), short_hash(&company))
    );
}

#[test]
fn long_company_ids_that_share_a_prefix_get_distinct_namespaces() {
    let config = config(serde_json::json!({"inCluster": true}));
    let a = tenant_namespace(&config, &("x".repeat(80) + "1"));
    let b = tenant_namespace(&config, &("x".repeat(80) + "2"));
    assert_ne!(a, b);
    assert_eq!(
        a,
        tenant_namespace(&config, &("x".repeat(80) + "1")),
        "stable"
    );
}

#[test]
fn short_company_fits_without_hash() {
    let config = config(serde_json::json!({"inCluster": true}));
    assert_eq!(tenant_namespace(&config, "Acme Inc."), "leasebox-acme-inc");
}

#[test]
fn configured_company_slug_wins_over_company_id() {
    let config = config(serde_json::json!({"inCluster": true, "companySlug": "team-a"}));
    assert_eq!(
        tenant_namespace(&config, "Whatever Corp"),
        "leasebox-team-a"
    );
}

#[test]
fn namespace_is_a_valid_label_for_every_input() {
    let prefixes = [
        "leasebox-".to_string(),
        String::new(),
        "-bad-".to_string(),
        "p".repeat(31) + "-",
        "UPPER_".to_string(),
        "x".repeat(70),
    ];
    for prefix in &prefixes {
        let config = config(serde_json::json!({"inCluster": true, "namespacePrefix": prefix}));
        for input in hostile_inputs() {
            let ns = tenant_namespace(&config, &input);
            assert!(
                is_dns1123_label(&ns),
                "prefix {prefix:?} input {input:?} -> {ns:?}"
            );
            let direct = namespace(prefix, &input);
            assert!(
                is_dns1123_label(&direct),
                "prefix {prefix:?} slug {input:?} -> {direct:?}"
            );
        }
    }
}

#[test]
fn company_slug_is_a_valid_label_for_every_input() {
    for input in hostile_inputs() {
        let slug = company_slug(&input);
        assert!(is_dns1123_label(&slug), "{input:?} -> {slug:?}");
    }
}

#[test]
fn namespace_joins_valid_parts_unchanged() {
    assert_eq!(namespace("leasebox-", "acme"), "leasebox-acme");
}

#[rstest]
#[case::empty_slug_becomes_company("leasebox-", "", "leasebox-company")]
#[case::leading_dash_prefix_trimmed("-x-", "acme", "x-acme")]
#[case::invalid_chars_repaired("Lease_Box-", "Acme", "lease-box-acme")]
fn namespace_repairs_invalid_parts(
    #[case] prefix: &str,
    #[case] slug: &str,
    #[case] expected: &str,
) {
    assert_eq!(namespace(prefix, slug), expected);
}

#[rstest]
#[case::valid("lb-01j9zsxk6q8m4v2r7t5w3y1n0c")]
#[case::first_char_seven("lb-7zzzzzzzzzzzzzzzzzzzzzzzzz")]
fn lease_id_accepted(#[case] id: &str) {
    assert_eq!(check_lease_id(id), Ok(()));
}

#[rstest]
#[case::no_prefix("01j9zsxk6q8m4v2r7t5w3y1n0c")]
#[case::wrong_prefix("pc-01j9zsxk6q8m4v2r7t5w3y1n0c")]
#[case::too_short("lb-01j9zsxk6q8m4v2r7t5w3y1n0")]
#[case::too_long("lb-01j9zsxk6q8m4v2r7t5w3y1n0cc")]
#[case::uppercase("lb-01J9ZSXK6Q8M4V2R7T5W3Y1N0C")]
#[case::letter_i("lb-01j9zsxk6q8m4v2r7t5w3y1nic")]
#[case::letter_u("lb-01j9zsxk6q8m4v2r7t5w3y1nuc")]
#[case::overflow("lb-81j9zsxk6q8m4v2r7t5w3y1n0c")]
#[case::unicode("lb-01j9zsxk6q8m4v2r7t5w3y1né")]
#[case::empty("")]
fn lease_id_rejected_with_format(#[case] id: &str) {
    let err = check_lease_id(id).expect_err("must be rejected");
    assert!(
        err.contains("`lb-` followed by 26 lowercase Crockford base32"),
        "{err}"
    );
}

#[rstest]
#[case::kept("run-123_a.b", "run-123_a.b")]
#[case::mixed_case_kept("RunID", "RunID")]
#[case::invalid_chars_to_dash("run id/1", "run-id-1")]
#[case::ends_trimmed("_-.run.-_", "run")]
#[case::empty_stays_empty("", "")]
#[case::only_symbols_empty("🚀", "")]
fn label_value_rules(#[case] raw: &str, #[case] expected: &str) {
    assert_eq!(label_value(raw), expected);
}

#[test]
fn long_label_values_stay_distinct_and_valid() {
    let a = format!("{}-a", "r".repeat(80));
    let b = format!("{}-b", "r".repeat(80));
    let (la, lb) = (label_value(&a), label_value(&b));
    assert_ne!(la, lb);
    assert_eq!(la.len(), 63);
    assert!(la.ends_with(&short_hash(&a)));
    assert!(is_label_value(&la) && is_label_value(&lb));
}

#[test]
fn label_value_is_valid_for_every_input() {
    for input in hostile_inputs() {
        let v = label_value(&input);
        assert!(is_label_value(&v), "{input:?} -> {v:?}");
    }
}

#[rstest]
#[case::simple("abc", true)]
#[case::digits_first("0abc", true)]
#[case::inner_dash("a-b", true)]
#[case::max_len(&"a".repeat(63), true)]
#[case::too_long(&"a".repeat(64), false)]
#[case::empty("", false)]
#[case::leading_dash("-a", false)]
#[case::trailing_dash("a-", false)]
#[case::uppercase("Abc", false)]
#[case::dot("a.b", false)]
#[case::underscore("a_b", false)]
fn dns1123_label(#[case] s: &str, #[case] valid: bool) {
    assert_eq!(is_dns1123_label(s), valid);
}

#[rstest]
#[case::single("abc", true)]
#[case::dotted("a.b-c.d", true)]
#[case::max_len(&format!("{}.{}", "a".repeat(126), "b".repeat(126)), true)]
#[case::too_long(&format!("{}.{}", "a".repeat(126), "b".repeat(127)), false)]
#[case::empty_part("a..b", false)]
#[case::trailing_dot("a.", false)]
#[case::dash_end_of_part("a-.b", false)]
#[case::uppercase("A.b", false)]
fn dns1123_subdomain(#[case] s: &str, #[case] valid: bool) {
    assert_eq!(is_dns1123_subdomain(s), valid);
}

#[test]
fn tenant_labels_are_managed_by_and_company() {
    let labels = tenant_labels("Acme Inc.");
    assert_eq!(labels.len(), 2);
    assert_eq!(labels[names::LABEL_MANAGED_BY], "leasebox");
    assert_eq!(labels[names::LABEL_COMPANY_ID], "Acme-Inc");
}

#[test]
fn lease_labels_are_sanitized() {
    let labels = lease_labels(
        "lb-01j9zsxk6q8m4v2r7t5w3y1n0c",
        "run 1/2",
        "Acme Inc.",
        "claude_local",
    );
    assert_eq!(labels.len(), 5);
    assert_eq!(labels[names::LABEL_MANAGED_BY], "leasebox");
    assert_eq!(labels[names::LABEL_LEASE], "lb-01j9zsxk6q8m4v2r7t5w3y1n0c");
    assert_eq!(labels[names::LABEL_RUN_ID], "run-1-2");
    assert_eq!(labels[names::LABEL_COMPANY_ID], "Acme-Inc");
    assert_eq!(labels[names::LABEL_ADAPTER], "claude_local");
    assert!(labels.values().all(|v| is_label_value(v)));
}
