//! The lease lifecycle against the in-memory `FakeCluster`: acquire per
//! backend, fail-fast and rollback, release, sweep, resume, execute, probe;
//! and the readiness predicates on captured-like objects in
//! `tests/fixtures/objects/`.
//!
//! The predicates run in every build; the lifecycle tests need the fake
//! cluster: `cargo test -p leasebox-policy --features fake-cluster --test lifecycle`.

use std::path::PathBuf;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use leasebox_policy::lifecycle::conditions::{self, JobOutcome, Readiness};
use leasebox_policy::manifests::sandbox_cr::Sandbox;
use leasebox_policy::names;
use rstest::rstest;
use serde_json::Value;

const LEASE: &str = "lb-01jd8x7k2m3n4p5q6r7s8t9v0w";

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/objects")
        .join(name);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// A captured Pod, read the way the lifecycle reads watch events.
fn pod(name: &str) -> Pod {
    conditions::read(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A captured Job.
fn job(name: &str) -> Job {
    conditions::read(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A captured Sandbox.
fn sandbox(name: &str) -> Sandbox {
    conditions::read_sandbox(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

// ---------------------------------------------------------------- conditions

#[rstest]
#[case::ready("pod-ready.json", None)]
#[case::running_not_ready("pod-running-not-ready.json", Some("pending"))]
#[case::container_creating("pod-container-creating.json", Some("pending"))]
#[case::unschedulable("pod-unschedulable.json", Some("Unschedulable"))]
#[case::image_pull_backoff("pod-image-pull-backoff.json", Some("ImagePullBackOff"))]
#[case::err_image_pull("pod-err-image-pull.json", Some("ErrImagePull"))]
#[case::invalid_image_name("pod-invalid-image-name.json", Some("InvalidImageName"))]
#[case::crash_loop("pod-crash-loop.json", Some("CrashLoopBackOff"))]
#[case::init_container_failed("pod-init-container-failed.json", Some("InitContainerFailed"))]
#[case::evicted("pod-evicted.json", Some("Evicted"))]
fn pod_readiness_of_captured_pods(#[case] file: &str, #[case] expected: Option<&str>) {
    let readiness = conditions::pod_readiness(&pod(file));
    match (expected, readiness) {
        (None, Readiness::Ready) | (Some("pending"), Readiness::Pending) => {}
        (Some(want), Readiness::Failed { reason, message }) => {
            assert_eq!(reason, want, "{message}");
            assert!(message.contains(LEASE), "message names the pod: {message}");
        }
        (want, got) => panic!("{file}: expected {want:?}, got {got:?}"),
    }
}

type Predicate = fn(&Pod) -> Option<Readiness>;

#[rstest]
#[case::unschedulable(conditions::unschedulable as Predicate, "pod-unschedulable.json")]
#[case::image_pull(conditions::image_pull_failure as Predicate, "pod-image-pull-backoff.json")]
#[case::crash_loop(conditions::crash_loop as Predicate, "pod-crash-loop.json")]
#[case::init_failed(conditions::init_container_failed as Predicate, "pod-init-container-failed.json")]
#[case::pod_failed(conditions::pod_failed as Predicate, "pod-evicted.json")]
fn each_fail_fast_predicate_fires_only_on_its_reason(
    #[case] predicate: Predicate,
    #[case] file: &str,
) {
    assert!(predicate(&pod(file)).is_some(), "{file} must fail fast");
    for healthy in [
        "pod-ready.json",
        "pod-container-creating.json",
        "pod-running-not-ready.json",
    ] {
        assert_eq!(predicate(&pod(healthy)), None, "{healthy} is not a failure");
    }
}

#[test]
fn init_failure_message_quotes_the_container_and_code() {
    let Some(Readiness::Failed { message, .. }) =
        conditions::init_container_failed(&pod("pod-init-container-failed.json"))
    else {
        panic!("init failure expected");
    };
    assert!(message.contains("leasebox-supervisor-install"), "{message}");
    assert!(message.contains("code 1"), "{message}");
}

#[rstest]
#[case::pending("job-pod-pending.json", "pending")]
#[case::running("job-pod-running.json", "ready")]
#[case::fast_job_succeeded("job-pod-succeeded.json", "ready")]
#[case::command_failed_still_ran("job-pod-failed-exit-3.json", "ready")]
#[case::unschedulable("pod-unschedulable.json", "Unschedulable")]
#[case::evicted_before_running("pod-evicted.json", "Evicted")]
fn job_pod_readiness_of_captured_pods(#[case] file: &str, #[case] expected: &str) {
    let got = conditions::job_pod_readiness(&pod(file));
    match (expected, got) {
        ("pending", Readiness::Pending) | ("ready", Readiness::Ready) => {}
        (want, Readiness::Failed { reason, .. }) => assert_eq!(reason, want),
        (want, got) => panic!("{file}: expected {want}, got {got:?}"),
    }
}

#[rstest]
#[case::new_without_status("sandbox-new.json", Readiness::Pending)]
#[case::dependencies_not_ready("sandbox-pending.json", Readiness::Pending)]
#[case::ready("sandbox-ready.json", Readiness::Ready)]
fn sandbox_ready_is_its_ready_condition(#[case] file: &str, #[case] expected: Readiness) {
    assert_eq!(conditions::sandbox_readiness(&sandbox(file)), expected);
}

#[rstest]
#[case::own_name("sandbox-ready.json", LEASE)]
#[case::adopted_warm_pool_pod("sandbox-adopted-ready.json", "warm-pool-claude-7xk2p")]
fn sandbox_pod_name_prefers_the_adoption_annotation(#[case] file: &str, #[case] pod: &str) {
    assert_eq!(conditions::sandbox_pod_name(&sandbox(file).metadata), pod);
}

#[rstest]
#[case::running("job-running.json", None)]
#[case::complete("job-complete.json", Some(JobOutcome::Complete))]
#[case::backoff("job-failed-backoff.json", Some(JobOutcome::Failed {
    reason: "BackoffLimitExceeded".into(),
    message: "Job has reached the specified backoff limit".into(),
}))]
#[case::deadline("job-failed-deadline.json", Some(JobOutcome::Failed {
    reason: "DeadlineExceeded".into(),
    message: "Job was active longer than specified deadline".into(),
}))]
fn job_finishes_on_complete_or_failed(#[case] file: &str, #[case] expected: Option<JobOutcome>) {
    assert_eq!(conditions::job_finished(&job(file)), expected);
}

#[rstest]
#[case::succeeded("job-pod-succeeded.json", Some((0, None)))]
#[case::exit_3("job-pod-failed-exit-3.json", Some((3, None)))]
#[case::oom_killed_is_sigkill("job-pod-oomkilled.json", Some((137, Some(9))))]
#[case::still_running("job-pod-running.json", None)]
fn job_exit_code_comes_from_the_agent_terminated_state(
    #[case] file: &str,
    #[case] expected: Option<(i32, Option<u32>)>,
) {
    let exit = conditions::container_exit(&pod(file), names::AGENT_CONTAINER);
    assert_eq!(exit.map(|e| (e.code, e.signal)), expected);
}

#[rstest]
#[case::job_as_pod("job-complete.json", "is not a v1 Pod")]
#[case::sandbox_as_pod("sandbox-ready.json", "is not a v1 Pod")]
fn an_object_of_another_kind_is_reported_not_panicked_on(#[case] file: &str, #[case] says: &str) {
    let err = conditions::read::<Pod>(fixture(file)).expect_err("not a Pod");
    assert!(err.contains(says), "{err}");
    assert!(err.contains(LEASE), "names the object: {err}");
}

#[test]
fn a_pod_is_not_a_job_nor_a_sandbox() {
    assert!(conditions::read::<Job>(fixture("pod-ready.json")).is_err());
    let err = conditions::read_sandbox(fixture("pod-ready.json")).expect_err("not a Sandbox");
    assert!(err.contains("is not an agent-sandbox Sandbox"), "{err}");
}

/// Lifecycle calls against the in-memory cluster.
#[cfg(feature = "fake-cluster")]
mod with_fake_cluster {
    use leasebox_policy::cluster::{
        Denial, EventType, KubeError, Level, OutputStream, Propagation, WatchEvent,
    };
    use leasebox_policy::error::PolicyError;
    use leasebox_policy::fake_cluster::{ExecScript, FakeCluster, LogScript};
    use leasebox_policy::lease::{
        Backend, Command, EnvVar, ExecRequest, ExecStatus, Lease, LeasePhase, LeaseRequest,
        ObjectRef,
    };
    use leasebox_policy::{lifecycle, plan};
    use serde_json::json;

    use super::*;

    const NS: &str = "leasebox-acme-corp";
    const NOW: &str = "2026-11-23T10:00:00Z";
    const JOB_POD: &str = "lb-01jd8x7k2m3n4p5q6r7s8t9v0w-x7q2m";

    fn modified(name: &str) -> WatchEvent {
        WatchEvent {
            event_type: EventType::Modified,
            object: fixture(name),
        }
    }

    fn request(config: Value) -> LeaseRequest {
        LeaseRequest {
            config: config.to_string(),
            company_id: "Acme Corp".into(),
            run_id: "run-42".into(),
            lease_id: LEASE.into(),
            now: NOW.into(),
            adapter_type: None,
            image_override: None,
            command: Some(Command::Shell("make test".into())),
        }
    }

    fn config(backend: &str) -> Value {
        json!({ "inCluster": true, "backend": backend })
    }

    fn failure(err: PolicyError) -> leasebox_policy::error::Failure {
        match err {
            PolicyError::Failed(f) => f,
            other => panic!("expected a failed step, got {other:?}"),
        }
    }

    fn displays(refs: &[ObjectRef]) -> Vec<String> {
        refs.iter().map(ObjectRef::display).collect()
    }

    /// `apply Kind/ns/name` for every manifest of the plan, in order.
    fn planned_applies(request: &LeaseRequest) -> Vec<String> {
        plan::plan(request)
            .expect("plan")
            .iter()
            .map(|m| {
                format!(
                    "apply {}",
                    ObjectRef::of(m).expect("named manifest").display()
                )
            })
            .collect()
    }

    fn pod_ref(name: &str) -> String {
        format!("Pod/{NS}/{name}")
    }

    fn secret_ref() -> String {
        format!("Secret/{NS}/{LEASE}-env")
    }

    fn policy_ref() -> String {
        format!("NetworkPolicy/{NS}/{LEASE}-egress")
    }

    /// `delete Kind/ns/name` of the two 0.1 tenant-wide egress policies.
    fn legacy_deletes() -> [String; 2] {
        [
            format!("delete NetworkPolicy/{NS}/{}", names::EGRESS_POLICY),
            format!(
                "delete CiliumNetworkPolicy/{NS}/{}",
                names::CILIUM_EGRESS_POLICY
            ),
        ]
    }

    // ------------------------------------------------------------------- acquire

