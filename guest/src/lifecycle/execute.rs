//! execute and realize-workspace: a command in the sandbox over exec (env
//! and stdin over the stdin channel, output forwarded to the caller, the
//! exit code from the status channel), or, for a `job` lease, the Job
//! followed to its end.

use k8s_openapi::Resource;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;

use super::conditions::{self, JobOutcome};
use super::exec_wrap;
use super::step::{invalid_object, kube_failure};
use crate::cluster::{
    Cluster, EventType, ExecSession, ExecSpec, Level, LogStream, LogsRequest, WatchRequest,
};
use crate::error::PolicyError;
use crate::lease::{Backend, Command, ExecRequest, ExecStatus, Lease, ObjectRef};

/// Default directory `realize_workspace` unpacks into.
pub const DEFAULT_WORKSPACE_PATH: &str = "/workspace";

/// Longest single `wait`/`next` call: bounds how long a call sits in the
/// host, so deadlines are checked on the guest's side too.
pub(crate) const WAIT_SLICE_MS: u64 = 10_000;

/// After a Job ends, how long its forwarded log may take to drain.
pub(crate) const LOG_DRAIN_MS: u64 = 10_000;

/// See [`super::execute`].
pub(crate) fn execute(
    cluster: &dyn Cluster,
    request: &ExecRequest,
) -> Result<ExecStatus, PolicyError> {
    check_lease(&request.lease)?;
    match request.lease.backend {
        Backend::Job => follow_job(cluster, request),
        Backend::SandboxCr | Backend::Pod => exec_command(cluster, request),
    }
}

pub(crate) fn check_lease(lease: &Lease) -> Result<(), PolicyError> {
    if lease.pod.is_empty() || lease.container.is_empty() || lease.namespace.is_empty() {
        return Err(PolicyError::BadRequest(format!(
            "lease {}: namespace, pod and container must be set; pass the lease acquire or \
             resume returned",
            lease.id
        )));
    }
    Ok(())
}

fn exec_command(cluster: &dyn Cluster, request: &ExecRequest) -> Result<ExecStatus, PolicyError> {
    // The command must be killable in the pod later, on a timeout or when
    // the host cancels the call: the session's end alone leaves the process
    // running.
    let kill_token = Some(kill_token(&request.lease.id));
    let wrapped = exec_wrap::wrap(
        &request.command,
        request.cwd.as_deref(),
        &request.env,
        request.forward_stdin,
        kill_token.as_deref(),
    )?;
    let lease = &request.lease;
    let spec = ExecSpec {
        namespace: lease.namespace.clone(),
        pod: lease.pod.clone(),
        container: lease.container.clone(),
        argv: wrapped.argv,
        stdin: wrapped.header.is_some(),
        forward_output: true,
        forward_stdin: request.forward_stdin,
        frame_stdin: wrapped.frame_stdin,
        tty: None,
        max_stdout_bytes: request.max_stdout_bytes,
        max_stderr_bytes: request.max_stderr_bytes,
    };
    run_exec(
        cluster,
        &spec,
        wrapped.header.as_deref(),
        request.timeout_ms,
        kill_token.as_deref(),
    )
}

