//! One long-running `leasebox serve` on stdio for a cluster bench: its
//! answers read by a thread of their own, each call timed from writing the
//! request to reading its answer.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::process::{LIMIT, Watchdog};

/// A running `leasebox serve`.
pub struct Serve {
    child: Child,
    stdin: Option<ChildStdin>,
    messages: mpsc::Receiver<Value>,
    next_id: u64,
    stderr_log: PathBuf,
}

impl Serve {
    /// Starts `command` (a `leasebox serve` command line) with its stdin
    /// and stdout piped and its stderr written to `stderr_log`.
    pub fn start(mut command: Command, stderr_log: PathBuf) -> Serve {
        let stderr = std::fs::File::create(&stderr_log).expect("create the serve log");
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, messages) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                let message: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
                    panic!("serve wrote a line that is not JSON ({e}): {line}")
                });
                if sender.send(message).is_err() {
                    return;
                }
            }
        });
        Serve {
            stdin: child.stdin.take(),
            child,
            messages,
            next_id: 1,
            stderr_log,
        }
    }

    /// One call, timed from writing the request to reading its answer
    /// (notifications in between are skipped); the result. An error
    /// answer, or none within [`LIMIT`], fails the bench naming serve's log.
    pub fn timed_call(&mut self, method: &str, params: Value) -> (Duration, Value) {
        let id = self.next_id;
        self.next_id += 1;
        let mut line =
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string();
        line.push('\n');
        let stdin = self.stdin.as_mut().expect("serve's stdin is open");
        let started = Instant::now();
        stdin.write_all(line.as_bytes()).expect("write to serve");
        stdin.flush().expect("flush serve's stdin");
        loop {
            let message = self.messages.recv_timeout(LIMIT).unwrap_or_else(|e| {
                panic!(
                    "serve: no answer to {method} ({e}); its log: {}",
                    self.stderr_log.display()
                )
            });
            if message["id"] != id {
                continue;
            }
            let took = started.elapsed();
            if let Some(error) = message.get("error") {
                panic!(
                    "serve: {method} failed: {error}; its log: {}",
                    self.stderr_log.display()
                );
            }
            return (took, message["result"].clone());
        }
    }

    /// One call, untimed; the result.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.timed_call(method, params).1
    }

    /// Closes stdin (serve then exits 0 once its calls have ended) and
    /// waits for the end, killing it after [`LIMIT`].
    pub fn stop(mut self) {
        drop(self.stdin.take());
        let watchdog = Watchdog::arm(self.child.id());
        let status = self.child.wait().expect("wait for serve");
        watchdog.disarm();
        assert!(status.success(), "serve ended with {status}");
    }
}