    #[test]
    fn pod_acquire_applies_the_plan_in_order_and_returns_the_lease() {
        let fake = FakeCluster::new();
        fake.script_watch(
            "Pod",
            vec![
                modified("pod-container-creating.json"),
                modified("pod-ready.json"),
            ],
        );
        let req = request(config("pod"));

        let lease = lifecycle::acquire(&fake, &req).expect("acquired");

        // The plan; the tenant's record on its Namespace once the tenant
        // objects are in place; the Secret again once the workload can own
        // it.
        let mut expected = planned_applies(&req);
        let position = |lines: &[String], line: String| {
            lines
                .iter()
                .position(|c| *c == line)
                .unwrap_or_else(|| panic!("{line} in the plan"))
        };
        let secret = position(&expected, format!("apply {}", secret_ref()));
        expected.insert(secret, format!("apply Namespace/{NS}"));
        let workload = position(&expected, format!("apply {}", pod_ref(LEASE)));
        expected.insert(workload + 1, format!("apply {}", secret_ref()));
        assert_eq!(fake.calls_of("apply"), expected);
        let calls = fake.calls();
        let workload = calls
            .iter()
            .position(|c| c == &format!("apply {}", pod_ref(LEASE)))
            .expect("workload applied");
        for legacy in legacy_deletes() {
            let deleted = calls
                .iter()
                .position(|c| c == &legacy)
                .expect("legacy policy deleted");
            assert!(
                deleted < workload,
                "the legacy policies go before the workload: {calls:?}"
            );
        }
        assert_eq!(
            fake.calls_of("get"),
            [format!("get Namespace/{NS}")],
            "the tenant's record is read; readiness is watched, never polled"
        );

        let stored = fake.object("Pod", Some(NS), LEASE).expect("pod stored");
        assert_eq!(lease.id, LEASE);
        assert_eq!(lease.namespace, NS);
        assert_eq!(lease.backend, Backend::Pod);
        assert_eq!(lease.workload.kind, "Pod");
        assert_eq!(
            lease.workload.uid.as_deref(),
            stored["metadata"]["uid"].as_str()
        );
        assert_eq!(lease.pod, LEASE);
        assert_eq!(lease.container, "agent");
        assert_eq!(lease.secret, format!("{LEASE}-env"));
        assert_eq!(lease.company_id, "Acme Corp");
        assert_eq!(lease.run_id, "run-42");
        assert_eq!(lease.adapter_type, "claude_local");
        assert!(!lease.image.is_empty());
        assert_eq!(lease.created_at, NOW);
        assert_eq!(lease.expires_at, "2026-11-24T10:00:00Z");
    }

    const SECOND: &str = "lb-01jd8x7k2m3n4p5q6r7s8t9v1a";
    const THIRD: &str = "lb-01jd8x7k2m3n4p5q6r7s8t9v2b";

    /// The calls of an acquire of lease `id` at `now` on `fake` (whose
    /// pods become ready at once).
    fn acquire_calls(fake: &FakeCluster, cfg: &Value, id: &str, now: &str) -> Vec<String> {
        let before = fake.calls().len();
        let mut pod = fixture("pod-ready.json");
        pod["metadata"]["name"] = json!(id);
        fake.script_watch_event("Pod", EventType::Modified, pod);
        let mut req = request(cfg.clone());
        req.lease_id = id.into();
        req.now = now.into();
        lifecycle::acquire(fake, &req).expect("acquired");
        fake.calls()[before..].to_vec()
    }

    /// Whether `calls` write a tenant object (the Namespace, an object
    /// named `leasebox-...`, or a delete of a legacy policy).
    fn writes_tenant(calls: &[String]) -> bool {
        calls.iter().any(|c| {
            c == &format!("apply Namespace/{NS}")
                || c.starts_with("apply ")
                    && c.rsplit('/')
                        .next()
                        .is_some_and(|n| n.starts_with("leasebox-"))
                || legacy_deletes().contains(c)
        })
    }

    #[test]
    fn a_warm_tenant_is_read_once_and_not_written() {
        let fake = FakeCluster::new();
        let cfg = config("pod");
        let first = acquire_calls(&fake, &cfg, LEASE, NOW);
        assert!(writes_tenant(&first), "{first:?}");
        let record =
            fake.object("Namespace", None, NS).expect("namespace")["metadata"]["annotations"]
                [names::ANNOTATION_TENANT_APPLIED]
                .as_str()
                .map(str::to_string)
                .expect("the convergence is recorded");
        assert!(record.ends_with(NOW), "{record}");

        let second = acquire_calls(&fake, &cfg, SECOND, "2026-11-23T10:05:00Z");
        assert!(!writes_tenant(&second), "{second:?}");
        assert_eq!(second[0], format!("get Namespace/{NS}"));
        assert_eq!(second[1], format!("apply Secret/{NS}/{SECOND}-env"));
        assert_eq!(second[2], format!("apply Pod/{NS}/{SECOND}"));
    }

    #[test]
    fn changed_tenant_objects_are_applied_again() {
        let fake = FakeCluster::new();
        acquire_calls(&fake, &config("pod"), LEASE, NOW);
        let mut changed = config("pod");
        changed["quota"] = json!({ "pods": 7 });
        let calls = acquire_calls(&fake, &changed, SECOND, "2026-11-23T10:01:00Z");
        assert!(writes_tenant(&calls), "{calls:?}");
        let quota = fake
            .object("ResourceQuota", Some(NS), names::RESOURCE_QUOTA)
            .expect("quota");
        assert_eq!(quota["spec"]["hard"]["pods"], "7", "{quota}");
    }

    #[test]
    fn a_tenant_record_older_than_ten_minutes_is_converged_again() {
        let fake = FakeCluster::new();
        let cfg = config("pod");
        acquire_calls(&fake, &cfg, LEASE, NOW);
        let calls = acquire_calls(&fake, &cfg, SECOND, "2026-11-23T10:10:00Z");
        assert!(writes_tenant(&calls), "{calls:?}");
        assert!(
            calls.iter().any(|c| legacy_deletes().contains(c)),
            "{calls:?}"
        );
    }

    #[test]
    fn a_convergence_that_fails_halfway_leaves_no_record() {
        let fake = FakeCluster::new();
        let cfg = config("pod");
        acquire_calls(&fake, &cfg, LEASE, NOW);
        let mut changed = config("pod");
        changed["quota"] = json!({ "pods": 7 });
        fake.fail_on(
            "apply",
            "LimitRange",
            KubeError::Transport("connection reset".into()),
        );
        let mut req = request(changed);
        req.lease_id = SECOND.into();
        let failure = failure(lifecycle::acquire(&fake, &req).expect_err("fails"));
        assert_eq!(failure.step, "apply-limitrange");
        let namespace = fake.object("Namespace", None, NS).expect("namespace");
        assert!(
            namespace["metadata"]["annotations"]
                .get(names::ANNOTATION_TENANT_APPLIED)
                .is_none(),
            "the old record goes with the first write: {namespace}"
        );
        fake.clear_failures();
        // Back to the first configuration: its record is gone, so the
        // half-changed objects are converged again.
        let calls = acquire_calls(&fake, &cfg, THIRD, NOW);
        assert!(writes_tenant(&calls), "{calls:?}");
    }

    #[test]
    fn the_secret_comes_before_the_workload_and_is_then_owned_by_its_uid() {
        let fake = FakeCluster::new();
        fake.script_watch("Pod", vec![modified("pod-ready.json")]);
        let lease = lifecycle::acquire(&fake, &request(config("pod"))).expect("acquired");

        let secrets = fake.host_secrets();
        assert_eq!(secrets.len(), 2, "written before the workload and again");
        assert!(
            secrets[0].manifest["metadata"]
                .get("ownerReferences")
                .is_none(),
            "the workload does not exist yet"
        );
        assert_eq!(
            secrets[1].random_keys, secrets[0].random_keys,
            "the same keys both times"
        );
        let owner = &secrets[1].manifest["metadata"]["ownerReferences"][0];
        assert_eq!(owner["kind"], "Pod");
        assert_eq!(owner["uid"].as_str(), lease.workload.uid.as_deref());
        let stored = fake.object("Secret", Some(NS), &format!("{LEASE}-env"));
        assert_eq!(
            stored.expect("stored")["metadata"]["ownerReferences"][0]["uid"].as_str(),
            lease.workload.uid.as_deref()
        );
    }

    #[test]
    fn pvc_workspace_is_applied_after_the_workload_and_owned_by_it() {
        let fake = FakeCluster::new();
        fake.script_watch("Pod", vec![modified("pod-ready.json")]);
        let mut cfg = config("pod");
        cfg["workspace"] = json!({ "type": "pvc", "size": "20Gi" });
        let lease = lifecycle::acquire(&fake, &request(cfg)).expect("acquired");

        let applies = fake.calls_of("apply");
        let n = applies.len();
        assert_eq!(
            applies[n - 4..],
            [
                format!("apply {}", pod_ref(LEASE)),
                format!("apply {}", secret_ref()),
                format!("apply PersistentVolumeClaim/{NS}/{LEASE}-workspace"),
                format!("apply {}", policy_ref()),
            ]
        );
        let pvc = fake
            .object(
                "PersistentVolumeClaim",
                Some(NS),
                &format!("{LEASE}-workspace"),
            )
            .expect("pvc stored");
        assert_eq!(
            pvc["metadata"]["ownerReferences"][0]["uid"].as_str(),
            lease.workload.uid.as_deref()
        );
    }

    #[test]
    fn job_acquire_takes_the_pod_name_from_the_watch_event() {
        let fake = FakeCluster::new();
        fake.script_watch(
            "Pod",
            vec![
                modified("job-pod-pending.json"),
                modified("job-pod-running.json"),
            ],
        );
        let lease = lifecycle::acquire(&fake, &request(config("job"))).expect("acquired");

        assert_eq!(lease.backend, Backend::Job);
        assert_eq!(lease.workload.kind, "Job");
        assert_eq!(lease.pod, JOB_POD);
        let watch = &fake.watches()[0];
        assert_eq!(watch.kind, "Pod");
        assert_eq!(watch.label_selector, format!("job-name={LEASE}"));
    }

    #[test]
    fn fast_job_that_already_succeeded_is_acquired() {
        let fake = FakeCluster::new();
        fake.script_watch("Pod", vec![modified("job-pod-succeeded.json")]);
        let lease = lifecycle::acquire(&fake, &request(config("job"))).expect("acquired");
        assert_eq!(lease.pod, JOB_POD);
    }

    #[test]
    fn sandbox_acquire_waits_for_ready_then_checks_its_pod() {
        let fake = FakeCluster::new();
        fake.script_watch(
            "Sandbox",
            vec![
                modified("sandbox-pending.json"),
                modified("sandbox-ready.json"),
            ],
        );
        fake.script_watch(
            "Pod",
            vec![
                modified("pod-container-creating.json"),
                modified("pod-ready.json"),
            ],
        );

        let lease = lifecycle::acquire(&fake, &request(config("sandbox-cr"))).expect("acquired");

        assert_eq!(lease.backend, Backend::SandboxCr);
        assert_eq!(lease.workload.api_version, "agents.x-k8s.io/v1beta1");
        assert_eq!(lease.workload.kind, "Sandbox");
        assert_eq!(lease.pod, LEASE);
        let watches = fake.watches();
        assert_eq!(watches[0].kind, "Sandbox");
        assert_eq!(watches[0].field_selector, format!("metadata.name={LEASE}"));
        assert_eq!(
            watches[1].label_selector,
            format!("{}={LEASE}", names::LABEL_LEASE)
        );
        assert_eq!(watches[2].field_selector, format!("metadata.name={LEASE}"));
    }