/// Starts `spec`, writes `header` to stdin, hands stdin over (or closes
/// it), and waits for the end within `timeout_ms`.
pub(crate) fn run_exec(
    cluster: &dyn Cluster,
    spec: &ExecSpec,
    header: Option<&[u8]>,
    timeout_ms: Option<u64>,
    kill_token: Option<&str>,
) -> Result<ExecStatus, PolicyError> {
    let target = format!("{}/{}/{}", spec.namespace, spec.pod, spec.container);
    let started_ms = cluster.monotonic_ms();
    let mut session = cluster
        .exec(spec)
        .map_err(|e| kube_failure("exec", &format!("starting a command in {target}"), &e))?;
    // Once started, a command the host cancels is killed with its process
    // tree before the call returns `cancelled`. So is one whose session
    // failed (the stream cut, the connection lost): leasebox gives up on
    // it, and it must not run on in the pod unobserved.
    let cancelled = |session: &mut dyn ExecSession, failure: PolicyError| match failure {
        PolicyError::Cancelled(mut failure) => {
            let problems = kill_tree(cluster, session, spec, kill_token);
            failure.message = format!("{}; the command was killed", failure.message);
            for problem in problems {
                failure.message.push_str(&format!(" ({problem})"));
            }
            PolicyError::Cancelled(failure)
        }
        PolicyError::Failed(mut failure) => {
            let problems = kill_tree(cluster, session, spec, kill_token);
            if problems.is_empty() {
                failure
                    .message
                    .push_str("; leasebox gave up on the command and killed it in the pod");
            } else {
                failure
                    .message
                    .push_str("; leasebox gave up on the command and tried to kill it in the pod");
                for problem in problems {
                    failure.message.push_str(&format!(" ({problem})"));
                }
            }
            PolicyError::Failed(failure)
        }
        other => other,
    };
    if let Some(header) = header {
        session.write_stdin(header).map_err(|e| {
            cancelled(
                session.as_mut(),
                kube_failure("exec-stdin", &format!("writing to {target}"), &e),
            )
        })?;
    }
    if spec.stdin {
        session.close_stdin().map_err(|e| {
            cancelled(
                session.as_mut(),
                kube_failure("exec-stdin", &format!("closing stdin of {target}"), &e),
            )
        })?;
    }
    let deadline_ms = timeout_ms.map(|t| started_ms.saturating_add(t));
    loop {
        let slice = match deadline_ms {
            Some(deadline) => {
                let remaining = deadline.saturating_sub(cluster.monotonic_ms());
                if remaining == 0 {
                    return Ok(kill_on_timeout(
                        cluster,
                        session.as_mut(),
                        spec,
                        timeout_ms,
                        kill_token,
                    ));
                }
                remaining.min(WAIT_SLICE_MS)
            }
            None => WAIT_SLICE_MS,
        };
        let status = session.wait(slice).map_err(|e| {
            cancelled(
                session.as_mut(),
                kube_failure("exec-wait", &format!("waiting for {target}"), &e),
            )
        })?;
        if let Some(status) = status {
            return exit_result(status, &target);
        }
    }
}

/// Ends the exec session and kills the command's process tree in the pod
/// (by its kill token); returns what went wrong, for the message.
pub(crate) fn kill_tree(
    cluster: &dyn Cluster,
    session: &mut dyn ExecSession,
    spec: &ExecSpec,
    kill_token: Option<&str>,
) -> Vec<String> {
    let target = format!("{}/{}/{}", spec.namespace, spec.pod, spec.container);
    let mut problems = Vec::new();
    if let Err(e) = session.kill() {
        cluster.log(
            Level::Warn,
            "execute",
            &format!(
                "could not end the exec session in {target}: {}",
                e.describe()
            ),
        );
        problems.push(format!("ending the session failed: {}", e.describe()));
    }
    if let Some(Err(problem)) = kill_token.map(|token| kill_in_pod(cluster, spec, token)) {
        cluster.log(
            Level::Warn,
            "execute",
            &format!("could not kill the command in {target}: {problem}"),
        );
        problems.push(format!("killing it in the pod failed: {problem}"));
    }
    problems
}

fn kill_on_timeout(
    cluster: &dyn Cluster,
    session: &mut dyn ExecSession,
    spec: &ExecSpec,
    timeout_ms: Option<u64>,
    kill_token: Option<&str>,
) -> ExecStatus {
    let timeout = timeout_ms.unwrap_or(0);
    let mut message = format!("killed after the timeout of {timeout} ms");
    for problem in kill_tree(cluster, session, spec, kill_token) {
        message.push_str(&format!(" ({problem})"));
    }
    ExecStatus {
        exit_code: None,
        signal: None,
        timed_out: true,
        stdout_truncated: false,
        stderr_truncated: false,
        message,
    }
}

