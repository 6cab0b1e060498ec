//! The attacks of the 0.2 red team (issue 29) through the real guard, on
//! an in-memory cluster of two companies' tenants (`attacker` and
//! `victim`, each namespace marked with its company, the victim with a
//! live lease, its Secret, quota and deny-all): pods outside the
//! restricted profile, another tenant's objects, another lease's label,
//! leasebox's own marks, and cluster-wide reads. Each attack runs from the
//! position the host gives a module: `acquire-lease` (a call for the
//! attacker's company and its own fresh lease, where workloads may be
//! applied), `probe` (the company only), `execute` (a lease only: it
//! writes only objects that exist and carry its lease's label) or
//! `sweep` (no company, no lease; `validate-config` reaches no cluster at
//! all); the runtime scopes the guard
//! to the call from the export's arguments. A write is refused with
//! `denied` naming its rule and writes nothing; a read may be answered,
//! narrowed to the attacker's own namespaces. The attacks the guard still
//! lets through would fail here; every gap found so far is closed.

use std::collections::HashMap;
use std::sync::Arc;

use leasebox::cluster::grants::Grants;
use leasebox::cluster::guard::{Audit, COMPANY_ANNOTATION as COMPANY_MARK, GuardedCluster};
use leasebox::cluster::io::{CallerIo, ClusterIo};
use leasebox::cluster::manifest::Manifest;
use leasebox::contract::{
    Backend, Command, ExecRequest, Lease, LeaseRequest, ObjectRef as LeaseObjectRef, PolicyError,
};
use leasebox::contract::{
    DeleteOptions, ExecSpec, ExecStream, HandOverRequest, HostSecretRequest, KubeError, LogFollow,
    LogsRequest, ObjectRef, WatchRequest, WatchStream,
};
use leasebox::runtime::{CallEnv, Limits};
use leasebox_policy::fake_cluster::Call;
use rstest::rstest;
use serde_json::{Value, json};

use super::writes;
use crate::hostile_policy_module::hostile;
use crate::in_memory_cluster::InMemoryCluster;

const ATTACKER: &str = "attacker";
const ATTACKER_NS: &str = "leasebox-attacker";
const ATTACKER_LEASE: &str = "lb-01jd5z8k9m0000000000000att";
/// Another, live lease of the attacker's company.
const OTHER_LEASE: &str = "lb-01jd5z8k9m0000000000000old";
const VICTIM: &str = "victim";
const VICTIM_NS: &str = "leasebox-victim";
const VICTIM_LEASE: &str = "lb-01jd5z8k9m0000000000000vic";
const VICTIM_KEY: &str = "sk-victim-0e3f9a";
/// When the victim's lease expires: long after the calls of these tests.
const VICTIM_EXPIRES: &str = "2099-01-01T00:00:00Z";

/// A PersistentVolume on a host path, for `pvc-volume-name` to bind.
const HOSTPATH_PV: &str = "hostile-hostpath-pv";

/// The step of the error the hostile `acquire-lease` returns.
const ACQUIRE_STEP: &str = "hostile-attack";

/// The in-memory cluster answering reads of cluster-scoped kinds as the
/// API server does: a `namespace` given with them is ignored (the fake
/// would filter by it and answer nothing, hiding what a real cluster
/// shows).
struct ApiServer(Arc<InMemoryCluster>);

/// Kinds without a namespace that the guard lets modules read.
fn cluster_scoped(kind: &str) -> bool {
    matches!(kind, "Namespace" | "PersistentVolume")
}

