//! The lifecycle of a `pod` lease through the real policy module in the
//! host runtime, against an in-memory cluster: what acquire writes and in
//! which order, fail-fast and rollback, execute's stdin and exit code,
//! release, the overall timeout, and the capability guard.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use leasebox::cluster::grants::Grants;
use leasebox::cluster::guard::{Audit, GuardedCluster};
use leasebox::cluster::io::ClusterIo;
use leasebox::cluster::manifest::Manifest;
use leasebox::contract as wit;
use leasebox::contract::LogLevel;
use leasebox::runtime::{CallEnv, Cancel, Limits, RuntimeError, TIME_LOG_CONTEXT};
use leasebox_policy::cluster::{EventType, OutputStream, Propagation};
use leasebox_policy::fake_cluster::{Call, ExecScript, LogScript};
use serde_json::{Value, json};

use crate::in_memory_cluster::InMemoryCluster;
use crate::support::{SharedBuffer, caller_io, default_policy};

const LEASE_ID: &str = "lb-01jd5z8k9m0000000000000000";
const NOW: &str = "2025-01-02T03:04:05Z";
const COMPANY: &str = "Acme Corp";
pub(crate) const NAMESPACE: &str = "leasebox-acme-corp";

pub(crate) fn pod_config() -> Value {
    json!({
        "inCluster": true,
        "backend": "pod",
        "adapters": [{"adapterType": "busybox", "image": "busybox:k8s-real"}],
        "adapterType": "busybox",
    })
}

pub(crate) fn request(config: &Value) -> wit::LeaseRequest {
    wit::LeaseRequest {
        config: config.to_string(),
        company_id: COMPANY.into(),
        run_id: "run-1".into(),
        lease_id: LEASE_ID.into(),
        now: NOW.into(),
        adapter_type: None,
        image_override: None,
        command: None,
    }
}

pub(crate) fn cluster() -> Arc<InMemoryCluster> {
    Arc::new(InMemoryCluster::new(HashMap::new()))
}

/// A call environment over `cluster`, with in-memory caller streams
/// (`stdin` as the caller's stdin); returns the stdout buffer too.
pub(crate) fn env_with(
    cluster: Arc<dyn ClusterIo>,
    stdin: &[u8],
    limits: Limits,
) -> (CallEnv, SharedBuffer) {
    let (caller, stdout, _stderr) = caller_io(stdin);
    let env = CallEnv {
        cluster,
        caller,
        logger: CallEnv::silent_logger(),
        limits,
        cancel: Cancel::new(),
    };
    (env, stdout)
}

pub(crate) fn env(cluster: &Arc<InMemoryCluster>) -> CallEnv {
    env_with(cluster.clone(), b"", Limits::default()).0
}

fn pod_status(status: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": LEASE_ID, "namespace": NAMESPACE},
        "status": status,
    })
}

pub(crate) fn script_ready_pod(cluster: &InMemoryCluster) {
    cluster.script_pod_ready(LEASE_ID, NAMESPACE, [("agent", "busybox:k8s-real")]);
}

/// A ready `pod` lease acquired on `cluster`.
pub(crate) fn acquire_ready_lease(cluster: &Arc<InMemoryCluster>) -> wit::Lease {
    script_ready_pod(cluster);
    default_policy()
        .acquire_lease(&env(cluster), &request(&pod_config()))
        .expect("the module does not trap")
        .expect("acquire succeeds on a pod that becomes ready")
}

/// Each call as `verb Kind`, for comparing orders.
pub(crate) fn call_summary(calls: &[Call]) -> Vec<String> {
    calls
        .iter()
        .map(|call| match call {
            Call::Apply(target) => format!("apply {}", target.kind),
            Call::Create { target, .. } => format!("create {}", target.kind),
            Call::ServerVersion => "server-version".into(),
            Call::Get(target) => format!("get {}", target.kind),
            Call::List { kind, .. } => format!("list {kind}"),
            Call::Delete { target, .. } => format!("delete {}", target.kind),
            Call::Watch(request) => format!("watch {}", request.kind),
            Call::Exec(_) => "exec".into(),
            Call::Logs(_) => "logs".into(),
            Call::ApplyHostSecret(_) => "apply-host-secret Secret".into(),
            Call::HandOverSecret(_) => "hand-over-secret Secret".into(),
        })
        .collect()
}

