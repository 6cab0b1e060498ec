//! Acquire fails fast, names the reason, and leaves nothing behind when the
//! pod can never start.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::case::Case;

/// Well under `podReadyTimeoutSec` (120 s in the test configuration): a
/// fail-fast reason must not wait for the readiness budget.
const FAIL_FAST_LIMIT: Duration = Duration::from_secs(60);

fn acquire_fails_fast(company: &str, overrides: Value, command: &[&str], reasons: &[&str]) {
    let Some(case) = Case::start(company) else {
        return;
    };
    let config = case.config(overrides);
    let output = case.try_acquire(&config, command);
    output.assert_code(1);
    assert!(
        reasons.iter().any(|r| output.stderr.contains(r)),
        "stderr names one of {reasons:?}\n{}",
        output.describe()
    );
    assert!(
        output.stdout.is_empty(),
        "no lease on stdout\n{}",
        output.describe()
    );
    assert!(
        output.elapsed < FAIL_FAST_LIMIT,
        "acquire took {:?} to fail; it must fail fast, not wait for the readiness timeout",
        output.elapsed
    );
    case.finish();
}

#[test]
fn unpullable_image_fails_fast_with_the_reason_and_leaves_nothing() {
    acquire_fails_fast(
        "fail-image",
        json!({ "backend": "pod", "adapterType": "busybox-missing" }),
        &[],
        &["ErrImagePull", "ImagePullBackOff"],
    );
}

#[test]
fn unschedulable_pod_fails_fast_with_the_reason_and_leaves_nothing() {
    acquire_fails_fast(
        "fail-unschedulable",
        json!({ "backend": "pod", "nodeSelector": { "leasebox.dev/none": "true" } }),
        &[],
        &["Unschedulable"],
    );
}

#[test]
fn unpullable_image_of_a_job_fails_fast_and_leaves_nothing() {
    acquire_fails_fast(
        "fail-image-job",
        json!({ "backend": "job", "adapterType": "busybox-missing" }),
        &["true"],
        &["ErrImagePull", "ImagePullBackOff"],
    );
}
