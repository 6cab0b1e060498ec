//! What "ready" and "failed" mean: pure predicates over the typed objects
//! (k8s-openapi `Pod` and `Job`, the crate's own `Sandbox`) that a watch
//! delivers, read once from JSON by [`read`] or [`read_sandbox`].
//!
//! One predicate per fail-fast reason, so that acquire can stop at once with
//! a named reason instead of burning its whole readiness budget on a pod
//! that will never start.

use k8s_openapi::api::batch::v1::{Job, JobCondition};
use k8s_openapi::api::core::v1::{ContainerStateTerminated, ContainerStatus, Pod, PodCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, ObjectMeta};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::manifests::sandbox_cr::{self, Sandbox};
use crate::names;

/// Sandbox annotation naming an adopted (warm-pool) pod.
pub const ANNOTATION_SANDBOX_POD_NAME: &str = "agents.x-k8s.io/pod-name";

/// Container waiting reasons that mean the image will not be pulled
/// without a change (a fix of the reference or of the pull secret).
pub const IMAGE_PULL_REASONS: [&str; 3] = ["ErrImagePull", "ImagePullBackOff", "InvalidImageName"];

/// Where an object stands on its way to ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Not ready yet, no reason to give up.
    Pending,
    /// Ready to use.
    Ready,
    /// Will not become ready: `reason` is a short machine word
    /// (`ImagePullBackOff`), `message` says what happened.
    Failed {
        /// Short reason (`Unschedulable`, `CrashLoopBackOff`, ...).
        reason: String,
        /// What happened, with the server's own words.
        message: String,
    },
}

impl Readiness {
    fn failed(reason: &str, message: String) -> Readiness {
        Readiness::Failed {
            reason: reason.to_string(),
            message,
        }
    }
}

/// How a finished container ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerExit {
    /// `exitCode` of the terminated state (128+N for a death by signal N).
    pub code: i32,
    /// The killing signal, when known (`signal` field, or `OOMKilled`).
    pub signal: Option<u32>,
    /// `reason` of the terminated state (`Completed`, `Error`, `OOMKilled`).
    pub reason: String,
    /// `message` of the terminated state.
    pub message: String,
}

/// How a Job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// Condition `Complete` is True.
    Complete,
    /// Condition `Failed` is True.
    Failed {
        /// Its reason (`BackoffLimitExceeded`, `DeadlineExceeded`).
        reason: String,
        /// Its message.
        message: String,
    },
}

/// Reads a watched or listed object as `K` (`Pod`, `Job`): the one place
/// where JSON becomes a typed object. An object of another kind, or whose
/// fields do not have their types, is an error message that names it.
pub fn read<K>(object: Value) -> Result<K, String>
where
    K: k8s_openapi::Resource + DeserializeOwned,
{
    let what = describe_json(&object);
    serde_json::from_value(object)
        .map_err(|e| format!("{what} is not a {} {}: {e}", K::API_VERSION, K::KIND))
}

/// Reads a watched or listed object as an agent-sandbox `Sandbox` (either
/// served version), like [`read`].
pub fn read_sandbox(object: Value) -> Result<Sandbox, String> {
    let what = describe_json(&object);
    let sandbox: Sandbox = serde_json::from_value(object)
        .map_err(|e| format!("{what} is not an agent-sandbox {}: {e}", sandbox_cr::KIND))?;
    if sandbox.kind != sandbox_cr::KIND {
        return Err(format!(
            "{what} is not an agent-sandbox {}",
            sandbox_cr::KIND
        ));
    }
    Ok(sandbox)
}

/// `<kind> <name> (<apiVersion>)` of an object not read yet, for the
/// message of [`read`].
fn describe_json(object: &Value) -> String {
    let text = |value: Option<&Value>| {
        value
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or("?")
            .to_string()
    };
    format!(
        "{} {} ({})",
        text(object.get("kind")),
        text(object.get("metadata").and_then(|m| m.get("name"))),
        text(object.get("apiVersion"))
    )
}

/// `metadata.name` (empty when absent).
pub fn name_of(metadata: &ObjectMeta) -> &str {
    metadata.name.as_deref().unwrap_or("")
}