fn failure(error: wit::PolicyError) -> wit::Failure {
    match error {
        wit::PolicyError::Failed(failure) => failure,
        other => panic!("expected policy-error::failed, got {other:?}"),
    }
}

#[test]
fn acquire_pod_lease_applies_tenant_objects_secret_workload_then_egress_policy() {
    let cluster = cluster();
    let lease = acquire_ready_lease(&cluster);

    assert_eq!(lease.id, LEASE_ID);
    assert_eq!(lease.namespace, NAMESPACE);
    assert_eq!(lease.pod, LEASE_ID);
    assert!(matches!(lease.backend, wit::Backend::Pod));
    assert_eq!(lease.workload.kind, "Pod");
    assert_eq!(lease.workload.name, LEASE_ID);
    let stored_pod = cluster
        .object_at("v1", "Pod", Some(NAMESPACE), LEASE_ID)
        .expect("the Pod is stored");
    assert_eq!(
        lease.workload.uid.as_deref(),
        stored_pod.pointer("/metadata/uid").and_then(Value::as_str)
    );
    assert_eq!(lease.secret, format!("{LEASE_ID}-env"));

    assert_eq!(
        call_summary(&cluster.call_records()),
        [
            "get Namespace",
            "apply Namespace",
            "apply ServiceAccount",
            "apply Role",
            "apply RoleBinding",
            "apply ResourceQuota",
            "apply LimitRange",
            "apply NetworkPolicy",
            "delete NetworkPolicy",
            "delete CiliumNetworkPolicy",
            "apply Namespace",
            "apply-host-secret Secret",
            "apply Pod",
            "apply-host-secret Secret",
            "apply NetworkPolicy",
            "watch Pod",
        ]
    );
    let policy = cluster
        .object_at(
            "networking.k8s.io/v1",
            "NetworkPolicy",
            Some(NAMESPACE),
            &format!("{LEASE_ID}-egress"),
        )
        .expect("the lease's egress policy is stored");
    assert_eq!(
        policy.pointer("/spec/podSelector/matchLabels"),
        Some(&json!({ "leasebox.dev/lease": LEASE_ID })),
        "it selects only the lease's pod"
    );
    assert_eq!(
        policy
            .pointer("/metadata/ownerReferences/0/uid")
            .and_then(Value::as_str),
        lease.workload.uid.as_deref(),
        "it is owned by the workload"
    );
    let secret = cluster
        .object_at("v1", "Secret", Some(NAMESPACE), &lease.secret)
        .expect("the Secret is stored");
    assert_eq!(
        secret
            .pointer("/metadata/ownerReferences/0/uid")
            .and_then(Value::as_str),
        lease.workload.uid.as_deref(),
        "written before the workload, the Secret ends up owned by it"
    );
    let watch = cluster
        .call_records()
        .into_iter()
        .find_map(|call| match call {
            Call::Watch(request) => Some(request),
            _ => None,
        });
    let watch = watch.expect("acquire watched the pod");
    assert_eq!(watch.namespace, NAMESPACE);
    assert_eq!(watch.field_selector, format!("metadata.name={LEASE_ID}"));

    let secret = cluster
        .object_at("v1", "Secret", Some(NAMESPACE), &lease.secret)
        .expect("the Secret is stored");
    assert!(secret.get("data").is_none() && secret.get("stringData").is_none());
    assert!(
        cluster
            .secret_values(NAMESPACE, &lease.secret)
            .get("BOOTSTRAP_TOKEN")
            .is_some_and(|v| v.len() == 64),
        "the host filled the random bootstrap token"
    );
}

