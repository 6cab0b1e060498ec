//! S3: the round trip of one keystroke through a terminal in the lease's
//! pod, from the bench writing a letter to reading its echo, on three
//! terminals: `leasebox shell` and `kubectl exec -it POD -- sh`, each on a
//! pseudo-terminal the bench opens (`pty.rs`), and `terminal.open` of one
//! running `leasebox serve` (input as `exec/stdin` notifications, output as
//! `exec/output`).
//!
//! A session: type `echo RE''ADY` and Enter, wait for `READY` (only the
//! command's output spells it so: its echo shows the quotes) and then for
//! the output to be quiet for [`QUIET`]; then the keystrokes one at a time
//! (a letter, wait for a read that holds it, [`GAP`], the next letter);
//! then Ctrl-U, `exit` and Enter, and the end of the session.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

use super::pty::OnPty;
use super::{AGENT_CONTAINER, Bench};
use crate::common::Summary;
use crate::common::tenant::BINARY;

/// The window of every terminal: wide, so that a round's letters stay on
/// one line (no wrap, no redraw by the shell's line editor).
const ROWS: u16 = 24;
const COLS: u16 = 200;
/// Output quiet this long after `READY`: the prompt has been drawn.
const QUIET: Duration = Duration::from_millis(300);
/// Untimed pause between one letter's echo and the next letter.
const GAP: Duration = Duration::from_millis(20);
/// Longest wait for an echo, the marker, or the end of a session.
const ANSWER_LIMIT: Duration = Duration::from_secs(30);
/// Ctrl-U: the shell's line editor drops the line typed so far.
const KILL_LINE: u8 = 0x15;

/// leasebox / kubectl, per keystroke, at most this (the issue's target).
pub(super) const TARGET: f64 = 1.0;

/// The three terminals.
#[derive(Debug, Clone, Copy)]
enum Side {
    Shell,
    Kubectl,
    Serve,
}

/// One terminal session, as the driver sees it.
trait Terminal {
    /// Types `bytes`; the instant just before they were written.
    fn type_bytes(&mut self, bytes: &[u8]) -> Instant;
    /// The next piece of output and when it was read, or `None` once the
    /// session has ended or after `wait`.
    fn output(&mut self, wait: Duration) -> Option<(Instant, Vec<u8>)>;
    /// Waits for the session's end after `exit`.
    fn finish(self: Box<Self>);
}

/// The series of the three terminals, per keystroke.
#[derive(Default)]
pub(super) struct Series {
    shell: Vec<Duration>,
    kubectl: Vec<Duration>,
    serve: Vec<Duration>,
    /// Per round and side, the median keystroke (for the spread of the
    /// rounds).
    round_medians: Vec<(&'static str, Duration)>,
}

impl Series {
    /// One round: a session on each terminal, the first of the three
    /// rotating with `round`, `keys` keystrokes each.
    pub(super) fn round(&mut self, bench: &Bench, serve: &mut Serve, round: usize, keys: usize) {
        let sides = [Side::Shell, Side::Kubectl, Side::Serve];
        for k in 0..3 {
            let side = sides[(round + k) % 3];
            let mut samples = Vec::with_capacity(keys);
            let terminal: Box<dyn Terminal + '_> = match side {
                Side::Shell => Box::new(PtyTerminal(OnPty::spawn(
                    bench.leasebox_shell_command(),
                    ROWS,
                    COLS,
                ))),
                Side::Kubectl => Box::new(PtyTerminal(OnPty::spawn(
                    bench.kubectl_shell_command(),
                    ROWS,
                    COLS,
                ))),
                Side::Serve => Box::new(serve.open_terminal(bench)),
            };
            session(terminal, keys, &mut samples);
            let median = Summary::of(&samples).median;
            let (name, series) = match side {
                Side::Shell => ("shell", &mut self.shell),
                Side::Kubectl => ("kubectl", &mut self.kubectl),
                Side::Serve => ("serve", &mut self.serve),
            };
            println!(
                "sessions:   {name}: {keys} keystrokes, median {}",
                crate::common::human(median)
            );
            self.round_medians.push((name, median));
            series.extend(samples);
        }
    }