impl ClusterIo for ApiServer {
    fn apply(&self, manifest: Manifest) -> Result<String, KubeError> {
        self.0.apply(manifest)
    }
    fn create(&self, manifest: Manifest) -> Result<String, KubeError> {
        self.0.create(manifest)
    }
    fn server_version(&self) -> Result<String, KubeError> {
        self.0.server_version()
    }
    fn get(&self, target: &ObjectRef) -> Result<Option<String>, KubeError> {
        self.0.get(target)
    }
    fn list(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        label_selector: &str,
    ) -> Result<Vec<String>, KubeError> {
        let namespace = namespace.filter(|_| !cluster_scoped(kind));
        self.0.list(api_version, kind, namespace, label_selector)
    }
    fn delete(&self, target: &ObjectRef, options: &DeleteOptions) -> Result<bool, KubeError> {
        self.0.delete(target, options)
    }
    fn watch(&self, request: &WatchRequest) -> Result<Box<dyn WatchStream>, KubeError> {
        let mut request = request.clone();
        if cluster_scoped(&request.kind) {
            request.namespace = String::new();
        }
        self.0.watch(&request)
    }
    fn exec(&self, spec: &ExecSpec, caller: &CallerIo) -> Result<Box<dyn ExecStream>, KubeError> {
        self.0.exec(spec, caller)
    }
    fn logs(
        &self,
        request: &LogsRequest,
        caller: &CallerIo,
    ) -> Result<Box<dyn LogFollow>, KubeError> {
        self.0.logs(request, caller)
    }
    fn apply_host_secret(
        &self,
        request: &HostSecretRequest,
    ) -> Result<(String, Vec<String>), KubeError> {
        self.0.apply_host_secret(request)
    }

    fn hand_over_secret(&self, request: &HandOverRequest) -> Result<(), KubeError> {
        self.0.hand_over_secret(request)
    }
}

fn create(cluster: &InMemoryCluster, object: Value) {
    cluster
        .create(Manifest::from_value(object.clone()))
        .unwrap_or_else(|e| panic!("{object}: {e:?}"));
}

/// The two tenants as leasebox leaves them: namespaces marked with their
/// company, the tenant's service account, quota and deny-all; the victim's
/// lease pod and its host-filled Secret; another lease pod and a pod
/// without lease labels in the attacker's tenant; a PersistentVolume on a
/// host path.
fn cluster() -> Arc<InMemoryCluster> {
    let cluster = Arc::new(InMemoryCluster::new(HashMap::from([(
        "ANTHROPIC_API_KEY".to_string(),
        VICTIM_KEY.to_string(),
    )])));
    let managed = json!({ "app.kubernetes.io/managed-by": "leasebox" });
    for (namespace, company) in [(ATTACKER_NS, ATTACKER), (VICTIM_NS, VICTIM)] {
        create(
            &cluster,
            json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":namespace,
                "labels":managed,"annotations":{COMPANY_MARK:company}}}),
        );
        create(
            &cluster,
            json!({"apiVersion":"v1","kind":"ServiceAccount","automountServiceAccountToken":false,
                "metadata":{"name":"leasebox-agent","namespace":namespace,"labels":managed}}),
        );
        create(
            &cluster,
            json!({"apiVersion":"v1","kind":"ResourceQuota",
                "metadata":{"name":"leasebox-quota","namespace":namespace,"labels":managed},
                "spec":{"hard":{"pods":"10"}}}),
        );
        create(
            &cluster,
            json!({"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy",
                "metadata":{"name":"leasebox-deny-all","namespace":namespace,"labels":managed},
                "spec":{"podSelector":{},"policyTypes":["Ingress","Egress"]}}),
        );
    }
    create(
        &cluster,
        json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"kube-system"}}),
    );
    create(
        &cluster,
        json!({"apiVersion":"v1","kind":"PersistentVolume","metadata":{"name":HOSTPATH_PV},
            "spec":{"capacity":{"storage":"1Gi"},"accessModes":["ReadWriteOnce"],
                "hostPath":{"path":"/"}}}),
    );
    let labels =
        json!({"app.kubernetes.io/managed-by":"leasebox","leasebox.dev/lease":VICTIM_LEASE});
    cluster
        .apply(Manifest::from_value(json!({"apiVersion":"v1","kind":"Pod",
                "metadata":{"name":VICTIM_LEASE,"namespace":VICTIM_NS,"labels":labels,
                    "annotations":{COMPANY_MARK:VICTIM,"leasebox.dev/expires-at":VICTIM_EXPIRES}},
                "spec":{"containers":[{"name":"agent","image":"busybox",
                    "envFrom":[{"secretRef":{"name":format!("{VICTIM_LEASE}-env")}}]}]}})))
        .expect("victim pod");
    create(
        &cluster,
        json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":OTHER_LEASE,"namespace":ATTACKER_NS,
                "labels":{"app.kubernetes.io/managed-by":"leasebox","leasebox.dev/lease":OTHER_LEASE},
                "annotations":{COMPANY_MARK:ATTACKER}},
            "spec":{"containers":[{"name":"agent","image":"busybox"}]}}),
    );
    create(
        &cluster,
        json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"plain","namespace":ATTACKER_NS},
            "spec":{"containers":[{"name":"main","image":"busybox"}]}}),
    );
    cluster
        .apply_host_secret(&HostSecretRequest {
            manifest: json!({"apiVersion":"v1","kind":"Secret","metadata":{
                "name":format!("{VICTIM_LEASE}-env"),"namespace":VICTIM_NS,"labels":labels}})
            .to_string(),
            random_keys: vec!["BOOTSTRAP_TOKEN".into()],
            host_keys: vec!["ANTHROPIC_API_KEY".into()],
            literal: vec![],
        })
        .expect("victim secret");
    cluster
}

