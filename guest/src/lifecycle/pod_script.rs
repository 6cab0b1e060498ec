//! A script of the module's run in the lease's agent container, through
//! the exec wrapper (`exec_wrap`) so that it is killable by a kill token
//! like any command: either with its output read by the guest
//! ([`read_script`], for answers the module parses) or forwarded to the
//! host's caller ([`forward_script`], for streams: tar, attach).
//!
//! Every script is `sh -c <body> <name> <args...>`: the body is a constant
//! of the module, the arguments are data (`$1`...), never spliced into
//! shell text.

use super::exec_wrap;
use super::execute::{WAIT_SLICE_MS, exit_result, kill_token, kill_tree, run_exec};
use super::step::kube_failure;
use crate::cluster::{Cluster, ExecSession, ExecSpec, OutputStream};
use crate::error::PolicyError;
use crate::lease::{Command, EnvVar, ExecStatus, Lease};

/// Most output a read script may print (per stream), 8 MiB: a listing of
/// a directory of some 50 000 entries. Past it the script is an error, not
/// a silently cut answer.
pub(crate) const MAX_SCRIPT_OUTPUT: u64 = 8 << 20;

/// Longest wait for a read script's status between two reads.
const STATUS_WAIT_MS: u64 = 1_000;

/// What a read script printed and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScriptOutput {
    /// Its exit code (128+N for a death by signal N).
    pub code: i32,
    /// Its stdout.
    pub stdout: Vec<u8>,
    /// Its stderr.
    pub stderr: Vec<u8>,
}

impl ScriptOutput {
    /// The stderr as text, trimmed, for messages.
    pub(crate) fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).trim().to_string()
    }
}

/// The argv of script `body` named `name` with `args`.
pub(crate) fn script_command(name: &str, body: &str, args: &[String]) -> Command {
    let mut argv = vec!["sh".to_string(), "-c".to_string(), body.to_string()];
    argv.push(name.to_string());
    argv.extend(args.iter().cloned());
    Command::Argv(argv)
}

/// The exec spec of a wrapped command in the lease's agent container.
pub(crate) fn lease_spec(
    lease: &Lease,
    wrapped: exec_wrap::Wrapped,
    forward_output: bool,
    forward_stdin: bool,
) -> ExecSpec {
    ExecSpec {
        namespace: lease.namespace.clone(),
        pod: lease.pod.clone(),
        container: lease.container.clone(),
        argv: wrapped.argv,
        stdin: wrapped.header.is_some(),
        forward_output,
        forward_stdin,
        frame_stdin: wrapped.frame_stdin,
        tty: None,
        max_stdout_bytes: (!forward_output).then_some(MAX_SCRIPT_OUTPUT),
        max_stderr_bytes: (!forward_output).then_some(MAX_SCRIPT_OUTPUT),
    }
}

