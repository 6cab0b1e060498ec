//! The file calls against the fake cluster: the execs they build, the
//! confinement before any exec, and how the scripts' answers read.

use rstest::rstest;
use serde_json::json;

use super::*;
use crate::cluster::KubeError;
use crate::fake_cluster::{ExecScript, FakeCluster};
use crate::lease::{ExecStatus, FileType};
use crate::lifecycle::pod_lease_fixture::{
    cluster_with, ended_job_lease, lease, script, script_argv,
};
use crate::names;

fn cluster() -> FakeCluster {
    cluster_with(json!({}))
}

fn request_in(target: &str) -> FilesInRequest {
    FilesInRequest {
        lease: lease(),
        target: target.into(),
    }
}

fn request_out(source: &str) -> FilesOutRequest {
    FilesOutRequest {
        lease: lease(),
        source: source.into(),
        follow_symlinks: false,
        exclude: vec!["*.log".into()],
    }
}

#[test]
fn write_files_unpacks_the_callers_framed_stdin_under_the_target() {
    let fake = cluster();
    write_files(&fake, &request_in("/workspace/src/")).expect("written");
    let exec = &fake.execs()[0];
    assert_eq!(exec.spec.argv[..2], ["sh", "-c"]);
    assert_eq!(exec.spec.argv[4..6], ["", "framed"]);
    let argv = script_argv(&fake, 0);
    assert_eq!(argv[..2], ["sh", "-c"]);
    assert!(argv[2].contains("umask 022") && argv[2].contains("tar -x -p --no-same-owner"));
    assert_eq!(
        argv[3..],
        [
            "leasebox-write-files",
            "4",
            "/workspace",
            "/home/agent",
            "/home/agent/.cache",
            "/tmp",
            "/workspace/src"
        ]
    );
    assert!(exec.spec.stdin && exec.spec.forward_stdin && exec.spec.frame_stdin);
    assert!(exec.spec.forward_output && exec.spec.tty.is_none());
    assert_eq!(
        exec.stdin, b"\n",
        "only the empty env header from the guest"
    );
}

#[rstest]
#[case::dot_dot_escape_refused("/workspace/../etc")]
#[case::outside_every_root_refused("/etc")]
#[case::relative_path_refused("workspace")]
fn write_outside_the_roots_is_refused_before_any_exec(#[case] target: &str) {
    let fake = cluster();
    let err = write_files(&fake, &request_in(target)).expect_err("refused");
    assert!(
        matches!(err, PolicyError::NotAllowed(_) | PolicyError::BadRequest(_)),
        "{err:?}"
    );
    assert!(fake.execs().is_empty());
}

#[test]
fn symlink_escape_found_in_the_pod_is_not_allowed_naming_path_and_rule() {
    let fake = cluster();
    script(&fake, EXIT_OUTSIDE_ROOTS, b"");
    let Err(PolicyError::NotAllowed(message)) =
        write_files(&fake, &request_in("/workspace/link/x"))
    else {
        panic!("not refused");
    };
    assert!(message.contains("`/workspace/link/x`"), "{message}");
    assert!(message.contains("symbolic link"), "{message}");
    assert!(message.contains("rule `file-roots`"), "{message}");
}

#[test]
fn missing_tar_is_a_clear_tool_missing_failure() {
    let fake = cluster();
    script(&fake, EXIT_NO_TAR, b"");
    let Err(PolicyError::Failed(failure)) = read_files(&fake, &request_out("/workspace")) else {
        panic!("not failed");
    };
    assert_eq!(failure.reason, "ToolMissing");
    assert!(failure.message.contains("`tar`"), "{}", failure.message);
}

#[test]
fn tar_failure_names_its_exit_code() {
    let fake = cluster();
    script(&fake, 2, b"");
    let Err(PolicyError::Failed(failure)) = write_files(&fake, &request_in("/workspace")) else {
        panic!("not failed");
    };
    assert_eq!(
        (failure.step.as_str(), failure.reason.as_str()),
        ("write-files", "TarFailed")
    );
    assert!(
        failure.message.contains("exit code 2"),
        "{}",
        failure.message
    );
}

#[test]
fn read_files_forwards_a_tar_of_the_source_without_stdin() {
    let fake = cluster();
    read_files(&fake, &request_out("/workspace/out")).expect("read");
    let exec = &fake.execs()[0];
    assert_eq!(exec.spec.argv[4..6], ["", "none"]);
    assert!(exec.spec.forward_output && !exec.spec.forward_stdin && !exec.spec.frame_stdin);
    let argv = script_argv(&fake, 0);
    assert!(argv[2].contains("exec tar -c -f - -C"));
    assert_eq!(
        argv[argv.len() - 4..],
        ["/workspace/out", "0", "0", "*.log"]
    );
}

#[rstest]
#[case::follow_asked("/workspace/out", true, ["1", "1"])]
#[case::a_root_is_confined_itself_but_its_links_not_followed("/workspace", false, ["1", "0"])]
#[case::a_link_itself_is_archived("/workspace/link", false, ["0", "0"])]
fn read_files_confines_and_follows_links_as_asked(
    #[case] source: &str,
    #[case] follow: bool,
    #[case] flags: [&str; 2],
) {
    let fake = cluster();
    let mut request = request_out(source);
    request.follow_symlinks = follow;
    request.exclude.clear();
    read_files(&fake, &request).expect("read");
    let argv = script_argv(&fake, 0);
    assert_eq!(argv[argv.len() - 3..], [source, flags[0], flags[1]]);
}

