//! Running the `leasebox` binary as a user would: arguments, an optional
//! stdin, stdout and stderr captured apart, a wall-clock limit.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The binary cargo built for this test run.
const BINARY: &str = env!("CARGO_BIN_EXE_leasebox");

/// Names another binary to run instead of [`BINARY`] (worktrees sharing
/// one target directory overwrite each other's `target/debug/leasebox`).
const BINARY_ENV: &str = "LEASEBOX_E2E_BINARY";

/// The binary under test.
pub fn binary() -> String {
    std::env::var(BINARY_ENV).unwrap_or_else(|_| BINARY.to_string())
}

/// How often a running command is checked for its end.
const POLL: Duration = Duration::from_millis(25);

/// How one run of the binary ended.
#[derive(Debug)]
pub struct Output {
    /// The arguments, for messages.
    pub args: Vec<String>,
    /// Exit code; `None` when the binary itself died of a signal.
    pub code: Option<i32>,
    /// Everything written to stdout.
    pub stdout: Vec<u8>,
    /// Everything written to stderr.
    pub stderr: String,
    /// Wall-clock time from spawn to exit.
    pub elapsed: Duration,
}

impl Output {
    /// Stdout as text (lossy).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Stdout parsed as one JSON document.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "leasebox {}: stdout is not JSON ({e})\n{}",
                self.args.join(" "),
                self.describe()
            )
        })
    }

    /// Panics, with the whole run in the message, unless the exit code is
    /// `expected`.
    pub fn assert_code(&self, expected: i32) -> &Output {
        assert_eq!(
            self.code,
            Some(expected),
            "leasebox {}: exit code\n{}",
            self.args.join(" "),
            self.describe()
        );
        self
    }

    /// The run, for failure messages (output cut to a readable length).
    pub fn describe(&self) -> String {
        format!(
            "exit: {:?} after {:.1?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code,
            self.elapsed,
            cut(&self.stdout_text(), 4000),
            cut(&self.stderr, 8000)
        )
    }
}

fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Runs `leasebox <args>` with `KUBECONFIG=kubeconfig`, feeding `stdin`
/// (closed at once when `None`); kills it and panics after `limit`.
pub fn run(kubeconfig: &Path, args: &[String], stdin: Option<Vec<u8>>, limit: Duration) -> Output {
    run_with_env(kubeconfig, args, &[], stdin, limit)
}

/// [`run`] with `env` (name, value) added to the binary's environment.
pub fn run_with_env(
    kubeconfig: &Path,
    args: &[String],
    env: &[(&str, &str)],
    stdin: Option<Vec<u8>>,
    limit: Duration,
) -> Output {
    let started = Instant::now();
    let binary = binary();
    let mut child = Command::new(&binary)
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env_remove("LEASEBOX_LOG")
        .envs(env.iter().copied())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"));

    // The writer is never joined: when the binary stops reading early, the
    // write fails with a broken pipe and the thread ends on its own.
    if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
        thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        });
    }
    let mut stdout_pipe = child.stdout.take().expect("stdout is piped");
    let mut stderr_pipe = child.stderr.take().expect("stderr is piped");
    let stdout_reader = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout_pipe.read_to_end(&mut buf);
        buf
    });
    let stderr_reader = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr_pipe.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    });

    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() > limit => {
                timed_out = true;
                let _ = child.kill();
                break child.wait().ok();
            }
            Ok(None) => thread::sleep(POLL),
            Err(e) => panic!("waiting for leasebox {}: {e}", args.join(" ")),
        }
    };
    let elapsed = started.elapsed();
    let output = Output {
        args: args.to_vec(),
        code: status.and_then(|s| s.code()),
        stdout: stdout_reader.join().unwrap_or_default(),
        stderr: stderr_reader.join().unwrap_or_default(),
        elapsed,
    };
    if timed_out {
        panic!(
            "leasebox {} did not end within {limit:?}; killed\n{}",
            args.join(" "),
            output.describe()
        );
    }
    output
}

/// A run of the binary in the background, to be interrupted.
#[derive(Debug)]
pub struct Running {
    child: std::process::Child,
    args: Vec<String>,
}

/// Starts `leasebox <args>` with `KUBECONFIG=kubeconfig`, no stdin, stdout
/// discarded and stderr kept.
pub fn spawn(kubeconfig: &Path, args: &[&str]) -> Running {
    let binary = binary();
    let child = Command::new(&binary)
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env_remove("LEASEBOX_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"));
    Running {
        child,
        args: args.iter().map(|a| a.to_string()).collect(),
    }
}

impl Running {
    /// Sends SIGINT (Ctrl-C) and waits up to `limit` for the end: the exit
    /// code (`None` after a death by signal), stderr, and the time from
    /// the signal to the end. Panics when the binary does not end.
    pub fn interrupt(mut self, limit: Duration) -> (Option<i32>, String, Duration) {
        let signalled = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("kill on this machine");
        assert!(signalled.success(), "kill -INT failed");
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("poll leasebox") {
                break status;
            }
            if started.elapsed() > limit {
                let _ = self.child.kill();
                panic!(
                    "leasebox {} did not end within {limit:?} of SIGINT",
                    self.args.join(" ")
                );
            }
            thread::sleep(POLL);
        };
        let elapsed = started.elapsed();
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        (status.code(), stderr, elapsed)
    }
}
