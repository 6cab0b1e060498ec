//! How a command, its working directory and its environment become an argv
//! plus a stdin header.
//!
//! Environment values are secrets often enough that they must never appear
//! in argv (visible in every process list of the pod). With env or cwd, the
//! command runs under a small POSIX `sh` script that first reads a header
//! from stdin: one line `NAME=<value>` per variable, the value spelled as
//! `printf %b` octal escapes (`\0NNN`) so that any byte (newline, quote,
//! UTF-8) survives, ended by an empty line. The shell's `read` builtin reads
//! a pipe one byte at a time, so whatever follows the header (the caller's
//! stdin) reaches the command untouched.
//!
//! The caller's stdin itself travels in frames (`<length>\n<bytes>`, ended
//! by `0\n`; the host writes them, see `frame-stdin` in `wit/kube.wit`):
//! exec protocol `v4.channel.k8s.io`, all that Kubernetes < 1.29 speaks,
//! cannot end stdin without losing the exit status. A feeder in the wrapper
//! decodes the frames with `dd iflag=fullblock` (exact reads; `head -c` of
//! busybox reads ahead) into a FIFO the command reads, so the command sees a
//! real end of input, and the wrapper waits only for the command. A
//! forwarded stdin therefore needs `sh`, `dd` and `mkfifo` in the image; a
//! command without forwarded stdin reads `/dev/null`. A frame is copied in
//! blocks of 64 KiB (a pipe's size) and then its rest, not as one block:
//! the command reads the start of a large frame while the rest still
//! comes, and `dd` holds no more than a block.

use crate::error::PolicyError;
use crate::lease::{Command, EnvVar};

/// `$0` of the wrapper script, shown in process lists.
pub const WRAPPER_NAME: &str = "leasebox-exec";

/// Prefix of the wrapper's own shell variables; env names may not use it.
pub const RESERVED_PREFIX: &str = "__leasebox_";

/// The wrapper: read the header, export, `cd`, record its pid under the
/// kill token (`$3`, empty: none), then run the command with its stdin
/// decoded from frames (`$2` = `framed`) or from `/dev/null`. `$1` is the
/// working directory (empty: stay), the rest the argv.
pub const SCRIPT: &str = r#"while IFS= read -r __leasebox_line; do
  [ -z "$__leasebox_line" ] && break
  __leasebox_value=$(printf '%bx' "${__leasebox_line#*=}")
  export "${__leasebox_line%%=*}=${__leasebox_value%x}"
done
unset __leasebox_line __leasebox_value
if [ -n "$1" ]; then
  cd -- "$1" || { echo "leasebox-exec: cannot change to directory $1" >&2; exit 126; }
fi
__leasebox_stdin=$2
__leasebox_pidfile=
if [ -n "$3" ]; then
  __leasebox_pidfile=/tmp/.leasebox-exec.$3.pid
  echo $$ >"$__leasebox_pidfile" 2>/dev/null || __leasebox_pidfile=
fi
shift 3
if [ "$__leasebox_stdin" != framed ]; then
  unset __leasebox_stdin
  if [ -z "$__leasebox_pidfile" ]; then
    exec "$@" </dev/null
  fi
  "$@" </dev/null
  __leasebox_rc=$?
  rm -f "$__leasebox_pidfile"
  exit "$__leasebox_rc"
fi
__leasebox_fifo=/tmp/.leasebox-stdin.$$
rm -f "$__leasebox_fifo"
mkfifo -m 600 "$__leasebox_fifo" || { echo "leasebox-exec: cannot create the stdin pipe $__leasebox_fifo (is /tmp writable?)" >&2; exit 126; }
exec 3<&0
(
  while IFS= read -r __leasebox_n; do
    [ "$__leasebox_n" = 0 ] && break
    __leasebox_blocks=$((__leasebox_n / 65536))
    __leasebox_rest=$((__leasebox_n % 65536))
    if [ "$__leasebox_blocks" -gt 0 ]; then
      dd bs=65536 count="$__leasebox_blocks" iflag=fullblock 2>/dev/null || break
    fi
    if [ "$__leasebox_rest" -gt 0 ]; then
      dd bs="$__leasebox_rest" count=1 iflag=fullblock 2>/dev/null || break
    fi
  done
) <&3 >"$__leasebox_fifo" &
__leasebox_feeder=$!
unset __leasebox_stdin
"$@" <"$__leasebox_fifo" 3<&-
__leasebox_rc=$?
kill "$__leasebox_feeder" 2>/dev/null
rm -f "$__leasebox_fifo" ${__leasebox_pidfile:+"$__leasebox_pidfile"}
exit "$__leasebox_rc"
"#;