fn guard(cluster: &Arc<InMemoryCluster>) -> GuardedCluster {
    GuardedCluster::new(
        Arc::new(ApiServer(cluster.clone())),
        Arc::new(Grants::default()),
        Audit::counting(hostile().sha256()),
    )
}

fn env(guard: GuardedCluster) -> CallEnv {
    CallEnv {
        cluster: Arc::new(guard),
        caller: CallerIo::process(),
        logger: CallEnv::silent_logger(),
        limits: Limits::default(),
        cancel: leasebox::runtime::Cancel::new(),
    }
}

/// Where the hostile module attacks from.
#[derive(Debug, Clone, Copy)]
enum Position {
    /// `acquire-lease` for the attacker's company and a fresh lease.
    Acquire,
    /// `probe` for the attacker's company.
    Probe,
    /// `execute` of the attacker's own lease: a call about that lease only
    /// (its company unknown to the host).
    Execute,
    /// `validate-config`, as `leasebox acquire` calls it before the
    /// acquire (with the cluster): a call for no company and no lease.
    Validate,
    /// `sweep` (the attack in its namespace argument): a call for no
    /// company and no lease.
    Sweep,
}

/// The attacker's lease as `execute` gets it.
fn attacker_lease() -> Lease {
    Lease {
        id: ATTACKER_LEASE.to_string(),
        namespace: ATTACKER_NS.to_string(),
        backend: Backend::Pod,
        workload: LeaseObjectRef {
            api_version: "v1".to_string(),
            kind: "Pod".to_string(),
            namespace: Some(ATTACKER_NS.to_string()),
            name: ATTACKER_LEASE.to_string(),
            uid: None,
        },
        pod: ATTACKER_LEASE.to_string(),
        container: "agent".to_string(),
        secret: format!("{ATTACKER_LEASE}-env"),
        company_id: ATTACKER.to_string(),
        run_id: "hostile-run".to_string(),
        adapter_type: String::new(),
        image: "busybox".to_string(),
        created_at: String::new(),
        expires_at: String::new(),
        module_sha256: String::new(),
    }
}

/// The report in the `failed` error of an attacking `acquire-lease` or
/// `execute`: its one check.
fn failed_check(error: PolicyError) -> Value {
    let PolicyError::Failed(failure) = error else {
        panic!("not the attack's report: {error:?}");
    };
    assert_eq!(failure.step, ACQUIRE_STEP, "{failure:?}");
    let report: Value = serde_json::from_str(&failure.message)
        .unwrap_or_else(|e| panic!("the report is JSON ({e}): {failure:?}"));
    report["checks"][0].clone()
}

