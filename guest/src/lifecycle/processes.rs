//! Detached processes: `start-process`, `list-processes`,
//! `attach-process`, `kill-process`. A detached process keeps running when
//! the exec that started it, its caller, the CLI and `serve` are gone; its
//! output is kept in the pod (at most [`OUTPUT_CAP_BYTES`] per stream) and
//! its end recorded by a supervising shell (`scripts` has the layout and
//! the scripts). Env travels as `execute`'s does, over stdin to the exec
//! wrapper, never in argv. An id the pod does not know is a `bad-request`
//! naming it: an unknown process is not a lease that is gone.

mod id;
mod info;
mod scripts;

use super::exec_target::ensure_exec_target;
use super::pod_script::{ScriptOutput, forward_script, read_command, read_script, script_command};
use crate::cluster::{Cluster, Level};
use crate::error::PolicyError;
use crate::lease::{AttachRequest, ExecRequest, ExecStatus, Lease, ProcessInfo};

use info::Record;
use scripts::{EXIT_NO_SETSID, EXIT_NO_STAT, EXIT_UNKNOWN_PROCESS, PROCESS_ROOT};

/// Most output kept in the pod per stream of a detached process, 64 MiB
/// (the tmp volume holds 2 GiB). Past it the rest is read and dropped, so
/// the process never blocks nor dies of the cap, and the drop is marked
/// (`stdout-dropped`, `stderr-dropped`). `exec-request.max-stdout-bytes`
/// and `max-stderr-bytes` lower it for one process.
pub const OUTPUT_CAP_BYTES: u64 = 64 << 20;

/// Seconds between `kill-process`'s signal (or the timeout's SIGTERM) and
/// the SIGKILL of what is left of the process tree.
pub const KILL_GRACE_SECONDS: u64 = 5;

/// How long the start, list and status scripts may run.
const SCRIPT_TIMEOUT_MS: u64 = 60_000;

/// See [`super::start_process`].
pub(crate) fn start(
    cluster: &dyn Cluster,
    request: &ExecRequest,
) -> Result<ProcessInfo, PolicyError> {
    start_as(cluster, request, &id::mint())
}

/// Starts the process under `id`.
fn start_as(
    cluster: &dyn Cluster,
    request: &ExecRequest,
    id: &str,
) -> Result<ProcessInfo, PolicyError> {
    const STEP: &str = "start-process";
    let lease = &request.lease;
    if request.forward_stdin {
        return Err(PolicyError::BadRequest(
            "forward-stdin: a detached process reads no input; start it without forward-stdin \
             (and give it its input as a file)"
                .into(),
        ));
    }
    let argv = super::exec_wrap::command_argv(&request.command)?;
    ensure_exec_target(cluster, lease, STEP)?;
    let cap = |max: Option<u64>| max.map_or(OUTPUT_CAP_BYTES, |m| m.min(OUTPUT_CAP_BYTES));
    let timeout_seconds = request.timeout_ms.map_or(0, |ms| ms.div_ceil(1000));
    let mut args = vec![
        PROCESS_ROOT.to_string(),
        id.to_string(),
        timeout_seconds.to_string(),
        cap(request.max_stdout_bytes).to_string(),
        cap(request.max_stderr_bytes).to_string(),
        KILL_GRACE_SECONDS.to_string(),
        serde_json::Value::from(argv.clone()).to_string(),
        scripts::supervisor(),
    ];
    args.extend(argv);
    let body = scripts::with_functions(scripts::START_SCRIPT);
    let command = script_command(scripts::START_NAME, &body, &args);
    let started = read_command(
        cluster,
        lease,
        STEP,
        &command,
        request.cwd.as_deref(),
        &request.env,
        SCRIPT_TIMEOUT_MS,
    );
    let output = match started {
        Ok(output) => output,
        Err(error @ PolicyError::Cancelled(_)) => {
            return Err(roll_back(cluster, lease, id, error));
        }
        Err(error) => return Err(error),
    };
    match output.code {
        0 => one(STEP, id, &output).map(|r| r.info),
        EXIT_NO_SETSID => Err(tool_missing(STEP, "setsid")),
        EXIT_NO_STAT => Err(tool_missing(STEP, "stat")),
        // The wrapper's own failure (a cwd it cannot enter) is the
        // caller's to fix; anything else is the script's.
        126 => Err(PolicyError::BadRequest(format!(
            "cwd `{}`: {}",
            request.cwd.as_deref().unwrap_or(""),
            output.stderr_text()
        ))),
        code => Err(PolicyError::step(
            STEP,
            "ScriptFailed",
            format!(
                "starting process {id} ended with exit code {code}: {} (is {PROCESS_ROOT} \
                 writable?)",
                output.stderr_text()
            ),
        )),
    }
}