/// How long the in-pod kill of a timed-out command may take.
const KILL_WAIT_MS: u64 = 10_000;

/// Kills the process tree of a timed-out command in the pod, by a second
/// exec of [`exec_wrap::KILL_SCRIPT`].
fn kill_in_pod(cluster: &dyn Cluster, spec: &ExecSpec, token: &str) -> Result<(), String> {
    let killer = ExecSpec {
        namespace: spec.namespace.clone(),
        pod: spec.pod.clone(),
        container: spec.container.clone(),
        argv: exec_wrap::kill_argv(token),
        stdin: false,
        forward_output: false,
        forward_stdin: false,
        frame_stdin: false,
        tty: None,
        max_stdout_bytes: Some(4096),
        max_stderr_bytes: Some(4096),
    };
    let mut session = cluster.exec(&killer).map_err(|e| e.describe())?;
    match session.wait(KILL_WAIT_MS).map_err(|e| e.describe())? {
        Some(status) if status.exit_code == Some(0) => Ok(()),
        Some(status) => Err(format!(
            "the kill script ended with {:?} {}",
            status.exit_code, status.message
        )),
        None => {
            let _ = session.kill();
            Err(format!(
                "the kill script did not end within {KILL_WAIT_MS} ms"
            ))
        }
    }
}

/// A token naming one exec's pid file in the pod: the lease id and 64
/// random bits. It must differ between every exec of every process that
/// uses the lease (a reused token would point the kill at another exec's
/// pid), so it comes from the random source WASI gives the module (std's
/// `RandomState` is seeded from it) and never from a clock or a counter.
pub(crate) fn kill_token(lease_id: &str) -> String {
    use std::hash::BuildHasher;
    let random = std::collections::hash_map::RandomState::new().hash_one(lease_id);
    format!("{lease_id}-{random:016x}")
}

/// Maps the status channel's answer; a status without code or signal
/// means the exit was never reported, which is an error, not a success.
pub(crate) fn exit_result(status: ExecStatus, target: &str) -> Result<ExecStatus, PolicyError> {
    if status.exit_code.is_none() && status.signal.is_none() {
        return Err(PolicyError::step(
            "exec-wait",
            "NoExitStatus",
            format!(
                "the command in {target} ended without an exit status ({}); the connection to \
                 the pod was lost, check the pod and retry",
                if status.message.is_empty() {
                    "no message"
                } else {
                    &status.message
                }
            ),
        ));
    }
    let code = match (status.exit_code, status.signal) {
        (Some(code), _) => Some(code),
        (None, Some(signal)) => i32::try_from(signal).ok().and_then(|s| s.checked_add(128)),
        (None, None) => None,
    };
    Ok(ExecStatus {
        exit_code: code,
        signal: status.signal,
        timed_out: false,
        stdout_truncated: status.stdout_truncated,
        stderr_truncated: status.stderr_truncated,
        message: status.message,
    })
}