#[test]
fn acquire_fails_fast_on_image_pull_backoff_and_rolls_back() {
    let cluster = cluster();
    cluster.script_watch_event(
        "Pod",
        EventType::Modified,
        pod_status(json!({
            "phase": "Pending",
            "containerStatuses": [{
                "name": "agent",
                "image": "busybox:k8s-real",
                "ready": false,
                "state": {"waiting": {
                    "reason": "ImagePullBackOff",
                    "message": "Back-off pulling image \"busybox:k8s-real\"",
                }},
            }],
        })),
    );
    let started = Instant::now();
    let error = default_policy()
        .acquire_lease(&env(&cluster), &request(&pod_config()))
        .expect("the module does not trap")
        .expect_err("an image that cannot be pulled fails the acquire");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "acquire waited {:?} instead of failing fast",
        started.elapsed()
    );

    let failure = failure(error);
    assert_eq!(failure.reason, "ImagePullBackOff", "{failure:?}");
    let rolled_back: Vec<&str> = failure
        .rolled_back
        .iter()
        .map(|r| r.kind.as_str())
        .collect();
    assert!(
        rolled_back.contains(&"Pod")
            && rolled_back.contains(&"Secret")
            && rolled_back.contains(&"NetworkPolicy"),
        "{rolled_back:?}"
    );
    assert!(cluster.objects_of_kind("Pod").is_empty());
    assert!(cluster.objects_of_kind("Secret").is_empty());
    assert!(
        cluster
            .object_at(
                "networking.k8s.io/v1",
                "NetworkPolicy",
                Some(NAMESPACE),
                &format!("{LEASE_ID}-egress")
            )
            .is_none(),
        "the lease's egress policy is rolled back"
    );
    assert!(
        cluster
            .object_at("v1", "Namespace", None, NAMESPACE)
            .is_some(),
        "tenant objects are shared and stay"
    );
}

#[test]
fn execute_frames_stdin_and_returns_the_exit_code() {
    // Letters and digits only: the header carries them unescaped.
    const ENV_VALUE: &str = "bOnlyOnStdin7f3a";
    let cluster = cluster();
    let lease = acquire_ready_lease(&cluster);
    cluster.script_exec(ExecScript {
        output: vec![(OutputStream::Stdout, b"from the sandbox\n".to_vec())],
        ..ExecScript::exits(42)
    });

    let (env, stdout) = env_with(cluster.clone(), b"hello", Limits::default());
    let result = default_policy()
        .execute(
            &env,
            &wit::ExecRequest {
                lease,
                command: wit::Command::Argv(vec!["cat".into()]),
                cwd: None,
                env: vec![wit::EnvVar {
                    name: "A".into(),
                    value: ENV_VALUE.into(),
                }],
                forward_stdin: true,
                timeout_ms: None,
                max_stdout_bytes: None,
                max_stderr_bytes: None,
            },
        )
        .expect("the module does not trap")
        .expect("execute succeeds");

    assert_eq!(result.exit_code, Some(42));
    assert!(!result.timed_out);
    assert_eq!(stdout.contents(), b"from the sandbox\n");

    let execs = cluster.execs();
    assert_eq!(execs.len(), 1);
    let exec = &execs[0];
    let spec = &exec.spec;
    assert_eq!(spec.argv[..2], ["sh", "-c"]);
    assert_eq!(spec.argv.last().map(String::as_str), Some("cat"));
    assert!(
        spec.argv.iter().all(|arg| !arg.contains(ENV_VALUE)),
        "the env value leaked into argv: {:?}",
        spec.argv
    );
    assert!(spec.stdin && spec.forward_stdin && spec.frame_stdin);
    assert_eq!(spec.pod, LEASE_ID);
    assert_eq!(spec.container, "agent");

    assert_eq!(
        String::from_utf8_lossy(&exec.stdin),
        format!("A={ENV_VALUE}\n\n5\nhello0\n"),
        "the env header, then the caller's stdin framed and ended"
    );
}

