//! Tests of the exec wrapper: the header's spelling, the argv of each
//! case, and the scripts run by a real `sh` where one is found.

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
    let wrapped = wrap(&Command::Shell("exit 42".into()), None, &[], true, None).expect("valid");
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
    let wrapped = wrap(&Command::Shell("kill -9 $$".into()), None, &[], true, None).expect("valid");
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
    let wrapped = wrap(&Command::Argv(vec![reader.into()]), None, &[], true, None).expect("valid");
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
    // The tree is whole once the command says so: its `sleep` is forked
    // (a fixed pause here lost the race on a loaded machine).
    let mut said = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.as_mut().expect("stdout")),
        &mut said,
    )
    .expect("the command's first line");
    assert_eq!(said, "started\n");
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
