//! `hand-over-secret`: a lease's Secret written into a file of its running
//! pod, without a restart.
//!
//! The host hands over the values it filled into the Secret itself when it
//! wrote it (`secret.rs`, [`super::secret::FilledValues`]): it never reads
//! a Secret back, and holds no `get` on Secrets. It renders them as POSIX
//! `sh` lines (`export KEY='value'`, sorted by key) and
//! sends them over the stdin of one exec into the pod ([`exec::start`], the
//! same session every other exec runs in). The command line carries the
//! path and the byte count, never a value. Kubernetes 1.20's exec protocol
//! cannot close stdin, so the script in the pod reads exactly the byte
//! count (`dd ... iflag=fullblock`) rather than up to the end of input.
//! The file is made under `<path>.tmp` with umask 077, checked for its
//! size, made read-only (0400) and renamed into place, so a reader sees the
//! old file or the whole new one.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;

use super::KubeClusterIo;
use super::exec::{self, KubeExec};
use crate::cluster::io::CallerIo;
use crate::contract::{ExecSpec, ExecStream, HandOverRequest, KubeError, OutputStream};

/// Longest a hand-over may take, exec and write together: a file of at
/// most 1 MiB (a Secret's cap) written in a running pod.
pub(crate) const HAND_OVER_TIMEOUT: Duration = Duration::from_secs(30);

/// Bytes of the script's stderr kept for an error message.
const MAX_STDERR_BYTES: u64 = 4 << 10;

/// Keys starting with this are leasebox's own, never handed over.
const RESERVED_KEY_PREFIX: &str = "__leasebox_";

/// `$0` of the script in the pod, as `ps` shows it.
const SCRIPT_NAME: &str = "leasebox-hand-over";

/// The script run in the pod: `$1` is the path, `$2` the byte count; the
/// file comes on stdin. Every failure exits 1 with a message on stderr and
/// leaves no temporary file behind.
const SCRIPT: &str = r#"set -u
t="$1.tmp"
fail() { echo "$0: $*" >&2; rm -f "$t"; exit 1; }
umask 077
rm -f "$t" || fail "cannot remove an old $t"
if [ "$2" -gt 0 ]; then
  out=$(dd bs="$2" count=1 iflag=fullblock of="$t" 2>&1) || fail "cannot write $t: $out"
else
  : > "$t" || fail "cannot create $t"
fi
n=$(wc -c < "$t") || fail "cannot measure $t"
[ "$n" -eq "$2" ] || fail "read $n of $2 bytes from stdin"
chmod 0400 "$t" || fail "cannot make $t read-only"
mv -f "$t" "$1" || fail "cannot rename $t to $1"
"#;

/// Hands the Secret of `request` over to its pod (see the module docs).
pub(crate) fn hand_over(io: &KubeClusterIo, request: &HandOverRequest) -> Result<(), KubeError> {
    let step = format!(
        "hand over secret {}/{} to pod {}",
        request.namespace, request.secret, request.pod
    );
    let secret = filled_secret(io, request, &step)?;
    let file = hand_over_file(&secret);
    let spec = ExecSpec {
        namespace: request.namespace.clone(),
        pod: request.pod.clone(),
        container: request.container.clone(),
        argv: argv(&request.path, file.len()),
        stdin: true,
        forward_output: false,
        forward_stdin: false,
        frame_stdin: false,
        tty: None,
        max_stdout_bytes: Some(MAX_STDERR_BYTES),
        max_stderr_bytes: Some(MAX_STDERR_BYTES),
    };
    let deadline = Instant::now() + HAND_OVER_TIMEOUT;
    let session = io
        .block_on(async {
            tokio::time::timeout(
                HAND_OVER_TIMEOUT,
                exec::start(&io.ctx, &spec, &CallerIo::none()),
            )
            .await
        })
        .map_err(|_| timed_out(&step, "starting the exec"))?
        .map_err(|e| in_step(&step, e))?;
    let mut session = KubeExec::new(io.handle.clone(), session);
    let written = write_file(&mut session, &file, &step).and_then(|()| {
        let stderr = read_stderr(&mut session, deadline);
        wait_for_success(&mut session, deadline, &stderr, &step)
    });
    if written.is_err() {
        let _ = session.kill();
    }
    written
}

/// The Secret as this host filled it (its `stringData`).
fn filled_secret(
    io: &KubeClusterIo,
    request: &HandOverRequest,
    step: &str,
) -> Result<Secret, KubeError> {
    let values = io
        .ctx
        .filled_values
        .get(&request.namespace, &request.secret)
        .ok_or_else(|| {
            KubeError::NotFound(format!(
                "{step}: this host has not written secret `{}` in `{}` in the last ten minutes; \
                 it hands over only values it filled itself (write the Secret through \
                 apply-host-secret in the same call first)",
                request.secret, request.namespace
            ))
        })?;
    let string_data = values
        .into_iter()
        .filter_map(|(key, value)| value.as_str().map(|v| (key, v.to_string())))
        .collect();
    Ok(Secret {
        string_data: Some(string_data),
        ..Secret::default()
    })
}