#[test]
fn release_deletes_workload_with_uid_precondition() {
    let cluster = cluster();
    let lease = acquire_ready_lease(&cluster);
    let uid = lease
        .workload
        .uid
        .clone()
        .expect("the lease has the pod's uid");
    let deletes_before = cluster.deletes().len();

    let report = default_policy()
        .release_lease(&env(&cluster), &lease)
        .expect("the module does not trap")
        .expect("release succeeds");
    assert!(!report.already_gone);
    let deleted: Vec<&str> = report.deleted.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(deleted, ["Pod", "Secret"]);

    let deletes = cluster.deletes();
    let (pod, options) = &deletes[deletes_before];
    assert_eq!(pod.kind, "Pod");
    assert_eq!(pod.namespace.as_deref(), Some(NAMESPACE));
    assert_eq!(options.precondition_uid.as_deref(), Some(uid.as_str()));
    assert_eq!(options.propagation, Propagation::Background);
    assert!(cluster.objects_of_kind("Pod").is_empty());
    assert!(cluster.objects_of_kind("Secret").is_empty());

    let again = default_policy()
        .release_lease(&env(&cluster), &lease)
        .expect("the module does not trap")
        .expect("releasing a gone lease succeeds");
    assert!(again.already_gone);
    assert!(again.deleted.is_empty());
}

/// The figures of a `module-time` line: `CALL: M ms in the module (I ms
/// instantiating, G ms in guest code and crossings), H ms in N host calls,
/// W ms waiting for a core; linear memory K KiB, grown R times`.
fn figures(message: &str) -> Vec<f64> {
    message
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter_map(|n| n.parse().ok())
        .collect()
}

/// Log lines as received: level, context, message.
type Logged = Arc<Mutex<Vec<(LogLevel, String, String)>>>;

/// Sets `env`'s logger to one that keeps every line it receives.
fn logged(env: &mut CallEnv) -> Logged {
    let lines = Logged::default();
    let sink = lines.clone();
    env.logger = Arc::new(move |level, context, message| {
        sink.lock()
            .expect("log lock")
            .push((level, context.to_string(), message.to_string()));
    });
    lines
}

/// Every call starts in a fresh instance at the module's initial memory;
/// a call that outgrows it makes the host change page protections (twice
/// for a pooled slot). The default module starts with room for a `plan` of
/// the example that uses every part of the manifest set (a `Sandbox`,
/// Cilium egress, a PVC workspace: 10 manifests).
#[test]
fn a_plan_of_every_manifest_runs_within_the_modules_initial_memory() {
    let config: Value = serde_json::from_str(include_str!("../../examples/cilium-pvc.json"))
        .expect("the example is JSON");
    let mut env = env(&cluster());
    let lines = logged(&mut env);
    let manifests = default_policy()
        .plan(&env, &request(&config))
        .expect("the module does not trap")
        .expect("plan succeeds");
    assert_eq!(manifests.len(), 10, "{manifests:?}");

    let lines = lines.lock().expect("log lock");
    let timed: Vec<&String> = lines
        .iter()
        .filter(|(_, context, _)| context == TIME_LOG_CONTEXT)
        .map(|(_, _, message)| message)
        .collect();
    assert_eq!(timed.len(), 1, "one line per call: {lines:?}");
    let message = timed[0];
    let [.., memory_kib, growths] = figures(message)[..] else {
        panic!("figures in {message}");
    };
    assert_eq!(growths, 0.0, "the memory never grew: {message}");
    assert!(memory_kib >= 1024.0, "{message}");
}