/// Runs `attack` from `from` through `guard`; the module's one check:
/// `(ok, detail)`.
fn run(guard: &GuardedCluster, from: Position, attack: &Value) -> (bool, String) {
    let config = attack.to_string();
    let check = match from {
        Position::Probe => {
            let report = hostile()
                .probe(&env(guard.clone()), &config, ATTACKER)
                .expect("the module does not trap")
                .expect("the module reports");
            json!({ "ok": report.checks[0].ok, "detail": report.checks[0].detail })
        }
        Position::Acquire => {
            let request = LeaseRequest {
                config,
                company_id: ATTACKER.to_string(),
                run_id: "hostile-run".to_string(),
                lease_id: ATTACKER_LEASE.to_string(),
                now: "2025-01-02T03:04:05Z".to_string(),
                adapter_type: None,
                image_override: None,
                command: None,
            };
            let env = env(guard.clone());
            let error = hostile()
                .acquire_lease(&env, &request)
                .expect("the module does not trap")
                .expect_err("the hostile acquire always fails");
            failed_check(error)
        }
        Position::Validate => {
            let mut config: Value = serde_json::from_str(&config).expect("the attack is JSON");
            config["during"] = json!("validate");
            let report = hostile()
                .validate_config(&env(guard.clone()), &config.to_string())
                .expect("the module does not trap");
            let issue = report
                .errors
                .first()
                .unwrap_or_else(|| panic!("no issue carries the attack's report: {report:?}"));
            let report: Value = serde_json::from_str(&issue.message)
                .unwrap_or_else(|e| panic!("the report is JSON ({e}): {issue:?}"));
            report["checks"][0].clone()
        }
        Position::Sweep => {
            let error = hostile()
                .sweep(&env(guard.clone()), "2025-01-02T03:04:05Z", Some(&config))
                .expect("the module does not trap")
                .expect_err("the hostile sweep always fails");
            failed_check(error)
        }
        Position::Execute => {
            let request = ExecRequest {
                lease: attacker_lease(),
                command: Command::Argv(vec![config]),
                cwd: None,
                env: Vec::new(),
                forward_stdin: false,
                timeout_ms: None,
                max_stdout_bytes: None,
                max_stderr_bytes: None,
            };
            let error = hostile()
                .execute(&env(guard.clone()), &request)
                .expect("the module does not trap")
                .expect_err("the hostile execute always fails");
            failed_check(error)
        }
    };
    (
        check["ok"].as_bool().unwrap_or(false),
        check["detail"].as_str().unwrap_or_default().to_string(),
    )
}

