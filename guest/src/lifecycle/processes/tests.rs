//! Detached processes against the fake cluster: the execs they build (env
//! over stdin, the command after the scripts' own arguments), the records
//! read back, unknown ids, and rollback of a cancelled start.

use rstest::rstest;

use super::*;
use crate::cluster::OutputStream;
use crate::fake_cluster::{ExecScript, FakeCluster};
use crate::lease::{Command, EnvVar};
use crate::lifecycle::pod_lease_fixture::{ended_job_lease, lease, script, script_argv};

const ID: &str = "p-abcdefghijklmnop";

fn request(command: Command) -> ExecRequest {
    ExecRequest {
        lease: lease(),
        command,
        cwd: Some("/workspace/repo".into()),
        env: vec![EnvVar {
            name: "API_KEY".into(),
            value: "sk-secret".into(),
        }],
        forward_stdin: false,
        timeout_ms: Some(90_500),
        max_stdout_bytes: Some(1024),
        max_stderr_bytes: None,
    }
}

fn record(id: &str, extra: &str) -> String {
    format!(
        "id {id}\nargv [\"make\",\"-j\"]\nstarted 2026-12-07T14:00:00Z\n{extra}out 3\nerr 0\nend\n"
    )
}

#[test]
fn start_runs_the_command_detached_with_env_over_stdin_and_returns_its_record() {
    let fake = FakeCluster::new();
    fake.script_exec(ExecScript {
        output: vec![(
            OutputStream::Stdout,
            record("p-aaaaaaaaaaaaaaaa", "alive 1\n").into_bytes(),
        )],
        ..ExecScript::exits(0)
    });
    let info = start_as(
        &fake,
        &request(Command::Argv(vec!["make".into(), "-j".into()])),
        "p-aaaaaaaaaaaaaaaa",
    )
    .expect("started");
    assert!(info.running);
    assert_eq!(info.argv, ["make", "-j"]);

    let exec = &fake.execs()[0];
    assert!(
        exec.spec.argv.iter().all(|a| !a.contains("sk-secret")),
        "env never in argv"
    );
    assert_eq!(exec.stdin, b"API_KEY=sk\\0055secret\n\n");
    assert_eq!(exec.spec.argv[4..6], ["/workspace/repo", "none"]);
    assert!(!exec.spec.forward_output && !exec.spec.forward_stdin && exec.spec.tty.is_none());
    let argv = script_argv(&fake, 0);
    assert_eq!(argv[3], "leasebox-start-process");
    assert_eq!(argv[4], PROCESS_ROOT);
    assert_eq!(argv[5], "p-aaaaaaaaaaaaaaaa");
    // Timeout rounded up to seconds, stdout's cap lowered by the request.
    assert_eq!(argv[6..10], ["91", "1024", "67108864", "5"]);
    assert_eq!(argv[10], r#"["make","-j"]"#);
    assert!(argv[11].contains("setsid \"$@\""), "the supervisor's text");
    assert_eq!(argv[12..], ["make", "-j"]);
}

#[test]
fn a_shell_string_starts_under_sh_lc_and_is_recorded_as_such() {
    let fake = FakeCluster::new();
    script(&fake, 0, record("p-aaaaaaaaaaaaaaaa", ""));
    start_as(
        &fake,
        &request(Command::Shell("npm run dev".into())),
        "p-aaaaaaaaaaaaaaaa",
    )
    .expect("started");
    let argv = script_argv(&fake, 0);
    assert_eq!(argv[10], r#"["sh","-lc","npm run dev"]"#);
    assert_eq!(argv[12..], ["sh", "-lc", "npm run dev"]);
}

#[test]
fn forwarded_stdin_is_refused_before_any_exec() {
    let fake = FakeCluster::new();
    let mut req = request(Command::Argv(vec!["cat".into()]));
    req.forward_stdin = true;
    assert!(matches!(
        start(&fake, &req),
        Err(PolicyError::BadRequest(_))
    ));
    assert!(fake.execs().is_empty());
}

#[test]
fn missing_setsid_is_a_clear_tool_missing_failure() {
    let fake = FakeCluster::new();
    script(&fake, EXIT_NO_SETSID, "");
    let Err(PolicyError::Failed(failure)) = start(&fake, &request(Command::Argv(vec!["x".into()])))
    else {
        panic!("not failed");
    };
    assert_eq!(failure.reason, "ToolMissing");
    assert!(failure.message.contains("`setsid`"), "{}", failure.message);
}

#[test]
fn a_cancelled_start_kills_and_removes_what_it_started() {
    let fake = FakeCluster::new();
    fake.script_exec(ExecScript::hangs());
    fake.cancel_at_first_wait();
    let err = start(&fake, &request(Command::Argv(vec!["x".into()]))).expect_err("cancelled");
    // The id was minted by the module.
    assert!(id::check(&script_argv(&fake, 0)[5]).is_ok());
    let PolicyError::Cancelled(failure) = err else {
        panic!("{err:?}");
    };
    assert!(
        failure.message.contains("killed and removed"),
        "{}",
        failure.message
    );
    let execs = fake.execs();
    assert_eq!(execs.len(), 3, "the start, the kill by token, the rollback");
    let id = script_argv(&fake, 0)[5].clone();
    assert_eq!(execs[1].spec.argv[3], "leasebox-kill");
    let rollback = script_argv(&fake, 2);
    assert_eq!(rollback[3], "leasebox-kill-process");
    assert_eq!(rollback[4..], [PROCESS_ROOT, id.as_str(), "9", "0", "1"]);
}

#[test]
fn list_reads_every_record_oldest_first() {
    let fake = FakeCluster::new();
    let later = record("p-bbbbbbbbbbbbbbbb", "status 0\n").replace("14:00:00", "14:05:00");
    let older = record("p-cccccccccccccccc", "alive 1\n");
    script(&fake, 0, format!("{later}{older}"));
    let infos = list(&fake, &lease()).expect("listed");
    let ids: Vec<&str> = infos.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["p-cccccccccccccccc", "p-bbbbbbbbbbbbbbbb"]);
    assert_eq!((infos[1].running, infos[1].exit_code), (false, Some(0)));
    assert_eq!(script_argv(&fake, 0)[4..], [PROCESS_ROOT]);
}

#[test]
fn attach_streams_from_the_offsets_then_reads_how_it_ended() {
    let fake = FakeCluster::new();
    fake.script_exec(ExecScript {
        output: vec![
            (OutputStream::Stdout, b"kept output".to_vec()),
            (OutputStream::Stderr, b"warnings".to_vec()),
        ],
        ..ExecScript::exits(0)
    });
    script(&fake, 0, record(ID, "status 143\ntimedout 1\noutdrop 1\n"));
    let status = attach(
        &fake,
        &AttachRequest {
            lease: lease(),
            process: ID.into(),
            stdout_offset: 10,
            stderr_offset: 0,
            follow: true,
        },
    )
    .expect("attached");
    assert_eq!(
        (
            status.exit_code,
            status.signal,
            status.timed_out,
            status.stdout_truncated
        ),
        (Some(143), Some(15), true, true)
    );
    let execs = fake.execs();
    assert!(execs[0].spec.forward_output && !execs[0].spec.forward_stdin);
    assert_eq!(
        script_argv(&fake, 0)[4..],
        [PROCESS_ROOT, ID, "10", "0", "1"]
    );
    assert!(
        !execs[1].spec.forward_output,
        "the status is read by the guest"
    );
    assert_eq!(fake.forwarded().len(), 2, "the stream went to the caller");
}

#[test]
fn attach_without_follow_to_a_running_process_has_no_exit_code() {
    let fake = FakeCluster::new();
    fake.script_exec(ExecScript::exits(0));
    script(&fake, 0, record(ID, "alive 1\n"));
    let status = attach(
        &fake,
        &AttachRequest {
            lease: lease(),
            process: ID.into(),
            stdout_offset: 0,
            stderr_offset: 0,
            follow: false,
        },
    )
    .expect("attached");
    assert_eq!(status.exit_code, None);
    assert!(status.message.contains("still runs"), "{}", status.message);
    assert_eq!(script_argv(&fake, 0).last().map(String::as_str), Some("0"));
}

#[rstest]
#[case::attach("attach")]
#[case::kill("kill")]
fn unknown_process_is_a_bad_request_naming_the_id(#[case] call: &str) {
    let fake = FakeCluster::new();
    script(&fake, EXIT_UNKNOWN_PROCESS, "");
    let err = match call {
        "attach" => attach(
            &fake,
            &AttachRequest {
                lease: lease(),
                process: ID.into(),
                stdout_offset: 0,
                stderr_offset: 0,
                follow: true,
            },
        )
        .map(|_| ()),
        _ => kill(&fake, &lease(), ID, 0).map(|_| ()),
    };
    let Err(PolicyError::BadRequest(message)) = err else {
        panic!("{err:?}");
    };
    assert!(message.contains(ID), "{message}");
}

#[test]
fn a_malformed_id_never_reaches_the_pod() {
    let fake = FakeCluster::new();
    assert!(matches!(
        kill(&fake, &lease(), "p-../../home", 9),
        Err(PolicyError::BadRequest(_))
    ));
    assert!(fake.execs().is_empty());
}

#[rstest]
#[case::default_is_sigterm(0, "15")]
#[case::sigkill(9, "9")]
#[case::sigint(2, "2")]
fn kill_signals_the_tree_with_the_grace_period_and_answers_the_end(
    #[case] signal: u32,
    #[case] sent: &str,
) {
    let fake = FakeCluster::new();
    script(&fake, 0, record(ID, "status 143\n"));
    let info = kill(&fake, &lease(), ID, signal).expect("killed");
    assert_eq!((info.running, info.exit_code), (false, Some(143)));
    assert_eq!(
        script_argv(&fake, 0)[4..],
        [PROCESS_ROOT, ID, sent, "5", "0"]
    );
}

#[test]
fn a_signal_number_past_64_is_refused() {
    let fake = FakeCluster::new();
    assert!(matches!(
        kill(&fake, &lease(), ID, 99),
        Err(PolicyError::BadRequest(_))
    ));
}

#[test]
fn a_job_lease_whose_pod_ended_has_no_processes_to_reach() {
    let fake = FakeCluster::new();
    let lease = ended_job_lease(&fake, "Failed");
    let Err(PolicyError::Failed(failure)) = list(&fake, &lease) else {
        panic!("not failed");
    };
    assert_eq!(failure.reason, "NotRunning");
}
