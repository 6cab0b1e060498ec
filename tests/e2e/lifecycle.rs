//! The whole lifecycle of each backend: acquire, exec (or follow the Job),
//! release, and the one-shot `run`; plus `probe`.

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{Api, DynamicObject};
use serde_json::json;

use crate::support::case::{Case, Lease};
use crate::support::cluster::{GONE_LIMIT, eventually, sandbox_resource};

fn pod_gone(case: &Case, lease: &Lease) -> bool {
    let pods = Api::<Pod>::namespaced(case.client(), &case.namespace);
    case.block_on(eventually(GONE_LIMIT, || async {
        matches!(pods.get_opt(&lease.pod).await, Ok(None))
    }))
}

fn secret_gone(case: &Case, lease: &Lease) -> bool {
    let secrets = Api::<Secret>::namespaced(case.client(), &case.namespace);
    let name = format!("{}-env", lease.id);
    case.block_on(eventually(GONE_LIMIT, || async {
        matches!(secrets.get_opt(&name).await, Ok(None))
    }))
}

#[test]
fn pod_lease_acquires_executes_and_releases() {
    let Some(case) = Case::start("lifecycle-pod") else {
        return;
    };
    let config = case.config(json!({ "backend": "pod" }));
    let lease = case.acquire(&config, &[]);
    assert_eq!(lease.backend, "pod");
    assert_eq!(lease.container, "agent");
    assert_eq!(lease.workload("kind"), "Pod");
    assert_eq!(lease.workload("name"), lease.pod);

    let pod = case
        .block_on(Api::<Pod>::namespaced(case.client(), &case.namespace).get(&lease.pod))
        .unwrap_or_else(|e| panic!("the lease's pod {}: {e}", lease.pod));
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        labels
            .get("app.kubernetes.io/managed-by")
            .map(String::as_str),
        Some("leasebox")
    );
    assert_eq!(labels.get("leasebox.dev/lease"), Some(&lease.id));
    let module = pod
        .metadata
        .annotations
        .clone()
        .unwrap_or_default()
        .remove(leasebox::cluster::guard::MODULE_ANNOTATION);
    assert_eq!(
        module.as_deref().map(str::len),
        Some(64),
        "the host records the SHA-256 of the module that created the lease: {module:?}"
    );
    let phase = pod.status.as_ref().and_then(|s| s.phase.clone());
    assert_eq!(phase.as_deref(), Some("Running"), "pod phase after acquire");

    let secret = case
        .block_on(
            Api::<Secret>::namespaced(case.client(), &case.namespace)
                .get(&format!("{}-env", lease.id)),
        )
        .unwrap_or_else(|e| panic!("the per-run secret {}-env: {e}", lease.id));
    let owners = secret.metadata.owner_references.unwrap_or_default();
    assert!(
        owners
            .iter()
            .any(|o| o.kind == "Pod" && Some(&o.uid) == pod.metadata.uid.as_ref()),
        "the per-run secret is owned by the pod: {owners:?}"
    );

    let hello = case.exec(&lease, &["--", "echo", "hello"]);
    hello.assert_code(0);
    assert_eq!(hello.stdout_text(), "hello\n", "{}", hello.describe());

    let env = case.exec(
        &lease,
        &[
            "--cwd",
            "/tmp",
            "--env",
            "GREETING=hi there",
            "--",
            "sh",
            "-c",
            "printf '%s|%s' \"$GREETING\" \"$PWD\"",
        ],
    );
    env.assert_code(0);
    assert_eq!(env.stdout_text(), "hi there|/tmp", "{}", env.describe());

    let report = case.release(&lease);
    assert!(report.is_object(), "release report: {report}");
    assert!(
        pod_gone(&case, &lease),
        "pod {} still there after release",
        lease.pod
    );
    assert!(
        secret_gone(&case, &lease),
        "secret {}-env still there after release",
        lease.id
    );

    let again = case.cli(&[
        "release",
        "--lease",
        &lease.id,
        "--namespace",
        &lease.namespace,
    ]);
    again.assert_code(0);

    let after = case.exec(&lease, &["--", "true"]);
    assert_ne!(
        after.code,
        Some(0),
        "exec on a released lease must fail\n{}",
        after.describe()
    );
    case.finish();
}