#[rstest]
#[case::privileged_pod(Position::Acquire, json!({"attack":"privileged-pod","namespace":ATTACKER_NS}), "pod-profile")]
#[case::hostpath_pod(Position::Acquire, json!({"attack":"hostpath-pod","namespace":ATTACKER_NS}), "pod-profile")]
#[case::hostnetwork_pod(Position::Acquire, json!({"attack":"hostnetwork-pod","namespace":ATTACKER_NS}), "pod-profile")]
#[case::gitrepo_volume(Position::Acquire, json!({"attack":"gitrepo-volume","namespace":ATTACKER_NS}), "pod-profile")]
#[case::automount_token(Position::Acquire, json!({"attack":"automount-token","namespace":ATTACKER_NS}), "pod-profile")]
#[case::projected_token(Position::Acquire, json!({"attack":"projected-token","namespace":ATTACKER_NS}), "pod-profile")]
#[case::csi_secret(Position::Acquire, json!({"attack":"csi-secret","namespace":ATTACKER_NS,"secret":format!("{VICTIM_LEASE}-env")}), "pod-profile")]
#[case::cephfs_secret(Position::Acquire, json!({"attack":"cephfs-secret","namespace":ATTACKER_NS,"secret":format!("{VICTIM_LEASE}-env")}), "pod-profile")]
#[case::host_port(Position::Acquire, json!({"attack":"host-port","namespace":ATTACKER_NS}), "pod-profile")]
#[case::node_name(Position::Acquire, json!({"attack":"node-name","namespace":ATTACKER_NS,"node":"node-1"}), "pod-profile")]
#[case::system_priority(Position::Acquire, json!({"attack":"system-priority","namespace":ATTACKER_NS}), "pod-profile")]
#[case::root_unconfined(Position::Acquire, json!({"attack":"root-unconfined","namespace":ATTACKER_NS}), "pod-profile")]
#[case::gitrepo_job(Position::Acquire, json!({"attack":"gitrepo-job","namespace":ATTACKER_NS}), "pod-profile")]
#[case::init_privileged(Position::Acquire, json!({"attack":"init-privileged","namespace":ATTACKER_NS}), "pod-profile")]
#[case::apparmor_unconfined(Position::Acquire, json!({"attack":"apparmor-unconfined","namespace":ATTACKER_NS}), "pod-profile")]
#[case::ephemeral_volume_name(Position::Acquire, json!({"attack":"ephemeral-volume-name","namespace":ATTACKER_NS,"volume":HOSTPATH_PV}), "claim-binding")]
#[case::pvc_volume_name(Position::Acquire, json!({"attack":"pvc-volume-name","namespace":ATTACKER_NS,"volume":HOSTPATH_PV}), "claim-binding")]
#[case::foreign_secret_pod(Position::Acquire, json!({"attack":"foreign-secret-pod","namespace":VICTIM_NS,"lease":VICTIM_LEASE}), "tenant-company")]
#[case::foreign_secret_ref(Position::Acquire, json!({"attack":"foreign-secret-ref","namespace":ATTACKER_NS,"secret":format!("{VICTIM_LEASE}-env")}), "pod-secret-ref")]
#[case::exec_foreign_lease(Position::Acquire, json!({"attack":"exec-foreign-lease","namespace":VICTIM_NS,"pod":VICTIM_LEASE,"container":"agent"}), "tenant-company")]
#[case::exec_into_a_plain_pod(Position::Acquire, json!({"attack":"exec-pod","namespace":ATTACKER_NS,"pod":"plain","container":"main"}), "exec-target")]
#[case::exec_into_kube_system(Position::Acquire, json!({"attack":"exec-pod","namespace":"kube-system","pod":"etcd","container":"etcd"}), "fence-system")]
#[case::exec_foreign_lease_unscoped(Position::Probe, json!({"attack":"exec-foreign-lease","namespace":VICTIM_NS,"pod":VICTIM_LEASE,"container":"agent"}), "tenant-company")]
#[case::exec_another_lease_of_the_company(Position::Acquire, json!({"attack":"exec-pod","namespace":ATTACKER_NS,"pod":OTHER_LEASE,"container":"agent"}), "lease-scope")]
#[case::exec_a_lease_without_a_lease(Position::Probe, json!({"attack":"exec-pod","namespace":ATTACKER_NS,"pod":OTHER_LEASE,"container":"agent"}), "lease-scope")]
#[case::logs_foreign_lease(Position::Probe, json!({"attack":"logs-foreign-lease","namespace":VICTIM_NS,"pod":VICTIM_LEASE,"container":"agent"}), "tenant-company")]
#[case::list_foreign_pods(Position::Probe, json!({"attack":"list-foreign-pods","namespace":VICTIM_NS}), "tenant-company")]
#[case::read_foreign_pod(Position::Probe, json!({"attack":"read-foreign-pod","namespace":VICTIM_NS,"pod":VICTIM_LEASE}), "tenant-company")]
#[case::delete_foreign_deny_all(Position::Acquire, json!({"attack":"delete-foreign-deny-all","namespace":VICTIM_NS}), "tenant-company")]
#[case::delete_foreign_pod_from_execute(Position::Execute, json!({"attack":"delete-foreign-pod","namespace":VICTIM_NS,"pod":VICTIM_LEASE}), "lease-scope")]
#[case::delete_foreign_pod(Position::Acquire, json!({"attack":"delete-foreign-pod","namespace":VICTIM_NS,"pod":VICTIM_LEASE}), "tenant-company")]
#[case::foreign_lease_pod(Position::Acquire, json!({"attack":"foreign-lease-pod","namespace":VICTIM_NS}), "tenant-company")]
#[case::foreign_lease_pod_from_execute(Position::Execute, json!({"attack":"foreign-lease-pod","namespace":VICTIM_NS}), "lease-scope")]
#[case::foreign_open_ingress(Position::Acquire, json!({"attack":"foreign-open-ingress","namespace":VICTIM_NS}), "tenant-company")]
#[case::foreign_open_ingress_from_execute(Position::Execute, json!({"attack":"foreign-open-ingress","namespace":VICTIM_NS}), "lease-scope")]
#[case::foreign_quota_from_execute(Position::Execute, json!({"attack":"foreign-quota","namespace":VICTIM_NS}), "lease-scope")]
#[case::foreign_deny_all_from_execute(Position::Execute, json!({"attack":"foreign-deny-all","namespace":VICTIM_NS}), "lease-scope")]
#[case::foreign_secret_pod_from_execute(Position::Execute, json!({"attack":"foreign-secret-pod","namespace":VICTIM_NS,"lease":VICTIM_LEASE}), "lease-scope")]
#[case::exec_foreign_lease_from_execute(Position::Execute, json!({"attack":"exec-foreign-lease","namespace":VICTIM_NS,"pod":VICTIM_LEASE,"container":"agent"}), "lease-scope")]
#[case::foreign_deny_all_from_sweep(Position::Sweep, json!({"attack":"foreign-deny-all","namespace":VICTIM_NS}), "lease-scope")]
#[case::foreign_quota(Position::Acquire, json!({"attack":"foreign-quota","namespace":VICTIM_NS}), "tenant-company")]
#[case::foreign_deny_all(Position::Acquire, json!({"attack":"foreign-deny-all","namespace":VICTIM_NS}), "tenant-company")]
#[case::foreign_host_secret(Position::Acquire, json!({"attack":"foreign-host-secret","namespace":VICTIM_NS,"lease":VICTIM_LEASE}), "host-secret-shape")]
#[case::decoy_pod(Position::Acquire, json!({"attack":"decoy-pod","namespace":ATTACKER_NS,"lease":VICTIM_LEASE}), "identity-mark")]
#[case::decoy_pod_without_a_lease(Position::Probe, json!({"attack":"decoy-pod","namespace":ATTACKER_NS,"lease":VICTIM_LEASE}), "lease-scope")]
#[case::forge_lease_label(Position::Acquire, json!({"attack":"forge-lease-label","namespace":ATTACKER_NS,"lease":VICTIM_LEASE}), "identity-mark")]
#[case::forge_company_mark(Position::Acquire, json!({"attack":"forge-company-mark","namespace":ATTACKER_NS,"company":VICTIM}), "identity-mark")]
#[case::forge_pod_company(Position::Acquire, json!({"attack":"forge-pod-company","namespace":ATTACKER_NS,"company":VICTIM}), "identity-mark")]
#[case::forge_module_mark(Position::Acquire, json!({"attack":"forge-module-mark","namespace":ATTACKER_NS}), "identity-mark")]
#[case::forge_pod_security(Position::Acquire, json!({"attack":"forge-pod-security","namespace":ATTACKER_NS}), "identity-mark")]
#[case::egress_kube_system(Position::Acquire, json!({"attack":"egress-kube-system","namespace":ATTACKER_NS}), "egress-namespace")]
fn tenant_attack_is_denied_by_its_rule_and_writes_nothing(
    #[case] from: Position,
    #[case] attack: Value,
    #[case] rule: &str,
) {
    let cluster = cluster();
    let guard = guard(&cluster);
    let before = cluster.call_records().len();

    let (ok, detail) = run(&guard, from, &attack);

    assert!(
        ok && detail.starts_with(&format!("denied: rule `{rule}`")),
        "{attack} from {from:?}: expected denied by `{rule}`, got: {detail}"
    );
    assert!(!detail.contains(VICTIM_KEY), "{detail}");
    assert_eq!(
        guard.denials().snapshot().get(rule).copied(),
        Some(1),
        "{:?}",
        guard.denials().snapshot()
    );
    assert_eq!(
        writes(&cluster.call_records()[before..]),
        Vec::<String>::new(),
        "{attack} from {from:?} wrote to the cluster"
    );
    super::serves_a_normal_call(&guard);
}