/// The command run in the pod: the script, then its `$0`, the path and the
/// byte count.
fn argv(path: &str, bytes: usize) -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        SCRIPT.into(),
        SCRIPT_NAME.into(),
        path.into(),
        bytes.to_string(),
    ]
}

/// The file's bytes: one `export KEY='value'` line per handed-over key of
/// `secret` (`data` decoded, then `stringData`, which wins as it does on a
/// write), sorted by key.
pub fn hand_over_file(secret: &Secret) -> Vec<u8> {
    let mut values: BTreeMap<&str, &[u8]> = BTreeMap::new();
    for (key, value) in secret.data.iter().flatten() {
        values.insert(key, &value.0);
    }
    for (key, value) in secret.string_data.iter().flatten() {
        values.insert(key, value.as_bytes());
    }
    let mut file = String::new();
    for (key, value) in values {
        let Some(value) = handed_over(key, value) else {
            continue;
        };
        file.push_str("export ");
        file.push_str(key);
        file.push_str("='");
        file.push_str(&value.replace('\'', r"'\''"));
        file.push_str("'\n");
    }
    file.into_bytes()
}

/// The value of `key` as text, when the pair is handed over: the key is a
/// shell identifier (as `envFrom` takes them) and not leasebox's own, the
/// value UTF-8 without NUL (a shell variable cannot hold one).
fn handed_over<'a>(key: &str, value: &'a [u8]) -> Option<&'a str> {
    let mut chars = key.chars();
    let identifier = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !identifier || key.starts_with(RESERVED_KEY_PREFIX) {
        return None;
    }
    std::str::from_utf8(value)
        .ok()
        .filter(|v| !v.contains('\0'))
}

/// Sends the file on stdin, then ends stdin (the script stops at the byte
/// count whether or not the end arrives).
fn write_file(session: &mut KubeExec, file: &[u8], step: &str) -> Result<(), KubeError> {
    if !file.is_empty() {
        session.write_stdin(file).map_err(|e| in_step(step, e))?;
    }
    session.close_stdin().map_err(|e| in_step(step, e))
}

/// The script's stderr (capped by the session), read until the output ends
/// or the deadline passes.
fn read_stderr(session: &mut KubeExec, deadline: Instant) -> String {
    let mut stderr = Vec::new();
    while !session.output_ended() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match session.read(left) {
            Ok(Some((OutputStream::Stderr, data))) => stderr.extend_from_slice(&data),
            Ok(Some((OutputStream::Stdout, _))) | Ok(None) => {}
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&stderr).trim().to_string()
}

/// Waits for the script's exit; anything but 0 is an error naming `step`
/// and carrying its stderr.
fn wait_for_success(
    session: &mut KubeExec,
    deadline: Instant,
    stderr: &str,
    step: &str,
) -> Result<(), KubeError> {
    let left = deadline.saturating_duration_since(Instant::now());
    let Some(status) = session.wait(left).map_err(|e| in_step(step, e))? else {
        return Err(timed_out(step, "waiting for the write in the pod"));
    };
    if status.exit_code == Some(0) {
        return Ok(());
    }
    let said = if stderr.is_empty() {
        status.message.as_str()
    } else {
        stderr
    };
    Err(KubeError::Transport(format!(
        "{step}: the write in the pod failed (exit code {}): {said}",
        status
            .exit_code
            .map_or_else(|| "none".to_string(), |c| c.to_string())
    )))
}

fn timed_out(step: &str, during: &str) -> KubeError {
    KubeError::TimedOut(format!(
        "{step}: no answer within {} s while {during}",
        HAND_OVER_TIMEOUT.as_secs()
    ))
}

