//! The lifecycle service every front end calls (`host/src/lifecycle.rs`):
//! its typed methods over the default module, through the capability
//! guard, and how it fails.

use std::collections::HashMap;
use std::sync::Arc;

use leasebox::cluster::grants::Grants;
use leasebox::cluster::guard::{Audit, GuardedCluster};
use leasebox::contract::{LeasePhase, PolicyError};
use leasebox::lifecycle::{CallContext, LeaseSpec, Lifecycle, LifecycleError, Loaded, Target};
use leasebox::runtime::{CallEnv, Cancel};
use leasebox::settings::HostSettings;
use serde_json::{Value, json};

use crate::in_memory_cluster::InMemoryCluster;
use crate::lifecycle_through_wasm::{NAMESPACE, pod_config};
use crate::support::{caller_io, default_policy};

const LEASE_ID: &str = "lb-01jd5z8k9m0000000000000000";

fn loaded(cluster: Option<&Arc<InMemoryCluster>>) -> Loaded {
    let policy = default_policy().clone();
    let guard = cluster.map(|cluster| {
        let audit = Audit::new(policy.sha256(), Arc::default(), Arc::new(|_: &str| {}));
        GuardedCluster::new(cluster.clone(), Arc::new(Grants::default()), audit)
    });
    Loaded { policy, guard }
}

fn ctx() -> CallContext {
    CallContext {
        cancel: Cancel::new(),
        caller: caller_io(b"").0,
        logger: CallEnv::silent_logger(),
    }
}

fn spec(config: &Value) -> LeaseSpec {
    LeaseSpec {
        config: config.to_string(),
        company_id: "Acme Corp".into(),
        now: Some("2025-01-02T03:04:05Z".into()),
        ..LeaseSpec::default()
    }
}

#[test]
fn a_call_that_needs_a_cluster_fails_with_no_cluster_when_there_is_none() {
    let (loaded, settings) = (loaded(None), HostSettings::default());
    let error = Lifecycle::new(&loaded, &settings)
        .probe(&ctx(), &pod_config().to_string(), "acme")
        .expect_err("no cluster, no probe");
    assert!(matches!(error, LifecycleError::NoCluster), "{error:?}");
    assert_eq!(error.reason(), "no-cluster");
}

#[test]
fn plan_answers_every_manifest_as_json_for_the_lease_id_given() {
    let (loaded, settings) = (loaded(None), HostSettings::default());
    let manifests = Lifecycle::new(&loaded, &settings)
        .plan(&ctx(), &spec(&pod_config()), Some(LEASE_ID))
        .expect("a valid configuration plans");
    assert!(manifests.iter().all(|m| m["kind"].is_string()));
    let pod = manifests
        .iter()
        .find(|m| m["kind"] == "Pod")
        .expect("a pod lease plans a Pod");
    assert_eq!(pod["metadata"]["name"], LEASE_ID);
    assert_eq!(pod["metadata"]["namespace"], NAMESPACE);
}

#[test]
fn an_invalid_configuration_is_a_refusal_labelled_invalid_config() {
    let (loaded, settings) = (loaded(None), HostSettings::default());
    let error = Lifecycle::new(&loaded, &settings)
        .plan(&ctx(), &spec(&json!({"backend": "nope"})), Some(LEASE_ID))
        .expect_err("an unknown backend is refused");
    assert!(
        matches!(&error, LifecycleError::Policy(p) if matches!(**p, PolicyError::InvalidConfig(_))),
        "{error:?}"
    );
    assert_eq!(error.reason(), "invalid-config");
}