/// The names after `got ` in a read attack's detail.
fn got(detail: &str) -> Vec<String> {
    detail
        .rsplit_once("got ")
        .and_then(|(_, list)| serde_json::from_str(list).ok())
        .unwrap_or_else(|| panic!("no `got <list>` in {detail:?}"))
}

#[rstest]
#[case::list_namespaces_with_a_fenced_namespace(Position::Probe, json!({"attack":"list-namespaces","namespace":ATTACKER_NS}))]
#[case::list_namespaces_from_acquire(Position::Acquire, json!({"attack":"list-namespaces","namespace":ATTACKER_NS}))]
#[case::list_all_namespaces(Position::Probe, json!({"attack":"list-namespaces","mine":[ATTACKER_NS]}))]
#[case::watch_namespaces_with_a_fenced_namespace(Position::Probe, json!({"attack":"watch-namespaces","namespace":ATTACKER_NS}))]
#[case::watch_pods_of_every_tenant(Position::Probe, json!({"attack":"watch-all-pods","mine":[ATTACKER_NS]}))]
#[case::watch_pods_of_another_tenant(Position::Probe, json!({"attack":"watch-foreign-pods","namespace":VICTIM_NS,"mine":[ATTACKER_NS]}))]
#[case::list_pods_of_every_tenant(Position::Probe, json!({"attack":"list-pods","mine":[ATTACKER_NS]}))]
fn cluster_wide_read_shows_only_the_callers_namespaces(
    #[case] from: Position,
    #[case] attack: Value,
) {
    let cluster = cluster();
    let guard = guard(&cluster);
    let before = cluster.call_records().len();

    let (ok, detail) = run(&guard, from, &attack);

    if detail.starts_with("denied: ") {
        assert!(ok, "{detail}");
    } else {
        let foreign: Vec<String> = got(&detail)
            .into_iter()
            .filter(|name| name != ATTACKER_NS && !name.starts_with(&format!("{ATTACKER_NS}/")))
            .collect();
        assert_eq!(
            foreign,
            Vec::<String>::new(),
            "{attack} from {from:?} read outside the attacker's tenant: {detail}"
        );
        assert!(ok && detail.starts_with("contained: "), "{detail}");
    }
    // A watch reads too.
    let calls: Vec<Call> = cluster.call_records()[before..]
        .iter()
        .filter(|call| !matches!(call, Call::Watch(_)))
        .cloned()
        .collect();
    assert_eq!(writes(&calls), Vec::<String>::new());
}

