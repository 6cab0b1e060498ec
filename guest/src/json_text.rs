//! The JSON text of a manifest, as it crosses the boundary: the `plan`
//! export's answer and the bodies of `kube::apply` and `kube::create`.
//!
//! `Value`'s `Display` (what `to_string()` calls) writes through
//! `core::fmt`: every token serde_json emits is a call through the
//! formatter's `dyn Write` into the `String`. In the module each of those is
//! an indirect call, and they were a quarter of a `plan` (BENCHMARKS.md,
//! P1). [`json_text`] has serde_json write the same text straight into a
//! byte buffer.

use serde_json::Value;

/// The compact JSON text of `value`: the same text as `value.to_string()`.
pub fn json_text(value: &Value) -> String {
    // Writing a `Value` into a `Vec` cannot fail (its map keys are strings
    // and the buffer takes every write); should it ever, `Display` writes
    // the same text.
    serde_json::to_string(value).unwrap_or_else(|_| value.to_string())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn text_is_what_display_writes() {
        let value = json!({
            "kind": "Pod",
            "metadata": {"name": "lb-1", "labels": {"a/b": "c"}, "annotations": {}},
            "escaped": "quote \" backslash \\ newline \n tab \t nul \u{0} bell \u{7}",
            "unicode": "é ✓ 𝄞",
            "numbers": [0, -1, 1.5, 1e300, u64::MAX, i64::MIN],
            "empty": [[], {}, "", null, true, false],
        });
        assert_eq!(json_text(&value), value.to_string());
    }

    #[test]
    fn every_planned_manifest_has_the_text_display_writes() {
        let request = crate::lease::LeaseRequest {
            config: json!({
                "inCluster": true,
                "backend": "sandbox-cr",
                "egressMode": "cilium",
                "egressAllowFqdns": ["api.github.com"],
                "workspace": {"type": "pvc", "size": "20Gi"},
            })
            .to_string(),
            company_id: "Acme Corp".into(),
            run_id: "run-1".into(),
            lease_id: "lb-01jd8x7k2m3n4p5q6r7s8t9v0w".into(),
            now: "2026-11-23T10:00:00Z".into(),
            adapter_type: None,
            image_override: None,
            command: None,
        };
        let manifests = crate::plan::plan(&request).expect("the request plans");
        assert!(manifests.len() >= 8, "{}", manifests.len());
        for manifest in &manifests {
            assert_eq!(json_text(manifest), manifest.to_string());
        }
    }
}
