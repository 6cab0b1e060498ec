//! open-terminal: a command on a terminal in the lease's container, by
//! default the login shell of the container's user.
//!
//! Env must stay out of argv, and a terminal echoes what it is sent, so
//! the env cannot go on the terminal's stdin either. Two execs, then: the
//! first (no terminal) reads the env header (`exec_wrap`'s spelling, with
//! `TERM`) from stdin into a 0600 file in a private directory
//! ([`ENV_DIR`]); the second runs on a terminal of the caller's size and
//! its script reads and removes that file, exports the env, changes to the
//! cwd, records its pid under a kill token and `exec`s the command. It is
//! awaited in slices like `execute`; a cancelled call kills its process
//! tree. A `job` lease gets a terminal only while its pod runs
//! (`exec_target`).

use super::exec_target::ensure_exec_target;
use super::exec_wrap::{check_env, command_argv, encode_header};
use super::execute::{WAIT_SLICE_MS, kill_token, run_exec};
use super::lease_access;
use super::step::kube_failure;
use crate::cluster::{Cluster, ExecSpec, Level};
use crate::error::PolicyError;
use crate::lease::{EnvVar, ExecStatus, TerminalRequest};

/// Where the env of a terminal waits for it, private to the sandbox's
/// user, one file per terminal, removed by the terminal's script.
pub const ENV_DIR: &str = "/tmp/.leasebox/term";

/// `TERM` when the caller gives none (and its env sets none).
pub const DEFAULT_TERM: &str = "xterm-256color";

/// How long the env exec may take.
const ENV_WAIT_MS: u64 = 30_000;

/// Writes the env header from stdin (up to its empty line) to `$1/$2.env`,
/// after removing env files older than ten minutes: those of terminals
/// whose second exec never ran (a host gone between the two).
const ENV_SCRIPT: &str = r#"umask 077
mkdir -p "$1" || exit 1
find "$1" -name '*.env' -mmin +10 -exec rm -f {} + 2>/dev/null
__f=$1/$2.env
: >"$__f" || exit 1
while IFS= read -r __l; do
  [ -z "$__l" ] && break
  printf '%s\n' "$__l" >>"$__f"
done
exit 0
"#;

/// Removes a terminal's env file (`$1`) after a failed start.
const ENV_CLEANUP_SCRIPT: &str = r#"rm -f "$1""#;

/// The terminal's script: `$1` the env file, `$2` the cwd (empty: stay),
/// `$3` the kill token, then the command (none: the login shell of the
/// current uid from `/etc/passwd`, `/bin/sh` when it has none or a
/// `nologin`/`false` one, run as a login shell).
pub(crate) const TTY_SCRIPT: &str = r#"__f=$1; __cwd=$2; __tok=$3; shift 3
[ -r /run/leasebox/lease.env ] && . /run/leasebox/lease.env
if [ -r "$__f" ]; then
  while IFS= read -r __l; do
    __v=$(printf '%bx' "${__l#*=}")
    export "${__l%%=*}=${__v%x}"
  done <"$__f"
fi
rm -f "$__f"
unset __f __l __v
if [ -n "$__cwd" ]; then
  cd -- "$__cwd" || { echo "leasebox-terminal: cannot change to directory $__cwd" >&2; exit 126; }
fi
[ -n "$__tok" ] && echo $$ >"/tmp/.leasebox-exec.$__tok.pid" 2>/dev/null
unset __cwd __tok
if [ $# -eq 0 ]; then
  __uid=$(id -u 2>/dev/null)
  __sh=
  if [ -r /etc/passwd ]; then
    while IFS=: read -r __n __p __u __g __c __h __s; do
      if [ "$__u" = "$__uid" ]; then __sh=$__s; break; fi
    done </etc/passwd
  fi
  case "$__sh" in
    */nologin|*/false|'') __sh=/bin/sh ;;
  esac
  [ -x "$__sh" ] || __sh=/bin/sh
  unset __uid __n __p __u __g __c __h __s
  set -- "$__sh" -l
  unset __sh