/// Kills the process tree of a wrapped command by its kill token (`$1`):
/// the wrapper's pid from its pid file, then every descendant found
/// through the parent pids in `/proc/<pid>/stat`, gathered first and
/// killed together with SIGKILL. Exits 0 when nothing is left to kill.
pub const KILL_SCRIPT: &str = r#"__f=/tmp/.leasebox-exec.$1.pid
[ -r "$__f" ] || exit 0
read -r __root <"$__f" || exit 0
__all=
__todo=$__root
while [ -n "$__todo" ]; do
  __all="$__all $__todo"
  __next=
  for __d in /proc/[0-9]*; do
    __c=${__d#/proc/}
    read -r __l <"$__d/stat" 2>/dev/null || continue
    __l=${__l##*\) }
    set -- $__l
    for __q in $__todo; do
      [ "$2" = "$__q" ] && __next="$__next $__c"
    done
  done
  __todo=$__next
done
kill -KILL $__all 2>/dev/null
rm -f "$__f"
exit 0
"#;

/// `$0` of the kill script.
pub const KILLER_NAME: &str = "leasebox-kill";

/// The argv that kills the command started with `token` (see
/// [`KILL_SCRIPT`]).
pub fn kill_argv(token: &str) -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        KILL_SCRIPT.into(),
        KILLER_NAME.into(),
        token.into(),
    ]
}

/// True for a kill token: 1-64 of `[A-Za-z0-9-]` (it becomes a file name).
pub fn is_kill_token(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= 64
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Argument telling [`SCRIPT`] to decode framed stdin. (The feeder gets the
/// stdin through fd 3: a background list of a non-interactive shell reads
/// `/dev/null` unless redirected explicitly.)
pub const STDIN_FRAMED: &str = "framed";
/// Argument telling [`SCRIPT`] to give the command `/dev/null`.
pub const STDIN_NONE: &str = "none";

/// Frames `data` the way the host frames the caller's stdin: decimal
/// length, newline, bytes. An empty chunk is the end of input.
pub fn frame(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{}\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out
}

/// The argv to run and the bytes to write to stdin before anything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wrapped {
    /// Argv of the exec.
    pub argv: Vec<String>,
    /// Header to write first; `None` when the command runs unwrapped.
    pub header: Option<Vec<u8>>,
    /// The caller's stdin must be sent in frames.
    pub frame_stdin: bool,
}

/// The plain argv of a command: an argv as is, a shell string as
/// `sh -lc <string>`.
pub fn command_argv(command: &Command) -> Result<Vec<String>, PolicyError> {
    match command {
        Command::Argv(argv) => {
            if argv.first().is_none_or(|a| a.is_empty()) {
                return Err(PolicyError::BadRequest(
                    "command: the argv is empty or starts with an empty program; pass the \
                     program to run first"
                        .into(),
                ));
            }
            Ok(argv.clone())
        }
        Command::Shell(line) => {
            if line.trim().is_empty() {
                return Err(PolicyError::BadRequest(
                    "command: the shell string is empty; pass the command line to run".into(),
                ));
            }
            Ok(vec!["sh".into(), "-lc".into(), line.clone()])
        }
    }
}

/// True for a shell identifier (`[A-Za-z_][A-Za-z0-9_]*`).
pub fn is_shell_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Checks env names and values: names are shell identifiers outside the
/// wrapper's own prefix, values hold no NUL byte (no environment can).
pub fn check_env(env: &[EnvVar]) -> Result<(), PolicyError> {
    for var in env {
        if !is_shell_identifier(&var.name) {
            return Err(PolicyError::BadRequest(format!(
                "env `{}`: not a shell identifier; use letters, digits and `_`, not starting \
                 with a digit",
                var.name
            )));
        }
        if var.name.starts_with(RESERVED_PREFIX) {
            return Err(PolicyError::BadRequest(format!(
                "env `{}`: names starting with `{RESERVED_PREFIX}` are reserved for the exec \
                 wrapper; rename the variable",
                var.name
            )));
        }
        if var.value.contains('\0') {
            return Err(PolicyError::BadRequest(format!(
                "env `{}`: the value contains a NUL byte, which no environment variable can \
                 hold; remove it",
                var.name
            )));
        }
    }
    Ok(())
}

/// One value as `printf %b` input: ASCII letters and digits as is, every
/// other byte as `\0NNN` (always three octal digits, so a following digit
/// is never taken into the escape).
pub fn encode_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 2);
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("\\0{byte:03o}"));
        }
    }
    out
}