/// The pod condition of `type_` (`Ready`, `PodScheduled`), if any.
pub fn pod_condition<'a>(pod: &'a Pod, type_: &str) -> Option<&'a PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

/// The Job condition of `type_` (`Complete`, `Failed`), if any.
pub fn job_condition<'a>(job: &'a Job, type_: &str) -> Option<&'a JobCondition> {
    job.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

/// The Sandbox condition of `type_` (`Ready`), if any.
pub fn sandbox_condition<'a>(sandbox: &'a Sandbox, type_: &str) -> Option<&'a Condition> {
    sandbox
        .status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
}

/// `status.phase` of a pod (empty when absent).
pub fn pod_phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

/// The pod cannot be placed on any node: `PodScheduled` False with reason
/// `Unschedulable`.
pub fn unschedulable(pod: &Pod) -> Option<Readiness> {
    let cond = pod_condition(pod, "PodScheduled")?;
    let is_false = cond.status == "False";
    let reason = cond.reason.as_deref().unwrap_or("");
    (is_false && reason == "Unschedulable").then(|| {
        Readiness::failed(
            "Unschedulable",
            format!(
                "pod {} cannot be scheduled: {}; free capacity, fix nodeSelector/tolerations, or \
                 lower the requests",
                name_of(&pod.metadata),
                cond.message.as_deref().unwrap_or("")
            ),
        )
    })
}

fn statuses(list: Option<&Vec<ContainerStatus>>) -> &[ContainerStatus] {
    list.map(Vec::as_slice).unwrap_or(&[])
}

fn init_container_statuses(pod: &Pod) -> &[ContainerStatus] {
    statuses(
        pod.status
            .as_ref()
            .and_then(|s| s.init_container_statuses.as_ref()),
    )
}

fn app_container_statuses(pod: &Pod) -> &[ContainerStatus] {
    statuses(
        pod.status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref()),
    )
}

/// Every container status of a pod: init containers first.
fn container_statuses(pod: &Pod) -> impl Iterator<Item = (&'static str, &ContainerStatus)> {
    init_container_statuses(pod)
        .iter()
        .map(|s| ("init container", s))
        .chain(app_container_statuses(pod).iter().map(|s| ("container", s)))
}

/// `text`, or `?` when the server left it empty.
fn or_unknown(text: &str) -> &str {
    if text.is_empty() { "?" } else { text }
}

fn waiting_reason(status: &ContainerStatus) -> Option<&str> {
    status.state.as_ref()?.waiting.as_ref()?.reason.as_deref()
}

fn waiting_failure(pod: &Pod, reasons: &[&str], hint: &str) -> Option<Readiness> {
    container_statuses(pod).find_map(|(role, status)| {
        let waiting = status.state.as_ref()?.waiting.as_ref()?;
        let reason = waiting.reason.as_deref()?;
        reasons.contains(&reason).then(|| {
            let name = or_unknown(&status.name);
            let image = or_unknown(&status.image);
            let message = waiting.message.as_deref().unwrap_or("");
            Readiness::failed(
                reason,
                format!(
                    "{role} {name} of pod {} ({image}): {reason}: {message}; {hint}",
                    name_of(&pod.metadata)
                ),
            )
        })
    })
}

/// An image cannot be pulled: a container or init container waits with
/// `ErrImagePull`, `ImagePullBackOff` or `InvalidImageName`.
pub fn image_pull_failure(pod: &Pod) -> Option<Readiness> {
    waiting_failure(
        pod,
        &IMAGE_PULL_REASONS,
        "check the image reference, the registry and imagePullSecrets",
    )
}

/// A container keeps crashing: waiting with `CrashLoopBackOff`.
pub fn crash_loop(pod: &Pod) -> Option<Readiness> {
    waiting_failure(
        pod,
        &["CrashLoopBackOff"],
        "the container exits right after it starts; check its logs",
    )
}

fn nonzero(terminated: Option<&ContainerStateTerminated>) -> Option<&ContainerStateTerminated> {
    terminated.filter(|t| t.exit_code != 0)
}

