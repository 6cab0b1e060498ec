//! The `job` backend: a `batch/v1` Job that runs one command to completion.

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::context::Context;
use super::object::meta;
use super::pod_baseline;

/// The lease's Job: named after the lease, no retries (`backoffLimit` 0),
/// killed after `podActivityDeadlineSec`, garbage-collected
/// `jobTtlSecondsAfterFinished` after it ends.
pub fn job(ctx: &Context) -> Job {
    let mut metadata = meta(&ctx.lease_id, &ctx.namespace, ctx.lease_labels());
    metadata.annotations = Some(pod_baseline::workload_annotations(ctx));
    Job {
        metadata,
        spec: Some(JobSpec {
            backoff_limit: Some(0),
            ttl_seconds_after_finished: Some(saturate(ctx.config.job_ttl_seconds_after_finished)),
            active_deadline_seconds: Some(i64::from(ctx.config.pod_activity_deadline_sec)),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_baseline::pod_labels(ctx)),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod_baseline::pod_spec(ctx)),
            },
            ..JobSpec::default()
        }),
        ..Job::default()
    }
}

/// `ttlSecondsAfterFinished` is an int32; larger values mean "keep it as
/// long as possible".
fn saturate(seconds: u32) -> i32 {
    i32::try_from(seconds).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::manifests::{fixture, to_value};
    use crate::names;

    #[test]
    fn job_never_retries_and_has_deadline_and_ttl() {
        let ctx = fixture::context(json!({
            "backend": "job",
            "jobTtlSecondsAfterFinished": 120,
            "podActivityDeadlineSec": 600
        }));
        let value = to_value(&job(&ctx));
        assert_eq!(value["apiVersion"], "batch/v1");
        assert_eq!(value["kind"], "Job");
        assert_eq!(value["metadata"]["name"], ctx.lease_id.as_str());
        assert_eq!(value["spec"]["backoffLimit"], 0);
        assert_eq!(value["spec"]["ttlSecondsAfterFinished"], 120);
        assert_eq!(value["spec"]["activeDeadlineSeconds"], 600);
        assert_eq!(value["spec"]["template"]["spec"]["restartPolicy"], "Never");
    }

    #[test]
    fn job_defaults_match_the_spec() {
        let value = to_value(&job(&fixture::context(json!({ "backend": "job" }))));
        assert_eq!(value["spec"]["ttlSecondsAfterFinished"], 900);
        assert_eq!(value["spec"]["activeDeadlineSeconds"], 3600);
    }

    #[test]
    fn job_pod_template_carries_the_role_label_not_the_job() {
        let ctx = fixture::context(json!({ "backend": "job" }));
        let value = to_value(&job(&ctx));
        assert_eq!(
            value["spec"]["template"]["metadata"]["labels"][names::LABEL_ROLE],
            "agent"
        );
        assert!(value["metadata"]["labels"].get(names::LABEL_ROLE).is_none());
        assert_eq!(
            value["metadata"]["annotations"][names::ANNOTATION_RUN_ID],
            "run-42"
        );
    }

    #[test]
    fn job_ttl_beyond_int32_saturates() {
        assert_eq!(saturate(u32::MAX), i32::MAX);
        assert_eq!(saturate(900), 900);
    }
}