/// The stdin header: `NAME=<encoded>\n` per variable, then an empty line.
pub fn encode_header(env: &[EnvVar]) -> Vec<u8> {
    let mut header = String::new();
    for var in env {
        header.push_str(&var.name);
        header.push('=');
        header.push_str(&encode_value(&var.value));
        header.push('\n');
    }
    header.push('\n');
    header.into_bytes()
}

/// The argv and header of a command with its cwd and env, with the
/// caller's stdin forwarded or not, and (with a `kill_token`) killable
/// later by [`kill_argv`]. Without any of these the command runs as is (no
/// shell, no header, no stdin).
pub fn wrap(
    command: &Command,
    cwd: Option<&str>,
    env: &[EnvVar],
    forward_stdin: bool,
    kill_token: Option<&str>,
) -> Result<Wrapped, PolicyError> {
    let argv = command_argv(command)?;
    check_env(env)?;
    let cwd = cwd.unwrap_or("");
    if cwd.contains('\0') {
        return Err(PolicyError::BadRequest(
            "cwd: contains a NUL byte; pass a plain directory path".into(),
        ));
    }
    if let Some(token) = kill_token.filter(|t| !is_kill_token(t)) {
        return Err(PolicyError::BadRequest(format!(
            "kill token `{token}`: use 1-64 letters, digits and `-`"
        )));
    }
    if env.is_empty() && cwd.is_empty() && !forward_stdin && kill_token.is_none() {
        return Ok(Wrapped {
            argv,
            header: None,
            frame_stdin: false,
        });
    }
    let mode = if forward_stdin {
        STDIN_FRAMED
    } else {
        STDIN_NONE
    };
    let mut wrapped = vec![
        "sh".to_string(),
        "-c".to_string(),
        SCRIPT.to_string(),
        WRAPPER_NAME.to_string(),
        cwd.to_string(),
        mode.to_string(),
        kill_token.unwrap_or("").to_string(),
    ];
    wrapped.extend(argv);
    Ok(Wrapped {
        argv: wrapped,
        header: Some(encode_header(env)),
        frame_stdin: forward_stdin,
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::process::Stdio;

    use rstest::rstest;

    use super::*;

    fn var(name: &str, value: &str) -> EnvVar {
        EnvVar {
            name: name.into(),
            value: value.into(),
        }
    }

    #[rstest]
    #[case::letters_and_digits_stay("abc123", "abc123")]
    #[case::space_is_escaped("a b", "a\\0040b")]
    #[case::digit_after_escape_is_not_swallowed("=1", "\\00751")]
    #[case::backslash_is_escaped("\\", "\\0134")]
    #[case::newline_is_escaped("\n", "\\0012")]
    #[case::utf8_bytes_are_escaped_one_by_one("é", "\\0303\\0251")]
    #[case::empty_stays_empty("", "")]
    fn value_encoding(#[case] value: &str, #[case] encoded: &str) {
        assert_eq!(encode_value(value), encoded);
    }

    #[test]
    fn header_ends_with_an_empty_line() {
        let header = encode_header(&[var("A", "x y"), var("B", "")]);
        assert_eq!(header, b"A=x\\0040y\nB=\n\n");
    }

    #[test]
    fn empty_env_header_is_just_the_terminator() {
        assert_eq!(encode_header(&[]), b"\n");
    }

    #[test]
    fn plain_command_is_not_wrapped() {
        let w = wrap(
            &Command::Argv(vec!["ls".into(), "-l".into()]),
            None,
            &[],
            false,
            None,
        )
        .expect("valid");
        assert_eq!(w.argv, ["ls", "-l"]);
        assert_eq!(w.header, None);
    }

    #[test]
    fn shell_string_runs_under_sh_lc() {
        let w = wrap(
            &Command::Shell("echo hi | wc -c".into()),
            None,
            &[],
            false,
            None,
        )
        .expect("valid");
        assert_eq!(w.argv, ["sh", "-lc", "echo hi | wc -c"]);
    }

    #[test]
    fn env_values_never_appear_in_argv() {
        let secret = "sk-live-0123456789";
        let w = wrap(
            &Command::Argv(vec!["env".into()]),
            Some("/workspace"),
            &[var("API_KEY", secret)],
            false,
            None,
        )
        .expect("valid");
        assert!(
            w.argv
                .iter()
                .all(|a| !a.contains(secret) && !a.contains("API_KEY"))
        );
        assert_eq!(&w.argv[..2], ["sh", "-c"]);
        assert_eq!(
            &w.argv[3..],
            [WRAPPER_NAME, "/workspace", STDIN_NONE, "", "env"]
        );
        let header = String::from_utf8(w.header.expect("header")).expect("ascii header");
        assert!(
            header.starts_with("API_KEY=sk\\0055live\\00550123456789\n"),
            "{header}"
        );
    }

    #[test]
    fn cwd_alone_still_sends_the_terminator() {
        let w = wrap(
            &Command::Argv(vec!["pwd".into()]),
            Some("/tmp"),
            &[],
            false,
            None,
        )
        .expect("valid");
        assert_eq!(w.header.as_deref(), Some(&b"\n"[..]));
    }

    #[rstest]
    #[case::dash_in_name("MY-VAR")]
    #[case::leading_digit("1VAR")]
    #[case::empty_name("")]
    #[case::equals_in_name("A=B")]
    #[case::reserved_prefix("__leasebox_line")]
    fn bad_env_names_are_rejected_by_name(#[case] name: &str) {
        let err = wrap(
            &Command::Argv(vec!["true".into()]),
            None,
            &[var(name, "v")],
            false,
            None,
        )
        .expect_err("rejected");
        match err {
            PolicyError::BadRequest(message) => {
                assert!(message.contains(&format!("`{name}`")), "{message}")
            }
            other => panic!("expected BadRequest, got {other:?}"),
        }
    }

    #[test]
    fn nul_in_a_value_is_rejected() {
        let err = wrap(
            &Command::Argv(vec!["true".into()]),
            None,
            &[var("A", "x\0y")],
            false,
            None,
        )
        .expect_err("rejected");
        assert!(err.to_string().contains("NUL"), "{err}");
    }

    #[test]
    fn empty_argv_is_rejected() {
        assert!(matches!(
            wrap(&Command::Argv(vec![]), None, &[], false, None),
            Err(PolicyError::BadRequest(_))
        ));
    }

    /// Finds a shell binary on this machine.
    fn shell(name: &str) -> Option<String> {
        ["/bin", "/usr/bin"]
            .iter()
            .map(|dir| format!("{dir}/{name}"))
            .find(|path| std::path::Path::new(path).exists())
    }

    /// Starts a wrapped command with a piped stdin that the test controls.
    fn spawn(shell_path: &str, wrapped: &Wrapped) -> std::process::Child {
        let mut child = std::process::Command::new(shell_path)
            .args(&wrapped.argv[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the shell");
        child
            .stdin
            .as_mut()
            .expect("stdin")
            .write_all(wrapped.header.as_deref().unwrap_or_default())
            .expect("write header");
        child
    }

    /// Runs a wrapped command locally the way the exec would: argv as the
    /// process, header then the user's stdin on stdin.
    fn run_local(shell_path: &str, wrapped: &Wrapped, user_stdin: &[u8]) -> Vec<u8> {
        let mut child = spawn(shell_path, wrapped);
        {
            let mut stdin = child.stdin.take().expect("stdin");
            if wrapped.frame_stdin {
                for chunk in user_stdin.chunks(7) {
                    stdin.write_all(&frame(chunk)).expect("write a frame");
                }
                stdin.write_all(&frame(&[])).expect("write the end frame");
            } else {
                stdin.write_all(user_stdin).expect("write user stdin");
            }
        }
        let out = child.wait_with_output().expect("run the shell");
        assert!(
            out.status.success(),
            "wrapper failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    #[rstest]
    #[case::sh("sh")]
    #[case::dash("dash")]
    #[case::bash("bash")]
    fn wrapped_command_sees_exact_env_cwd_and_stdin(#[case] shell_name: &str) {
        let Some(shell_path) = shell(shell_name) else {
            eprintln!("skipping: no {shell_name} on this machine");
            return;
        };
        let dir = std::env::temp_dir().join("leasebox exec 'cwd' test");
        std::fs::create_dir_all(&dir).expect("create the test directory");
        let dir = dir.canonicalize().expect("canonical directory");
        let dir_text = dir.to_str().expect("utf-8 temp dir").to_string();

        let tricky = [
            var("QUOTES", "it's \"quoted\" `x` $HOME \\n \\0101"),
            var("NEWLINES", "line one\nline two\n\n"),
            var("UNICODE", "grüße 🚀 ℵ"),
            var("EMPTY", ""),
            var("TRAILING_X", "endsx"),
        ];
        // Prints each variable, then the cwd, NUL-separated, then copies
        // the rest of stdin.
        let script = "printf '%s\\0' \"$QUOTES\" \"$NEWLINES\" \"$UNICODE\" \"${EMPTY-unset}\" \
                      \"$TRAILING_X\" \"$(pwd -P)\"; cat";
        let wrapped = wrap(
            &Command::Argv(vec!["sh".into(), "-c".into(), script.into()]),
            Some(&dir_text),
            &tricky,
            true,
            None,
        )
        .expect("valid");
        let user_stdin = b"user line 1\n\nNOT_AN_ENV=1\n\xff\x00 binary tail";

        let out = run_local(&shell_path, &wrapped, user_stdin);

        let mut expected = Vec::new();
        for v in &tricky {
            expected.extend_from_slice(v.value.as_bytes());
            expected.push(0);
        }
        expected.extend_from_slice(dir_text.as_bytes());
        expected.push(0);
        expected.extend_from_slice(user_stdin);
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&expected)
        );
        assert_eq!(out, expected);
    }

    #[test]
    fn missing_cwd_fails_with_a_message() {
        let Some(shell_path) = shell("sh") else {
            eprintln!("skipping: no sh on this machine");
            return;
        };
        let wrapped = wrap(
            &Command::Argv(vec!["true".into()]),
            Some("/nonexistent/leasebox"),
            &[],
            false,
            None,
        )
        .expect("valid");
        let mut child = spawn(&shell_path, &wrapped);
        drop(child.stdin.take());
        let out = child.wait_with_output().expect("run");
        assert_eq!(out.status.code(), Some(126));
        assert!(String::from_utf8_lossy(&out.stderr).contains("cannot change to directory"));
    }

    #[test]
    fn command_that_ignores_stdin_ends_while_stdin_is_still_open() {
        let Some(shell_path) = shell("sh") else {
            eprintln!("skipping: no sh on this machine");
            return;
        };
        let wrapped =
            wrap(&Command::Shell("exit 42".into()), None, &[], true, None).expect("valid");
        let mut child = spawn(&shell_path, &wrapped);
        // The caller's stdin stays open (no end frame): the wrapper must
        // still end with the command.
        let _held_open = child.stdin.take();
        let started = std::time::Instant::now();
        loop {
            if let Some(status) = child.try_wait().expect("poll") {
                assert_eq!(status.code(), Some(42));
                break;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(20),
                "the wrapper waited for stdin although the command had ended"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    #[test]
    fn signal_death_is_reported_as_128_plus_n() {
        let Some(shell_path) = shell("sh") else {
            eprintln!("skipping: no sh on this machine");
            return;
        };
        let wrapped =
            wrap(&Command::Shell("kill -9 $$".into()), None, &[], true, None).expect("valid");
        let mut child = spawn(&shell_path, &wrapped);
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(&frame(&[]))
            .expect("end frame");
        let out = child.wait_with_output().expect("run");
        assert_eq!(out.status.code(), Some(137));
    }

    #[rstest]
    #[case::system_sh("/bin/sh", "cat")]
    #[case::busybox("/usr/bin/busybox", "cat")]
    fn framed_megabytes_arrive_byte_identical(
        #[case] program: &str,
        #[case] reader: &str,
        #[values(7_777, 65_536, 200_000)] frame_size: usize,
    ) {
        if !std::path::Path::new(program).exists() {
            eprintln!("skipping: no {program} on this machine");
            return;
        }
        let busybox = program.ends_with("busybox");
        let wrapped =
            wrap(&Command::Argv(vec![reader.into()]), None, &[], true, None).expect("valid");
        let mut argv = wrapped.argv.clone();
        if busybox {
            // busybox as `sh`, with its applets (dd, mkfifo, cat) on PATH.
            argv[0] = "sh".into();
        }
        let mut command = std::process::Command::new(program);
        if busybox {
            command.args(&argv);
        } else {
            command.args(&argv[1..]);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let data: Vec<u8> = (0..3_000_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let mut stdin = child.stdin.take().expect("stdin");
        let header = wrapped.header.clone().unwrap_or_default();
        let payload = data.clone();
        let writer = std::thread::spawn(move || {
            stdin.write_all(&header).expect("header");
            for chunk in payload.chunks(frame_size) {
                stdin.write_all(&frame(chunk)).expect("frame");
            }
            stdin.write_all(&frame(&[])).expect("end frame");
        });
        let out = child.wait_with_output().expect("run");
        writer.join().expect("writer");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout.len(), data.len());
        assert!(out.stdout == data, "stdout differs from stdin");
    }

    #[test]
    fn timeout_kill_takes_the_whole_process_tree() {
        let Some(shell_path) = shell("sh") else {
            eprintln!("skipping: no sh on this machine");
            return;
        };
        if !std::path::Path::new("/tmp").is_dir() {
            return;
        }
        let token = format!("test-{}", std::process::id());
        // A command whose own child outlives it unless the tree is killed.
        let marker = format!("leasebox-tree-{token}");
        let wrapped = wrap(
            &Command::Argv(vec![
                "sh".into(),
                "-c".into(),
                format!("sleep 300 & echo started; wait; : {marker}"),
            ]),
            None,
            &[],
            true,
            Some(&token),
        )
        .expect("valid");
        let mut child = spawn(&shell_path, &wrapped);
        let _stdin_open = child.stdin.take();
        let pidfile = format!("/tmp/.leasebox-exec.{token}.pid");
        let started = std::time::Instant::now();
        while !std::path::Path::new(&pidfile).exists() {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(10),
                "no pid file"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
        let killer = std::process::Command::new(&shell_path)
            .args(&kill_argv(&token)[1..])
            .status()
            .expect("run the kill script");
        assert!(killer.success());
        let status = child.wait().expect("the wrapper ends");
        assert_eq!(status.code(), None, "killed by a signal");
        // No process of the tree is left (the marker is in its argv).
        let left: Vec<String> = std::fs::read_dir("/proc")
            .expect("/proc")
            .filter_map(|e| e.ok())
            .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
            .filter(|c| c.contains(&marker))
            .collect();
        assert!(left.is_empty(), "left running: {left:?}");
        assert!(!std::path::Path::new(&pidfile).exists(), "pid file removed");
    }

    #[rstest]
    #[case::empty("")]
    #[case::slash("a/b")]
    #[case::dot_dot("..")]
    fn bad_kill_tokens_are_rejected(#[case] token: &str) {
        assert!(matches!(
            wrap(
                &Command::Argv(vec!["true".into()]),
                None,
                &[],
                false,
                Some(token)
            ),
            Err(PolicyError::BadRequest(_))
        ));
    }
}