/// `error` with `step` in front of its message (an exec error names only
/// the exec).
fn in_step(step: &str, error: KubeError) -> KubeError {
    use KubeError as E;
    let with = |m: String| format!("{step}: {m}");
    match error {
        E::NoCluster(m) => E::NoCluster(with(m)),
        E::Denied(d) => E::Denied(d),
        E::NotFound(m) => E::NotFound(with(m)),
        E::Conflict(m) => E::Conflict(with(m)),
        E::Forbidden(m) => E::Forbidden(with(m)),
        E::Invalid(m) => E::Invalid(with(m)),
        E::Gone(m) => E::Gone(with(m)),
        E::TimedOut(m) => E::TimedOut(with(m)),
        E::Transport(m) => E::Transport(with(m)),
        E::BadArgument(m) => E::BadArgument(with(m)),
        E::Cancelled(m) => E::Cancelled(with(m)),
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::ByteString;

    use super::*;

    fn secret(data: &[(&str, &[u8])], string_data: &[(&str, &str)]) -> Secret {
        Secret {
            data: Some(
                data.iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.to_vec())))
                    .collect(),
            ),
            string_data: (!string_data.is_empty()).then(|| {
                string_data
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            }),
            ..Secret::default()
        }
    }

    fn rendered(secret: &Secret) -> String {
        String::from_utf8(hand_over_file(secret)).expect("utf-8")
    }

    #[test]
    fn values_are_single_quoted_and_a_quote_is_closed_escaped_and_reopened() {
        let s = secret(&[("TOKEN", b"it's $HOME `x`")], &[]);
        assert_eq!(rendered(&s), "export TOKEN='it'\\''s $HOME `x`'\n");
    }

    #[test]
    fn lines_are_sorted_by_key() {
        let s = secret(&[("b", b"2"), ("A", b"1"), ("_c", b"3")], &[]);
        assert_eq!(rendered(&s), "export A='1'\nexport _c='3'\nexport b='2'\n");
    }

    #[rstest::rstest]
    #[case::dotted_key("app.key", b"v")]
    #[case::dashed_key("API-KEY", b"v")]
    #[case::leading_digit("1KEY", b"v")]
    #[case::empty_key("", b"v")]
    #[case::leaseboxs_own_key("__leasebox_owner", b"v")]
    #[case::binary_value("KEY", b"\xff\xfe")]
    #[case::value_with_nul("KEY", b"a\0b")]
    fn a_pair_a_shell_cannot_hold_or_leasebox_keeps_is_left_out(
        #[case] key: &str,
        #[case] value: &[u8],
    ) {
        let s = secret(&[(key, value), ("KEPT", b"yes")], &[]);
        assert_eq!(rendered(&s), "export KEPT='yes'\n");
    }

    #[test]
    fn string_data_is_handed_over_and_wins_over_data() {
        let s = secret(&[("A", b"old"), ("B", b"b")], &[("A", "new"), ("C", "c")]);
        assert_eq!(rendered(&s), "export A='new'\nexport B='b'\nexport C='c'\n");
    }

    #[test]
    fn an_empty_secret_is_an_empty_file() {
        assert!(hand_over_file(&Secret::default()).is_empty());
    }

    #[test]
    fn argv_carries_the_path_and_count_but_no_value() {
        let argv = argv("/run/leasebox/env", 42);
        assert_eq!(argv[..2], ["sh", "-c"]);
        assert_eq!(argv[3..], [SCRIPT_NAME, "/run/leasebox/env", "42"]);
        assert!(argv[2].contains("iflag=fullblock"));
        assert!(argv[2].contains("umask 077"));
    }

    /// Runs the script with the local `sh`, as the pod would, with `input`
    /// on its stdin, which stays open until the script ends (as Kubernetes
    /// 1.20's does) when `open`.
    fn run_script(
        path: &std::path::Path,
        count: usize,
        input: &[u8],
        open: bool,
    ) -> std::process::Output {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let argv = argv(&path.display().to_string(), count);
        let mut child = Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sh runs");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(input).expect("write");
        let kept = open.then_some(stdin);
        let output = child.wait_with_output().expect("ends");
        drop(kept);
        output
    }

    #[test]
    fn the_script_reads_the_count_from_an_open_stdin_and_leaves_a_read_only_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("lease.env");
        let file = b"export A='1'\n";
        let output = run_script(&path, file.len(), file, true);
        assert!(output.status.success(), "{output:?}");
        assert_eq!(std::fs::read(&path).expect("written"), file);
        let mode = std::fs::metadata(&path)
            .expect("exists")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o400);
        assert!(!dir.path().join("lease.env.tmp").exists());
    }

    #[test]
    fn the_script_makes_an_empty_file_for_zero_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("lease.env");
        let output = run_script(&path, 0, b"", true);
        assert!(output.status.success(), "{output:?}");
        assert!(std::fs::read(&path).expect("written").is_empty());
    }

    #[test]
    fn the_script_fails_with_a_message_on_short_input_and_leaves_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("lease.env");
        let output = run_script(&path, 10, b"abc", false);
        assert_eq!(output.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("leasebox-hand-over: read 3 of 10 bytes"),
            "{stderr}"
        );
        assert!(!path.exists());
        assert!(!dir.path().join("lease.env.tmp").exists());
    }

    #[test]
    fn the_step_is_named_in_front_of_an_exec_error() {
        let error = in_step(
            "hand over secret ns/s to pod p",
            KubeError::Forbidden("no".into()),
        );
        assert_eq!(
            error,
            KubeError::Forbidden("hand over secret ns/s to pod p: no".into())
        );
    }
}