    #[test]
    fn sandbox_acquire_follows_an_adopted_warm_pool_pod() {
        let fake = FakeCluster::new();
        fake.script_watch("Sandbox", vec![modified("sandbox-adopted-ready.json")]);
        let mut warm = fixture("pod-ready.json");
        warm["metadata"]["name"] = json!("warm-pool-claude-7xk2p");
        fake.script_watch(
            "Pod",
            vec![WatchEvent {
                event_type: EventType::Modified,
                object: warm,
            }],
        );
        let lease = lifecycle::acquire(&fake, &request(config("sandbox-cr"))).expect("acquired");
        assert_eq!(lease.pod, "warm-pool-claude-7xk2p");
    }

    #[rstest]
    #[case::unschedulable("pod-unschedulable.json", "Unschedulable")]
    #[case::image_pull_backoff("pod-image-pull-backoff.json", "ImagePullBackOff")]
    #[case::err_image_pull("pod-err-image-pull.json", "ErrImagePull")]
    #[case::invalid_image_name("pod-invalid-image-name.json", "InvalidImageName")]
    #[case::crash_loop("pod-crash-loop.json", "CrashLoopBackOff")]
    #[case::init_container_failed("pod-init-container-failed.json", "InitContainerFailed")]
    #[case::evicted("pod-evicted.json", "Evicted")]
    fn fail_fast_reason_rolls_back_every_lease_object(#[case] file: &str, #[case] reason: &str) {
        let fake = FakeCluster::new();
        fake.script_watch(
            "Pod",
            vec![modified("pod-container-creating.json"), modified(file)],
        );

        let failure =
            failure(lifecycle::acquire(&fake, &request(config("pod"))).expect_err("fails"));

        assert_eq!(failure.step, "wait-ready");
        assert_eq!(failure.reason, reason);
        assert_eq!(
            displays(&failure.rolled_back),
            [pod_ref(LEASE), policy_ref(), secret_ref()]
        );
        assert!(failure.left_behind.is_empty());
        assert!(
            failure.rolled_back[0].uid.is_some(),
            "the workload is deleted by uid"
        );
        assert_eq!(
            fake.calls_of("delete")[2..],
            [
                format!("delete {}", pod_ref(LEASE)),
                format!("delete {}", policy_ref()),
                format!("delete {}", secret_ref()),
            ]
        );
        assert_eq!(fake.object("Pod", Some(NS), LEASE), None);
        assert_eq!(
            fake.object("Secret", Some(NS), &format!("{LEASE}-env")),
            None
        );
        assert_eq!(
            fake.object("NetworkPolicy", Some(NS), &format!("{LEASE}-egress")),
            None
        );
        assert!(
            fake.object("Namespace", None, NS).is_some(),
            "tenant objects stay"
        );
        assert_eq!(fake.clock_ms(), 0, "failing fast uses none of the budget");
    }

    #[test]
    fn failed_job_acquire_deletes_the_job_in_background_and_its_pods_itself() {
        let fake = FakeCluster::new();
        let mut pod = fixture("job-pod-pending.json");
        pod["status"]["containerStatuses"] = json!([{
            "name": "agent",
            "ready": false,
            "restartCount": 0,
            "image": "busybox:does-not-exist",
            "imageID": "",
            "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}
        }]);
        fake.script_watch(
            "Pod",
            vec![WatchEvent {
                event_type: EventType::Modified,
                object: pod,
            }],
        );

        let failure =
            failure(lifecycle::acquire(&fake, &request(config("job"))).expect_err("fails"));

        assert_eq!(failure.reason, "ImagePullBackOff");
        let job = &failure.rolled_back[0];
        assert_eq!(job.kind, "Job");
        let (_, options) = fake
            .deletes()
            .into_iter()
            .find(|(r, _)| r.kind == "Job")
            .expect("job deleted");
        // Foreground would keep the Job until the garbage collector has
        // removed its pods; the rollback deletes them itself.
        assert_eq!(options.propagation, Propagation::Background);
        let uid = job.uid.clone().expect("job uid");
        assert!(
            fake.calls()
                .contains(&format!("list Pod/{NS}?controller-uid={uid}")),
            "{:?}",
            fake.calls()
        );
    }

    #[test]
    fn sandbox_pod_failure_fails_fast_while_the_sandbox_is_pending() {
        let fake = FakeCluster::new();
        fake.script_watch("Sandbox", vec![modified("sandbox-pending.json")]);
        fake.script_watch("Pod", vec![modified("pod-image-pull-backoff.json")]);

        let failure =
            failure(lifecycle::acquire(&fake, &request(config("sandbox-cr"))).expect_err("fails"));

        assert_eq!(failure.reason, "ImagePullBackOff");
        assert_eq!(
            displays(&failure.rolled_back),
            [format!("Sandbox/{NS}/{LEASE}"), policy_ref(), secret_ref()]
        );
        let (_, options) = fake
            .deletes()
            .into_iter()
            .find(|(r, _)| r.kind == "Sandbox")
            .expect("sandbox deleted");
        assert_eq!(options.propagation, Propagation::Foreground);
        assert!(options.precondition_uid.is_some());
    }

    #[test]
    fn a_watched_object_that_does_not_read_as_a_pod_fails_as_invalid_and_rolls_back() {
        let fake = FakeCluster::new();
        let mut pod = fixture("pod-container-creating.json");
        pod["status"]["containerStatuses"] = json!("not a list");
        fake.script_watch(
            "Pod",
            vec![WatchEvent {
                event_type: EventType::Modified,
                object: pod,
            }],
        );

        let failure =
            failure(lifecycle::acquire(&fake, &request(config("pod"))).expect_err("fails"));

        assert_eq!(failure.step, "wait-ready");
        assert_eq!(failure.reason, "Invalid");
        assert!(
            failure.message.contains("is not a v1 Pod"),
            "{}",
            failure.message
        );
        assert_eq!(
            displays(&failure.rolled_back),
            [pod_ref(LEASE), policy_ref(), secret_ref()]
        );
    }

    #[test]
    fn ready_timeout_is_named_and_rolls_back() {
        let fake = FakeCluster::new();
        fake.script_watch("Pod", vec![modified("pod-container-creating.json")]);
        let mut cfg = config("pod");
        cfg["podReadyTimeoutSec"] = json!(120);

        let failure = failure(lifecycle::acquire(&fake, &request(cfg)).expect_err("times out"));

        assert_eq!(failure.step, "wait-ready");
        assert_eq!(failure.reason, "ReadyTimeout");
        assert!(failure.message.contains("120s"), "{}", failure.message);
        assert!(
            failure.message.contains("ContainerCreating"),
            "last state is named: {}",
            failure.message
        );
        assert_eq!(
            displays(&failure.rolled_back),
            [pod_ref(LEASE), policy_ref(), secret_ref()]
        );
        assert_eq!(fake.clock_ms(), 120_000, "the whole budget, not more");
    }

    #[test]
    fn a_failed_secret_apply_starts_no_workload() {
        let fake = FakeCluster::new();
        fake.fail_on(
            "apply",
            "Secret",
            KubeError::Forbidden("secrets is forbidden".into()),
        );

        let failure =
            failure(lifecycle::acquire(&fake, &request(config("pod"))).expect_err("fails"));

        assert_eq!(failure.step, "apply-secret");
        assert_eq!(failure.reason, "Forbidden");
        assert!(failure.rolled_back.is_empty(), "{:?}", failure.rolled_back);
        assert!(
            !fake.calls().contains(&format!("apply {}", pod_ref(LEASE))),
            "{:?}",
            fake.calls()
        );
        assert!(
            fake.calls().contains(&format!("delete {}", secret_ref())),
            "a write that may have landed is deleted: {:?}",
            fake.calls()
        );
        assert!(fake.watches().is_empty(), "no wait after a failed write");
    }

    #[test]
    fn a_rollback_delete_that_fails_is_left_behind() {
        let fake = FakeCluster::new();
        fake.fail_on(
            "apply",
            "CiliumNetworkPolicy",
            KubeError::Invalid("bad rule".into()),
        );
        fake.fail_on(
            "delete",
            "Pod",
            KubeError::Transport("connection reset".into()),
        );
        let mut cfg = config("pod");
        cfg["egressMode"] = json!("cilium");

        let failure = failure(lifecycle::acquire(&fake, &request(cfg)).expect_err("fails"));

        assert_eq!(failure.reason, "Invalid");
        assert_eq!(displays(&failure.rolled_back), [secret_ref()]);
        assert_eq!(displays(&failure.left_behind), [pod_ref(LEASE)]);
        assert!(
            fake.messages()
                .iter()
                .any(|(level, _, m)| *level == Level::Error && m.contains("could not delete"))
        );
    }

    #[test]
    fn tenant_apply_failure_creates_nothing_to_roll_back() {
        let fake = FakeCluster::new();
        fake.fail_on("apply", "ResourceQuota", KubeError::Invalid("quota".into()));

        let failure =
            failure(lifecycle::acquire(&fake, &request(config("pod"))).expect_err("fails"));

        assert_eq!(failure.step, "apply-resourcequota");
        assert!(failure.rolled_back.is_empty() && failure.left_behind.is_empty());
        assert!(
            fake.calls_of("delete").is_empty(),
            "shared tenant objects are never deleted"
        );
        assert_eq!(fake.object("Pod", Some(NS), LEASE), None);
    }

    // ------------------------------------------------------------ egress

    /// A second lease id of the same company.
    const OTHER_LEASE: &str = "lb-01jd8x7k2m3n4p5q6r7s8t9v0x";

    /// `pod-ready.json` as the pod of lease `lease`.
    fn ready_pod(lease: &str) -> WatchEvent {
        let mut pod = fixture("pod-ready.json");
        pod["metadata"]["name"] = json!(lease);
        pod["metadata"]["labels"][names::LABEL_LEASE] = json!(lease);
        WatchEvent {
            event_type: EventType::Modified,
            object: pod,
        }
    }

    fn stored_policy(fake: &FakeCluster, kind: &str, lease: &str) -> Value {
        fake.object(kind, Some(NS), &names::egress_policy_name(lease))
            .unwrap_or_else(|| panic!("{kind} of {lease} stored"))
    }

    /// The egress policy `plan` gives for `request`.
    fn planned_policy(request: &LeaseRequest) -> Value {
        let name = names::egress_policy_name(&request.lease_id);
        plan::plan(request)
            .expect("plan")
            .into_iter()
            .find(|o| o["metadata"]["name"] == name.as_str())
            .expect("planned egress policy")
    }

