//! Detached processes (contract 0.3.0) on a real cluster: a counter started
//! with `exec --detach` outlives the CLI that started it (killed with
//! SIGKILL) and a serve that is killed and started again; attaches from new
//! processes, two at once, each get every line exactly once and the exit
//! status; `kill` leaves no process of the tree in the pod, checked in the
//! pod itself.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::serve::{Client, output_of, start_serve};
use crate::support::case::{Case, Lease};
use crate::support::cli::binary;
use crate::support::cluster::exec_in_pod;

/// Lines the counter prints, one every 100 ms.
const LINES: usize = 40;

/// A counter: `LINES` numbered lines on stdout (and a marker on stderr),
/// then exit 5.
fn counter() -> String {
    format!(
        "i=0; while [ $i -lt {LINES} ]; do echo line-$i; i=$((i+1)); sleep 0.1; done; \
         echo done >&2; exit 5"
    )
}

/// The lines the counter prints, in order.
fn expected_lines() -> String {
    (0..LINES).map(|i| format!("line-{i}\n")).collect()
}

fn pod_lease(case: &Case) -> Lease {
    let config = case.config(json!({ "backend": "pod" }));
    case.acquire(&config, &[])
}

fn target(lease: &Lease) -> [&str; 4] {
    [
        "--lease",
        lease.id.as_str(),
        "--namespace",
        lease.namespace.as_str(),
    ]
}

#[test]
fn a_detached_counter_outlives_its_cli_and_two_attaches_get_every_line_once() {
    let Some(case) = Case::start("proc-detach") else {
        return;
    };
    let lease = pod_lease(&case);
    // Started from a CLI killed with SIGKILL as soon as it printed the id.
    let mut starter = Command::new(binary())
        .args(["exec", "--detach"])
        .args(target(&lease))
        .args(["--shell", &counter()])
        .env("KUBECONFIG", case.kubeconfig())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("leasebox starts");
    let mut id = String::new();
    {
        use std::io::BufRead;
        let mut out = std::io::BufReader::new(starter.stdout.take().expect("piped"));
        out.read_line(&mut id).expect("the process id");
    }
    let _ = starter.kill();
    let _ = starter.wait();
    let id = id.trim().to_string();
    assert!(!id.is_empty(), "exec --detach printed no id");

    let listed = case.cli(&[&["ps"][..], &target(&lease)].concat());
    listed.assert_code(0);
    let processes = listed.json();
    assert!(
        processes
            .as_array()
            .is_some_and(|list| list.iter().any(|p| p["id"] == id.as_str())),
        "ps lists the process: {processes}"
    );

    // Two attaches at once, from new processes, while the counter runs.
    let attach = |_: usize| {
        let args: Vec<String> = [&["attach"][..], &target(&lease), &[id.as_str()]]
            .concat()
            .iter()
            .map(|s| s.to_string())
            .collect();
        let kubeconfig = case.kubeconfig().to_path_buf();
        std::thread::spawn(move || {
            crate::support::cli::run(&kubeconfig, &args, None, Duration::from_secs(120))
        })
    };
    let attaches = [attach(0), attach(1)];
    for handle in attaches {
        let output = handle.join().expect("the attach thread");
        assert_eq!(output.code, Some(5), "{}", output.describe());
        assert_eq!(
            output.stdout_text(),
            expected_lines(),
            "{}",
            output.describe()
        );
        assert_eq!(
            output.stderr.matches("done").count(),
            1,
            "{}",
            output.describe()
        );
    }
    // And once more after the end, from offsets.
    let tail = case.cli(
        &[
            &["attach"][..],
            &target(&lease),
            &[
                id.as_str(),
                "--stdout-offset",
                &"line-0\n".len().to_string(),
            ],
        ]
        .concat(),
    );
    assert_eq!(tail.code, Some(5), "{}", tail.describe());
    assert_eq!(
        tail.stdout_text(),
        expected_lines()["line-0\n".len()..],
        "{}",
        tail.describe()
    );
    case.release(&lease);
    case.finish();
}