/// See [`super::realize_workspace`].
pub(crate) fn realize_workspace(
    cluster: &dyn Cluster,
    lease: &Lease,
    path: Option<&str>,
) -> Result<ExecStatus, PolicyError> {
    check_lease(lease)?;
    if lease.backend == Backend::Job {
        return Err(PolicyError::BadRequest(format!(
            "lease {}: a job lease runs its command at acquire time, so there is no sandbox to \
             unpack a workspace into; use the sandbox-cr or pod backend",
            lease.id
        )));
    }
    let path = path.unwrap_or(DEFAULT_WORKSPACE_PATH);
    if !path.starts_with('/') || path.contains('\0') {
        return Err(PolicyError::BadRequest(format!(
            "path `{path}`: must be an absolute directory inside the sandbox, like /workspace"
        )));
    }
    // The directory is made first: unpacking into a new directory is the
    // common case.
    let tar = Command::Argv(vec![
        "sh".into(),
        "-c".into(),
        UNPACK_SCRIPT.into(),
        "leasebox-unpack".into(),
        path.into(),
    ]);
    // Killable like any command, should the host cancel the call.
    let kill_token = kill_token(&lease.id);
    let wrapped = exec_wrap::wrap(&tar, None, &[], true, Some(&kill_token))?;
    let spec = ExecSpec {
        namespace: lease.namespace.clone(),
        pod: lease.pod.clone(),
        container: lease.container.clone(),
        argv: wrapped.argv,
        stdin: true,
        forward_output: true,
        forward_stdin: true,
        frame_stdin: wrapped.frame_stdin,
        tty: None,
        max_stdout_bytes: None,
        max_stderr_bytes: None,
    };
    run_exec(
        cluster,
        &spec,
        wrapped.header.as_deref(),
        None,
        Some(&kill_token),
    )
}

/// Makes the target directory, then unpacks stdin there.
const UNPACK_SCRIPT: &str = r#"mkdir -p -- "$1" && exec tar -x -C "$1""#;

/// A `job` lease: the command was fixed at acquire time; follow its log to
/// the caller and the Job to its end.
fn follow_job(cluster: &dyn Cluster, request: &ExecRequest) -> Result<ExecStatus, PolicyError> {
    let lease = &request.lease;
    if lease.workload.kind != Job::KIND {
        return Err(PolicyError::BadRequest(format!(
            "lease {}: the backend is job but the workload is a {}; pass the lease acquire or \
             resume returned",
            lease.id, lease.workload.kind
        )));
    }
    let started_ms = cluster.monotonic_ms();
    let deadline_ms = request.timeout_ms.map(|t| started_ms.saturating_add(t));
    let mut log = cluster
        .logs(&LogsRequest {
            namespace: lease.namespace.clone(),
            pod: lease.pod.clone(),
            container: lease.container.clone(),
            follow: true,
            forward_output: true,
            max_bytes: request.max_stdout_bytes,
        })
        .map_err(|e| {
            kube_failure(
                "job-logs",
                &format!("following the log of pod {}", lease.pod),
                &e,
            )
        })?;

    let watch_request = WatchRequest {
        api_version: lease.workload.api_version.clone(),
        kind: Job::KIND.into(),
        namespace: lease.namespace.clone(),
        label_selector: String::new(),
        field_selector: format!("metadata.name={}", lease.workload.name),
    };
    let mut watch = cluster.watch(&watch_request).map_err(|e| {
        kube_failure(
            "job-wait",
            &format!("watching Job {}", lease.workload.name),
            &e,
        )
    })?;
    let outcome = loop {
        let slice = match deadline_ms {
            Some(deadline) => {
                let remaining = deadline.saturating_sub(cluster.monotonic_ms());
                if remaining == 0 {
                    return Ok(job_timed_out(
                        request.timeout_ms.unwrap_or(0),
                        &lease.workload,
                    ));
                }
                remaining.min(WAIT_SLICE_MS)
            }
            None => WAIT_SLICE_MS,
        };
        let event = watch.next(slice).map_err(|e| {
            kube_failure(
                "job-wait",
                &format!("watching Job {}", lease.workload.name),
                &e,
            )
        })?;
        let Some(event) = event else { continue };
        if event.event_type == EventType::Deleted {
            return Err(PolicyError::step(
                "job-wait",
                "Deleted",
                format!(
                    "Job {} was deleted before it finished (released, swept, or TTL)",
                    lease.workload.name
                ),
            ));
        }
        let job =
            conditions::read::<Job>(event.object).map_err(|m| invalid_object("job-wait", m))?;
        if let Some(outcome) = conditions::job_finished(&job) {
            break outcome;
        }
    };

    drain_log(cluster, log.as_mut(), &lease.pod);
    job_result(cluster, lease, outcome)
}