/// Runs `attack` from acquire and asserts it was refused by `pod-profile`
/// with nothing written.
fn assert_pod_profile_refuses(attack: Value) {
    let cluster = cluster();
    let guard = guard(&cluster);
    let before = cluster.call_records().len();
    let (ok, detail) = run(&guard, Position::Acquire, &attack);
    assert!(
        ok && detail.starts_with("denied: rule `pod-profile`"),
        "{attack}: expected denied by `pod-profile`, got: {detail}"
    );
    assert_eq!(
        writes(&cluster.call_records()[before..]),
        Vec::<String>::new()
    );
}

#[rstest]
#[case::probe_host(json!({"attack":"probe-host","namespace":ATTACKER_NS}))]
#[case::lifecycle_host(json!({"attack":"lifecycle-host","namespace":ATTACKER_NS}))]
fn kubelet_probes_and_hooks_reach_only_the_pod(#[case] attack: Value) {
    assert_pod_profile_refuses(attack);
}

#[test]
fn lease_pod_mounts_no_claim_of_another_lease() {
    let cluster = cluster();
    let guard = guard(&cluster);
    let before = cluster.call_records().len();
    let attack = json!({
        "attack": "foreign-lease-claim",
        "namespace": ATTACKER_NS,
        "claim": format!("{OTHER_LEASE}-workspace")
    });
    let (ok, detail) = run(&guard, Position::Acquire, &attack);
    assert!(
        ok && detail.starts_with("denied: rule `lease-scope`"),
        "{attack}: expected denied by `lease-scope`, got: {detail}"
    );
    assert_eq!(
        writes(&cluster.call_records()[before..]),
        Vec::<String>::new()
    );
}

