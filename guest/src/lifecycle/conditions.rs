//! What "ready" and "failed" mean: pure predicates over the objects (JSON,
//! as the apiserver returns them) that a watch delivers.
//!
//! One predicate per fail-fast reason, so that acquire can stop at once with
//! a named reason instead of burning its whole readiness budget on a pod
//! that will never start.

use serde_json::Value;

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
    /// `exitCode` of the terminated state.
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

fn str_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = value;
    for key in path {
        cur = cur.get(*key)?;
    }
    cur.as_str()
}

fn array_at<'a>(value: &'a Value, path: &[&str]) -> &'a [Value] {
    let mut cur = value;
    for key in path {
        match cur.get(*key) {
            Some(next) => cur = next,
            None => return &[],
        }
    }
    cur.as_array().map(Vec::as_slice).unwrap_or(&[])
}

/// The object's `metadata.name` (empty when absent).
pub fn name_of(object: &Value) -> &str {
    str_at(object, &["metadata", "name"]).unwrap_or("")
}

/// The condition of `type` in `status.conditions`, if any.
pub fn condition<'a>(object: &'a Value, type_: &str) -> Option<&'a Value> {
    array_at(object, &["status", "conditions"])
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(type_))
}

/// True when the condition of `type` has status `True`.
pub fn condition_true(object: &Value, type_: &str) -> bool {
    condition(object, type_)
        .and_then(|c| c.get("status"))
        .and_then(Value::as_str)
        == Some("True")
}