#[test]
fn a_detached_process_outlives_a_serve_restart() {
    let Some(case) = Case::start("proc-serve") else {
        return;
    };
    let mut first = start_serve(&case, &[]);
    let mut client = Client::of(&mut first);
    let lease_id = client.acquire(1, &case);
    let started = client.call(
        2,
        "process.start",
        json!({"leaseId": lease_id, "shell": counter()}),
    );
    let id = started["result"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{started}"))
        .to_string();
    assert_eq!(started["result"]["running"], true, "{started}");
    let _ = first.kill();
    let _ = first.wait();

    let mut second = start_serve(&case, &[]);
    let mut client = Client::of(&mut second);
    client.send(
        json!({"jsonrpc": "2.0", "id": 3, "method": "process.attach",
        "params": {"leaseId": lease_id, "processId": id}}),
    );
    let (answer, notes) = client.until(3);
    assert_eq!(answer["result"]["exitCode"], 5, "{answer}");
    assert_eq!(
        String::from_utf8_lossy(&output_of(&notes, 3, "stdout")),
        expected_lines()
    );
    let listed = client.call(4, "process.list", json!({"leaseId": lease_id}));
    let entry = listed["result"]
        .as_array()
        .and_then(|l| l.iter().find(|p| p["id"] == id.as_str()))
        .cloned()
        .unwrap_or_else(|| panic!("{listed}"));
    assert_eq!(entry["running"], false, "{entry}");
    assert_eq!(entry["exitCode"], 5, "{entry}");
    assert_eq!(entry["stdoutBytes"], expected_lines().len(), "{entry}");
    let released = client.call(5, "release", json!({"leaseId": lease_id}));
    crate::serve::assert_pod_deleted(&released);
    drop(client);
    let _ = second.wait();
    case.finish();
}

/// The live processes in the pod whose command line contains `marker`
/// (its NULs and newlines read as spaces), as `pid:cmdline` lines; a zombie
/// (state `Z`) has ended and is left out, as is this scan itself.
fn processes_with(case: &Case, lease: &Lease, marker: &str) -> Vec<String> {
    let script = format!(
        "for d in /proc/[0-9]*; do c=$(tr '\\0\\n' '  ' < $d/cmdline 2>/dev/null); \
         case \"$c\" in *\"{marker}\"*) s=$(sed -n 's/^State:[[:space:]]*\\([A-Z]\\).*/\\1/p' $d/status); \
         [ \"$s\" = Z ] || echo \"${{d#/proc/}}:$c\";; esac; done"
    );
    let found = case
        .block_on(exec_in_pod(
            &case.client(),
            &lease.namespace,
            &lease.pod,
            &lease.container,
            &["sh", "-c", &script],
            Duration::from_secs(60),
        ))
        .expect("exec in the pod");
    found
        .stdout
        .lines()
        .filter(|l| !l.contains("for d in /proc"))
        .map(str::to_string)
        .collect()
}

#[test]
fn kill_leaves_no_process_of_the_tree_in_the_pod() {
    let Some(case) = Case::start("proc-kill") else {
        return;
    };
    let lease = pod_lease(&case);
    // A tree that ignores SIGTERM (so only the SIGKILL after the grace
    // period ends it): a shell, two sleeps in the background, one of them
    // in a subshell of its own.
    let tree = "trap '' TERM; sleep 4242 & (sleep 4243 & wait) & wait";
    let started = case.cli(
        &[
            &["exec", "--detach"][..],
            &target(&lease),
            &["--shell", tree],
        ]
        .concat(),
    );
    started.assert_code(0);
    let id = started.stdout_text().trim().to_string();
    let sleeps = |found: &[String]| {
        found
            .iter()
            .filter(|p| p.ends_with(":sleep 4242 ") || p.ends_with(":sleep 4243 "))
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = processes_with(&case, &lease, "sleep 424");
        if sleeps(&found) == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the tree never started: {found:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let killed = case.cli(&[&["kill"][..], &target(&lease), &[id.as_str()]].concat());
    killed.assert_code(0);
    let process = killed.json();
    assert_eq!(process["running"], false, "{process}");
    // Not the sleeps, nor the shells around them, nor their supervisor.
    let left = processes_with(&case, &lease, "sleep 424");
    assert!(
        left.is_empty(),
        "processes of the tree left in the pod: {left:?}"
    );
    case.release(&lease);
    case.finish();
}
