//! The lifecycle commands without a reachable cluster: a clear message that
//! names the fix, and exit 2, before anything is created.

use std::process::{Command, Output};

use super::{scratch, write};

/// Runs `leasebox` with `KUBECONFIG` pointing at a file that does not exist.
fn leasebox_without_cluster(args: &[&str]) -> Output {
    let missing = scratch("no_cluster").join("missing.kubeconfig");
    Command::new(env!("CARGO_BIN_EXE_leasebox"))
        .args(args)
        .env("KUBECONFIG", &missing)
        .env(
            "LEASEBOX_CACHE_DIR",
            std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("leasebox-cache"),
        )
        .output()
        .expect("the binary runs")
}

fn assert_no_cluster_message(output: &Output) {
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot connect to a cluster"), "{stderr}");
    assert!(stderr.contains("missing.kubeconfig"), "{stderr}");
    assert!(stderr.contains("--kubeconfig"), "{stderr}");
    assert!(output.stdout.is_empty(), "{output:?}");
}

#[test]
fn acquire_with_unreadable_kubeconfig_exits_2_naming_the_fix() {
    let dir = scratch("acquire_no_cluster");
    let config = write(&dir, "c.json", r#"{"inCluster": true}"#);
    let output =
        leasebox_without_cluster(&["acquire", "--config", config.to_str().expect("utf-8 path")]);
    assert_no_cluster_message(&output);
}

#[test]
fn exec_with_unreadable_kubeconfig_exits_2_naming_the_fix() {
    let output = leasebox_without_cluster(&[
        "exec",
        "--lease",
        "lb-01jd5z8k9m0000000000000000",
        "--",
        "true",
    ]);
    assert_no_cluster_message(&output);
}

#[test]
fn exec_without_a_command_exits_2_saying_how_to_give_one() {
    let output = leasebox_without_cluster(&["exec", "--lease", "lb-01jd5z8k9m0000000000000000"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--shell"), "{stderr}");
}

#[rstest::rstest]
#[case::renew(&["renew", "--lease", "lb-01jd5z8k9m0000000000000000", "--ttl", "600"])]
#[case::list(&["list"])]
#[case::status(&["status", "--lease", "lb-01jd5z8k9m0000000000000000"])]
#[case::ps(&["ps", "--lease", "lb-01jd5z8k9m0000000000000000"])]
#[case::attach(&["attach", "--lease", "lb-01jd5z8k9m0000000000000000", "p-x"])]
#[case::kill(&["kill", "--lease", "lb-01jd5z8k9m0000000000000000", "p-x"])]
#[case::detach(&["exec", "--detach", "--lease", "lb-01jd5z8k9m0000000000000000", "--", "true"])]
#[case::cp_in(&["cp", "/etc/hostname", "lb-01jd5z8k9m0000000000000000:/workspace/x"])]
fn lease_calls_with_unreadable_kubeconfig_exit_2_naming_the_fix(#[case] args: &[&str]) {
    assert_no_cluster_message(&leasebox_without_cluster(args));
}

#[test]
fn renew_refuses_a_zero_ttl_before_connecting() {
    let output = leasebox_without_cluster(&[
        "renew",
        "--lease",
        "lb-01jd5z8k9m0000000000000000",
        "--ttl",
        "0",
    ]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--ttl"), "{stderr}");
    assert!(!stderr.contains("cannot connect"), "{stderr}");
}

#[test]
fn shell_without_a_terminal_says_so_and_names_exec() {
    // The test's stdin is not a terminal (`output()` gives it none).
    let output = leasebox_without_cluster(&["shell", "--lease", "lb-01jd5z8k9m0000000000000000"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("needs a terminal"), "{stderr}");
    assert!(
        stderr.contains("leasebox exec --lease lb-01jd5z8k9m0000000000000000"),
        "{stderr}"
    );
}

#[rstest::rstest]
#[case::no_lease(&["cp", "/etc/hostname", "/tmp/x"], "neither side names a lease")]
#[case::two_leases(
    &["cp", "lb-01jd5z8k9m0000000000000000:/a", "lb-01jd5z8k9m0000000000000001:/b"],
    "both sides name a lease"
)]
#[case::bad_signal(&["kill", "--lease", "lb-01jd5z8k9m0000000000000000", "p-x", "--signal", "NOPE"], "unknown signal")]
fn file_and_process_commands_refuse_bad_arguments_before_connecting(
    #[case] args: &[&str],
    #[case] said: &str,
) {
    let output = leasebox_without_cluster(args);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(said), "{stderr}");
}