    #[rstest]
    #[case::standard("standard", "NetworkPolicy", "podSelector")]
    #[case::cilium("cilium", "CiliumNetworkPolicy", "endpointSelector")]
    fn leases_of_one_company_each_get_their_own_egress(
        #[case] mode: &str,
        #[case] kind: &str,
        #[case] selector: &str,
    ) {
        let fake = FakeCluster::new();
        let mut cfg = config("pod");
        cfg["egressMode"] = json!(mode);
        cfg["adapters"] = json!([
            { "adapterType": "agent_a", "image": "ghcr.io/acme/a:1.0.0", "allowFqdns": ["a.example.com"] },
            { "adapterType": "agent_b", "image": "ghcr.io/acme/b:1.0.0", "allowFqdns": [] }
        ]);
        let mut first = request(cfg.clone());
        first.adapter_type = Some("agent_a".into());
        let mut second = request(cfg);
        second.lease_id = OTHER_LEASE.into();
        second.run_id = "run-43".into();
        second.adapter_type = Some("agent_b".into());

        fake.script_watch("Pod", vec![ready_pod(LEASE)]);
        lifecycle::acquire(&fake, &first).expect("first acquired");
        let first_policy = stored_policy(&fake, kind, LEASE);

        fake.script_watch("Pod", vec![ready_pod(OTHER_LEASE)]);
        lifecycle::acquire(&fake, &second).expect("second acquired");

        assert_eq!(
            stored_policy(&fake, kind, LEASE),
            first_policy,
            "the second acquire leaves the first lease's egress alone"
        );
        for (req, policy) in [
            (&first, first_policy),
            (&second, stored_policy(&fake, kind, OTHER_LEASE)),
        ] {
            assert_eq!(
                policy["spec"][selector],
                json!({ "matchLabels": { (names::LABEL_LEASE): req.lease_id } }),
                "{}: only its own pod",
                req.lease_id
            );
            assert_eq!(
                policy["spec"]["egress"],
                planned_policy(req)["spec"]["egress"],
                "{}: the rules of its own adapter",
                req.lease_id
            );
        }
        assert_ne!(
            stored_policy(&fake, kind, LEASE)["spec"]["egress"],
            stored_policy(&fake, kind, OTHER_LEASE)["spec"]["egress"],
            "the two adapters allow different destinations"
        );
        assert!(
            fake.objects()
                .iter()
                .filter(|o| o["kind"] == kind)
                .all(|o| o["spec"][selector]["matchLabels"]
                    .get(names::LABEL_ROLE)
                    .is_none()),
            "no policy selects every agent pod of the tenant"
        );
    }

    #[rstest]
    #[case::pod("pod", "standard")]
    #[case::job("job", "cilium")]
    #[case::sandbox_cr("sandbox-cr", "standard")]
    fn egress_policy_is_applied_after_the_workload_and_owned_by_it(
        #[case] backend: &str,
        #[case] mode: &str,
    ) {
        let fake = FakeCluster::new();
        fake.script_watch("Sandbox", vec![modified("sandbox-ready.json")]);
        match backend {
            "job" => fake.script_watch("Pod", vec![modified("job-pod-running.json")]),
            _ => fake.script_watch("Pod", vec![modified("pod-ready.json")]),
        }
        let mut cfg = config(backend);
        cfg["egressMode"] = json!(mode);
        let kind = if mode == "cilium" {
            "CiliumNetworkPolicy"
        } else {
            "NetworkPolicy"
        };

        let lease = lifecycle::acquire(&fake, &request(cfg)).expect("acquired");

        let applies = fake.calls_of("apply");
        let workload = format!("apply {}", lease.workload.display());
        let policy = format!("apply {kind}/{NS}/{LEASE}-egress");
        let at = |line: &str| {
            applies
                .iter()
                .position(|c| c == line)
                .unwrap_or_else(|| panic!("{line} in {applies:?}"))
        };
        let secret = format!("apply {}", secret_ref());
        let owned = applies
            .iter()
            .rposition(|c| *c == secret)
            .expect("the Secret is owned");
        assert!(at(&secret) < at(&workload), "{applies:?}");
        assert_eq!(owned, at(&workload) + 1, "{applies:?}");
        assert!(at(&policy) > owned, "{applies:?}");
        let stored = stored_policy(&fake, kind, LEASE);
        let owner = &stored["metadata"]["ownerReferences"][0];
        assert_eq!(owner["kind"], lease.workload.kind.as_str());
        assert_eq!(owner["name"], LEASE);
        assert_eq!(owner["uid"].as_str(), lease.workload.uid.as_deref());
        assert_eq!(owner["controller"], true);
    }

    #[test]
    fn failed_egress_policy_apply_rolls_back_the_workload() {
        let fake = FakeCluster::new();
        // Deny-all is a NetworkPolicy too: fail only the lease's policy.
        fake.fail_on(
            "apply",
            "CiliumNetworkPolicy",
            KubeError::Invalid("bad rule".into()),
        );
        let mut cfg = config("pod");
        cfg["egressMode"] = json!("cilium");

        let failure = failure(lifecycle::acquire(&fake, &request(cfg)).expect_err("fails"));

        assert_eq!(failure.step, "apply-ciliumnetworkpolicy");
        assert_eq!(failure.reason, "Invalid");
        assert_eq!(
            displays(&failure.rolled_back),
            [pod_ref(LEASE), secret_ref()]
        );
        assert!(
            fake.calls()
                .contains(&format!("delete CiliumNetworkPolicy/{NS}/{LEASE}-egress")),
            "a write that may have landed is deleted too: {:?}",
            fake.calls()
        );
        assert_eq!(
            fake.object("Secret", Some(NS), &format!("{LEASE}-env")),
            None,
            "the Secret applied before the failure is deleted"
        );
    }

    #[rstest]
    #[case::standard("standard")]
    #[case::cilium("cilium")]
    fn acquire_deletes_both_legacy_tenant_wide_policies(#[case] mode: &str) {
        let fake = FakeCluster::new();
        for (api_version, kind, name) in [
            (
                "networking.k8s.io/v1",
                "NetworkPolicy",
                names::EGRESS_POLICY,
            ),
            (
                "cilium.io/v2",
                "CiliumNetworkPolicy",
                names::CILIUM_EGRESS_POLICY,
            ),
        ] {
            fake.put(json!({
                "apiVersion": api_version,
                "kind": kind,
                "metadata": { "name": name, "namespace": NS },
                "spec": {},
            }));
        }
        fake.script_watch("Pod", vec![modified("pod-ready.json")]);
        let mut cfg = config("pod");
        cfg["egressMode"] = json!(mode);

        lifecycle::acquire(&fake, &request(cfg)).expect("acquired");

        let deletes = fake.calls_of("delete");
        assert_eq!(deletes, legacy_deletes());
        assert_eq!(
            fake.object("NetworkPolicy", Some(NS), names::EGRESS_POLICY),
            None
        );
        assert_eq!(
            fake.object("CiliumNetworkPolicy", Some(NS), names::CILIUM_EGRESS_POLICY),
            None
        );
        for (ref_, options) in fake.deletes() {
            assert_eq!(
                options.propagation,
                Propagation::Background,
                "{}",
                ref_.display()
            );
        }
        assert!(
            fake.messages()
                .iter()
                .any(|(level, _, m)| *level == Level::Info && m.contains("tenant-wide")),
            "{:?}",
            fake.messages()
        );
    }

    #[rstest]
    #[case::forbidden(KubeError::Forbidden("ciliumnetworkpolicies is forbidden".into()))]
    #[case::denied(KubeError::Denied(Denial { rule: "fence-prefix".into(), message: "not granted".into() }))]
    #[case::not_found(KubeError::NotFound("the server could not find the requested resource".into()))]
    fn cluster_without_cilium_still_acquires(#[case] error: KubeError) {
        let fake = FakeCluster::new();
        fake.fail_on("delete", "CiliumNetworkPolicy", error);
        fake.script_watch("Pod", vec![modified("pod-ready.json")]);

        lifecycle::acquire(&fake, &request(config("pod"))).expect("acquired");

        assert!(fake.calls_of("delete").contains(&legacy_deletes()[1]));
    }

    #[test]
    fn forbidden_legacy_cilium_delete_is_a_warning() {
        let fake = FakeCluster::new();
        fake.fail_on(
            "delete",
            "CiliumNetworkPolicy",
            KubeError::Forbidden("ciliumnetworkpolicies is forbidden".into()),
        );
        fake.script_watch("Pod", vec![modified("pod-ready.json")]);

        lifecycle::acquire(&fake, &request(config("pod"))).expect("acquired");

        assert!(
            fake.messages()
                .iter()
                .any(|(level, _, m)| *level == Level::Warn
                    && m.contains(names::CILIUM_EGRESS_POLICY)),
            "{:?}",
            fake.messages()
        );
    }

    #[test]
    fn forbidden_legacy_network_policy_delete_fails_before_the_workload() {
        let fake = FakeCluster::new();
        fake.fail_on(
            "delete",
            "NetworkPolicy",
            KubeError::Forbidden("networkpolicies is forbidden".into()),
        );

        let failure =
            failure(lifecycle::acquire(&fake, &request(config("pod"))).expect_err("fails"));

        assert_eq!(failure.step, "delete-legacy-egress-policy");
        assert_eq!(failure.reason, "Forbidden");
        assert!(
            failure.message.contains(names::EGRESS_POLICY),
            "{}",
            failure.message
        );
        assert!(failure.rolled_back.is_empty());
        assert_eq!(fake.object("Pod", Some(NS), LEASE), None);
    }

    // ------------------------------------------------------------------- release

    fn acquired_pod_lease(fake: &FakeCluster) -> Lease {
        fake.script_watch("Pod", vec![modified("pod-ready.json")]);
        lifecycle::acquire(fake, &request(config("pod"))).expect("acquired")
    }

    #[test]
    fn release_deletes_a_pod_by_uid_in_the_background_then_its_secret() {
        let fake = FakeCluster::new();
        let lease = acquired_pod_lease(&fake);

        let report = lifecycle::release(&fake, &lease).expect("released");

        assert!(!report.already_gone);
        assert_eq!(displays(&report.deleted), [pod_ref(LEASE), secret_ref()]);
        let deletes = fake.deletes();
        let (_, workload) = deletes
            .iter()
            .find(|(r, _)| r.kind == "Pod")
            .expect("pod delete");
        // Background: the Pod's egress policy stays until the Pod is gone.
        assert_eq!(workload.propagation, Propagation::Background);
        assert_eq!(workload.precondition_uid, lease.workload.uid);
        assert!(fake.calls().contains(&format!(
            "delete PersistentVolumeClaim/{NS}/{LEASE}-workspace"
        )));
    }

    #[test]
    fn release_of_a_gone_lease_is_success() {
        let fake = FakeCluster::new();
        let lease = acquired_pod_lease(&fake);
        lifecycle::release(&fake, &lease).expect("first release");

        let report = lifecycle::release(&fake, &lease).expect("second release");

        assert!(report.already_gone);
        assert!(report.deleted.is_empty());
    }

    #[test]
    fn release_never_deletes_an_object_with_another_uid() {
        let fake = FakeCluster::new();
        let mut lease = acquired_pod_lease(&fake);
        lease.workload.uid = Some("00000000-dead-4000-8000-000000000000".into());

        let report = lifecycle::release(&fake, &lease).expect("released");

        assert!(report.already_gone);
        assert!(fake.object("Pod", Some(NS), LEASE).is_some());
    }

    #[test]
    fn release_transport_error_names_the_step() {
        let fake = FakeCluster::new();
        let lease = acquired_pod_lease(&fake);
        fake.fail_on("delete", "Pod", KubeError::Transport("503".into()));

        let failure = failure(lifecycle::release(&fake, &lease).expect_err("fails"));

        assert_eq!(failure.step, "delete-pod");
        assert_eq!(failure.reason, "Transport");
    }

    #[test]
    fn release_that_cannot_delete_the_pod_still_deletes_the_secret_and_names_the_pod_left() {
        let fake = FakeCluster::new();
        let lease = acquired_pod_lease(&fake);
        fake.fail_on("delete", "Pod", KubeError::Transport("503".into()));

        let failure = failure(lifecycle::release(&fake, &lease).expect_err("fails"));

        assert_eq!(failure.step, "delete-pod");
        assert_eq!(displays(&failure.left_behind), [pod_ref(LEASE)]);
        assert!(
            failure.message.contains(&format!("{LEASE}-egress")),
            "the pod's egress policy stays with it: {}",
            failure.message
        );
        assert!(fake.object("Pod", Some(NS), LEASE).is_some());
        assert_eq!(
            fake.object("Secret", Some(NS), &format!("{LEASE}-env")),
            None,
            "the Secret is deleted although the pod delete failed"
        );
    }

