//! A module of contract 0.3.0 (the fixture built from the last 0.3.0 tree)
//! still acquires, executes and releases: its exports are called with the
//! current records (0.4.0 changed none of them), its imports run through
//! the host's 0.3.0 binding module (`kube@0.3.0`, which has no
//! `hand-over-secret`); the calls 0.4.0 added answer `unsupported`, naming
//! the call and the fix, as they do for every older module, and
//! `supports_pools` tells a caller to acquire cold without asking.

use leasebox::contract as wit;
use leasebox::contract::Contract;
use leasebox::runtime::{Limits, RuntimeError};
use leasebox_policy::cluster::OutputStream;
use leasebox_policy::fake_cluster::ExecScript;
use serde_json::json;

use crate::lifecycle_through_wasm::{
    cluster, env, env_with, pod_config, request, script_ready_pod,
};
use crate::support::{default_policy, every_contract, v0_3_policy};

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

fn pool_request() -> wit::PoolRequest {
    let lease = request(&pod_config());
    wit::PoolRequest {
        config: json!({"backend": "pod", "warmPool": {"size": 1}}).to_string(),
        company_id: lease.company_id,
        now: lease.now,
        adapter_type: None,
        image_override: None,
        max_pods: 2,
        module_sha256: "0".repeat(64),
    }
}

#[test]
fn the_v0_3_module_reports_its_contract_and_no_pools() {
    assert_eq!(v0_3_policy().contract(), Contract::V0_3);
    assert!(!v0_3_policy().supports_pools());
    assert_eq!(default_policy().contract(), Contract::V0_4);
    assert!(default_policy().supports_pools());
}

#[test]
fn a_v0_3_module_acquires_executes_through_its_own_kube_binding_and_releases() {
    let cluster = cluster();
    script_ready_pod(&cluster);
    let lease = v0_3_policy()
        .acquire_lease(&env(&cluster), &request(&pod_config()))
        .expect("the 0.3.0 module does not trap")
        .expect("the 0.3.0 module acquires");
    assert!(
        cluster.hand_overs().is_empty(),
        "a cold acquire hands nothing over"
    );

    cluster.script_exec(ExecScript {
        output: vec![(OutputStream::Stdout, b"through kube@0.3.0\n".to_vec())],
        ..ExecScript::exits(3)
    });
    let (exec_env, stdout) = env_with(cluster.clone(), b"", Limits::default());
    let status = v0_3_policy()
        .execute(&exec_env, &command(&lease, &["true"]))
        .expect("no trap")
        .expect("the 0.3.0 module executes");
    assert_eq!(status.exit_code, Some(3));
    assert_eq!(stdout.contents(), b"through kube@0.3.0\n");

    let report = v0_3_policy()
        .release_lease(&env(&cluster), &lease)
        .expect("no trap")
        .expect("the 0.3.0 module releases");
    assert!(report.deleted.iter().any(|o| o.kind == "Pod"), "{report:?}");
}

#[test]
fn the_calls_of_contract_0_4_answer_unsupported_for_every_older_module() {
    let cluster = cluster();
    let env = env(&cluster);
    for (contract, policy) in &every_contract()[1..] {
        let answers: [(&str, RuntimeError); 2] = [
            (
                "ensure-pool",
                policy
                    .ensure_pool(&env, &pool_request())
                    .map(drop)
                    .expect_err("no pools before 0.4.0"),
            ),
            (
                "claim-lease",
                policy
                    .claim_lease(&env, &request(&pod_config()), policy.sha256())
                    .map(drop)
                    .expect_err("no pools before 0.4.0"),
            ),
        ];
        for (call, error) in answers {
            assert!(
                matches!(&error, RuntimeError::Unsupported { call: c, contract: v, .. }
                    if c == call && v == contract),
                "{contract} {call}: {error}"
            );
            let fix = format!("@{}", Contract::CURRENT);
            assert!(error.to_string().contains(&fix), "{call}: {error}");
        }
    }
    assert!(cluster.calls().is_empty(), "nothing reached the cluster");
}