#[test]
fn each_call_logs_at_debug_how_its_time_divided_between_module_and_host() {
    let cluster = cluster();
    script_ready_pod(&cluster);
    let mut env = env(&cluster);
    let lines = logged(&mut env);
    let started = Instant::now();
    default_policy()
        .acquire_lease(&env, &request(&pod_config()))
        .expect("the module does not trap")
        .expect("acquire succeeds");
    let elapsed = started.elapsed();
    let host_calls = cluster.calls().len();

    let lines = lines.lock().expect("log lock");
    let timed: Vec<&(LogLevel, String, String)> = lines
        .iter()
        .filter(|(_, context, _)| context == TIME_LOG_CONTEXT)
        .collect();
    assert_eq!(timed.len(), 1, "one line per call: {lines:?}");
    let (level, _, message) = timed[0];
    assert_eq!(*level, LogLevel::Debug);
    assert!(message.starts_with("acquire-lease: "), "{message}");
    let [
        module,
        instantiating,
        guest,
        host,
        calls,
        queued,
        memory_kib,
        _,
    ] = figures(message)[..]
    else {
        panic!("eight figures in {message}");
    };
    assert!(memory_kib >= 64.0, "a memory of at least a page: {message}");
    assert!(
        (module - instantiating - guest).abs() < 0.002,
        "the module's share is instantiation plus guest: {message}"
    );
    assert!(instantiating > 0.0 && guest > 0.0, "{message}");
    assert!(
        module + host + queued <= elapsed.as_secs_f64() * 1000.0,
        "no more than the call took ({elapsed:?}): {message}"
    );
    // Every cluster call is a host call; logging and clocks are too.
    assert!(
        calls as usize >= host_calls,
        "{host_calls} cluster calls: {message}"
    );
}

#[test]
fn overall_timeout_stops_a_call_blocked_in_host_io() {
    let cluster = cluster();
    let mut config = pod_config();
    config["podReadyTimeoutSec"] = json!(300);
    let limits = Limits::default().with_overall_timeout(Duration::from_secs(2));
    let (env, _) = env_with(cluster.clone(), b"", limits);

    let started = Instant::now();
    let error = default_policy()
        .acquire_lease(&env, &request(&config))
        .expect_err("a pod that never becomes ready outlasts the overall timeout");
    let elapsed = started.elapsed();

    assert!(
        matches!(&error, RuntimeError::Timeout { call, timeout, .. }
            if call == "acquire-lease" && *timeout == Duration::from_secs(2)),
        "{error:?}"
    );
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
    assert!(
        call_summary(&cluster.call_records()).contains(&"watch Pod".to_string()),
        "the call was stopped while it waited on the watch"
    );
}

#[test]
fn guard_refuses_a_foreign_namespace_before_the_cluster_sees_it() {
    let cluster = cluster();
    script_ready_pod(&cluster);
    let grants = Grants {
        namespace_prefix: "other-prefix-".into(),
        ..Grants::default()
    };
    let guarded = Arc::new(GuardedCluster::new(
        cluster.clone(),
        Arc::new(grants),
        Audit::counting(default_policy().sha256()),
    ));
    let (env, _) = env_with(guarded, b"", Limits::default());

    let error = default_policy()
        .acquire_lease(&env, &request(&pod_config()))
        .expect("the module does not trap")
        .expect_err("the guard refuses the namespace");

    let failure = failure(error);
    assert_eq!(failure.reason, "Denied", "{failure:?}");
    assert!(
        cluster
            .call_records()
            .iter()
            .all(|call| !matches!(call, Call::Apply(_) | Call::ApplyHostSecret(_))),
        "{:?}",
        cluster.call_records()
    );
    assert!(cluster.objects_of_kind("Namespace").is_empty());
}

