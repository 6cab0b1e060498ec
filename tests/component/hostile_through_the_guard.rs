//! The hostile module (`tests/guests/hostile/`) through the real capability
//! guard, on an in-memory cluster holding a victim tenant: every attack is
//! refused with `denied` naming the right rule, or contained by the
//! runtime's limits; nothing reaches the cluster; and the next normal call
//! is served.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use leasebox::cluster::grants::Grants;
use leasebox::cluster::guard::{Audit, COMPANY_ANNOTATION, GuardedCluster, Rule};
use leasebox::cluster::io::ClusterIo;
use leasebox::cluster::manifest::Manifest;
use leasebox::runtime::{CallEnv, Limits, RuntimeError};
use leasebox_policy::fake_cluster::Call;
use rstest::rstest;
use serde_json::{Value, json};

use crate::hostile_policy_module::hostile;
use crate::in_memory_cluster::InMemoryCluster;

mod tenants;

const TENANT: &str = "leasebox-attacker";
const VICTIM: &str = "leasebox-victim";
const VICTIM_LEASE: &str = "lb-01jd5z8k9m0000000000000vic";
const VICTIM_KEY: &str = "sk-victim-0e3f9a";

/// Two leasebox tenants (the attacker's and a victim with a live lease and
/// its host-filled Secret), plus a plain pod without lease labels.
fn cluster() -> Arc<InMemoryCluster> {
    let cluster = Arc::new(InMemoryCluster::new(HashMap::from([(
        "ANTHROPIC_API_KEY".to_string(),
        VICTIM_KEY.to_string(),
    )])));
    for (namespace, company) in [(TENANT, "attacker"), (VICTIM, "victim")] {
        cluster
            .create(Manifest::from_value(
                json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":namespace,
                    "labels":{"app.kubernetes.io/managed-by":"leasebox"},
                    "annotations":{COMPANY_ANNOTATION:company}}}),
            ))
            .expect("namespace");
    }
    cluster
        .create(Manifest::from_value(
            json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"kube-system"}}),
        ))
        .expect("kube-system");
    let labels =
        json!({"app.kubernetes.io/managed-by":"leasebox","leasebox.dev/lease":VICTIM_LEASE});
    cluster
        .apply(Manifest::from_value(json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":VICTIM_LEASE,"namespace":VICTIM,"labels":labels},
                "spec":{"containers":[{"name":"agent","image":"busybox"}]}})))
        .expect("victim pod");
    cluster
        .apply_host_secret(&leasebox::contract::HostSecretRequest {
            manifest: json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":format!("{VICTIM_LEASE}-env"),"namespace":VICTIM,"labels":labels}}).to_string(),
            random_keys: vec![],
            host_keys: vec!["ANTHROPIC_API_KEY".into()],
            literal: vec![],
        })
        .expect("victim secret");
    cluster
        .apply(Manifest::from_value(
            json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"plain","namespace":TENANT},
                "spec":{"containers":[{"name":"main","image":"busybox"}]}}),
        ))
        .expect("plain pod");
    cluster
}

fn guard(cluster: &Arc<InMemoryCluster>) -> GuardedCluster {
    GuardedCluster::new(
        cluster.clone(),
        Arc::new(Grants::default()),
        Audit::counting(hostile().sha256()),
    )
}

fn env(guard: &GuardedCluster, limits: Limits) -> CallEnv {
    CallEnv {
        cluster: Arc::new(guard.clone()),
        caller: leasebox::cluster::io::CallerIo::process(),
        logger: CallEnv::silent_logger(),
        limits,
        cancel: leasebox::runtime::Cancel::new(),
    }
}

/// The host serves the next normal call of the same module.
fn serves_a_normal_call(guard: &GuardedCluster) {
    let next = hostile()
        .probe(
            &env(guard, Limits::default()),
            r#"{"attack":"none"}"#,
            "attacker",
        )
        .expect("no trap")
        .expect("no policy error");
    assert!(next.ok, "{next:?}");
}

/// Calls that changed the cluster (everything but reads).
fn writes(calls: &[Call]) -> Vec<String> {
    calls
        .iter()
        .filter(|call| !matches!(call, Call::Get(_) | Call::List { .. } | Call::ServerVersion))
        .map(|call| format!("{call:?}"))
        .collect()
}