#[test]
fn a_lease_is_acquired_found_again_and_released_through_the_guard() {
    let cluster = Arc::new(InMemoryCluster::new(HashMap::new()));
    cluster.script_pod_ready(LEASE_ID, NAMESPACE, [("agent", "busybox:k8s-real")]);
    let (loaded, settings) = (loaded(Some(&cluster)), HostSettings::default());
    let lifecycle = Lifecycle::new(&loaded, &settings);

    let acquired = lifecycle
        .acquire(&ctx(), &spec(&pod_config()), LEASE_ID)
        .expect("acquire succeeds on a pod that becomes ready");
    assert!(!acquired.warm, "no pool was asked for: a cold acquire");
    let lease = acquired.lease;
    assert_eq!(
        (lease.id.as_str(), lease.namespace.as_str()),
        (LEASE_ID, NAMESPACE)
    );
    assert_eq!(lease.module_sha256, default_policy().sha256());

    let target = Target {
        lease_id: LEASE_ID.into(),
        namespace: None,
    };
    let status = lifecycle.status(&ctx(), &target).expect("status");
    assert_eq!(status.phase, LeasePhase::Ready);
    assert_eq!(
        lifecycle.resume(&ctx(), &target).expect("resume").id,
        LEASE_ID
    );

    let report = lifecycle.release(&ctx(), &lease).expect("release");
    assert!(!report.deleted.is_empty(), "{report:?}");
    let gone = lifecycle
        .resume(&ctx(), &target)
        .expect_err("a released lease is not found");
    assert!(gone.is_lease_not_found(), "{gone:?}");
}

/// Host settings with warm pools on, two pods per tenant.
fn pools_on() -> HostSettings {
    HostSettings::parse(
        "pools:\n  maxPerTenant: 2\n  maxTotal: 2\n",
        &leasebox::settings::Overrides::default(),
        None,
    )
    .expect("valid settings")
}

/// The kubelet's word on pod `name`: running and ready.
fn running_and_ready(cluster: &InMemoryCluster, name: &str) {
    let status = json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]});
    assert!(cluster.set_status("v1", "Pod", Some(NAMESPACE), name, status));
}

#[test]
fn with_pools_on_an_acquire_claims_a_ready_pool_pod_and_hands_its_secret_over() {
    let cluster = Arc::new(InMemoryCluster::new(HashMap::new()));
    let (loaded, settings) = (loaded(Some(&cluster)), pools_on());
    let lifecycle = Lifecycle::new(&loaded, &settings);
    let mut config = pod_config();
    config["warmPool"] = json!({ "size": 4 });

    let report = lifecycle
        .ensure_pool(&ctx(), &spec(&config))
        .expect("ensure-pool");
    assert_eq!(report.size, 2, "the operator's cap narrows warmPool.size");
    assert_eq!(report.created.len(), 2);
    for made in &report.created {
        running_and_ready(&cluster, &made.name);
    }

    let acquired = lifecycle
        .acquire(&ctx(), &spec(&config), LEASE_ID)
        .expect("acquire");
    assert!(acquired.warm, "a ready pool pod was there to claim");
    assert!(report.created.iter().any(|m| m.name == acquired.lease.pod));
    let hand_overs = cluster.hand_overs();
    assert_eq!(hand_overs.len(), 1);
    let file = String::from_utf8(hand_overs[0].file.clone()).expect("UTF-8");
    assert!(file.contains("export BOOTSTRAP_TOKEN='"), "{file}");
    assert_eq!(hand_overs[0].pod, acquired.lease.pod);
}

#[test]
fn a_claim_that_fails_is_undone_and_the_acquire_goes_cold() {
    let cluster = Arc::new(InMemoryCluster::new(HashMap::new()));
    let (loaded, settings) = (loaded(Some(&cluster)), pools_on());
    let lifecycle = Lifecycle::new(&loaded, &settings);
    let mut config = pod_config();
    config["warmPool"] = json!({ "size": 1 });
    let report = lifecycle
        .ensure_pool(&ctx(), &spec(&config))
        .expect("ensure-pool");
    let pool_pod = report.created[0].name.clone();
    running_and_ready(&cluster, &pool_pod);
    cluster.fail_on(
        "hand-over",
        "Secret",
        leasebox_policy::cluster::KubeError::TimedOut("the exec did not start".into()),
    );
    cluster.script_pod_ready(LEASE_ID, NAMESPACE, [("agent", "busybox:k8s-real")]);

    let acquired = lifecycle
        .acquire(&ctx(), &spec(&config), LEASE_ID)
        .expect("a failed claim is no failed acquire");
    assert!(!acquired.warm);
    assert_eq!(acquired.lease.pod, LEASE_ID, "the pod was started cold");
    assert!(
        cluster.object("Pod", Some(NAMESPACE), &pool_pod).is_none(),
        "the pool pod the claim bound was deleted, not left bound"
    );
}