fn job_timed_out(timeout_ms: u64, job: &ObjectRef) -> ExecStatus {
    ExecStatus {
        exit_code: None,
        signal: None,
        timed_out: true,
        stdout_truncated: false,
        stderr_truncated: false,
        message: format!(
            "Job {} still running after the timeout of {timeout_ms} ms; release the lease to stop it",
            job.name
        ),
    }
}

/// Lets the forwarded log finish, so the caller has all output before the
/// result.
fn drain_log(cluster: &dyn Cluster, log: &mut dyn LogStream, pod: &str) {
    match log.wait_end(LOG_DRAIN_MS) {
        Ok(true) => {}
        Ok(false) => cluster.log(
            Level::Warn,
            "execute",
            &format!("the log of pod {pod} did not end within {LOG_DRAIN_MS} ms after the Job finished; output may be incomplete"),
        ),
        Err(e) => cluster.log(
            Level::Warn,
            "execute",
            &format!("following the log of pod {pod} failed: {}; output may be incomplete", e.describe()),
        ),
    }
}

/// The exit code of a finished Job, from its pod's agent container.
fn job_result(
    cluster: &dyn Cluster,
    lease: &Lease,
    outcome: JobOutcome,
) -> Result<ExecStatus, PolicyError> {
    let pod_ref = ObjectRef {
        api_version: Pod::API_VERSION.into(),
        kind: Pod::KIND.into(),
        namespace: Some(lease.namespace.clone()),
        name: lease.pod.clone(),
        uid: None,
    };
    let pod: Option<Value> = cluster
        .get(&pod_ref)
        .map_err(|e| kube_failure("job-result", &format!("reading pod {}", lease.pod), &e))?;
    let pod = pod
        .map(conditions::read::<Pod>)
        .transpose()
        .map_err(|m| invalid_object("job-result", m))?;
    let exit = pod
        .as_ref()
        .and_then(|p| conditions::container_exit(p, &lease.container));
    let (job_reason, job_message) = match &outcome {
        JobOutcome::Complete => (String::new(), String::new()),
        JobOutcome::Failed { reason, message } => (reason.clone(), message.clone()),
    };
    if job_reason == "DeadlineExceeded" {
        return Ok(ExecStatus {
            exit_code: None,
            signal: exit.as_ref().and_then(|e| e.signal),
            timed_out: true,
            stdout_truncated: false,
            stderr_truncated: false,
            message: format!(
                "Job exceeded activeDeadlineSeconds (podActivityDeadlineSec): {job_message}"
            ),
        });
    }
    match exit {
        Some(exit) => Ok(ExecStatus {
            exit_code: Some(exit.code),
            signal: exit.signal,
            timed_out: false,
            stdout_truncated: false,
            stderr_truncated: false,
            message: [exit.reason, exit.message, job_message]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(": "),
        }),
        // Complete with restartPolicy Never and backoffLimit 0 means the
        // one container exited 0, even when the pod is already gone.
        None if outcome == JobOutcome::Complete => Ok(ExecStatus {
            exit_code: Some(0),
            message: format!("pod {} is gone; Job Complete", lease.pod),
            ..ExecStatus::empty()
        }),
        None => Err(PolicyError::step(
            "job-result",
            if job_reason.is_empty() {
                "JobFailed"
            } else {
                &job_reason
            },
            format!(
                "Job {} failed ({job_reason}: {job_message}) and pod {} has no terminated agent \
                 container to read an exit code from",
                lease.workload.name, lease.pod
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kill_tokens_never_repeat_for_one_lease() {
        let lease = "lb-01jd5z8k9m0000000000000000";
        let tokens = (0..64)
            .map(|_| kill_token(lease))
            .collect::<std::collections::HashSet<_>>();
        assert_eq!(tokens.len(), 64);
        assert!(
            tokens.iter().all(|t| exec_wrap::is_kill_token(t)),
            "{tokens:?}"
        );
    }
}