/// An init container ended with a non-zero exit code (now, or in its last
/// run while it waits to be restarted).
pub fn init_container_failed(pod: &Pod) -> Option<Readiness> {
    init_container_statuses(pod).iter().find_map(|status| {
        let state = status.state.as_ref();
        let now_running = state.is_some_and(|s| s.running.is_some());
        let terminated = nonzero(state.and_then(|s| s.terminated.as_ref())).or_else(|| {
            if now_running {
                None
            } else {
                nonzero(
                    status
                        .last_state
                        .as_ref()
                        .and_then(|s| s.terminated.as_ref()),
                )
            }
        })?;
        Some(Readiness::failed(
            "InitContainerFailed",
            format!(
                "init container {} of pod {} exited with code {} ({}) {}",
                or_unknown(&status.name),
                name_of(&pod.metadata),
                terminated.exit_code,
                terminated.reason.as_deref().unwrap_or(""),
                terminated.message.as_deref().unwrap_or("")
            )
            .trim_end()
            .to_string(),
        ))
    })
}

/// The pod has failed as a whole (phase `Failed`: evicted, deadline,
/// a container that exited with restartPolicy Never).
pub fn pod_failed(pod: &Pod) -> Option<Readiness> {
    (pod_phase(pod) == "Failed").then(|| {
        let status = pod.status.as_ref();
        let reason = status
            .and_then(|s| s.reason.as_deref())
            .unwrap_or("PodFailed");
        let message = status.and_then(|s| s.message.as_deref()).unwrap_or("");
        Readiness::failed(
            if reason.is_empty() {
                "PodFailed"
            } else {
                reason
            },
            format!("pod {} failed: {reason} {message}", name_of(&pod.metadata))
                .trim_end()
                .to_string(),
        )
    })
}

/// Every fail-fast reason of a pod, first match wins.
pub fn pod_failure(pod: &Pod) -> Option<Readiness> {
    unschedulable(pod)
        .or_else(|| image_pull_failure(pod))
        .or_else(|| init_container_failed(pod))
        .or_else(|| crash_loop(pod))
        .or_else(|| pod_failed(pod))
}

/// True when the pod's `Ready` condition is True.
pub fn pod_ready(pod: &Pod) -> bool {
    pod_condition(pod, "Ready").is_some_and(|c| c.status == "True")
}

/// Readiness of a sandbox pod (`sandbox-cr`, `pod`): ready when its `Ready`
/// condition is True, failed on any fail-fast reason.
pub fn pod_readiness(pod: &Pod) -> Readiness {
    if let Some(failed) = pod_failure(pod) {
        return failed;
    }
    if pod_ready(pod) {
        Readiness::Ready
    } else {
        Readiness::Pending
    }
}

/// Readiness of a Job's pod: ready once it runs, or when it already ended
/// because its command ran (a fast job; execute reports the exit code).
/// A pod that failed before its agent container ran is a failure.
pub fn job_pod_readiness(pod: &Pod) -> Readiness {
    let agent_ran = container_exit(pod, names::AGENT_CONTAINER).is_some();
    match pod_phase(pod) {
        "Running" | "Succeeded" => match image_pull_failure(pod) {
            Some(failed) => failed,
            None => Readiness::Ready,
        },
        "Failed" if agent_ran => Readiness::Ready,
        _ => match pod_failure(pod) {
            Some(failed) => failed,
            None => Readiness::Pending,
        },
    }
}

/// Readiness of an agent-sandbox `Sandbox`: ready when its `Ready`
/// condition is True. Failures show on its pod, not here.
pub fn sandbox_readiness(sandbox: &Sandbox) -> Readiness {
    if sandbox_condition(sandbox, "Ready").is_some_and(|c| c.status == "True") {
        Readiness::Ready
    } else {
        Readiness::Pending
    }
}

/// The pod of a Sandbox, from its metadata: annotation
/// `agents.x-k8s.io/pod-name` (set when a warm-pool pod was adopted), else
/// the Sandbox's own name.
pub fn sandbox_pod_name(metadata: &ObjectMeta) -> String {
    metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ANNOTATION_SANDBOX_POD_NAME))
        .map(String::as_str)
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| name_of(metadata))
        .to_string()
}