#[test]
fn job_lease_runs_its_command_and_returns_logs_and_exit_code() {
    let Some(case) = Case::start("lifecycle-job") else {
        return;
    };
    let config = case.config(json!({ "backend": "job" }));
    let lease = case.acquire(
        &config,
        &[
            "sh",
            "-c",
            "echo job-line-1; sleep 2; echo job-line-2; exit 3",
        ],
    );
    assert_eq!(lease.backend, "job");
    assert_eq!(lease.workload("kind"), "Job");

    // A job lease ran its command at acquire time: exec follows the Job
    // (the CLI still wants a command, which is not run).
    let followed = case.exec(&lease, &["--", "true"]);
    followed.assert_code(3);
    assert_eq!(
        followed.stdout_text(),
        "job-line-1\njob-line-2\n",
        "the job's log, once and in order\n{}",
        followed.describe()
    );

    let jobs = Api::<Job>::namespaced(case.client(), &case.namespace);
    let job = case
        .block_on(jobs.get(&lease.workload("name")))
        .unwrap_or_else(|e| panic!("the lease's job: {e}"));
    let failed = job.status.and_then(|s| s.failed).unwrap_or(0);
    assert_eq!(failed, 1, "a job whose command exits 3 has one failed pod");

    case.release(&lease);
    let name = lease.workload("name");
    let job_gone = case.block_on(eventually(GONE_LIMIT, || async {
        matches!(jobs.get_opt(&name).await, Ok(None))
    }));
    assert!(job_gone, "job {name} still there after release");
    assert!(
        pod_gone(&case, &lease),
        "job pod {} still there after release",
        lease.pod
    );
    case.finish();
}

#[test]
fn job_run_completes_and_returns_its_output() {
    let Some(case) = Case::start("run-job") else {
        return;
    };
    let config = case.config(json!({ "backend": "job" }));
    let config = config.display().to_string();
    let run = case.cli(&[
        "run",
        "--config",
        &config,
        "--company-id",
        &case.company,
        "--",
        "sh",
        "-c",
        "for i in 1 2 3; do echo line-$i; done",
    ]);
    run.assert_code(0);
    assert_eq!(
        run.stdout_text(),
        "line-1\nline-2\nline-3\n",
        "{}",
        run.describe()
    );
    case.finish();
}

#[test]
fn pod_run_acquires_executes_and_releases_in_one_call() {
    let Some(case) = Case::start("run-pod") else {
        return;
    };
    let config = case.config(json!({ "backend": "pod" }));
    let config = config.display().to_string();
    let run = case.cli(&[
        "run",
        "--config",
        &config,
        "--company-id",
        &case.company,
        "--",
        "sh",
        "-c",
        "echo run-ok; exit 7",
    ]);
    run.assert_code(7);
    assert_eq!(run.stdout_text(), "run-ok\n", "{}", run.describe());
    case.finish();
}

#[test]
fn sandbox_cr_lease_runs_through_the_test_reconciler() {
    let Some(mut case) = Case::start("lifecycle-sandbox") else {
        return;
    };
    case.start_reconciler();
    let config = case.config(json!({ "backend": "sandbox-cr" }));
    let lease = case.acquire(&config, &[]);
    assert_eq!(lease.backend, "sandbox-cr");
    assert_eq!(lease.workload("kind"), "Sandbox");
    assert_eq!(
        lease.pod,
        lease.workload("name"),
        "the pod is named after the Sandbox"
    );

    let ok = case.exec(&lease, &["--", "echo", "sandbox-ok"]);
    ok.assert_code(0);
    assert_eq!(ok.stdout_text(), "sandbox-ok\n", "{}", ok.describe());
    case.exec(&lease, &["--", "sh", "-c", "exit 42"])
        .assert_code(42);
    let echoed = case.exec_with(
        &lease,
        &["--", "cat"],
        Some(b"through the sandbox\n".to_vec()),
        Duration::from_secs(120),
    );
    echoed.assert_code(0);
    assert_eq!(
        echoed.stdout_text(),
        "through the sandbox\n",
        "{}",
        echoed.describe()
    );

    case.release(&lease);
    let sandboxes =
        Api::<DynamicObject>::namespaced_with(case.client(), &case.namespace, &sandbox_resource());
    let name = lease.workload("name");
    let sandbox_gone = case.block_on(eventually(GONE_LIMIT, || async {
        matches!(sandboxes.get_opt(&name).await, Ok(None))
    }));
    assert!(sandbox_gone, "Sandbox {name} still there after release");
    assert!(
        pod_gone(&case, &lease),
        "sandbox pod {} still there after release",
        lease.pod
    );
    case.finish();
}

#[test]
fn probe_reports_the_cluster_version_and_the_sandbox_crd() {
    let Some(case) = Case::start("probe") else {
        return;
    };
    let config = case.config(json!({ "backend": "sandbox-cr" }));
    let config = config.display().to_string();
    let probe = case.cli(&["probe", "--config", &config, "--company-id", &case.company]);
    probe.assert_code(0);
    let report = probe.json();
    let text = report.to_string();
    assert!(
        text.contains("v1.20"),
        "the report names the server version: {report}"
    );
    assert!(
        text.contains("sandboxes.agents.x-k8s.io") || text.contains("Sandbox"),
        "{report}"
    );
    case.finish();
}
