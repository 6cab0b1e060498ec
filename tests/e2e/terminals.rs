//! Terminals (contract 0.3.0) on a real cluster: `leasebox shell` driven in
//! a real terminal (tmux) and the same session through `leasebox serve`.
//! What is checked is what the terminal in the pod says of itself: its
//! size (`stty size`) at the start and after a resize, that it is a pts
//! (`tty`), that Ctrl-C reaches the pod's foreground process and not
//! leasebox, and that the remote exit status is leasebox's.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::json;

use crate::serve::{Client, start_serve};
use crate::support::case::{Case, Lease};
use crate::support::cli::binary;

/// How long the pod's shell may take to answer a line.
const ANSWER_LIMIT: Duration = Duration::from_secs(30);

fn pod_lease(case: &Case) -> Lease {
    let config = case.config(json!({ "backend": "pod" }));
    case.acquire(&config, &[])
}

/// A tmux server of the test's own (its own socket), killed when dropped.
struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    /// None (after saying so) when tmux is not installed.
    fn start(dir: &Path) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            eprintln!("terminal e2e skipped: tmux is not installed (.ci/run installs it)");
            return None;
        }
        Some(Tmux {
            socket: dir.join("tmux.sock"),
        })
    }

    fn run(&self, args: &[&str]) -> String {
        let output = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs");
        assert!(
            output.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// The pane's text, history included.
    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-J", "-S", "-1000", "-t", "lb"])
    }

    /// `rows cols` of the pane.
    fn pane_size(&self) -> String {
        self.run(&[
            "display-message",
            "-p",
            "-t",
            "lb",
            "#{pane_height} #{pane_width}",
        ])
        .trim()
        .to_string()
    }

    /// Waits until the pane shows `text` `times` times.
    fn wait_for(&self, text: &str, times: usize) -> String {
        let started = Instant::now();
        loop {
            let screen = self.screen();
            if screen.matches(text).count() >= times {
                return screen;
            }
            assert!(
                started.elapsed() < ANSWER_LIMIT,
                "the pane never showed {text:?} {times} times:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn type_line(&self, line: &str) {
        self.run(&["send-keys", "-t", "lb", "-l", line]);
        self.run(&["send-keys", "-t", "lb", "Enter"]);
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

#[test]
fn shell_in_a_real_terminal_follows_the_pane_and_passes_ctrl_c() {
    let Some(case) = Case::start("terminal-shell") else {
        return;
    };
    let dir = case.dir().to_path_buf();
    let Some(tmux) = Tmux::start(&dir) else {
        return;
    };
    let lease = pod_lease(&case);
    let status_file = dir.join("shell-status");
    // The pane runs leasebox shell and then records its exit status.
    let command = format!(
        "KUBECONFIG='{}' '{}' shell --lease {} --namespace {}; echo $? > '{}'; sleep 600",
        case.kubeconfig().display(),
        binary(),
        lease.id,
        lease.namespace,
        status_file.display()
    );
    tmux.run(&[
        "-f",
        "/dev/null",
        "new-session",
        "-d",
        "-s",
        "lb",
        "-x",
        "100",
        "-y",
        "30",
    ]);
    tmux.run(&["set-option", "-t", "lb", "status", "off"]);
    tmux.run(&["respawn-pane", "-k", "-t", "lb", &command]);

    // A marker echoed by the remote shell shows it is up.
    tmux.type_line("echo READY-$((40+2))");
    tmux.wait_for("READY-42", 1);
    tmux.type_line("echo SIZE:$(stty size):END");
    let screen = tmux.wait_for(":END", 2);
    let size = tmux.pane_size();
    assert!(
        screen.contains(&format!("SIZE:{size}:END")),
        "stty size in the pod is not the pane's ({size}):\n{screen}"
    );

    tmux.run(&["resize-window", "-t", "lb", "-x", "132", "-y", "40"]);
    let resized = tmux.pane_size();
    assert_ne!(resized, size, "tmux resized the pane");
    // The new size travels on its own (SIGWINCH, the resize stream).
    let started = Instant::now();
    loop {
        tmux.type_line("echo RESIZED:$(stty size):END");
        std::thread::sleep(Duration::from_millis(500));
        if tmux.screen().contains(&format!("RESIZED:{resized}:END")) {
            break;
        }
        assert!(
            started.elapsed() < ANSWER_LIMIT,
            "the pod's terminal never took the pane's new size {resized}:\n{}",
            tmux.screen()
        );
    }

    tmux.type_line("echo TTY:$(tty):END");
    let screen = tmux.wait_for("TTY:/dev/pts/", 1);
    assert!(screen.contains(":END"), "{screen}");

    // Ctrl-C ends the pod's `sleep`, and the shell (and leasebox) go on.
    tmux.type_line("sleep 300; echo AFTER-SLEEP-$?");
    std::thread::sleep(Duration::from_secs(2));
    let interrupted = Instant::now();
    tmux.run(&["send-keys", "-t", "lb", "C-c"]);
    tmux.type_line("echo ALIVE-$((6*7))");
    tmux.wait_for("ALIVE-42", 1);
    assert!(
        interrupted.elapsed() < Duration::from_secs(60),
        "Ctrl-C did not end the remote sleep"
    );
    assert!(
        !status_file.exists(),
        "leasebox ended on Ctrl-C:\n{}",
        tmux.screen()
    );

    tmux.type_line("exit 7");
    let started = Instant::now();
    while !status_file.exists() {
        assert!(
            started.elapsed() < ANSWER_LIMIT,
            "leasebox shell did not end after `exit 7`:\n{}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(200));
    let status = std::fs::read_to_string(&status_file).expect("the status file");
    assert_eq!(status.trim(), "7", "{}", tmux.screen());
    drop(tmux);
    case.release(&lease);
    case.finish();
}

/// Sends `text` as the terminal's input (an `exec/stdin` notification).
fn type_into(client: &mut Client, id: u64, text: &str) {
    client.send(json!({"jsonrpc": "2.0", "method": "exec/stdin",
        "params": {"id": id, "data": BASE64.encode(text.as_bytes())}}));
}

/// Reads messages until the terminal's output (decoded, all of it so far,
/// in `seen`) contains `text` `times` times. Panics on the call's answer or
/// after [`ANSWER_LIMIT`].
fn output_until(client: &mut Client, id: u64, seen: &mut Vec<u8>, text: &str, times: usize) {
    let started = Instant::now();
    while String::from_utf8_lossy(seen).matches(text).count() < times {
        assert!(
            started.elapsed() < ANSWER_LIMIT,
            "the terminal never printed {text:?}:\n{}",
            String::from_utf8_lossy(seen)
        );
        let message = client.next_message();
        if message["id"] == id {
            panic!("the terminal ended early: {message}");
        }
        if message["method"] == "exec/output" && message["params"]["id"] == id {
            assert_eq!(message["params"]["stream"], "stdout", "{message}");
            let data = message["params"]["data"].as_str().unwrap_or_default();
            seen.extend(BASE64.decode(data).expect("base64"));
        }
    }
}

#[test]
fn a_terminal_through_serve_follows_resizes_and_exits_with_its_status() {
    let Some(case) = Case::start("terminal-serve") else {
        return;
    };
    let mut serve = start_serve(&case, &[]);
    let mut client = Client::of(&mut serve);
    let lease_id = client.acquire(1, &case);
    client.send(json!({"jsonrpc": "2.0", "id": 2, "method": "terminal.open",
        "params": {"leaseId": lease_id, "rows": 25, "cols": 90, "term": "xterm"}}));
    let mut seen = Vec::new();
    type_into(&mut client, 2, "echo SIZE:$(stty size):END\n");
    output_until(&mut client, 2, &mut seen, "SIZE:25 90:END", 1);

    client.send(json!({"jsonrpc": "2.0", "method": "terminal/resize",
        "params": {"id": 2, "rows": 50, "cols": 160}}));
    // Each line typed comes back twice with `:END`: its echo, its answer.
    let started = Instant::now();
    loop {
        let ends = count_of(&seen, ":END");
        type_into(&mut client, 2, "echo RESIZED:$(stty size):END\n");
        output_until(&mut client, 2, &mut seen, ":END", ends + 2);
        if String::from_utf8_lossy(&seen).contains("RESIZED:50 160:END") {
            break;
        }
        assert!(
            started.elapsed() < ANSWER_LIMIT,
            "the pod's terminal never took the size 50x160:\n{}",
            String::from_utf8_lossy(&seen)
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    type_into(&mut client, 2, "echo TTY:$(tty):END\n");
    output_until(&mut client, 2, &mut seen, "TTY:/dev/pts/", 1);

    type_into(&mut client, 2, "sleep 300; echo AFTER-$?\n");
    std::thread::sleep(Duration::from_secs(2));
    type_into(&mut client, 2, "\u{3}");
    type_into(&mut client, 2, "echo ALIVE-$((6*7))\n");
    output_until(&mut client, 2, &mut seen, "ALIVE-42", 1);

    type_into(&mut client, 2, "exit 7\n");
    let (answer, _) = client.until(2);
    assert_eq!(answer["result"]["exitCode"], 7, "{answer}");

    let released = client.call(3, "release", json!({"leaseId": lease_id}));
    crate::serve::assert_pod_deleted(&released);
    drop(client);
    let _ = serve.wait();
    case.finish();
}

fn count_of(seen: &[u8], text: &str) -> usize {
    String::from_utf8_lossy(seen).matches(text).count()
}