/// How a Job ended, once condition `Complete` or `Failed` is True.
pub fn job_finished(job: &Job) -> Option<JobOutcome> {
    let is_true = |type_: &str| job_condition(job, type_).filter(|c| c.status == "True");
    if is_true("Complete").is_some() {
        return Some(JobOutcome::Complete);
    }
    let cond = is_true("Failed")?;
    Some(JobOutcome::Failed {
        reason: cond.reason.clone().unwrap_or_default(),
        message: cond.message.clone().unwrap_or_default(),
    })
}

/// How `container` of a pod ended, from its terminated state.
/// `OOMKilled` is a death by SIGKILL (9); an explicit `signal` field wins.
pub fn container_exit(pod: &Pod, container: &str) -> Option<ContainerExit> {
    let status = app_container_statuses(pod)
        .iter()
        .find(|s| s.name == container)?;
    let terminated = status.state.as_ref()?.terminated.as_ref()?;
    let code = terminated.exit_code;
    let reason = terminated.reason.clone().unwrap_or_default();
    let signal = terminated
        .signal
        .and_then(|s| u32::try_from(s).ok())
        .filter(|s| *s != 0)
        .or_else(|| (reason == "OOMKilled").then_some(9));
    let code = match signal {
        // Some runtimes report 0 or the raw signal for an OOM kill; the
        // contract is 128+N for a death by signal N.
        Some(sig) if code <= 128 => i32::try_from(sig)
            .ok()
            .and_then(|sig| sig.checked_add(128))
            .unwrap_or(code),
        _ => code,
    };
    Some(ContainerExit {
        code,
        signal,
        reason,
        message: terminated.message.clone().unwrap_or_default(),
    })
}

/// One line describing where a pod stands, for progress logs
/// (`Pending: ContainerCreating`).
pub fn pod_summary(pod: &Pod) -> String {
    let phase = match pod_phase(pod) {
        "" => "Pending",
        p => p,
    };
    let waiting: Vec<&str> = container_statuses(pod)
        .filter_map(|(_, s)| waiting_reason(s))
        .collect();
    if let Some(cond) = pod_condition(pod, "PodScheduled")
        && cond.status == "False"
    {
        return format!(
            "{phase}: not scheduled ({})",
            cond.reason.as_deref().unwrap_or("")
        );
    }
    if waiting.is_empty() {
        let ready = if pod_ready(pod) { "ready" } else { "not ready" };
        format!("{phase}, {ready}")
    } else {
        format!("{phase}: {}", waiting.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_job_read_as_a_pod_is_an_error_that_names_it() {
        let job = json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "lb-1"},
        });
        let err = read::<Pod>(job).expect_err("a Job is not a Pod");
        assert!(
            err.starts_with("Job lb-1 (batch/v1) is not a v1 Pod: "),
            "{err}"
        );
    }

    #[test]
    fn a_value_that_is_no_object_is_an_error() {
        let err = read::<Pod>(json!("Pod")).expect_err("a string is not a Pod");
        assert!(err.starts_with("? ? (?) is not a v1 Pod: "), "{err}");
    }

    #[test]
    fn a_pod_with_mistyped_fields_is_an_error() {
        let pod = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p"},
            "status": {"containerStatuses": "not a list"},
        });
        assert!(read::<Pod>(pod).is_err());
    }

    #[test]
    fn a_pod_read_as_a_sandbox_is_an_error() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}});
        let err = read_sandbox(pod).expect_err("a Pod is not a Sandbox");
        assert!(
            err.starts_with("Pod p (v1) is not an agent-sandbox Sandbox"),
            "{err}"
        );
    }

    #[test]
    fn a_bare_pod_is_pending_and_names_no_failure() {
        let pod: Pod = read(json!({"apiVersion": "v1", "kind": "Pod"})).expect("a pod");
        assert_eq!(pod_readiness(&pod), Readiness::Pending);
        assert_eq!(pod_summary(&pod), "Pending, not ready");
        assert_eq!(container_exit(&pod, names::AGENT_CONTAINER), None);
    }
}