#[test]
fn job_lease_forwards_the_log_and_reports_the_agent_exit_code() {
    const POD: &str = "lb-01jd5z8k9m0000000000000000-x7k2p";
    let cluster = cluster();
    let mut config = pod_config();
    config["backend"] = json!("job");
    let mut lease_request = request(&config);
    lease_request.command = Some(wit::Command::Argv(vec![
        "sh".into(),
        "-c".into(),
        "echo hi; exit 3".into(),
    ]));
    cluster.script_watch_event(
        "Pod",
        EventType::Added,
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": POD,
                "namespace": NAMESPACE,
                "labels": {"job-name": LEASE_ID},
            },
            "status": {"phase": "Running"},
        }),
    );
    let lease = default_policy()
        .acquire_lease(&env(&cluster), &lease_request)
        .expect("the module does not trap")
        .expect("acquire succeeds once the job's pod runs");
    assert_eq!(lease.workload.kind, "Job");
    assert_eq!(lease.pod, POD);

    cluster.script_logs(LogScript {
        chunks: vec![b"hi\n".to_vec()],
        ends: true,
    });
    assert!(cluster.set_status(
        "v1",
        "Pod",
        Some(NAMESPACE),
        POD,
        json!({
            "phase": "Failed",
            "containerStatuses": [{
                "name": "agent",
                "state": {"terminated": {"exitCode": 3, "reason": "Error"}},
            }],
        }),
    ));
    cluster.script_watch_event(
        "Job",
        EventType::Modified,
        json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": LEASE_ID, "namespace": NAMESPACE},
            "status": {"conditions": [
                {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"},
            ]},
        }),
    );
    let (env, stdout) = env_with(cluster.clone(), b"", Limits::default());
    let result = default_policy()
        .execute(
            &env,
            &wit::ExecRequest {
                lease,
                command: wit::Command::Argv(vec!["ignored".into()]),
                cwd: None,
                env: Vec::new(),
                forward_stdin: false,
                timeout_ms: None,
                max_stdout_bytes: None,
                max_stderr_bytes: None,
            },
        )
        .expect("the module does not trap")
        .expect("execute follows the job to its end");

    assert_eq!(result.exit_code, Some(3), "{result:?}");
    assert!(!result.timed_out);
    assert_eq!(stdout.contents(), b"hi\n");
    let logs = cluster
        .call_records()
        .into_iter()
        .find_map(|call| match call {
            Call::Logs(request) => Some(request),
            _ => None,
        });
    let logs = logs.expect("execute followed the log");
    assert_eq!((logs.pod.as_str(), logs.container.as_str()), (POD, "agent"));
    assert!(logs.follow && logs.forward_output);
}

#[test]
fn probe_through_the_module_reports_version_reviews_and_tenant_namespace() {
    let cluster = cluster();
    let report = default_policy()
        .probe(&env(&cluster), &pod_config().to_string(), COMPANY)
        .expect("the module does not trap")
        .expect("probe answers with a report");

    assert!(report.ok, "{:?}", report.checks);
    let first = report.checks.first().expect("probe made checks");
    assert_eq!(first.name, "cluster-reachable");
    assert!(first.detail.contains("v1.20.2"), "{}", first.detail);
    let reviews = cluster
        .call_records()
        .iter()
        .filter(|call| matches!(call, Call::Create { target, .. } if target.kind == "SelfSubjectAccessReview"))
        .count();
    assert!(reviews > 0);
    assert_eq!(
        reviews,
        report
            .checks
            .iter()
            .filter(|c| c.name.starts_with("rbac"))
            .count(),
        "one review per rbac check"
    );
    let last = report.checks.last().expect("probe made checks");
    assert_eq!(last.name, format!("tenant-namespace {NAMESPACE}"));
    assert!(
        cluster
            .call_records()
            .iter()
            .all(|call| !matches!(call, Call::Apply(_) | Call::Delete { .. })),
        "probe only reads"
    );
}

/// The default guard (operator defaults) over `cluster`, counting refusals.
fn default_guard(cluster: &Arc<InMemoryCluster>) -> GuardedCluster {
    GuardedCluster::new(
        cluster.clone(),
        Arc::new(Grants::default()),
        Audit::counting(default_policy().sha256()),
    )
}