#[rstest]
#[case::foreign_deny_all(json!({"attack":"foreign-deny-all","namespace":VICTIM_NS}))]
#[case::foreign_quota(json!({"attack":"foreign-quota","namespace":VICTIM_NS}))]
#[case::foreign_open_ingress(json!({"attack":"foreign-open-ingress","namespace":VICTIM_NS}))]
#[case::foreign_lease_pod(json!({"attack":"foreign-lease-pod","namespace":VICTIM_NS}))]
#[case::exec_foreign_lease(json!({"attack":"exec-foreign-lease","namespace":VICTIM_NS,"pod":VICTIM_LEASE,"container":"agent"}))]
#[case::delete_foreign_pod(json!({"attack":"delete-foreign-pod","namespace":VICTIM_NS,"pod":VICTIM_LEASE}))]
#[case::delete_foreign_deny_all(json!({"attack":"delete-foreign-deny-all","namespace":VICTIM_NS}))]
fn validate_config_reaches_no_cluster(#[case] attack: Value) {
    let cluster = cluster();
    let guard = guard(&cluster);
    let before = cluster.call_records().len();
    let (_, detail) = run(&guard, Position::Validate, &attack);
    assert!(
        detail.starts_with("no-cluster: "),
        "{attack} from validate-config reached the cluster: {detail}"
    );
    assert_eq!(
        cluster.call_records()[before..].len(),
        0,
        "{:?}",
        &cluster.call_records()[before..]
    );
}

#[test]
fn sweep_deletes_no_tenant_object_but_a_leases() {
    let cluster = cluster();
    let guard = guard(&cluster);
    let before = cluster.call_records().len();
    let attack = json!({"attack":"delete-foreign-deny-all","namespace":VICTIM_NS});
    let (ok, detail) = run(&guard, Position::Sweep, &attack);
    assert!(
        ok && detail.starts_with("denied: rule `lease-scope`"),
        "{attack} from sweep: not denied by `lease-scope`: {detail}"
    );
    assert_eq!(
        writes(&cluster.call_records()[before..]),
        Vec::<String>::new()
    );
}

#[test]
fn sweep_deletes_no_live_lease() {
    let cluster = cluster();
    let guard = guard(&cluster);
    let before = cluster.call_records().len();
    let attack = json!({"attack":"delete-foreign-pod","namespace":VICTIM_NS,"pod":VICTIM_LEASE});
    let (ok, detail) = run(&guard, Position::Sweep, &attack);
    assert!(
        ok && detail.starts_with("denied: "),
        "{attack} from sweep: not denied: {detail}"
    );
    assert_eq!(
        writes(&cluster.call_records()[before..]),
        Vec::<String>::new()
    );
}