fi
# The window size comes on its own stream and the runtime may start this
# script before it has set it: wait (up to a second) until the terminal
# has one, so the command never sees 0x0.
if command -v stty >/dev/null 2>&1; then
  __i=0
  while [ "$__i" -lt 20 ]; do
    case "$(stty size 2>/dev/null)" in
      ''|'0 0'|0\ *|*\ 0) sleep 0.05 2>/dev/null || break; __i=$((__i + 1)) ;;
      *) break ;;
    esac
  done
  unset __i
fi
exec "$@"
"#;

/// `$0` of the env script.
const ENV_NAME: &str = "leasebox-terminal-env";
/// `$0` of the terminal's script.
const TTY_NAME: &str = "leasebox-terminal";

/// See [`super::open_terminal`].
pub(crate) fn open_terminal(
    cluster: &dyn Cluster,
    request: &TerminalRequest,
) -> Result<ExecStatus, PolicyError> {
    const STEP: &str = "open-terminal";
    let lease = &request.lease;
    let argv = match &request.command {
        Some(command) => command_argv(command)?,
        None => Vec::new(),
    };
    check_env(&request.env)?;
    let cwd = request.cwd.as_deref().unwrap_or("");
    if cwd.contains('\0') {
        return Err(PolicyError::BadRequest(
            "cwd: contains a NUL byte; pass a plain directory path".into(),
        ));
    }
    if request.term.contains(['\0', '\n']) {
        return Err(PolicyError::BadRequest(
            "term: contains a NUL or newline; pass a terminal type like xterm-256color".into(),
        ));
    }
    if request.size.rows == 0 || request.size.cols == 0 {
        return Err(PolicyError::BadRequest(format!(
            "size: {}x{} has no cells; pass the caller's window size in rows and columns",
            request.size.rows, request.size.cols
        )));
    }
    ensure_exec_target(cluster, lease, STEP)?;
    if !lease_access::read(cluster, lease, STEP)?.terminals {
        return Err(PolicyError::NotAllowed(format!(
            "lease {}: interactive terminals are turned off by its configuration \
             (`terminals.enabled: false`); use execute or a detached process instead, or \
             turn terminals on for new leases",
            lease.id
        )));
    }

    let token = kill_token(&lease.id);
    let env_file = format!("{ENV_DIR}/{token}.env");
    write_env(cluster, request, &token, &env_file)?;

    let mut script = vec![
        "sh".to_string(),
        "-c".to_string(),
        TTY_SCRIPT.to_string(),
        TTY_NAME.to_string(),
        env_file.clone(),
        cwd.to_string(),
        token.clone(),
    ];
    script.extend(argv);
    let spec = ExecSpec {
        namespace: lease.namespace.clone(),
        pod: lease.pod.clone(),
        container: lease.container.clone(),
        argv: script,
        stdin: true,
        forward_output: true,
        forward_stdin: true,
        frame_stdin: false,
        tty: Some(request.size),
        max_stdout_bytes: None,
        max_stderr_bytes: None,
    };
    let ended = run_exec(cluster, &spec, None, None, Some(&token));
    if ended.is_err() {
        // The script removes the env file first thing; a terminal that
        // never got that far must not leave it behind.
        remove_env(cluster, request, &env_file);
    }
    ended
}

/// The env of the terminal, `TERM` last (the caller's `term` wins over an
/// env `TERM`, which wins over [`DEFAULT_TERM`]).
fn terminal_env(request: &TerminalRequest) -> Vec<EnvVar> {
    let mut env: Vec<EnvVar> = request
        .env
        .iter()
        .filter(|v| v.name != "TERM" || request.term.is_empty())
        .cloned()
        .collect();
    if !request.term.is_empty() {
        env.push(EnvVar {
            name: "TERM".into(),
            value: request.term.clone(),
        });
    } else if !env.iter().any(|v| v.name == "TERM") {
        env.push(EnvVar {
            name: "TERM".into(),
            value: DEFAULT_TERM.into(),
        });
    }
    env
}