/// A start the host cancelled: whatever it started is killed and its
/// directory removed, so the process never existed.
fn roll_back(cluster: &dyn Cluster, lease: &Lease, id: &str, error: PolicyError) -> PolicyError {
    let args = [
        PROCESS_ROOT.to_string(),
        id.to_string(),
        "9".to_string(),
        "0".to_string(),
        "1".to_string(),
    ];
    let body = scripts::with_functions(scripts::KILL_SCRIPT);
    let rolled = read_script(
        cluster,
        lease,
        "start-process-rollback",
        (scripts::KILL_NAME, &body),
        &args,
        SCRIPT_TIMEOUT_MS,
    );
    let note = match rolled {
        Ok(output) if output.code == 0 || output.code == EXIT_UNKNOWN_PROCESS => {
            format!("; process {id} was killed and removed")
        }
        Ok(output) => format!(
            "; removing process {id} ended with exit code {}",
            output.code
        ),
        Err(e) => {
            cluster.log(
                Level::Warn,
                "start-process",
                &format!("could not roll back process {id}: {}", e.describe()),
            );
            format!("; rolling back process {id} failed: {}", e.describe())
        }
    };
    match error {
        PolicyError::Cancelled(mut failure) => {
            failure.message.push_str(&note);
            PolicyError::Cancelled(failure)
        }
        other => other,
    }
}

/// See [`super::list_processes`].
pub(crate) fn list(cluster: &dyn Cluster, lease: &Lease) -> Result<Vec<ProcessInfo>, PolicyError> {
    const STEP: &str = "list-processes";
    ensure_exec_target(cluster, lease, STEP)?;
    let body = scripts::with_functions(scripts::LIST_SCRIPT);
    let output = read_script(
        cluster,
        lease,
        STEP,
        (scripts::LIST_NAME, &body),
        &[PROCESS_ROOT.to_string()],
        SCRIPT_TIMEOUT_MS,
    )?;
    if output.code != 0 {
        return Err(script_failed(STEP, "listing the processes", &output));
    }
    let mut infos: Vec<ProcessInfo> = info::parse(&output.stdout)
        .map_err(|m| unreadable(STEP, m))?
        .into_iter()
        .map(|r| r.info)
        .collect();
    infos.sort_by(|a, b| (&a.started_at, &a.id).cmp(&(&b.started_at, &b.id)));
    Ok(infos)
}

/// See [`super::attach_process`].
pub(crate) fn attach(
    cluster: &dyn Cluster,
    request: &AttachRequest,
) -> Result<ExecStatus, PolicyError> {
    const STEP: &str = "attach-process";
    let lease = &request.lease;
    id::check(&request.process)?;
    ensure_exec_target(cluster, lease, STEP)?;
    let args = [
        PROCESS_ROOT.to_string(),
        request.process.clone(),
        request.stdout_offset.to_string(),
        request.stderr_offset.to_string(),
        if request.follow { "1" } else { "0" }.to_string(),
    ];
    let body = scripts::with_functions(scripts::ATTACH_SCRIPT);
    let status = forward_script(cluster, lease, (scripts::ATTACH_NAME, &body), &args, false)?;
    match status.exit_code {
        Some(0) => {}
        Some(EXIT_UNKNOWN_PROCESS) => return Err(unknown(lease, &request.process)),
        code => {
            return Err(PolicyError::step(
                STEP,
                "ScriptFailed",
                format!(
                    "sending the output of process {} ended with {code:?}: {}",
                    request.process, status.message
                ),
            ));
        }
    }
    // How it ended is read after the stream, so it is the end the stream
    // showed.
    let record = status_of(cluster, lease, STEP, &request.process)?;
    let info = &record.info;
    let message = match (info.running, info.exit_code) {
        (true, _) => format!("process {} still runs", info.id),
        (false, Some(code)) => format!("process {} ended with exit code {code}", info.id),
        (false, None) => format!(
            "process {} ended without a recorded status (its supervisor was killed)",
            info.id
        ),
    };
    Ok(ExecStatus {
        exit_code: info.exit_code,
        signal: info
            .exit_code
            .filter(|c| *c > 128 && *c < 128 + 65)
            .and_then(|c| u32::try_from(c - 128).ok()),
        timed_out: record.timed_out,
        stdout_truncated: info.stdout_dropped,
        stderr_truncated: info.stderr_dropped,
        message,
    })
}

