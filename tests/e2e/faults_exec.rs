//! `leasebox exec` with faults on its stream (`support/fault_proxy.rs`):
//! cut while stdin is still flowing, cut after the output and before the
//! exit status, and a 429 on the upgrade request. A cut is leasebox's typed
//! failure (exit 1 or 2, the reason on stderr), never exit 0 and never the
//! command's code; after leasebox gives up, the command no longer runs in
//! the pod (read straight from the cluster, through `/proc`).

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::case::{Case, Lease};
use crate::support::cli::Output;
use crate::support::cluster;
use crate::support::fault_proxy::{Action, Rule};
use crate::support::faulted::{Faulted, error_line, exec_args};

/// Limit of one exec straight to the cluster.
const DIRECT_EXEC_LIMIT: Duration = Duration::from_secs(30);

/// How long a command may take to disappear after leasebox gave up.
const PROCESSES_GONE_LIMIT: Duration = Duration::from_secs(10);

/// What leasebox says when the stream was cut (one of these).
const CUT_WORDS: &[&str] = &[
    "connection closed",
    "connection failed",
    "connection was lost",
    "sending stdin failed",
];

/// The rule that fires on the first exec upgrade of a command.
fn exec_rule(name: &str, action: Action) -> Rule {
    Rule::new(name, "", "/exec", action).query("command=")
}