/// Runs `command` (with `cwd` and `env` delivered by the wrapper, never in
/// argv) and reads its output, within `timeout_ms`. On cancellation, on a
/// lost stream and at the timeout the command's process tree is killed.
pub(crate) fn read_command(
    cluster: &dyn Cluster,
    lease: &Lease,
    step: &str,
    command: &Command,
    cwd: Option<&str>,
    env: &[EnvVar],
    timeout_ms: u64,
) -> Result<ScriptOutput, PolicyError> {
    let token = kill_token(&lease.id);
    let wrapped = exec_wrap::wrap(command, cwd, env, false, Some(&token))?;
    let header = wrapped.header.clone();
    let spec = lease_spec(lease, wrapped, false, false);
    let target = format!("{}/{}/{}", spec.namespace, spec.pod, spec.container);
    let mut session = cluster
        .exec(&spec)
        .map_err(|e| kube_failure(step, &format!("starting a script in {target}"), &e))?;
    let give_up = |session: &mut dyn ExecSession, error: PolicyError| {
        let problems = kill_tree(cluster, session, &spec, Some(&token));
        with_kill_note(error, &problems)
    };
    if let Some(header) = header {
        let written = session
            .write_stdin(&header)
            .and_then(|()| session.close_stdin());
        if let Err(e) = written {
            let error = kube_failure(step, &format!("writing to {target}"), &e);
            return Err(give_up(session.as_mut(), error));
        }
    }
    let deadline = cluster.monotonic_ms().saturating_add(timeout_ms);
    let mut output = ScriptOutput {
        code: 0,
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    loop {
        let remaining = deadline.saturating_sub(cluster.monotonic_ms());
        if remaining == 0 {
            let error = PolicyError::step(
                step,
                "TimedOut",
                format!("the script in {target} did not end within {timeout_ms} ms"),
            );
            return Err(give_up(session.as_mut(), error));
        }
        let slice = remaining.min(WAIT_SLICE_MS);
        match session.read(slice) {
            Ok(Some((stream, data))) => {
                match stream {
                    OutputStream::Stdout => output.stdout.extend_from_slice(&data),
                    OutputStream::Stderr => output.stderr.extend_from_slice(&data),
                }
                continue;
            }
            Ok(None) => {}
            Err(e) => {
                let error = kube_failure(step, &format!("reading from {target}"), &e);
                return Err(give_up(session.as_mut(), error));
            }
        }
        // Both streams ended (or a slice passed without output): a short
        // wait for the status, so an ended stream is not polled in a spin.
        let status = match session.wait(remaining.min(STATUS_WAIT_MS)) {
            Ok(status) => status,
            Err(e) => {
                let error = kube_failure(step, &format!("waiting for {target}"), &e);
                return Err(give_up(session.as_mut(), error));
            }
        };
        let Some(status) = status else { continue };
        // Whatever arrived between the last read and the status.
        while let Ok(Some((stream, data))) = session.read(0) {
            match stream {
                OutputStream::Stdout => output.stdout.extend_from_slice(&data),
                OutputStream::Stderr => output.stderr.extend_from_slice(&data),
            }
        }
        if status.stdout_truncated || status.stderr_truncated {
            return Err(PolicyError::step(
                step,
                "OutputTooLarge",
                format!(
                    "the script in {target} printed more than {MAX_SCRIPT_OUTPUT} bytes, the \
                     most leasebox reads back"
                ),
            ));
        }
        output.code = exit_result(status, &target)
            .map_err(|e| rename_step(e, step))?
            .exit_code
            .unwrap_or(-1);
        return Ok(output);
    }
}

/// Runs script `body` named `name` with `args` and reads its output (see
/// [`read_command`]).
pub(crate) fn read_script(
    cluster: &dyn Cluster,
    lease: &Lease,
    step: &str,
    (name, body): (&str, &str),
    args: &[String],
    timeout_ms: u64,
) -> Result<ScriptOutput, PolicyError> {
    let command = script_command(name, body, args);
    read_command(cluster, lease, step, &command, None, &[], timeout_ms)
}

/// Runs script `body` named `name` with `args`, its output forwarded to
/// the host's caller and, with `forward_stdin`, the caller's stdin framed
/// to it; waits for its end (no timeout) and answers its status.
pub(crate) fn forward_script(
    cluster: &dyn Cluster,
    lease: &Lease,
    (name, body): (&str, &str),
    args: &[String],
    forward_stdin: bool,
) -> Result<ExecStatus, PolicyError> {
    let token = kill_token(&lease.id);
    let command = script_command(name, body, args);
    let wrapped = exec_wrap::wrap(&command, None, &[], forward_stdin, Some(&token))?;
    let header = wrapped.header.clone();
    let spec = lease_spec(lease, wrapped, true, forward_stdin);
    run_exec(cluster, &spec, header.as_deref(), None, Some(&token))
}

/// Appends what killing the script ran into to the error's message.
fn with_kill_note(error: PolicyError, problems: &[String]) -> PolicyError {
    let note = |failure: &mut crate::error::Failure| {
        failure.message.push_str("; the script was killed");
        for problem in problems {
            failure.message.push_str(&format!(" ({problem})"));
        }
    };
    match error {
        PolicyError::Failed(mut f) => {
            note(&mut f);
            PolicyError::Failed(f)
        }
        PolicyError::Cancelled(mut f) => {
            note(&mut f);
            PolicyError::Cancelled(f)
        }
        other => other,
    }
}

/// The error of [`exit_result`] under this call's step name.
fn rename_step(error: PolicyError, step: &str) -> PolicyError {
    match error {
        PolicyError::Failed(mut f) => {
            f.step = step.to_string();
            PolicyError::Failed(f)
        }
        other => other,
    }
}
