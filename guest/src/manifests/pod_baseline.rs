//! The pod every backend runs (SPEC §4): one security baseline
//! (`security`), one volume layout (`volumes`), one PID 1 rule and the
//! containers that follow it (`containers`). `sandbox_cr`, `job` and `pod`
//! only wrap it.

mod containers;
mod security;
mod volumes;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{LocalObjectReference, PodSpec, Toleration};

use super::context::Context;
use crate::config::Backend;
use crate::names;

pub use containers::{GPU_RESOURCE, binary_name};
use containers::{agent_container, supervisor_install};
pub use security::AGENT_UID;
use security::pod_security_context;
use volumes::volumes;
pub use volumes::{
    BIN_PATH, BIN_SIZE, BIN_VOLUME, CACHE_PATH, CACHE_SIZE, CACHE_VOLUME, HOME_PATH, HOME_SIZE,
    HOME_VOLUME, TMP_PATH, TMP_SIZE, TMP_VOLUME, WORKSPACE_PATH, WORKSPACE_VOLUME,
};

/// Grace period: `sleep infinity` dies on SIGTERM, so release is quick.
pub const TERMINATION_GRACE_SECONDS: i64 = 5;

/// Labels of the agent pod: the lease labels plus the role label the egress
/// policies select.
pub fn pod_labels(ctx: &Context) -> BTreeMap<String, String> {
    let mut labels = ctx.lease_labels();
    labels.insert(names::LABEL_ROLE.to_string(), names::ROLE_AGENT.to_string());
    labels
}

/// Annotations of the workload: raw ids, times and image, read back by
/// resume and sweep; and what the lease allows beyond `execute` when the
/// configuration narrows it (terminals off, narrowed file roots), read back
/// by those calls, which get no configuration. The defaults are written as
/// no annotation, so a default lease carries none.
pub fn workload_annotations(ctx: &Context) -> BTreeMap<String, String> {
    let mut annotations: BTreeMap<String, String> = [
        (names::ANNOTATION_COMPANY_ID, &ctx.company_id),
        (names::ANNOTATION_RUN_ID, &ctx.run_id),
        (names::ANNOTATION_CREATED_AT, &ctx.now),
        (names::ANNOTATION_EXPIRES_AT, &ctx.expires_at),
        (names::ANNOTATION_IMAGE, &ctx.image),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.clone()))
    .collect();
    if !ctx.config.terminals.enabled {
        annotations.insert(
            names::ANNOTATION_TERMINALS.to_string(),
            names::TERMINALS_DISABLED.to_string(),
        );
    }
    if ctx.config.files != crate::config::Files::default() {
        annotations.insert(
            names::ANNOTATION_FILE_ROOTS.to_string(),
            serde_json::Value::from(ctx.config.files.roots.clone()).to_string(),
        );
    }
    annotations
}

/// The pod spec of the lease's backend.
///
/// `sandbox-cr` and `pod` share the process namespace so that the pause
/// container reaps orphaned exec children, and run `sleep infinity` (or the
/// side-loaded supervisor); `job` runs the request's command. The restart
/// policy is `Always` for a Sandbox and `Never` otherwise. These are the
/// default rules: the policy's `shape_pod` hook has the last word, given
/// the workload's spec by `manifests::workload`.
pub fn pod_spec(ctx: &Context) -> PodSpec {
    let backend = ctx.config.backend;
    let supervisor = match backend {
        Backend::SandboxCr | Backend::Pod => ctx.config.supervisor.as_ref(),
        // A Job runs the request's command, so there is nothing to supervise.
        Backend::Job => None,
    };
    let agent = agent_container(ctx, supervisor);

    PodSpec {
        service_account_name: Some(names::SERVICE_ACCOUNT.to_string()),
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        restart_policy: Some(
            match backend {
                Backend::SandboxCr => "Always",
                Backend::Job | Backend::Pod => "Never",
            }
            .to_string(),
        ),
        share_process_namespace: match backend {
            Backend::SandboxCr | Backend::Pod => Some(true),
            Backend::Job => None,
        },
        termination_grace_period_seconds: Some(TERMINATION_GRACE_SECONDS),
        security_context: Some(pod_security_context()),
        init_containers: supervisor.map(|s| vec![supervisor_install(ctx, s)]),
        containers: vec![agent],
        volumes: Some(volumes(ctx, supervisor.is_some())),
        runtime_class_name: ctx.config.runtime_class_name.clone(),
        image_pull_secrets: non_empty(
            ctx.config
                .image_pull_secrets
                .iter()
                .map(|name| LocalObjectReference { name: name.clone() })
                .collect(),
        ),
        node_selector: (!ctx.config.node_selector.is_empty())
            .then(|| ctx.config.node_selector.clone()),
        tolerations: non_empty(ctx.config.tolerations.iter().map(toleration).collect()),
        ..PodSpec::default()
    }
}

/// A configured toleration as a Kubernetes one.
fn toleration(t: &crate::config::Toleration) -> Toleration {
    Toleration {
        key: t.key.clone(),
        operator: t.operator.clone(),
        value: t.value.clone(),
        effect: t.effect.clone(),
        toleration_seconds: t.toleration_seconds,
    }
}

/// `None` for an empty list (the field is left out).
fn non_empty<T>(items: Vec<T>) -> Option<Vec<T>> {
    (!items.is_empty()).then_some(items)
}

#[cfg(test)]
mod tests;