#[test]
fn guarded_acquire_creates_the_namespace_marked_as_leasebox_own_and_succeeds() {
    let cluster = cluster();
    script_ready_pod(&cluster);
    let guard = default_guard(&cluster);
    let (env, _) = env_with(Arc::new(guard.clone()), b"", Limits::default());

    let lease = default_policy()
        .acquire_lease(&env, &request(&pod_config()))
        .expect("the module does not trap")
        .expect("acquire succeeds through the guard");

    assert_eq!(lease.namespace, NAMESPACE);
    let namespaces = cluster.objects_of_kind("Namespace");
    assert_eq!(namespaces.len(), 1, "{namespaces:?}");
    assert_eq!(
        namespaces[0]["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "leasebox"
    );
    let summary = call_summary(&cluster.call_records());
    let created = summary.iter().position(|c| c == "create Namespace");
    let applied = summary.iter().position(|c| c == "apply Namespace");
    assert!(
        created.is_some() && applied.is_none_or(|applied| Some(applied) > created),
        "a new namespace is created by the host, not applied (only the tenant's record is \
         applied to it afterwards): {summary:?}"
    );
    let pods = cluster.objects_of_kind("Pod");
    assert_eq!(
        pods[0]["metadata"]["annotations"][leasebox::cluster::guard::MODULE_ANNOTATION],
        default_policy().sha256(),
        "the host records which module created the lease"
    );
    assert_eq!(
        guard.denials().total(),
        0,
        "{:?}",
        guard.denials().snapshot()
    );
}

#[test]
fn guarded_acquire_refuses_to_adopt_an_unowned_namespace() {
    let cluster = cluster();
    script_ready_pod(&cluster);
    cluster
        .create(Manifest::from_value(
            json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":NAMESPACE}}),
        ))
        .expect("a namespace someone else made");
    let guard = default_guard(&cluster);
    let (env, _) = env_with(Arc::new(guard.clone()), b"", Limits::default());

    let error = default_policy()
        .acquire_lease(&env, &request(&pod_config()))
        .expect("the module does not trap")
        .expect_err("the namespace is not leasebox's");

    let failure = failure(error);
    assert_eq!(failure.reason, "Denied", "{failure:?}");
    assert!(failure.message.contains("fence-unowned"), "{failure:?}");
    assert!(failure.message.contains(NAMESPACE), "{failure:?}");
    assert_eq!(guard.denials().total(), 1);
    let kinds: Vec<String> = cluster
        .call_records()
        .iter()
        .filter_map(|call| match call {
            Call::Apply(target) => Some(target.kind.clone()),
            _ => None,
        })
        .collect();
    assert!(kinds.is_empty(), "nothing was written: {kinds:?}");
}

#[test]
fn guarded_execute_reaches_the_lease_pod_and_release_cleans_up() {
    let cluster = cluster();
    let guard = default_guard(&cluster);
    script_ready_pod(&cluster);
    let (env, _) = env_with(Arc::new(guard.clone()), b"", Limits::default());
    let lease = default_policy()
        .acquire_lease(&env, &request(&pod_config()))
        .expect("the module does not trap")
        .expect("acquire succeeds");
    cluster.script_exec(ExecScript {
        output: vec![(OutputStream::Stdout, b"hi\n".to_vec())],
        ..ExecScript::exits(0)
    });
    let (exec_env, stdout) = env_with(Arc::new(guard.clone()), b"", Limits::default());
    let request = wit::ExecRequest {
        lease: lease.clone(),
        command: wit::Command::Argv(vec!["echo".into(), "hi".into()]),
        cwd: None,
        env: vec![],
        forward_stdin: false,
        timeout_ms: None,
        max_stdout_bytes: None,
        max_stderr_bytes: None,
    };
    let result = default_policy()
        .execute(&exec_env, &request)
        .expect("the module does not trap")
        .expect("execute succeeds in the lease's own pod");
    assert_eq!(result.exit_code, Some(0));
    assert_eq!(stdout.contents(), b"hi\n");

    let report = default_policy()
        .release_lease(&env, &lease)
        .expect("the module does not trap")
        .expect("release succeeds through the guard");
    assert!(!report.deleted.is_empty());
    assert_eq!(
        guard.denials().total(),
        0,
        "{:?}",
        guard.denials().snapshot()
    );
}