    #[test]
    fn release_that_cannot_delete_pod_nor_secret_names_both() {
        let fake = FakeCluster::new();
        let lease = acquired_pod_lease(&fake);
        fake.fail_on("delete", "Pod", KubeError::Transport("500".into()));
        fake.fail_on("delete", "Secret", KubeError::Transport("500".into()));

        let failure = failure(lifecycle::release(&fake, &lease).expect_err("fails"));

        assert_eq!(failure.step, "delete-pod");
        assert_eq!(
            displays(&failure.left_behind),
            [pod_ref(LEASE), secret_ref()]
        );
        assert!(
            failure
                .message
                .starts_with(&format!("deleting {}", pod_ref(LEASE))),
            "the step is not repeated in the message: {}",
            failure.message
        );
        assert!(
            failure
                .message
                .contains("also delete-secret failed (Transport)"),
            "{}",
            failure.message
        );
    }

    #[test]
    fn release_that_cannot_delete_the_secret_names_it_left_behind() {
        let fake = FakeCluster::new();
        let lease = acquired_pod_lease(&fake);
        fake.fail_on("delete", "Secret", KubeError::Transport("reset".into()));

        let failure = failure(lifecycle::release(&fake, &lease).expect_err("fails"));

        assert_eq!(failure.step, "delete-secret");
        assert_eq!(displays(&failure.left_behind), [secret_ref()]);
        assert!(
            failure
                .message
                .contains(&format!("deleted {}", pod_ref(LEASE))),
            "{}",
            failure.message
        );
        assert_eq!(fake.object("Pod", Some(NS), LEASE), None);
    }

    // --------------------------------------------------------------------- sweep