#[test]
fn stat_path_reads_the_record_back_under_the_asked_path() {
    let fake = cluster();
    script(&fake, 0, b"81a4 12 1700000000\0/workspace/a b\0\0");
    let entry = stat_path(&fake, &lease(), "/workspace/./a b")
        .expect("stat")
        .expect("exists");
    assert_eq!(entry.path, "/workspace/a b");
    assert_eq!(
        (entry.file_type, entry.size, entry.mode),
        (FileType::File, 12, 0o644)
    );
    let exec = &fake.execs()[0];
    assert!(!exec.spec.forward_output && exec.spec.max_stdout_bytes.is_some());
    assert_eq!(script_argv(&fake, 0).last().map(String::as_str), Some("0"));
}

#[test]
fn stat_of_a_missing_path_is_none() {
    let fake = cluster();
    script(&fake, EXIT_NOT_FOUND, b"");
    assert_eq!(stat_path(&fake, &lease(), "/tmp/nothing"), Ok(None));
}

#[test]
fn list_directory_names_entries_under_the_directory_sorted() {
    let fake = cluster();
    script(
        &fake,
        0,
        b"81a4 1 1\0z\0\0a1ff 4 1\0new\nline\0../../etc\n\0",
    );
    let entries = list_directory(&fake, &lease(), "/workspace").expect("listed");
    let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["/workspace/new\nline", "/workspace/z"]);
    assert_eq!(entries[0].link_target.as_deref(), Some("../../etc"));
}

#[test]
fn list_of_a_file_is_a_bad_request() {
    let fake = cluster();
    script(&fake, EXIT_NOT_DIRECTORY, b"");
    assert!(matches!(
        list_directory(&fake, &lease(), "/workspace/f"),
        Err(PolicyError::BadRequest(_))
    ));
}

#[test]
fn root_itself_not_removable() {
    let fake = cluster();
    for root in ["/workspace", "/tmp/", "/home/agent/.cache"] {
        let err = remove_path(&fake, &lease(), root, true).expect_err("refused");
        let PolicyError::NotAllowed(message) = err else {
            panic!("{root}: {err:?}");
        };
        assert!(message.contains("rule `file-roots`"), "{message}");
    }
    assert!(fake.execs().is_empty());
}

#[rstest]
#[case::removed(0, Ok(true))]
#[case::already_gone(EXIT_NOT_FOUND, Ok(false))]
fn remove_path_answers_whether_it_existed(#[case] code: i32, #[case] expected: Result<bool, ()>) {
    let fake = cluster();
    script(&fake, code, b"");
    assert_eq!(
        remove_path(&fake, &lease(), "/workspace/build", true).map_err(|_| ()),
        expected
    );
    assert_eq!(script_argv(&fake, 0).last().map(String::as_str), Some("1"));
}

#[test]
fn removing_a_full_directory_without_recursive_is_a_bad_request() {
    let fake = cluster();
    script(&fake, EXIT_NOT_EMPTY, b"");
    assert!(matches!(
        remove_path(&fake, &lease(), "/workspace/build", false),
        Err(PolicyError::BadRequest(_))
    ));
}

#[test]
fn narrowed_roots_recorded_on_the_workload_are_the_ones_checked() {
    let fake = cluster_with(json!({names::ANNOTATION_FILE_ROOTS: "[\"/workspace/out\"]"}));
    assert!(matches!(
        stat_path(&fake, &lease(), "/workspace/src"),
        Err(PolicyError::NotAllowed(_))
    ));
    assert!(fake.execs().is_empty());
    script(&fake, EXIT_NOT_FOUND, b"");
    assert_eq!(stat_path(&fake, &lease(), "/workspace/out/x"), Ok(None));
    assert_eq!(script_argv(&fake, 0)[4..6], ["1", "/workspace/out"]);
}

#[test]
fn a_released_lease_is_not_found() {
    let fake = FakeCluster::new();
    assert!(matches!(
        stat_path(&fake, &lease(), "/workspace"),
        Err(PolicyError::LeaseNotFound(_))
    ));
}

#[test]
fn a_job_lease_whose_pod_ended_is_not_running() {
    let fake = FakeCluster::new();
    let lease = ended_job_lease(&fake, "Succeeded");
    let Err(PolicyError::Failed(failure)) = list_directory(&fake, &lease, "/workspace") else {
        panic!("not failed");
    };
    assert_eq!(failure.reason, "NotRunning");
    assert!(fake.execs().is_empty());
}

#[test]
fn a_cancelled_listing_kills_the_script() {
    let fake = cluster();
    fake.script_exec(ExecScript::hangs());
    fake.cancel_at_first_wait();
    let err = list_directory(&fake, &lease(), "/workspace").expect_err("cancelled");
    assert!(matches!(err, PolicyError::Cancelled(_)), "{err:?}");
    let execs = fake.execs();
    assert_eq!(execs.len(), 2, "the listing, then the kill");
    assert!(execs[0].killed);
    assert_eq!(execs[1].spec.argv[3], "leasebox-kill");
}

#[test]
fn a_lost_stream_is_a_failure_of_the_step() {
    let fake = cluster();
    fake.script_exec(ExecScript::hangs());
    fake.fail_on("exec-wait", "Pod", KubeError::Transport("cut".into()));
    let Err(PolicyError::Failed(failure)) = stat_path(&fake, &lease(), "/workspace") else {
        panic!("not failed");
    };
    assert_eq!(failure.step, "stat-path");
}

#[test]
fn script_status_without_exit_code_is_an_error() {
    let fake = cluster();
    fake.script_exec(ExecScript {
        status: ExecStatus::empty(),
        runs_ms: Some(0),
        output: Vec::new(),
    });
    assert!(stat_path(&fake, &lease(), "/workspace").is_err());
}