#[rstest]
#[case::read_secret(json!({"attack":"read-secret","namespace":VICTIM,"name":format!("{VICTIM_LEASE}-env")}), Rule::SecretRead)]
#[case::list_secrets(json!({"attack":"list-secrets"}), Rule::SecretRead)]
#[case::watch_secrets(json!({"attack":"watch-secrets","namespace":VICTIM}), Rule::SecretRead)]
#[case::write_kube_system(json!({"attack":"write-kube-system"}), Rule::FenceSystem)]
#[case::label_default(json!({"attack":"label-default"}), Rule::FenceSystem)]
#[case::cluster_role(json!({"attack":"cluster-role"}), Rule::KindNotGranted)]
#[case::cluster_role_binding(json!({"attack":"cluster-role-binding","namespace":TENANT}), Rule::KindNotGranted)]
#[case::role_wildcard(json!({"attack":"role-wildcard","namespace":TENANT}), Rule::RoleCeiling)]
#[case::rolebinding_to_clusterrole(json!({"attack":"rolebinding-to-clusterrole","namespace":TENANT}), Rule::RoleBinding)]
#[case::privileged_pod(json!({"attack":"privileged-pod","namespace":TENANT}), Rule::LeaseScope)]
#[case::hostpath_pod(json!({"attack":"hostpath-pod","namespace":TENANT}), Rule::LeaseScope)]
#[case::hostnetwork_pod(json!({"attack":"hostnetwork-pod","namespace":TENANT}), Rule::LeaseScope)]
#[case::exec_into_a_plain_pod(json!({"attack":"exec-pod","namespace":TENANT,"pod":"plain","container":"main"}), Rule::ExecTarget)]
#[case::exec_into_kube_system(json!({"attack":"exec-pod","namespace":"kube-system","pod":"etcd","container":"etcd"}), Rule::FenceSystem)]
#[case::host_key_not_granted(json!({"attack":"host-key","namespace":TENANT}), Rule::HostSecretKeys)]
fn attack_is_denied_by_its_rule_and_changes_nothing(#[case] attack: Value, #[case] rule: Rule) {
    let cluster = cluster();
    let guard = guard(&cluster);
    let before = cluster.call_records().len();

    let report = hostile()
        .probe(
            &env(&guard, Limits::default()),
            &attack.to_string(),
            "attacker",
        )
        .expect("the module does not trap")
        .expect("the module reports");

    let check = &report.checks[0];
    assert!(check.ok, "the attack was not denied: {report:?}");
    assert!(
        check
            .detail
            .starts_with(&format!("denied: rule `{}`", rule.name())),
        "{report:?}"
    );
    assert!(!check.detail.contains(VICTIM_KEY), "{report:?}");
    assert_eq!(
        guard.denials().get(rule),
        1,
        "{:?}",
        guard.denials().snapshot()
    );
    let calls = cluster.call_records();
    assert_eq!(writes(&calls[before..]), Vec::<String>::new());

    serves_a_normal_call(&guard);
}

#[test]
fn allocation_of_4_gib_is_stopped_by_the_memory_cap() {
    let cluster = cluster();
    let guard = guard(&cluster);
    let error = hostile()
        .probe(
            &env(&guard, Limits::default()),
            r#"{"attack":"alloc-4gib"}"#,
            "attacker",
        )
        .expect_err("contained");
    assert!(
        matches!(error, RuntimeError::MemoryLimit { .. }),
        "{error:?}"
    );
}

#[test]
fn a_module_blocking_in_a_watch_is_stopped_by_the_call_timeout_and_the_host_goes_on() {
    let cluster = cluster();
    let guard = guard(&cluster);
    let limits = Limits::default().with_overall_timeout(Duration::from_millis(1500));
    // Built and compiled before the clock starts: only the call is bounded.
    let module = hostile();
    let started = Instant::now();
    let error = module
        .probe(
            &env(&guard, limits),
            &json!({"attack":"block-in-watch","namespace":TENANT}).to_string(),
            "attacker",
        )
        .expect_err("contained");
    assert!(matches!(error, RuntimeError::Timeout { .. }), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    serves_a_normal_call(&guard);
}