    fn leased_pod(name: &str, lease: &str, expires: Option<&str>, created: &str) -> Value {
        let mut pod = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": NS,
                "creationTimestamp": created,
                "labels": {
                    names::LABEL_MANAGED_BY: names::MANAGED_BY,
                    names::LABEL_LEASE: lease,
                },
                "annotations": {},
            },
        });
        if let Some(expires) = expires {
            pod["metadata"]["annotations"][names::ANNOTATION_EXPIRES_AT] = json!(expires);
        }
        pod
    }

    #[test]
    fn sweep_deletes_only_expired_leases() {
        let fake = FakeCluster::new();
        let expired = "lb-01jd8x7k2m3n4p5q6r7s8t9v01";
        let fresh = "lb-01jd8x7k2m3n4p5q6r7s8t9v02";
        let unannotated_old = "lb-01jd8x7k2m3n4p5q6r7s8t9v03";
        let garbage_recent = "lb-01jd8x7k2m3n4p5q6r7s8t9v04";
        fake.put(leased_pod(
            expired,
            expired,
            Some("2026-11-23T09:00:00Z"),
            "2026-11-22T09:00:00Z",
        ));
        fake.put(leased_pod(
            fresh,
            fresh,
            Some("2026-11-24T09:00:00Z"),
            "2026-11-23T09:00:00Z",
        ));
        fake.put(leased_pod(
            unannotated_old,
            unannotated_old,
            None,
            "2026-11-20T00:00:00Z",
        ));
        fake.put(leased_pod(
            garbage_recent,
            garbage_recent,
            Some("tomorrow"),
            "2026-11-23T08:00:00Z",
        ));
        let mut sandbox = fixture("sandbox-ready.json");
        sandbox["metadata"]["annotations"][names::ANNOTATION_EXPIRES_AT] =
            json!("2026-11-23T10:00:00Z");
        fake.put(sandbox);
        // A Job's pod is found through its Job, never swept on its own.
        let mut job_pod = fixture("job-pod-running.json");
        job_pod["metadata"]["annotations"] =
            json!({ names::ANNOTATION_EXPIRES_AT: "2000-01-01T00:00:00Z" });
        fake.put(job_pod);
        fake.put(fixture("job-running.json"));
        // Not leasebox's.
        fake.put(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "other", "namespace": NS, "creationTimestamp": "2000-01-01T00:00:00Z"}}));

        let report = lifecycle::sweep(&fake, "2026-11-23T10:00:00Z", Some(NS)).expect("swept");

        let mut swept = displays(&report.expired);
        swept.sort();
        assert_eq!(
            swept,
            [
                pod_ref(expired),
                pod_ref(unannotated_old),
                format!("Sandbox/{NS}/{LEASE}")
            ]
        );
        assert_eq!(
            report.kept, 3,
            "fresh pod, recent pod with a bad annotation, running job"
        );
        assert!(fake.object("Pod", Some(NS), fresh).is_some());
        assert!(fake.object("Pod", Some(NS), JOB_POD).is_some());
        assert!(fake.object("Pod", Some(NS), "other").is_some());
        assert!(
            fake.calls()
                .contains(&format!("delete Secret/{NS}/{expired}-env"))
        );
        let warnings: Vec<String> = fake
            .messages()
            .into_iter()
            .filter(|(level, _, _)| *level == Level::Warn)
            .map(|(_, _, m)| m)
            .collect();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings.iter().any(|w| w.contains("missing")));
        assert!(warnings.iter().any(|w| w.contains("`tomorrow`")));
        for (target, options) in fake
            .deletes()
            .iter()
            .filter(|(r, _)| r.kind != "Secret" && r.kind != "PersistentVolumeClaim")
        {
            // A Pod with Background (its egress policy outlives it), a
            // Sandbox or Job with Foreground (it outlives its pod).
            let expected = if target.kind == "Pod" {
                Propagation::Background
            } else {
                Propagation::Foreground
            };
            assert_eq!(options.propagation, expected, "{}", target.display());
            assert!(options.precondition_uid.is_some(), "{}", target.display());
        }
    }

    #[test]
    fn sweep_that_cannot_delete_the_pod_still_deletes_the_secret_and_names_the_pod_left() {
        let fake = FakeCluster::new();
        acquired_pod_lease(&fake);
        fake.fail_on("delete", "Pod", KubeError::Transport("500".into()));

        let failure =
            failure(lifecycle::sweep(&fake, "2030-01-01T00:00:00Z", Some(NS)).expect_err("fails"));

        assert_eq!(failure.step, "sweep-delete");
        assert_eq!(displays(&failure.left_behind), [pod_ref(LEASE)]);
        assert!(
            failure.message.contains(&format!("{LEASE}-egress")),
            "the pod's egress policy stays with it: {}",
            failure.message
        );
        assert!(fake.object("Pod", Some(NS), LEASE).is_some());
        assert_eq!(
            fake.object("Secret", Some(NS), &format!("{LEASE}-env")),
            None,
            "the Secret is deleted although the pod delete failed"
        );
    }

    #[test]
    fn sweep_that_cannot_delete_the_secret_names_the_secret_not_the_pod() {
        let fake = FakeCluster::new();
        acquired_pod_lease(&fake);
        fake.fail_on("delete", "Secret", KubeError::Transport("500".into()));

        let failure =
            failure(lifecycle::sweep(&fake, "2030-01-01T00:00:00Z", Some(NS)).expect_err("fails"));

        assert_eq!(displays(&failure.left_behind), [secret_ref()]);
        assert!(
            failure
                .message
                .contains(&format!("could not delete {}", secret_ref())),
            "{}",
            failure.message
        );
        assert_eq!(fake.object("Pod", Some(NS), LEASE), None);
    }

    #[test]
    fn sweep_without_agent_sandbox_skips_sandboxes() {
        let fake = FakeCluster::new();
        fake.unserve("agents.x-k8s.io/v1beta1", "Sandbox");
        fake.unserve("agents.x-k8s.io/v1alpha1", "Sandbox");

        let report = lifecycle::sweep(&fake, NOW, None).expect("swept");

        assert_eq!(report, leasebox_policy::lease::SweepReport::empty());
    }

    #[test]
    fn sweep_rejects_a_bad_now() {
        let fake = FakeCluster::new();
        assert!(matches!(
            lifecycle::sweep(&fake, "now", None),
            Err(PolicyError::BadRequest(_))
        ));
    }

    // -------------------------------------------------------------------- resume

    #[rstest]
    #[case::pod("pod", vec![modified("pod-ready.json")])]
    #[case::sandbox("sandbox-cr", vec![modified("pod-ready.json")])]
    fn resume_rebuilds_the_lease_acquire_returned(
        #[case] backend: &str,
        #[case] pods: Vec<WatchEvent>,
    ) {
        let fake = FakeCluster::new();
        fake.script_watch("Sandbox", vec![modified("sandbox-ready.json")]);
        fake.script_watch("Pod", pods);
        let lease = lifecycle::acquire(&fake, &request(config(backend))).expect("acquired");

        let resumed = lifecycle::resume(&fake, LEASE, Some(NS)).expect("resumed");

        assert_eq!(resumed, lease);
    }

    #[test]
    fn resume_of_a_job_lease_finds_its_pod() {
        let fake = FakeCluster::new();
        fake.script_watch("Pod", vec![modified("job-pod-running.json")]);
        let lease = lifecycle::acquire(&fake, &request(config("job"))).expect("acquired");
        fake.put(fixture("job-pod-running.json"));

        let resumed = lifecycle::resume(&fake, LEASE, None).expect("resumed");

        assert_eq!(resumed, lease);
    }

    #[test]
    fn resume_falls_back_to_v1alpha1_sandboxes() {
        let fake = FakeCluster::new();
        fake.unserve("agents.x-k8s.io/v1beta1", "Sandbox");
        let mut sandbox = fixture("sandbox-ready.json");
        sandbox["apiVersion"] = json!("agents.x-k8s.io/v1alpha1");
        fake.put(sandbox);

        let lease = lifecycle::resume(&fake, LEASE, Some(NS)).expect("resumed");

        assert_eq!(lease.workload.api_version, "agents.x-k8s.io/v1alpha1");
        assert_eq!(lease.backend, Backend::SandboxCr);
        assert_eq!(lease.company_id, "Acme Corp");
        assert_eq!(lease.expires_at, "2026-11-24T10:00:00Z");
    }

    #[test]
    fn resume_skips_pods_owned_by_a_job_or_sandbox() {
        let fake = FakeCluster::new();
        fake.put(fixture("pod-ready.json"));
        fake.put(fixture("job-pod-running.json"));

        let err = lifecycle::resume(&fake, LEASE, Some(NS)).expect_err("only owned pods");

        assert!(matches!(err, PolicyError::LeaseNotFound(_)), "{err:?}");
    }

    #[test]
    fn resume_of_a_lease_two_workloads_claim_fails_naming_both() {
        let fake = FakeCluster::new();
        fake.script_watch("Pod", vec![modified("pod-ready.json")]);
        let lease = lifecycle::acquire(&fake, &request(config("pod"))).expect("acquired");
        let mut decoy = fixture("pod-ready.json");
        decoy["metadata"]["name"] = json!("decoy");
        decoy["metadata"]["namespace"] = json!("leasebox-elsewhere");
        decoy["metadata"]["ownerReferences"] = json!(null);
        fake.put(decoy);

        let err = lifecycle::resume(&fake, LEASE, None).expect_err("ambiguous");

        let PolicyError::Failed(failure) = err else {
            panic!("expected a failure, got {err:?}");
        };
        assert_eq!(failure.reason, "Ambiguous");
        assert!(
            failure.message.contains("leasebox-elsewhere/decoy"),
            "{}",
            failure.message
        );
        assert!(failure.message.contains(&lease.pod), "{}", failure.message);
    }

    #[test]
    fn resume_of_an_unknown_lease_is_not_found() {
        let fake = FakeCluster::new();
        let err = lifecycle::resume(&fake, LEASE, None).expect_err("not found");
        match err {
            PolicyError::LeaseNotFound(message) => assert!(message.contains(LEASE), "{message}"),
            other => panic!("expected LeaseNotFound, got {other:?}"),
        }
    }

    #[test]
    fn resume_rejects_a_malformed_lease_id() {
        let fake = FakeCluster::new();
        assert!(matches!(
            lifecycle::resume(&fake, "pod-1", None),
            Err(PolicyError::BadRequest(_))
        ));
        assert!(fake.calls().is_empty());
    }

    // ------------------------------------------------------------------- execute

    fn pod_lease() -> Lease {
        let workload = ObjectRef {
            api_version: "v1".into(),
            kind: "Pod".into(),
            namespace: Some(NS.into()),
            name: LEASE.into(),
            uid: Some("3f6c7a52-8d0e-4b59-9a1e-0c2d4e6f8a10".into()),
        };
        Lease {
            secret: format!("{LEASE}-env"),
            company_id: "Acme Corp".into(),
            run_id: "run-42".into(),
            adapter_type: "claude_local".into(),
            image: "ghcr.io/leasebox/agent-claude:1.4.2".into(),
            created_at: NOW.into(),
            expires_at: "2026-11-24T10:00:00Z".into(),
            ..leasebox_policy::lease::for_tests(LEASE, Backend::Pod, workload, LEASE)
        }
    }

    fn job_lease() -> Lease {
        Lease {
            backend: Backend::Job,
            workload: ObjectRef {
                api_version: "batch/v1".into(),
                kind: "Job".into(),
                namespace: Some(NS.into()),
                name: LEASE.into(),
                uid: Some("c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f".into()),
            },
            pod: JOB_POD.into(),
            ..pod_lease()
        }
    }

    fn exec_request(command: Command) -> ExecRequest {
        ExecRequest {
            lease: pod_lease(),
            command,
            cwd: None,
            env: Vec::new(),
            forward_stdin: false,
            timeout_ms: None,
            max_stdout_bytes: None,
            max_stderr_bytes: None,
        }
    }

    #[rstest]
    #[case::success(ExecStatus { exit_code: Some(0), ..ExecStatus::empty() }, Some(0), None)]
    #[case::failure(ExecStatus { exit_code: Some(3), ..ExecStatus::empty() }, Some(3), None)]
    #[case::killed_by_signal(ExecStatus { exit_code: Some(137), signal: Some(9), ..ExecStatus::empty() }, Some(137), Some(9))]
    #[case::signal_without_code(ExecStatus { signal: Some(15), ..ExecStatus::empty() }, Some(143), Some(15))]
    fn exec_exit_status_maps_to_the_result(
        #[case] status: ExecStatus,
        #[case] code: Option<i32>,
        #[case] signal: Option<u32>,
    ) {
        let fake = FakeCluster::new();
        fake.script_exec(ExecScript {
            status,
            runs_ms: Some(1_500),
            output: Vec::new(),
        });

        let result = lifecycle::execute(&fake, &exec_request(Command::Argv(vec!["make".into()])))
            .expect("ran");

        assert_eq!(
            (result.exit_code, result.signal, result.timed_out),
            (code, signal, false)
        );
    }

    #[test]
    fn exec_truncation_flags_and_message_are_passed_on() {
        let fake = FakeCluster::new();
        fake.script_exec(ExecScript {
            status: ExecStatus {
                exit_code: Some(0),
                stdout_truncated: true,
                stderr_truncated: false,
                message: "done".into(),
                ..ExecStatus::empty()
            },
            runs_ms: Some(0),
            output: vec![(OutputStream::Stdout, b"x".to_vec())],
        });
        let mut req = exec_request(Command::Argv(vec!["yes".into()]));
        req.max_stdout_bytes = Some(1024);

        let result = lifecycle::execute(&fake, &req).expect("ran");

        assert_eq!(
            result,
            ExecStatus {
                exit_code: Some(0),
                stdout_truncated: true,
                message: "done".into(),
                ..ExecStatus::empty()
            }
        );
        assert_eq!(fake.execs()[0].spec.max_stdout_bytes, Some(1024));
    }

    #[test]
    fn exec_timeout_kills_the_command_and_reports_timed_out() {
        let fake = FakeCluster::new();
        fake.script_exec(ExecScript::hangs());
        let mut req = exec_request(Command::Shell("sleep 600".into()));
        req.timeout_ms = Some(25_000);

        let result = lifecycle::execute(&fake, &req).expect("ran");

        assert!(result.timed_out);
        assert_eq!(result.exit_code, None);
        assert!(fake.execs()[0].killed);
        assert_eq!(fake.clock_ms(), 25_000);
        // Ending the session leaves the process running in the pod: a second
        // exec kills its process tree by the token the wrapper recorded.
        let execs = fake.execs();
        assert_eq!(execs.len(), 2, "the command, then the kill");
        let token = &execs[0].spec.argv[6];
        assert!(token.starts_with(LEASE), "token {token}");
        assert_eq!(execs[1].spec.argv[..2], ["sh", "-c"]);
        assert_eq!(execs[1].spec.argv[3..], ["leasebox-kill", token.as_str()]);
        assert!(!execs[1].spec.stdin && !execs[1].spec.forward_output);
        assert!(!result.message.contains("failed"), "{}", result.message);
    }

    #[test]
    fn exec_without_a_timeout_waits_for_a_long_command() {
        let fake = FakeCluster::new();
        fake.script_exec(ExecScript {
            status: ExecStatus {
                exit_code: Some(0),
                ..ExecStatus::empty()
            },
            runs_ms: Some(3_600_000),
            output: Vec::new(),
        });
        let result = lifecycle::execute(&fake, &exec_request(Command::Argv(vec!["train".into()])))
            .expect("ran");
        assert_eq!(result.exit_code, Some(0));
        assert!(!fake.execs()[0].killed);
    }

    #[test]
    fn exec_without_an_exit_status_is_an_error() {
        let fake = FakeCluster::new();
        fake.script_exec(ExecScript {
            status: ExecStatus {
                message: "connection closed".into(),
                ..ExecStatus::empty()
            },
            runs_ms: Some(0),
            output: Vec::new(),
        });
        let failure = failure(
            lifecycle::execute(&fake, &exec_request(Command::Argv(vec!["true".into()])))
                .expect_err("no status"),
        );
        assert_eq!(failure.reason, "NoExitStatus");
    }

    #[test]
    fn env_never_reaches_argv_and_goes_first_on_stdin() {
        let fake = FakeCluster::new();
        let mut req = exec_request(Command::Shell("echo $API_KEY".into()));
        req.env = vec![EnvVar {
            name: "API_KEY".into(),
            value: "sk-secret value\n".into(),
        }];
        req.cwd = Some("/workspace/repo".into());
        req.forward_stdin = true;

        lifecycle::execute(&fake, &req).expect("ran");

        let exec = &fake.execs()[0];
        assert!(
            exec.spec.argv.iter().all(|a| !a.contains("sk-secret")),
            "{:?}",
            exec.spec.argv
        );
        assert_eq!(exec.spec.argv[..2], ["sh", "-c"]);
        assert_eq!(exec.spec.argv[4..6], ["/workspace/repo", "framed"]);
        assert!(exec.spec.argv[6].starts_with(LEASE), "kill token");
        assert_eq!(exec.spec.argv[7..], ["sh", "-lc", "echo $API_KEY"]);
        assert!(exec.spec.stdin && exec.spec.forward_stdin && exec.spec.forward_output);
        assert!(exec.spec.frame_stdin, "forwarded stdin travels in frames");
        assert_eq!(exec.stdin, b"API_KEY=sk\\0055secret\\0040value\\0012\n\n");
        assert!(
            exec.stdin_closed,
            "stdin is handed over to the caller's stream"
        );
    }

    #[test]
    fn plain_exec_runs_killable_without_the_callers_stdin() {
        let fake = FakeCluster::new();
        lifecycle::execute(
            &fake,
            &exec_request(Command::Argv(vec!["ls".into(), "-la".into()])),
        )
        .expect("ran");
        let exec = &fake.execs()[0];
        // Even without a timeout the command records its pid under a kill
        // token, so a cancelled call can kill its process tree.
        assert_eq!(exec.spec.argv[..2], ["sh", "-c"]);
        assert_eq!(exec.spec.argv[4..6], ["", "none"]);
        assert!(exec.spec.argv[6].starts_with(LEASE), "kill token");
        assert_eq!(exec.spec.argv[7..], ["ls", "-la"]);
        assert!(exec.spec.stdin && !exec.spec.forward_stdin && !exec.spec.frame_stdin);
        assert_eq!(exec.stdin, b"\n", "only the empty env header");
        assert!(exec.stdin_closed);
        assert_eq!(
            fake.calls().last().map(String::as_str),
            Some(format!("exec {NS}/{LEASE}/agent sh").as_str())
        );
    }

    #[test]
    fn bad_env_name_is_refused_before_any_exec() {
        let fake = FakeCluster::new();
        let mut req = exec_request(Command::Argv(vec!["true".into()]));
        req.env = vec![EnvVar {
            name: "BAD-NAME".into(),
            value: "x".into(),
        }];
        let err = lifecycle::execute(&fake, &req).expect_err("refused");
        assert!(err.to_string().contains("BAD-NAME"), "{err}");
        assert!(fake.execs().is_empty());
    }

    #[test]
    fn realize_workspace_untars_the_callers_stdin() {
        let fake = FakeCluster::new();
        let result = lifecycle::realize_workspace(&fake, &pod_lease(), None).expect("unpacked");
        assert_eq!(result.exit_code, Some(0));
        let exec = &fake.execs()[0];
        assert_eq!(exec.spec.argv[..2], ["sh", "-c"]);
        assert_eq!(exec.spec.argv[4..6], ["", "framed"]);
        assert!(exec.spec.argv[6].starts_with(LEASE), "kill token");
        assert_eq!(exec.spec.argv[7..9], ["sh", "-c"]);
        assert!(exec.spec.argv[9].contains("mkdir -p") && exec.spec.argv[9].contains("tar -x"));
        assert_eq!(exec.spec.argv[10..], ["leasebox-unpack", "/workspace"]);
        assert!(exec.spec.stdin && exec.spec.forward_stdin && exec.stdin_closed);
        assert!(exec.spec.frame_stdin, "the tar stream travels in frames");
        assert_eq!(
            exec.stdin, b"\n",
            "the guest sends only the empty env header; the tar stream comes from the host"
        );
    }

    #[test]
    fn realize_workspace_refuses_a_relative_path() {
        let fake = FakeCluster::new();
        assert!(matches!(
            lifecycle::realize_workspace(&fake, &pod_lease(), Some("workspace")),
            Err(PolicyError::BadRequest(_))
        ));
    }

    #[rstest]
    #[case::failed_with_exit_3(
        "job-failed-backoff.json",
        "job-pod-failed-exit-3.json",
        Some(3),
        None,
        false
    )]
    #[case::succeeded("job-complete.json", "job-pod-succeeded.json", Some(0), None, false)]
    #[case::oom_killed(
        "job-failed-backoff.json",
        "job-pod-oomkilled.json",
        Some(137),
        Some(9),
        false
    )]
    #[case::deadline_is_a_timeout(
        "job-failed-deadline.json",
        "job-pod-oomkilled.json",
        None,
        Some(9),
        true
    )]
    fn job_execute_reads_the_exit_from_the_pod(
        #[case] job: &str,
        #[case] pod: &str,
        #[case] code: Option<i32>,
        #[case] signal: Option<u32>,
        #[case] timed_out: bool,
    ) {
        let fake = FakeCluster::new();
        fake.put(fixture(pod));
        fake.script_watch("Job", vec![modified("job-running.json"), modified(job)]);
        fake.script_logs(LogScript {
            chunks: Vec::new(),
            ends: true,
        });
        let req = ExecRequest {
            lease: job_lease(),
            ..exec_request(Command::Argv(vec!["ignored".into()]))
        };

        let result = lifecycle::execute(&fake, &req).expect("followed");

        assert_eq!(
            (result.exit_code, result.signal, result.timed_out),
            (code, signal, timed_out)
        );
        let logs = &fake.log_requests()[0];
        assert_eq!(
            (logs.pod.as_str(), logs.container.as_str()),
            (JOB_POD, "agent")
        );
        assert!(logs.follow && logs.forward_output);
        assert!(fake.execs().is_empty(), "a job lease never execs");
    }

    #[test]
    fn job_execute_timeout_reports_timed_out() {
        let fake = FakeCluster::new();
        fake.script_watch("Job", vec![modified("job-running.json")]);
        fake.script_logs(LogScript {
            chunks: Vec::new(),
            ends: false,
        });
        let req = ExecRequest {
            lease: job_lease(),
            timeout_ms: Some(60_000),
            ..exec_request(Command::Argv(vec!["ignored".into()]))
        };

        let result = lifecycle::execute(&fake, &req).expect("followed");

        assert!(result.timed_out);
        assert_eq!(result.exit_code, None);
        assert_eq!(fake.clock_ms(), 60_000);
    }

    // --------------------------------------------------------------------- probe

    fn check<'a>(
        checks: &'a [leasebox_policy::lease::ProbeCheck],
        name: &str,
    ) -> &'a leasebox_policy::lease::ProbeCheck {
        checks
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no check {name} in {checks:?}"))
    }

    #[test]
    fn probe_reports_every_check_with_what_it_found() {
        let fake = FakeCluster::new();
        fake.deny_access("create", "pods/exec");

        let checks = lifecycle::probe(&fake, &config("sandbox-cr").to_string(), "Acme Corp")
            .expect("probed");

        assert_eq!(checks[0].name, "cluster-reachable");
        assert!(checks[0].ok && checks[0].detail.contains("v1.20.15"));
        assert!(check(&checks, "crd sandboxes.agents.x-k8s.io").ok);
        let exec = check(&checks, "rbac create pods/exec");
        assert!(!exec.ok && exec.detail.contains("denied"), "{exec:?}");
        assert!(check(&checks, "rbac create sandboxes.agents.x-k8s.io").ok);
        assert!(check(&checks, "rbac get pods/log").ok);
        assert!(check(&checks, "rbac watch pods").ok);
        assert!(check(&checks, "rbac patch namespaces").ok);
        assert!(check(&checks, "rbac delete secrets").ok);
        let tenant = check(&checks, &format!("tenant-namespace {NS}"));
        assert!(
            tenant.ok && tenant.detail.contains("does not exist yet"),
            "{tenant:?}"
        );
        let reviews = fake.reviews();
        assert!(
            reviews
                .iter()
                .all(|r| r["apiVersion"] == "authorization.k8s.io/v1")
        );
        let namespaced = reviews
            .iter()
            .find(|r| r["spec"]["resourceAttributes"]["resource"] == "secrets")
            .expect("secrets review");
        assert_eq!(namespaced["spec"]["resourceAttributes"]["namespace"], NS);
    }

    #[rstest]
    #[case::managed(json!({"phase": "Active"}), true, "exists, managed by leasebox")]
    #[case::terminating(json!({"phase": "Terminating"}), false, "is terminating")]
    #[case::unreadable(json!("not a status"), false, "could not read it")]
    fn probe_reads_the_tenant_namespace(
        #[case] status: Value,
        #[case] ok: bool,
        #[case] says: &str,
    ) {
        let fake = FakeCluster::new();
        fake.put(json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": NS,
                "labels": {names::LABEL_MANAGED_BY: names::MANAGED_BY},
            },
            "status": status,
        }));

        let checks =
            lifecycle::probe(&fake, &config("pod").to_string(), "Acme Corp").expect("probed");

        let tenant = check(&checks, &format!("tenant-namespace {NS}"));
        assert_eq!(tenant.ok, ok, "{tenant:?}");
        assert!(tenant.detail.contains(says), "{tenant:?}");
    }

    #[test]
    fn probe_reports_a_missing_agent_sandbox_crd() {
        let fake = FakeCluster::new();
        fake.unserve("agents.x-k8s.io/v1beta1", "Sandbox");
        let checks = lifecycle::probe(&fake, &config("sandbox-cr").to_string(), "Acme Corp")
            .expect("probed");
        let crd = check(&checks, "crd sandboxes.agents.x-k8s.io");
        assert!(
            !crd.ok && crd.detail.contains("install agent-sandbox"),
            "{crd:?}"
        );
    }

    #[test]
    fn probe_of_the_pod_backend_skips_the_crd() {
        let fake = FakeCluster::new();
        let checks =
            lifecycle::probe(&fake, &config("pod").to_string(), "Acme Corp").expect("probed");
        assert!(checks.iter().all(|c| !c.name.starts_with("crd ")));
        assert!(check(&checks, "rbac create pods").ok);
    }

    #[test]
    fn probe_stops_at_an_unreachable_cluster() {
        let fake = FakeCluster::new();
        fake.set_server_version(Err(KubeError::Transport("connection refused".into())));
        let checks =
            lifecycle::probe(&fake, &config("pod").to_string(), "Acme Corp").expect("probed");
        assert_eq!(checks.len(), 1);
        assert!(!checks[0].ok && checks[0].detail.contains("connection refused"));
    }

    #[test]
    fn probe_of_an_invalid_config_lists_the_issues() {
        let fake = FakeCluster::new();
        let err = lifecycle::probe(
            &fake,
            r#"{"inCluster": true, "backend": "vm"}"#,
            "Acme Corp",
        )
        .expect_err("invalid");
        assert!(
            matches!(err, PolicyError::InvalidConfig(ref issues) if !issues.is_empty()),
            "{err:?}"
        );
        assert!(fake.calls().is_empty());
    }

    // -------------------------------------------------------- 0.2.0: lease record

    /// A captured pod as a `pod` workload (the captures belong to a
    /// Sandbox).
    fn bare_pod(name: &str) -> Value {
        let mut pod = fixture(name);
        if let Some(meta) = pod["metadata"].as_object_mut() {
            meta.remove("ownerReferences");
        }
        pod
    }

    #[test]
    fn module_sha256_comes_from_the_workload_annotation() {
        let fake = FakeCluster::new();
        let mut pod = bare_pod("pod-ready.json");
        pod["metadata"]["annotations"] = json!({ names::ANNOTATION_MODULE_SHA256: "ab12cd34" });
        fake.put(pod);

        let lease = lifecycle::resume(&fake, LEASE, Some(NS)).expect("resumed");

        assert_eq!(lease.module_sha256, "ab12cd34");
    }

    #[test]
    fn module_sha256_is_empty_without_the_annotation() {
        let fake = FakeCluster::new();
        let lease = acquired_pod_lease(&fake);
        assert_eq!(lease.module_sha256, "");
        assert_eq!(
            lifecycle::resume(&fake, LEASE, Some(NS)).expect("resumed"),
            lease,
            "acquire and resume read the lease from the workload alike"
        );
    }

    // --------------------------------------------------------------------- renew

    const RENEW_NOW: &str = "2026-11-23T12:00:00Z";

    #[test]
    fn renew_moves_the_deadline_and_keeps_the_rest_of_the_workload() {
        let fake = FakeCluster::new();
        let lease = acquired_pod_lease(&fake);
        let mut before = fake.object("Pod", Some(NS), LEASE).expect("stored");
        before["metadata"]["managedFields"] = json!([{ "manager": "leasebox" }]);
        fake.put(before.clone());

        let renewed = lifecycle::renew(&fake, &lease, RENEW_NOW, 3_600).expect("renewed");

        assert_eq!(renewed.expires_at, "2026-11-23T13:00:00Z");
        assert_eq!(
            Lease {
                expires_at: lease.expires_at.clone(),
                ..renewed.clone()
            },
            lease,
            "only the deadline changes"
        );
        let after = fake.object("Pod", Some(NS), LEASE).expect("still stored");
        assert_eq!(
            after["metadata"]["annotations"][names::ANNOTATION_EXPIRES_AT],
            "2026-11-23T13:00:00Z"
        );
        assert_eq!(
            after["spec"], before["spec"],
            "the whole object is applied again"
        );
        assert_eq!(after["metadata"]["labels"], before["metadata"]["labels"]);
        assert_eq!(after["metadata"]["uid"], before["metadata"]["uid"]);
        assert!(
            after["metadata"].get("managedFields").is_none(),
            "server-owned metadata is not applied back"
        );
        assert_eq!(
            fake.calls().last().map(String::as_str),
            Some(format!("apply {}", pod_ref(LEASE)).as_str())
        );
    }

    #[test]
    fn renew_of_a_sandbox_moves_its_shutdown_time_too() {
        let fake = FakeCluster::new();
        fake.put(fixture("sandbox-ready.json"));
        let lease = lifecycle::resume(&fake, LEASE, Some(NS)).expect("resumed");

        let renewed = lifecycle::renew(&fake, &lease, RENEW_NOW, 60).expect("renewed");

        assert_eq!(renewed.expires_at, "2026-11-23T12:01:00Z");
        let sandbox = fake.object("Sandbox", Some(NS), LEASE).expect("stored");
        assert_eq!(sandbox["spec"]["shutdownTime"], "2026-11-23T12:01:00Z");
        assert_eq!(
            sandbox["metadata"]["annotations"][names::ANNOTATION_EXPIRES_AT],
            "2026-11-23T12:01:00Z"
        );
        assert!(sandbox["spec"]["podTemplate"].is_object());
    }

    #[test]
    fn renew_of_a_gone_lease_is_not_found() {
        let fake = FakeCluster::new();
        let lease = acquired_pod_lease(&fake);
        lifecycle::release(&fake, &lease).expect("released");

        let err = lifecycle::renew(&fake, &lease, RENEW_NOW, 60).expect_err("gone");

        assert!(matches!(err, PolicyError::LeaseNotFound(_)), "{err:?}");
        assert!(
            fake.object("Pod", Some(NS), LEASE).is_none(),
            "nothing re-created"
        );
    }

    #[test]
    fn renew_leaves_a_workload_with_another_uid_alone() {
        let fake = FakeCluster::new();
        let lease = acquired_pod_lease(&fake);
        let mut other = fake.object("Pod", Some(NS), LEASE).expect("stored");
        lifecycle::release(&fake, &lease).expect("released");
        other["metadata"]["uid"] = json!("another-uid");
        fake.put(other);
        let applies = fake.calls_of("apply").len();

        let err = lifecycle::renew(&fake, &lease, RENEW_NOW, 60).expect_err("another uid");

        assert!(matches!(err, PolicyError::LeaseNotFound(_)), "{err:?}");
        assert_eq!(fake.calls_of("apply").len(), applies, "nothing applied");
    }

    #[test]
    fn renew_refuses_a_bad_now() {
        let fake = FakeCluster::new();
        let err = lifecycle::renew(&fake, &pod_lease(), "tomorrow", 60).expect_err("bad now");
        assert!(matches!(err, PolicyError::BadRequest(_)), "{err:?}");
        assert!(fake.calls().is_empty());
    }

    // ---------------------------------------------------------------------- list

    const SECOND_LEASE: &str = "lb-01jd8x7k2m3n4p5q6r7s8t9v0a";
    const THIRD_LEASE: &str = "lb-01jd8x7k2m3n4p5q6r7s8t9v0b";

    /// `pod-ready.json` as lease `id`, created at `created`, of `company`.
    fn pod_workload(id: &str, created: &str, company: &str) -> Value {
        let mut pod = bare_pod("pod-ready.json");
        pod["metadata"]["name"] = json!(id);
        pod["metadata"]["uid"] = json!(format!("uid-{id}"));
        pod["metadata"]["creationTimestamp"] = json!(created);
        pod["metadata"]["labels"][names::LABEL_LEASE] = json!(id);
        pod["metadata"]["labels"][names::LABEL_COMPANY_ID] = json!(names::label_value(company));
        pod["metadata"]["annotations"] = json!({ names::ANNOTATION_COMPANY_ID: company });
        pod
    }

    #[test]
    fn list_leases_finds_every_backend_oldest_first() {
        let fake = FakeCluster::new();
        fake.put(pod_workload(LEASE, "2026-11-23T10:05:00Z", "Acme Corp"));
        fake.put(pod_workload(
            SECOND_LEASE,
            "2026-11-23T09:00:00Z",
            "Acme Corp",
        ));
        let mut job = fixture("job-running.json");
        job["metadata"]["name"] = json!(THIRD_LEASE);
        job["metadata"]["labels"][names::LABEL_LEASE] = json!(THIRD_LEASE);
        job["metadata"]["annotations"][names::ANNOTATION_CREATED_AT] =
            json!("2026-11-23T09:30:00Z");
        fake.put(job);

        let leases = lifecycle::list_leases(&fake, None, None).expect("listed");

        let ids: Vec<&str> = leases.iter().map(|l| l.id.as_str()).collect();
        assert_eq!(ids, [SECOND_LEASE, THIRD_LEASE, LEASE]);
        assert_eq!(leases[1].backend, Backend::Job);
        assert_eq!(leases[0].backend, Backend::Pod);
        assert_eq!(leases[0].pod, SECOND_LEASE);
    }

    #[test]
    fn list_leases_filters_by_company_and_breaks_ties_by_id() {
        let fake = FakeCluster::new();
        fake.put(pod_workload(
            THIRD_LEASE,
            "2026-11-23T10:00:00Z",
            "Acme Corp",
        ));
        fake.put(pod_workload(LEASE, "2026-11-23T10:00:00Z", "Other Co"));
        fake.put(pod_workload(
            SECOND_LEASE,
            "2026-11-23T10:00:00Z",
            "Acme Corp",
        ));

        let leases = lifecycle::list_leases(&fake, Some("Acme Corp"), Some(NS)).expect("listed");

        let ids: Vec<&str> = leases.iter().map(|l| l.id.as_str()).collect();
        assert_eq!(ids, [SECOND_LEASE, THIRD_LEASE]);
        assert!(leases.iter().all(|l| l.company_id == "Acme Corp"));
        assert!(
            lifecycle::list_leases(&fake, Some("Nobody"), None)
                .expect("listed")
                .is_empty()
        );
    }

    // -------------------------------------------------------------------- status

    fn status_of(fake: &FakeCluster) -> leasebox_policy::lease::LeaseStatus {
        lifecycle::lease_status(fake, LEASE, Some(NS)).expect("status")
    }

    #[test]
    fn status_of_a_ready_pod_is_ready() {
        let fake = FakeCluster::new();
        fake.put(bare_pod("pod-ready.json"));
        let status = status_of(&fake);
        assert_eq!(status.phase, LeasePhase::Ready);
        assert!(status.ready);
        assert_eq!(status.lease.id, LEASE);
    }

    #[test]
    fn status_of_a_sandbox_follows_its_pod() {
        let fake = FakeCluster::new();
        fake.put(fixture("sandbox-ready.json"));
        fake.put(fixture("pod-ready.json"));
        let status = status_of(&fake);
        assert_eq!(status.phase, LeasePhase::Ready);
        assert_eq!(status.lease.backend, Backend::SandboxCr);

        fake.put(fixture("pod-image-pull-backoff.json"));
        assert_eq!(status_of(&fake).phase, LeasePhase::Failed);
    }

    #[test]
    fn status_of_a_pod_that_cannot_pull_its_image_is_failed() {
        let fake = FakeCluster::new();
        fake.put(bare_pod("pod-image-pull-backoff.json"));
        let status = status_of(&fake);
        assert_eq!(status.phase, LeasePhase::Failed);
        assert!(!status.ready);
        assert!(
            status.message.contains("ImagePullBackOff"),
            "{}",
            status.message
        );
    }

    #[test]
    fn status_of_a_creating_pod_is_pending() {
        let fake = FakeCluster::new();
        fake.put(bare_pod("pod-container-creating.json"));
        let status = status_of(&fake);
        assert_eq!(status.phase, LeasePhase::Pending);
        assert!(!status.message.is_empty());
    }

    #[test]
    fn status_of_a_completed_job_is_finished() {
        let fake = FakeCluster::new();
        fake.put(fixture("job-complete.json"));
        fake.put(fixture("job-pod-succeeded.json"));
        let status = status_of(&fake);
        assert_eq!(status.phase, LeasePhase::Finished);
        assert_eq!(status.lease.backend, Backend::Job);
    }

    #[test]
    fn status_of_a_workload_being_deleted_is_terminating() {
        let fake = FakeCluster::new();
        let mut pod = bare_pod("pod-ready.json");
        pod["metadata"]["deletionTimestamp"] = json!("2026-11-23T11:00:00Z");
        fake.put(pod);
        let status = status_of(&fake);
        assert_eq!(status.phase, LeasePhase::Terminating);
        assert!(!status.ready);
    }

    #[test]
    fn status_of_an_unknown_lease_is_not_found() {
        let fake = FakeCluster::new();
        let err = lifecycle::lease_status(&fake, LEASE, None).expect_err("unknown");
        assert!(matches!(err, PolicyError::LeaseNotFound(_)), "{err:?}");
    }

    // -------------------------------------------------------------- cancellation

    fn cancelled(err: PolicyError) -> leasebox_policy::error::Failure {
        match err {
            PolicyError::Cancelled(f) => f,
            other => panic!("expected cancelled, got {other:?}"),
        }
    }

    /// Objects that carry the lease label.
    fn lease_objects(fake: &FakeCluster) -> Vec<String> {
        fake.objects()
            .iter()
            .filter(|o| o["metadata"]["labels"][names::LABEL_LEASE].is_string())
            .filter_map(ObjectRef::of)
            .map(|r| r.display())
            .collect()
    }

    #[test]
    fn acquire_cancelled_while_waiting_rolls_back_everything() {
        let fake = FakeCluster::new();
        fake.cancel_at_first_wait();

        let err = lifecycle::acquire(&fake, &request(config("pod"))).expect_err("cancelled");

        let failure = cancelled(err);
        assert_eq!(failure.reason, "Cancelled");
        assert!(fake.cancelled());
        assert!(
            displays(&failure.rolled_back).contains(&pod_ref(LEASE)),
            "{:?}",
            failure.rolled_back
        );
        assert!(failure.left_behind.is_empty(), "{:?}", failure.left_behind);
        assert_eq!(lease_objects(&fake), Vec::<String>::new());
    }

    #[test]
    fn acquire_cancelled_between_applies_rolls_back_what_it_applied() {
        // How many calls an acquire makes up to its workload apply.
        let probe = FakeCluster::new();
        probe.script_watch("Pod", vec![modified("pod-ready.json")]);
        lifecycle::acquire(&probe, &request(config("pod"))).expect("acquired");
        let workload_apply = format!("apply {}", pod_ref(LEASE));
        let through_workload = probe
            .calls()
            .iter()
            .position(|c| *c == workload_apply)
            .expect("the workload is applied")
            + 1;

        let fake = FakeCluster::new();
        fake.cancel_after_calls(through_workload);
        let err = lifecycle::acquire(&fake, &request(config("pod"))).expect_err("cancelled");

        let failure = cancelled(err);
        assert_eq!(failure.step, "own-secret", "the call after the workload's");
        assert!(displays(&failure.rolled_back).contains(&pod_ref(LEASE)));
        assert_eq!(lease_objects(&fake), Vec::<String>::new());
    }

    #[test]
    fn execute_cancelled_kills_the_command_tree_even_without_a_timeout() {
        let fake = FakeCluster::new();
        fake.script_exec(ExecScript::hangs());
        fake.cancel_at_first_wait();
        let req = exec_request(Command::Shell("sleep 600".into()));
        assert_eq!(req.timeout_ms, None);

        let err = lifecycle::execute(&fake, &req).expect_err("cancelled");

        let failure = cancelled(err);
        assert_eq!(failure.step, "exec-wait");
        assert!(failure.message.contains("killed"), "{}", failure.message);
        let execs = fake.execs();
        assert_eq!(execs.len(), 2, "the command, then the kill");
        assert!(execs[0].killed, "the session is ended");
        let token = &execs[0].spec.argv[6];
        assert!(token.starts_with(LEASE), "token {token}");
        assert_eq!(execs[1].spec.argv[3..], ["leasebox-kill", token.as_str()]);
    }

    #[test]
    fn execute_whose_stream_is_lost_kills_the_command_tree() {
        let fake = FakeCluster::new();
        fake.script_exec(ExecScript::hangs());
        fake.fail_on(
            "exec-wait",
            "Pod",
            KubeError::Transport("the connection failed".into()),
        );
        let req = exec_request(Command::Shell("sleep 600".into()));

        let err = lifecycle::execute(&fake, &req).expect_err("the stream is lost");

        let failure = failure(err);
        assert_eq!(failure.step, "exec-wait");
        assert_eq!(failure.reason, "Transport");
        assert!(
            failure.message.contains("gave up on the command"),
            "{}",
            failure.message
        );
        let execs = fake.execs();
        assert_eq!(execs.len(), 2, "the command, then the kill");
        assert!(execs[0].killed, "the session is ended");
        let token = &execs[0].spec.argv[6];
        assert_eq!(execs[1].spec.argv[3..], ["leasebox-kill", token.as_str()]);
    }

    #[test]
    fn realize_workspace_cancelled_kills_the_unpacking() {
        let fake = FakeCluster::new();
        fake.script_exec(ExecScript::hangs());
        fake.cancel_at_first_wait();

        let err = lifecycle::realize_workspace(&fake, &pod_lease(), None).expect_err("cancelled");

        cancelled(err);
        let execs = fake.execs();
        assert_eq!(execs.len(), 2, "the unpacking, then the kill");
        let token = &execs[0].spec.argv[6];
        assert_eq!(execs[1].spec.argv[3..], ["leasebox-kill", token.as_str()]);
    }
}