/// See [`super::kill_process`].
pub(crate) fn kill(
    cluster: &dyn Cluster,
    lease: &Lease,
    process: &str,
    signal: u32,
) -> Result<ProcessInfo, PolicyError> {
    const STEP: &str = "kill-process";
    id::check(process)?;
    let signal = if signal == 0 { 15 } else { signal };
    if signal > 64 {
        return Err(PolicyError::BadRequest(format!(
            "signal {signal}: not a signal number; use 1-64 (15 is SIGTERM, 9 SIGKILL), or 0 \
             for SIGTERM"
        )));
    }
    ensure_exec_target(cluster, lease, STEP)?;
    let args = [
        PROCESS_ROOT.to_string(),
        process.to_string(),
        signal.to_string(),
        KILL_GRACE_SECONDS.to_string(),
        "0".to_string(),
    ];
    let body = scripts::with_functions(scripts::KILL_SCRIPT);
    let output = read_script(
        cluster,
        lease,
        STEP,
        (scripts::KILL_NAME, &body),
        &args,
        (KILL_GRACE_SECONDS + 20) * 1000,
    )?;
    match output.code {
        0 => one(STEP, process, &output).map(|r| r.info),
        EXIT_UNKNOWN_PROCESS => Err(unknown(lease, process)),
        _ => Err(script_failed(
            STEP,
            &format!("killing process {process}"),
            &output,
        )),
    }
}

/// The record of one process, read by a second small exec.
fn status_of(
    cluster: &dyn Cluster,
    lease: &Lease,
    step: &str,
    process: &str,
) -> Result<Record, PolicyError> {
    let body = scripts::with_functions(scripts::INFO_SCRIPT);
    let output = read_script(
        cluster,
        lease,
        step,
        (scripts::INFO_NAME, &body),
        &[PROCESS_ROOT.to_string(), process.to_string()],
        SCRIPT_TIMEOUT_MS,
    )?;
    match output.code {
        0 => one(step, process, &output),
        EXIT_UNKNOWN_PROCESS => Err(unknown(lease, process)),
        _ => Err(script_failed(
            step,
            &format!("reading process {process}"),
            &output,
        )),
    }
}

/// The one record of `output`, which must be `process`'s.
fn one(step: &str, process: &str, output: &ScriptOutput) -> Result<Record, PolicyError> {
    let mut records = info::parse(&output.stdout).map_err(|m| unreadable(step, m))?;
    match (records.pop(), records.is_empty()) {
        (Some(record), true) if record.info.id == process => Ok(record),
        _ => Err(unreadable(
            step,
            format!("not exactly one record of process {process}"),
        )),
    }
}

fn unknown(lease: &Lease, process: &str) -> PolicyError {
    PolicyError::BadRequest(format!(
        "process `{process}`: lease {} has no such detached process (never started there, or \
         its pod was replaced); list-processes shows the ones it has",
        lease.id
    ))
}

fn tool_missing(step: &str, tool: &str) -> PolicyError {
    PolicyError::step(
        step,
        "ToolMissing",
        format!(
            "the image has no `{tool}`, which detached processes need; use an image with `sh`, \
             `setsid`, `stat` and `mkfifo` (any Debian or Alpine based image has them)"
        ),
    )
}

fn script_failed(step: &str, what: &str, output: &ScriptOutput) -> PolicyError {
    PolicyError::step(
        step,
        "ScriptFailed",
        format!(
            "{what} ended with exit code {}: {}",
            output.code,
            output.stderr_text()
        ),
    )
}

fn unreadable(step: &str, problem: String) -> PolicyError {
    PolicyError::step(
        step,
        "UnreadableOutput",
        format!("the {step} script's answer does not read: {problem}"),
    )
}

#[cfg(test)]
mod tests;