    /// The two rows: (a)/(b) and (c)/(b).
    pub(super) fn rows(&self) -> [super::Row; 2] {
        [
            super::Row::new(
                "S3 shell",
                "keystroke echo: leasebox shell vs kubectl exec -it -- sh, each on a pty",
                &self.shell,
                &self.kubectl,
                TARGET,
            ),
            super::Row::new(
                "S3 serve",
                "keystroke echo: serve terminal.open (exec/stdin to exec/output) vs kubectl exec -it -- sh",
                &self.serve,
                &self.kubectl,
                TARGET,
            ),
        ]
    }

    /// Each round's median per side.
    pub(super) fn print_rounds(&self) {
        for name in ["shell", "kubectl", "serve"] {
            let medians: Vec<String> = self
                .round_medians
                .iter()
                .filter(|(n, _)| *n == name)
                .map(|(_, d)| crate::common::human(*d))
                .collect();
            println!("S3 {name}: per-round medians {}", medians.join(", "));
        }
    }
}

/// Runs one session on `terminal` (see the module's docs), pushing each
/// keystroke's round trip onto `samples`.
fn session(mut terminal: Box<dyn Terminal + '_>, keys: usize, samples: &mut Vec<Duration>) {
    terminal.type_bytes(b"echo RE''ADY\r");
    let mut seen = Vec::new();
    let started = Instant::now();
    while !String::from_utf8_lossy(&seen).contains("READY") {
        let left = ANSWER_LIMIT.saturating_sub(started.elapsed());
        match terminal.output(left) {
            Some((_, bytes)) => seen.extend(bytes),
            None => panic!(
                "the terminal never printed READY:\n{}",
                String::from_utf8_lossy(&seen)
            ),
        }
    }
    drain(terminal.as_mut());
    for i in 0..keys {
        let letter = b'a' + (i % 26) as u8;
        let typed = terminal.type_bytes(&[letter]);
        loop {
            let Some((at, bytes)) = terminal.output(ANSWER_LIMIT) else {
                panic!("no echo of {:?} within {ANSWER_LIMIT:?}", letter as char);
            };
            if bytes.contains(&letter) {
                samples.push(at - typed);
                break;
            }
        }
        std::thread::sleep(GAP);
        // Whatever else the echo brought (none, normally) is not the
        // next letter's.
        while terminal.output(Duration::ZERO).is_some() {}
    }
    terminal.type_bytes(&[KILL_LINE]);
    drain(terminal.as_mut());
    terminal.type_bytes(b"exit\r");
    terminal.finish();
}

/// Reads output until none came for [`QUIET`].
fn drain(terminal: &mut dyn Terminal) {
    while terminal.output(QUIET).is_some() {}
}

/// `leasebox shell` or `kubectl exec -it` on the bench's pty.
struct PtyTerminal(OnPty);

impl Terminal for PtyTerminal {
    fn type_bytes(&mut self, bytes: &[u8]) -> Instant {
        self.0.type_bytes(bytes)
    }

    fn output(&mut self, wait: Duration) -> Option<(Instant, Vec<u8>)> {
        self.0.output.recv_timeout(wait).ok()
    }

    fn finish(mut self: Box<Self>) {
        let started = Instant::now();
        loop {
            match self.0.child.try_wait() {
                Ok(Some(status)) => {
                    assert!(
                        status.success(),
                        "the terminal's program ended with {status}"
                    );
                    return;
                }
                Ok(None) if started.elapsed() < ANSWER_LIMIT => {
                    while self.0.output.try_recv().is_ok() {}
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok(None) => {
                    let _ = self.0.child.kill();
                    let _ = self.0.child.wait();
                    panic!("the terminal's program did not end after `exit`");
                }
                Err(e) => panic!("waiting for the terminal's program: {e}"),
            }
        }
    }
}

impl Bench {
    /// `leasebox shell` on the bench's lease, `TERM=xterm`.
    fn leasebox_shell_command(&self) -> std::process::Command {
        let mut command = self.tools.leasebox(&[
            "shell",
            "--lease",
            &self.lease.id,
            "--namespace",
            &self.lease.namespace,
        ]);
        command.env("TERM", "xterm");
        command
    }