/// The command lines of every process in the lease's pod, read straight
/// from the cluster (`/proc/<pid>/cmdline`, NULs as spaces, trimmed).
fn processes(case: &Case, lease: &Lease) -> Vec<String> {
    let listing = case
        .block_on(cluster::exec_in_pod(
            &case.client(),
            &lease.namespace,
            &lease.pod,
            &lease.container,
            &[
                "sh",
                "-c",
                "for p in /proc/[0-9]*; do tr '\\0' ' ' <\"$p/cmdline\" 2>/dev/null; echo; done",
            ],
            DIRECT_EXEC_LIMIT,
        ))
        .unwrap_or_else(|e| panic!("{e:#}"));
    listing
        .stdout
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// Waits until no process of the pod has `marker` in its command line
/// (the command, its shell, leasebox's wrapper); the processes that still
/// have it after [`PROCESSES_GONE_LIMIT`].
fn still_running(case: &Case, lease: &Lease, marker: &str) -> Vec<String> {
    let started = Instant::now();
    loop {
        let left: Vec<String> = processes(case, lease)
            .into_iter()
            .filter(|p| p.contains(marker))
            .collect();
        if left.is_empty() || started.elapsed() > PROCESSES_GONE_LIMIT {
            return left;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Asserts a cut stream's outcome: the proxy cut, leasebox failed typed.
fn assert_cut_is_typed(cut: &Output, injected: &[String], forbidden_code: i32) {
    eprintln!(
        "exec with its stream cut: exit {:?} after {:.1?}, {} bytes of stdout; leasebox said: {}",
        cut.code,
        cut.elapsed,
        cut.stdout.len(),
        error_line(cut)
    );
    assert!(
        injected.iter().any(|i| i.contains(": cut the")),
        "the proxy cut the exec stream: {injected:?}"
    );
    assert_ne!(
        cut.code,
        Some(forbidden_code),
        "a cut stream is not the command's exit code\n{}",
        cut.describe()
    );
    assert!(
        matches!(cut.code, Some(1 | 2)) && cut.stderr.contains("error"),
        "a cut stream is leasebox's failure (exit 1 or 2) with a named reason\n{}",
        cut.describe()
    );
    let line = error_line(cut);
    assert!(
        CUT_WORDS.iter().any(|w| line.contains(w)),
        "the error says the stream was cut ({CUT_WORDS:?}): {line}"
    );
}

/// Runs `args` through the proxy with `rule`; the output and what the
/// proxy injected.
fn exec_through(
    faulted: &Faulted,
    rule: Rule,
    args: &[&str],
    stdin: Option<Vec<u8>>,
) -> (Output, Vec<String>) {
    let (output, armed) = faulted.with_rules(vec![rule], "", || faulted.cli(args, stdin));
    (output, armed.injected)
}

#[test]
fn exec_stream_cut_during_stdin_fails_typed_and_kills_the_command() {
    let Some(case) = Case::start("faults-exec-stdin") else {
        return;
    };
    let faulted = Faulted::start(&case, json!({ "backend": "pod" }));
    let lease = case.lease_of(&faulted.acquire(&case));

    // 8 MiB of stdin, echoed by `cat`; the stream is cut after 256 KiB of
    // it came back, so while stdin is still being sent. Then the command
    // would sleep: it must not be left running.
    let line = "stdin-line-0123456789abcdefghijklmnopqrstuvwxyz\n";
    let stdin: Vec<u8> = line.repeat(8 * 1024 * 1024 / line.len()).into_bytes();
    let marker = "sleep 3217";
    let script = format!("cat; {marker}");
    let args = exec_args(&lease.id, &lease.namespace, &["--", "sh", "-c", &script]);
    let (cut, injected) = exec_through(
        &faulted,
        exec_rule(
            "exec cut during stdin",
            Action::CutUpgradeAfterBytes(256 * 1024),
        ),
        &args,
        Some(stdin.clone()),
    );
    assert_cut_is_typed(&cut, &injected, 0);
    assert!(
        cut.stdout.len() < stdin.len(),
        "the cut came before all of stdin was echoed ({} of {} bytes)",
        cut.stdout.len(),
        stdin.len()
    );
    let left = still_running(&case, &lease, marker);
    assert!(
        left.is_empty(),
        "after leasebox gave up, `{marker}` still runs in the pod: {left:?}"
    );

    // Without a fault the same command takes all of stdin (then it is
    // stopped by the timeout: it sleeps).
    let whole = faulted.cli(
        &exec_args(
            &lease.id,
            &lease.namespace,
            &["--timeout-sec", "3", "--", "sh", "-c", &script],
        ),
        Some(stdin.clone()),
    );
    assert_eq!(whole.code, Some(124), "{}", whole.describe());
    assert_eq!(whole.stdout.len(), stdin.len(), "{}", whole.describe());

    case.release(&lease);
    drop(faulted);
    case.finish();
}

#[test]
fn exec_stream_cut_after_the_output_before_the_status_fails_typed() {
    let Some(case) = Case::start("faults-exec-status") else {
        return;
    };
    let faulted = Faulted::start(&case, json!({ "backend": "pod" }));
    let lease = case.lease_of(&faulted.acquire(&case));

    // 64 KiB of output at once, exit 0 three seconds later; the stream is
    // cut 1.5 s after the upgrade: all of the output, no status.
    let bytes = 65536;
    let script = format!("head -c {bytes} /dev/zero | tr '\\0' a; sleep 3; exit 0");
    let args = exec_args(
        &lease.id,
        &lease.namespace,
        &["--no-stdin", "--", "sh", "-c", &script],
    );
    let (cut, injected) = exec_through(
        &faulted,
        exec_rule(
            "exec cut before the status",
            Action::CutStreamAfter(Duration::from_millis(1500)),
        ),
        &args,
        None,
    );
    assert_cut_is_typed(&cut, &injected, 0);
    assert_eq!(
        cut.stdout,
        vec![b'a'; bytes],
        "all of the output arrived before the cut\n{}",
        cut.describe()
    );

    // Without a fault: the output and exit 0.
    let whole = faulted.cli(&args, None);
    assert_eq!(whole.code, Some(0), "{}", whole.describe());
    assert_eq!(whole.stdout.len(), bytes);

    case.release(&lease);
    drop(faulted);
    case.finish();
}

#[test]
fn exec_upgrade_answered_429_once_is_retried_and_runs_once() {
    let Some(case) = Case::start("faults-exec-429") else {
        return;
    };
    let faulted = Faulted::start(&case, json!({ "backend": "pod" }));
    let lease = case.lease_of(&faulted.acquire(&case));

    let script = "echo run >>/tmp/runs-429; echo hello; exit 5";
    let args = exec_args(
        &lease.id,
        &lease.namespace,
        &["--no-stdin", "--", "sh", "-c", script],
    );
    let (output, injected) = exec_through(
        &faulted,
        exec_rule("exec upgrade 429", Action::Status(429)),
        &args,
        None,
    );
    let upgrades = faulted
        .proxy
        .seen()
        .iter()
        .filter(|s| s.path.ends_with("/exec") && s.query.contains("runs-429"))
        .count();
    eprintln!(
        "exec after a 429 on its upgrade: exit {:?} after {:.1?}, {upgrades} upgrade requests; {}",
        output.code,
        output.elapsed,
        error_line(&output)
    );
    assert!(
        injected.iter().any(|i| i.contains("answered 429")),
        "{injected:?}"
    );
    let runs = case
        .block_on(cluster::exec_in_pod(
            &case.client(),
            &lease.namespace,
            &lease.pod,
            &lease.container,
            &["sh", "-c", "cat /tmp/runs-429 2>/dev/null || true"],
            DIRECT_EXEC_LIMIT,
        ))
        .unwrap_or_else(|e| panic!("{e:#}"));
    let runs = runs.stdout.lines().count();
    match output.code {
        Some(5) => {
            assert_eq!(output.stdout_text(), "hello\n", "{}", output.describe());
            assert_eq!(upgrades, 2, "retried once after the 429");
            assert_eq!(runs, 1, "the command ran once in the pod");
        }
        Some(1 | 2) if output.stderr.contains("error") => {
            assert_eq!(runs, 0, "a failed exec never ran the command");
        }
        other => panic!(
            "a 429 on the upgrade is retried or a typed error, not exit {other:?}\n{}",
            output.describe()
        ),
    }

    case.release(&lease);
    drop(faulted);
    case.finish();
}
