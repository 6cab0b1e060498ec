//! A module of contract 0.2.0 (the fixture built from the last 0.2.0 tree)
//! still acquires, executes and releases: its exports are called with the
//! current records (0.3.0 changed none of them), its imports run through
//! the host's 0.2.0 binding module (`kube@0.2.0`, whose exec spec has no
//! terminal); the calls 0.3.0 added answer `unsupported`, naming the call
//! and the fix.

use leasebox::contract as wit;
use leasebox::contract::Contract;
use leasebox::runtime::{Limits, RuntimeError};
use leasebox_policy::cluster::OutputStream;
use leasebox_policy::fake_cluster::ExecScript;

use crate::lifecycle_through_wasm::{
    cluster, env, env_with, pod_config, request, script_ready_pod,
};
use crate::support::v0_2_policy;

/// `argv` to run in `lease`, without stdin or limits.
fn command(lease: &wit::Lease, argv: &[&str]) -> wit::ExecRequest {
    wit::ExecRequest {
        lease: lease.clone(),
        command: wit::Command::Argv(argv.iter().map(|a| a.to_string()).collect()),
        cwd: None,
        env: Vec::new(),
        forward_stdin: false,
        timeout_ms: None,
        max_stdout_bytes: None,
        max_stderr_bytes: None,
    }
}

#[test]
fn the_v0_2_module_reports_its_contract() {
    assert_eq!(v0_2_policy().contract(), Contract::V0_2);
}

#[test]
fn a_v0_2_module_acquires_executes_through_its_own_kube_binding_and_releases() {
    let cluster = cluster();
    script_ready_pod(&cluster);
    let lease = v0_2_policy()
        .acquire_lease(&env(&cluster), &request(&pod_config()))
        .expect("the 0.2.0 module does not trap")
        .expect("the 0.2.0 module acquires");

    cluster.script_exec(ExecScript {
        output: vec![(OutputStream::Stdout, b"through kube@0.2.0\n".to_vec())],
        ..ExecScript::exits(3)
    });
    let (exec_env, stdout) = env_with(cluster.clone(), b"", Limits::default());
    let status = v0_2_policy()
        .execute(&exec_env, &command(&lease, &["true"]))
        .expect("no trap")
        .expect("the 0.2.0 module executes");
    assert_eq!(status.exit_code, Some(3));
    assert_eq!(stdout.contents(), b"through kube@0.2.0\n");
    let execs = cluster.execs();
    assert_eq!(execs.len(), 1);
    assert!(execs[0].spec.tty.is_none(), "a 0.2.0 exec has no terminal");

    let report = v0_2_policy()
        .release_lease(&env(&cluster), &lease)
        .expect("no trap")
        .expect("the 0.2.0 module releases");
    assert!(report.deleted.iter().any(|o| o.kind == "Pod"), "{report:?}");
}

#[test]
fn every_call_of_contract_0_3_answers_unsupported_for_a_v0_2_module() {
    let cluster = cluster();
    script_ready_pod(&cluster);
    let lease = v0_2_policy()
        .acquire_lease(&env(&cluster), &request(&pod_config()))
        .expect("no trap")
        .expect("acquires");
    let env = env(&cluster);
    let policy = v0_2_policy();
    let exec = command(&lease, &["sleep", "1"]);
    let answers: Vec<(&str, RuntimeError)> = vec![
        (
            "open-terminal",
            policy
                .open_terminal(
                    &env,
                    &wit::TerminalRequest {
                        lease: lease.clone(),
                        command: None,
                        cwd: None,
                        env: Vec::new(),
                        size: wit::WindowSize { rows: 24, cols: 80 },
                        term: String::new(),
                    },
                )
                .map(drop)
                .expect_err("no terminal in 0.2.0"),
        ),
        (
            "start-process",
            policy
                .start_process(&env, &exec)
                .map(drop)
                .expect_err("0.2.0"),
        ),
        (
            "list-processes",
            policy
                .list_processes(&env, &lease)
                .map(drop)
                .expect_err("0.2.0"),
        ),
        (
            "kill-process",
            policy
                .kill_process(&env, &lease, "p-x", 15)
                .map(drop)
                .expect_err("0.2.0"),
        ),
        (
            "stat-path",
            policy
                .stat_path(&env, &lease, "/workspace")
                .map(drop)
                .expect_err("0.2.0"),
        ),
        (
            "remove-path",
            policy
                .remove_path(&env, &lease, "/workspace/x", false)
                .map(drop)
                .expect_err("0.2.0"),
        ),
    ];
    for (call, error) in answers {
        assert!(
            matches!(&error, RuntimeError::Unsupported { call: c, contract, .. }
                if c == call && contract == "0.2.0"),
            "{call}: {error}"
        );
        let fix = format!("@{}", Contract::CURRENT);
        assert!(error.to_string().contains(&fix), "{call}: {error}");
    }
    assert!(cluster.execs().is_empty(), "nothing ran in the sandbox");
}