    /// `kubectl exec -it POD -c agent -- sh`, `TERM=xterm`.
    fn kubectl_shell_command(&self) -> std::process::Command {
        let mut command = self.tools.kubectl(&[
            "-n",
            &self.lease.namespace,
            "exec",
            "-it",
            &self.lease.pod,
            "-c",
            AGENT_CONTAINER,
            "--",
            "sh",
        ]);
        command.env("TERM", "xterm");
        command
    }
}

/// One `leasebox serve` for the whole run, on stdin/stdout; each message
/// it writes stamped with the instant its line was read.
pub(super) struct Serve {
    child: Child,
    stdin: Option<ChildStdin>,
    messages: mpsc::Receiver<(Instant, Value)>,
    next_id: u64,
}

impl Serve {
    pub(super) fn start(bench: &Bench) -> Serve {
        let log = bench.dir.join("serve.stderr");
        let stderr = std::fs::File::create(&log).expect("create the serve log");
        let mut child = bench
            .tools
            .leasebox(&["serve"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {BINARY} serve: {e}"));
        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, messages) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                let at = Instant::now();
                let message: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
                    panic!("serve wrote a line that is not JSON ({e}): {line}")
                });
                if sender.send((at, message)).is_err() {
                    return;
                }
            }
        });
        Serve {
            stdin: child.stdin.take(),
            child,
            messages,
            next_id: 1,
        }
    }

    fn send(&mut self, message: &Value) -> Instant {
        let mut line = message.to_string();
        line.push('\n');
        let stdin = self.stdin.as_mut().expect("serve's stdin is open");
        let at = Instant::now();
        stdin.write_all(line.as_bytes()).expect("write to serve");
        stdin.flush().expect("flush serve's stdin");
        at
    }

    /// `terminal.open` on the bench's lease.
    fn open_terminal(&mut self, bench: &Bench) -> ServeTerminal<'_> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(
            &json!({"jsonrpc": "2.0", "id": id, "method": "terminal.open",
            "params": {"leaseId": bench.lease.id, "namespace": bench.lease.namespace,
                       "rows": ROWS, "cols": COLS, "term": "xterm"}}),
        );
        ServeTerminal {
            serve: self,
            id,
            ended: None,
        }
    }

    /// Closes stdin (serve then exits 0) and waits for the end.
    pub(super) fn stop(mut self) {
        drop(self.stdin.take());
        let status = self.child.wait().expect("wait for serve");
        assert!(status.success(), "serve ended with {status}");
    }
}

/// One `terminal.open` call in flight.
struct ServeTerminal<'a> {
    serve: &'a mut Serve,
    id: u64,
    /// The call's answer, once read.
    ended: Option<Value>,
}

impl Terminal for ServeTerminal<'_> {
    fn type_bytes(&mut self, bytes: &[u8]) -> Instant {
        let id = self.id;
        self.serve
            .send(&json!({"jsonrpc": "2.0", "method": "exec/stdin",
            "params": {"id": id, "data": BASE64.encode(bytes)}}))
    }

    fn output(&mut self, wait: Duration) -> Option<(Instant, Vec<u8>)> {
        if self.ended.is_some() {
            return None;
        }
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let (at, message) = self.serve.messages.recv_timeout(left).ok()?;
            if message["id"] == self.id {
                self.ended = Some(message);
                return None;
            }
            if message["method"] == "exec/output" && message["params"]["id"] == self.id {
                let data = message["params"]["data"].as_str().unwrap_or_default();
                let bytes = BASE64
                    .decode(data)
                    .unwrap_or_else(|e| panic!("exec/output that is not base64 ({e}): {message}"));
                return Some((at, bytes));
            }
        }
    }

    fn finish(mut self: Box<Self>) {
        let started = Instant::now();
        while self.ended.is_none() {
            assert!(
                started.elapsed() < ANSWER_LIMIT,
                "terminal.open did not answer after `exit`"
            );
            self.output(ANSWER_LIMIT);
        }
        let answer = self.ended.take().unwrap_or_default();
        assert!(
            answer.get("error").is_none() && answer["result"]["exitCode"] == 0,
            "terminal.open ended with {answer}"
        );
    }
}
