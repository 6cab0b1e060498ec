//! What `exec` promises, on a `pod` lease: the command's own exit code
//! (signal deaths as 128+N), stdin streamed byte for byte, stderr apart
//! from stdout, and a timeout that kills the command.

use std::time::{Duration, Instant};

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::support::case::{Case, Lease};

/// Size of the stdin round trip.
const ROUND_TRIP_BYTES: usize = 64 * 1024 * 1024;

fn pod_lease(case: &Case) -> Lease {
    let config = case.config(json!({ "backend": "pod" }));
    case.acquire(&config, &[])
}

#[test]
fn exit_codes_of_the_command_come_back() {
    let Some(case) = Case::start("exec-exit-codes") else {
        return;
    };
    let lease = pod_lease(&case);
    let cases: [(&str, &[&str], i32); 5] = [
        ("true", &["true"], 0),
        ("false", &["false"], 1),
        ("exit_42", &["sh", "-c", "exit 42"], 42),
        ("killed_by_sigkill", &["sh", "-c", "kill -9 $$"], 137),
        ("killed_by_sigterm", &["sh", "-c", "kill -15 $$"], 143),
    ];
    for (name, command, expected) in cases {
        let mut args = vec!["--"];
        args.extend_from_slice(command);
        let output = case.exec(&lease, &args);
        assert_eq!(
            output.code,
            Some(expected),
            "case {name}: exit code of {command:?}\n{}",
            output.describe()
        );
    }
    case.release(&lease);
    case.finish();
}

/// Deterministic bytes (xorshift64), every value of a byte included.
fn pattern(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn stdin_of_64_mib_round_trips_byte_identical() {
    let Some(case) = Case::start("exec-stdin") else {
        return;
    };
    let lease = pod_lease(&case);
    let input = pattern(ROUND_TRIP_BYTES);
    let expected = sha256_hex(&input);
    let output = case.exec_with(
        &lease,
        &["--", "cat"],
        Some(input),
        Duration::from_secs(600),
    );
    output.assert_code(0);
    assert_eq!(
        output.stdout.len(),
        ROUND_TRIP_BYTES,
        "bytes back; stderr: {}",
        output.stderr
    );
    assert_eq!(
        sha256_hex(&output.stdout),
        expected,
        "SHA-256 of the bytes back"
    );
    eprintln!(
        "64 MiB through exec stdin and stdout in {:.1?} ({:.1} MiB/s)",
        output.elapsed,
        64.0 / output.elapsed.as_secs_f64()
    );
    case.release(&lease);
    case.finish();
}

#[test]
fn stderr_is_kept_apart_from_stdout() {
    let Some(case) = Case::start("exec-stderr") else {
        return;
    };
    let lease = pod_lease(&case);
    let output = case.exec(
        &lease,
        &[
            "--",
            "sh",
            "-c",
            "echo to-stdout; echo to-stderr >&2; echo more-stdout; exit 5",
        ],
    );
    output.assert_code(5);
    assert_eq!(
        output.stdout_text(),
        "to-stdout\nmore-stdout\n",
        "{}",
        output.describe()
    );
    assert!(
        output.stderr.contains("to-stderr\n"),
        "{}",
        output.describe()
    );
    assert!(
        !output.stderr.contains("to-stdout"),
        "{}",
        output.describe()
    );
    case.release(&lease);
    case.finish();
}

#[test]
fn timeout_kills_the_command_and_exits_124() {
    let Some(case) = Case::start("exec-timeout") else {
        return;
    };
    let lease = pod_lease(&case);
    let output = case.exec(&lease, &["--timeout-sec", "2", "--", "sleep", "417"]);
    output.assert_code(124);
    assert!(
        output.elapsed < Duration::from_secs(30),
        "the timeout of 2 s ended the exec only after {:?}",
        output.elapsed
    );
    let stderr = output.stderr.to_lowercase();
    assert!(
        stderr.contains("timeout") || stderr.contains("timed out"),
        "stderr says the command timed out\n{}",
        output.describe()
    );

    // The command must be gone from the pod, not merely detached from.
    let started = Instant::now();
    loop {
        let ps = case.exec(&lease, &["--", "ps", "-o", "args"]);
        ps.assert_code(0);
        if !ps.stdout_text().lines().any(|l| l.trim() == "sleep 417") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "`sleep 417` still runs in the pod 15 s after the exec timed out:\n{}",
            ps.stdout_text()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    case.release(&lease);
    case.finish();
}

/// `upload` unpacks a tar stream from stdin into the sandbox over exec
/// stdin (no base64, no argv), and `exec -- tar -c` brings it back: the
/// files arrive byte-identical.
#[test]
fn upload_and_download_of_a_workspace_round_trip_byte_identical() {
    let Some(case) = Case::start("exec-upload") else {
        return;
    };
    let scratch = std::env::temp_dir().join(format!("leasebox-e2e-upload-{}", std::process::id()));
    let source = scratch.join("src");
    std::fs::create_dir_all(source.join("nested")).expect("scratch dir");
    let blob = pattern(5 * 1024 * 1024);
    std::fs::write(source.join("nested/blob.bin"), &blob).expect("write blob");
    std::fs::write(source.join("hello.txt"), "hello\n").expect("write text");
    let tar_in = std::process::Command::new("tar")
        .arg("-C")
        .arg(&source)
        .args(["-cf", "-", "."])
        .output()
        .expect("tar on this machine");
    assert!(tar_in.status.success(), "building the tar failed");

    let lease = pod_lease(&case);
    case.cli_with(
        &[
            "upload",
            "--lease",
            lease.id.as_str(),
            "--namespace",
            lease.namespace.as_str(),
            "--path",
            "/workspace/in",
        ],
        Some(tar_in.stdout),
        Duration::from_secs(120),
    )
    .assert_code(0);

    let download = case.exec(
        &lease,
        &["--no-stdin", "--", "tar", "-c", "-C", "/workspace/in", "."],
    );
    download.assert_code(0);
    let target = scratch.join("dst");
    std::fs::create_dir_all(&target).expect("target dir");
    let mut untar = std::process::Command::new("tar")
        .arg("-C")
        .arg(&target)
        .args(["-xf", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("tar on this machine");
    {
        use std::io::Write;
        untar
            .stdin
            .take()
            .expect("stdin")
            .write_all(&download.stdout)
            .expect("feed tar");
    }
    assert!(
        untar.wait().expect("tar ends").success(),
        "unpacking the download failed"
    );
    let back = std::fs::read(target.join("nested/blob.bin")).expect("blob came back");
    assert_eq!(
        Sha256::digest(&back),
        Sha256::digest(&blob),
        "the 5 MiB file changed on the way"
    );
    assert_eq!(
        std::fs::read_to_string(target.join("hello.txt")).expect("text came back"),
        "hello\n"
    );
    let _ = std::fs::remove_dir_all(&scratch);
    case.release(&lease);
    case.finish();
}
