//! open-terminal against the fake cluster: the two execs (env over the
//! first one's stdin, the terminal second), the refusal a configuration
//! records, and cancellation.

use serde_json::json;

use super::*;
use crate::fake_cluster::{ExecScript, FakeCluster};
use crate::lease::{Backend, Command, Lease, ObjectRef, WindowSize, for_tests};
use crate::lifecycle::exec_wrap;
use crate::names;

const LEASE: &str = "lb-01jd5z8k9m0000000000000000";
const NS: &str = "leasebox-acme";

fn lease() -> Lease {
    let workload = ObjectRef {
        api_version: "v1".into(),
        kind: "Pod".into(),
        namespace: Some(NS.into()),
        name: LEASE.into(),
        uid: None,
    };
    for_tests(LEASE, Backend::Pod, workload, LEASE)
}

fn cluster_with(annotations: serde_json::Value) -> FakeCluster {
    let fake = FakeCluster::new();
    fake.put(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": LEASE, "namespace": NS, "annotations": annotations},
        "status": {"phase": "Running"}
    }));
    fake
}

fn request(command: Option<Command>) -> TerminalRequest {
    TerminalRequest {
        lease: lease(),
        command,
        cwd: Some("/workspace".into()),
        env: vec![
            EnvVar {
                name: "API_KEY".into(),
                value: "sk-secret".into(),
            },
            EnvVar {
                name: "TERM".into(),
                value: "vt100".into(),
            },
        ],
        size: WindowSize {
            rows: 40,
            cols: 120,
        },
        term: "xterm-kitty".into(),
    }
}

#[test]
fn env_goes_over_a_first_exec_and_the_command_runs_on_a_terminal() {
    let fake = cluster_with(json!({}));
    let status =
        open_terminal(&fake, &request(Some(Command::Argv(vec!["htop".into()])))).expect("ran");
    assert_eq!(status.exit_code, Some(0));

    let execs = fake.execs();
    assert_eq!(execs.len(), 2);
    for exec in &execs {
        assert!(
            exec.spec.argv.iter().all(|a| !a.contains("sk-secret")),
            "env never in argv: {:?}",
            exec.spec.argv
        );
    }
    let env = &execs[0];
    assert!(env.spec.tty.is_none() && env.spec.stdin && !env.spec.forward_stdin);
    assert_eq!(
        env.stdin, b"API_KEY=sk\\0055secret\nTERM=xterm\\0055kitty\n\n",
        "the caller's term replaces an env TERM"
    );
    let token = env.spec.argv[5].clone();
    assert_eq!(env.spec.argv[3..5], ["leasebox-terminal-env", ENV_DIR]);

    let tty = &execs[1];
    assert_eq!(
        tty.spec.tty,
        Some(WindowSize {
            rows: 40,
            cols: 120
        })
    );
    assert!(tty.spec.stdin && tty.spec.forward_stdin && tty.spec.forward_output);
    assert!(!tty.spec.frame_stdin, "a terminal's input goes as typed");
    assert!(tty.stdin.is_empty(), "nothing but the caller's keys");
    assert_eq!(
        tty.spec.argv[3..],
        [
            "leasebox-terminal",
            &format!("{ENV_DIR}/{token}.env"),
            "/workspace",
            &token,
            "htop"
        ]
    );
}

#[test]
fn no_command_runs_the_login_shell_and_term_defaults() {
    let fake = cluster_with(json!({}));
    let mut req = request(None);
    req.env.clear();
    req.term.clear();
    open_terminal(&fake, &req).expect("ran");
    let execs = fake.execs();
    assert_eq!(execs[0].stdin, b"TERM=xterm\\0055256color\n\n");
    assert_eq!(execs[1].spec.argv.len(), 7, "no command after the token");
    assert!(execs[1].spec.argv[2].contains("/etc/passwd"));
}

#[test]
fn terminals_turned_off_by_the_configuration_are_not_allowed() {
    let fake = cluster_with(json!({names::ANNOTATION_TERMINALS: names::TERMINALS_DISABLED}));
    let Err(PolicyError::NotAllowed(message)) = open_terminal(&fake, &request(None)) else {
        panic!("not refused");
    };
    assert!(message.contains("terminals.enabled"), "{message}");
    assert!(fake.execs().is_empty());
}

#[test]
fn a_terminal_cancelled_before_it_starts_leaves_no_env_file() {
    let fake = cluster_with(json!({}));
    fake.script_exec(ExecScript::hangs());
    fake.cancel_at_first_wait();
    let err = open_terminal(&fake, &request(None)).expect_err("cancelled");
    assert!(matches!(err, PolicyError::Cancelled(_)), "{err:?}");
    let execs = fake.execs();
    assert_eq!(execs.len(), 2, "env, cleanup; no terminal");
    assert!(execs[0].killed);
    let token = &execs[0].spec.argv[5];
    assert_eq!(execs[1].spec.argv[4], format!("{ENV_DIR}/{token}.env"));
    assert!(execs[1].spec.argv[2].starts_with("rm -f"));
}

#[test]
fn a_failed_env_exec_starts_no_terminal() {
    let fake = cluster_with(json!({}));
    fake.script_exec(ExecScript::exits(1));
    let Err(PolicyError::Failed(failure)) = open_terminal(&fake, &request(None)) else {
        panic!("not failed");
    };
    assert_eq!(failure.step, "terminal-env");
    assert!(fake.execs().iter().all(|e| e.spec.tty.is_none()));
}

#[test]
fn a_window_without_cells_is_a_bad_request() {
    let fake = cluster_with(json!({}));
    let mut req = request(None);
    req.size = WindowSize { rows: 0, cols: 80 };
    assert!(matches!(
        open_terminal(&fake, &req),
        Err(PolicyError::BadRequest(_))
    ));
}

#[test]
fn a_job_lease_gets_a_terminal_only_while_its_pod_runs() {
    let fake = FakeCluster::new();
    fake.put(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "lb-job-pod", "namespace": NS},
        "status": {"phase": "Succeeded"}
    }));
    let mut req = request(None);
    req.lease.backend = Backend::Job;
    req.lease.pod = "lb-job-pod".into();
    let Err(PolicyError::Failed(failure)) = open_terminal(&fake, &req) else {
        panic!("not failed");
    };
    assert_eq!(failure.reason, "NotRunning");
}

#[test]
fn the_terminal_records_its_pid_where_the_kill_script_looks() {
    let token = "lb-x-0123";
    let kill_file = exec_wrap::KILL_SCRIPT.replace("$1", token);
    assert!(kill_file.contains(&pid_file(token)));
    assert!(
        TTY_SCRIPT
            .replace("$__tok", token)
            .contains(&pid_file(token))
    );
}