/// The first exec: the env header over stdin into the env file.
fn write_env(
    cluster: &dyn Cluster,
    request: &TerminalRequest,
    token: &str,
    env_file: &str,
) -> Result<(), PolicyError> {
    const STEP: &str = "terminal-env";
    let lease = &request.lease;
    let spec = ExecSpec {
        namespace: lease.namespace.clone(),
        pod: lease.pod.clone(),
        container: lease.container.clone(),
        argv: vec![
            "sh".into(),
            "-c".into(),
            ENV_SCRIPT.into(),
            ENV_NAME.into(),
            ENV_DIR.into(),
            token.into(),
        ],
        stdin: true,
        forward_output: false,
        forward_stdin: false,
        frame_stdin: false,
        tty: None,
        max_stdout_bytes: Some(4096),
        max_stderr_bytes: Some(4096),
    };
    let target = format!("{}/{}/{}", spec.namespace, spec.pod, spec.container);
    let mut session = cluster
        .exec(&spec)
        .map_err(|e| kube_failure(STEP, &format!("starting the env exec in {target}"), &e))?;
    let header = encode_header(&terminal_env(request));
    let failed = |session: &mut dyn crate::cluster::ExecSession, error: PolicyError| {
        let _ = session.kill();
        remove_env(cluster, request, env_file);
        error
    };
    if let Err(e) = session
        .write_stdin(&header)
        .and_then(|()| session.close_stdin())
    {
        let error = kube_failure(STEP, &format!("writing the env to {target}"), &e);
        return Err(failed(session.as_mut(), error));
    }
    let deadline = cluster.monotonic_ms().saturating_add(ENV_WAIT_MS);
    loop {
        let remaining = deadline.saturating_sub(cluster.monotonic_ms());
        if remaining == 0 {
            let error = PolicyError::step(
                STEP,
                "TimedOut",
                format!("writing the terminal's env in {target} took over {ENV_WAIT_MS} ms"),
            );
            return Err(failed(session.as_mut(), error));
        }
        match session.wait(remaining.min(WAIT_SLICE_MS)) {
            Ok(None) => continue,
            Ok(Some(status)) if status.exit_code == Some(0) => return Ok(()),
            Ok(Some(status)) => {
                let error = PolicyError::step(
                    STEP,
                    "ScriptFailed",
                    format!(
                        "writing the terminal's env under {ENV_DIR} in {target} ended with \
                         {:?} {} (is /tmp writable?)",
                        status.exit_code, status.message
                    ),
                );
                return Err(failed(session.as_mut(), error));
            }
            Err(e) => {
                let error = kube_failure(STEP, &format!("waiting for {target}"), &e);
                return Err(failed(session.as_mut(), error));
            }
        }
    }
}

/// Removes the env file after a failure (best effort, logged).
fn remove_env(cluster: &dyn Cluster, request: &TerminalRequest, env_file: &str) {
    let lease = &request.lease;
    let spec = ExecSpec {
        namespace: lease.namespace.clone(),
        pod: lease.pod.clone(),
        container: lease.container.clone(),
        argv: vec![
            "sh".into(),
            "-c".into(),
            ENV_CLEANUP_SCRIPT.into(),
            ENV_NAME.into(),
            env_file.into(),
        ],
        stdin: false,
        forward_output: false,
        forward_stdin: false,
        frame_stdin: false,
        tty: None,
        max_stdout_bytes: Some(4096),
        max_stderr_bytes: Some(4096),
    };
    let removed = cluster
        .exec(&spec)
        .and_then(|mut session| session.wait(ENV_WAIT_MS));
    if let Err(e) = removed {
        cluster.log(
            Level::Warn,
            "open-terminal",
            &format!(
                "could not remove the terminal's env file {env_file}: {}",
                e.describe()
            ),
        );
    }
}

/// The exec wrapper's kill script knows a terminal's pid file by the
/// token, as it knows a wrapped command's: a test pins that they agree.
#[cfg(test)]
fn pid_file(token: &str) -> String {
    format!("/tmp/.leasebox-exec.{token}.pid")
}

#[cfg(test)]
mod tests;