fn condition_text(cond: &Value, key: &str) -> String {
    cond.get(key)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// `status.phase` of a pod (empty when absent).
pub fn pod_phase(pod: &Value) -> &str {
    str_at(pod, &["status", "phase"]).unwrap_or("")
}

/// The pod cannot be placed on any node: `PodScheduled` False with reason
/// `Unschedulable`.
pub fn unschedulable(pod: &Value) -> Option<Readiness> {
    let cond = condition(pod, "PodScheduled")?;
    let is_false = cond.get("status").and_then(Value::as_str) == Some("False");
    let reason = condition_text(cond, "reason");
    (is_false && reason == "Unschedulable").then(|| {
        Readiness::failed(
            "Unschedulable",
            format!(
                "pod {} cannot be scheduled: {}; free capacity, fix nodeSelector/tolerations, or \
                 lower the requests",
                name_of(pod),
                condition_text(cond, "message")
            ),
        )
    })
}

/// Every container status of a pod: init containers first.
fn container_statuses(pod: &Value) -> impl Iterator<Item = (&'static str, &Value)> {
    array_at(pod, &["status", "initContainerStatuses"])
        .iter()
        .map(|s| ("init container", s))
        .chain(
            array_at(pod, &["status", "containerStatuses"])
                .iter()
                .map(|s| ("container", s)),
        )
}

fn waiting_failure(pod: &Value, reasons: &[&str], hint: &str) -> Option<Readiness> {
    container_statuses(pod).find_map(|(role, status)| {
        let waiting = status.get("state")?.get("waiting")?;
        let reason = waiting.get("reason")?.as_str()?;
        reasons.contains(&reason).then(|| {
            let name = status.get("name").and_then(Value::as_str).unwrap_or("?");
            let image = status.get("image").and_then(Value::as_str).unwrap_or("?");
            let message = waiting.get("message").and_then(Value::as_str).unwrap_or("");
            Readiness::failed(
                reason,
                format!(
                    "{role} {name} of pod {} ({image}): {reason}: {message}; {hint}",
                    name_of(pod)
                ),
            )
        })
    })
}

/// An image cannot be pulled: a container or init container waits with
/// `ErrImagePull`, `ImagePullBackOff` or `InvalidImageName`.
pub fn image_pull_failure(pod: &Value) -> Option<Readiness> {
    waiting_failure(
        pod,
        &IMAGE_PULL_REASONS,
        "check the image reference, the registry and imagePullSecrets",
    )
}

/// A container keeps crashing: waiting with `CrashLoopBackOff`.
pub fn crash_loop(pod: &Value) -> Option<Readiness> {
    waiting_failure(
        pod,
        &["CrashLoopBackOff"],
        "the container exits right after it starts; check its logs",
    )
}

fn terminated_nonzero(status: &Value, state: &str) -> Option<(i64, String, String)> {
    let terminated = status.get(state)?.get("terminated")?;
    let code = terminated.get("exitCode")?.as_i64()?;
    (code != 0).then(|| {
        (
            code,
            condition_text(terminated, "reason"),
            condition_text(terminated, "message"),
        )
    })
}

/// An init container ended with a non-zero exit code (now, or in its last
/// run while it waits to be restarted).
pub fn init_container_failed(pod: &Value) -> Option<Readiness> {
    array_at(pod, &["status", "initContainerStatuses"])
        .iter()
        .find_map(|status| {
            let now_running = status.get("state").and_then(|s| s.get("running")).is_some();
            let (code, reason, message) = terminated_nonzero(status, "state").or_else(|| {
                if now_running {
                    None
                } else {
                    terminated_nonzero(status, "lastState")
                }
            })?;
            let name = status.get("name").and_then(Value::as_str).unwrap_or("?");
            Some(Readiness::failed(
                "InitContainerFailed",
                format!(
                    "init container {name} of pod {} exited with code {code} ({reason}) {message}",
                    name_of(pod)
                )
                .trim_end()
                .to_string(),
            ))
        })
}

/// The pod has failed as a whole (phase `Failed`: evicted, deadline,
/// a container that exited with restartPolicy Never).
pub fn pod_failed(pod: &Value) -> Option<Readiness> {
    (pod_phase(pod) == "Failed").then(|| {
        let reason = str_at(pod, &["status", "reason"]).unwrap_or("PodFailed");
        let message = str_at(pod, &["status", "message"]).unwrap_or("");
        Readiness::failed(
            if reason.is_empty() {
                "PodFailed"
            } else {
                reason
            },
            format!("pod {} failed: {reason} {message}", name_of(pod))
                .trim_end()
                .to_string(),
        )
    })
}

/// Every fail-fast reason of a pod, first match wins.
pub fn pod_failure(pod: &Value) -> Option<Readiness> {
    unschedulable(pod)
        .or_else(|| image_pull_failure(pod))
        .or_else(|| init_container_failed(pod))
        .or_else(|| crash_loop(pod))
        .or_else(|| pod_failed(pod))
}

/// True when the pod's `Ready` condition is True.
pub fn pod_ready(pod: &Value) -> bool {
    condition_true(pod, "Ready")
}

/// Readiness of a sandbox pod (`sandbox-cr`, `pod`): ready when its `Ready`
/// condition is True, failed on any fail-fast reason.
pub fn pod_readiness(pod: &Value) -> Readiness {
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
pub fn job_pod_readiness(pod: &Value) -> Readiness {
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
pub fn sandbox_readiness(sandbox: &Value) -> Readiness {
    if condition_true(sandbox, "Ready") {
        Readiness::Ready
    } else {
        Readiness::Pending
    }
}

/// The pod of a Sandbox: annotation `agents.x-k8s.io/pod-name` (set when a
/// warm-pool pod was adopted), else the Sandbox's own name.
pub fn sandbox_pod_name(sandbox: &Value) -> String {
    str_at(
        sandbox,
        &["metadata", "annotations", ANNOTATION_SANDBOX_POD_NAME],
    )
    .filter(|n| !n.is_empty())
    .unwrap_or_else(|| name_of(sandbox))
    .to_string()
}

/// How a Job ended, once condition `Complete` or `Failed` is True.
pub fn job_finished(job: &Value) -> Option<JobOutcome> {
    if condition_true(job, "Complete") {
        return Some(JobOutcome::Complete);
    }
    if condition_true(job, "Failed") {
        let cond = condition(job, "Failed")?;
        return Some(JobOutcome::Failed {
            reason: condition_text(cond, "reason"),
            message: condition_text(cond, "message"),
        });
    }
    None
}

/// How `container` of a pod ended, from its terminated state.
/// `OOMKilled` is a death by SIGKILL (9); an explicit `signal` field wins.
pub fn container_exit(pod: &Value, container: &str) -> Option<ContainerExit> {
    let status = array_at(pod, &["status", "containerStatuses"])
        .iter()
        .find(|s| s.get("name").and_then(Value::as_str) == Some(container))?;
    let terminated = status.get("state")?.get("terminated")?;
    let code = terminated
        .get("exitCode")
        .and_then(Value::as_i64)
        .and_then(|c| i32::try_from(c).ok())?;
    let reason = condition_text(terminated, "reason");
    let signal = terminated
        .get("signal")
        .and_then(Value::as_u64)
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
        message: condition_text(terminated, "message"),
    })
}

/// One line describing where a pod stands, for progress logs
/// (`Pending: ContainerCreating`).
pub fn pod_summary(pod: &Value) -> String {
    let phase = match pod_phase(pod) {
        "" => "Pending",
        p => p,
    };
    let waiting: Vec<&str> = container_statuses(pod)
        .filter_map(|(_, s)| s.get("state")?.get("waiting")?.get("reason")?.as_str())
        .collect();
    if let Some(cond) = condition(pod, "PodScheduled")
        && cond.get("status").and_then(Value::as_str) == Some("False")
    {
        return format!(
            "{phase}: not scheduled ({})",
            condition_text(cond, "reason")
        );
    }
    if waiting.is_empty() {
        let ready = if pod_ready(pod) { "ready" } else { "not ready" };
        format!("{phase}, {ready}")
    } else {
        format!("{phase}: {}", waiting.join(", "))
    }
}
