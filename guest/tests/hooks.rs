//! A policy's hooks reach every decision they name: the image policy and
//! egress through `plan`, naming through `plan` and `probe`, readiness
//! through acquire and get-lease-status (against the in-memory cluster).

#![cfg(feature = "fake-cluster")]

use std::path::PathBuf;

use k8s_openapi::api::core::v1::Pod;
use leasebox_policy::adapters::Adapter;
use leasebox_policy::cluster::{EventType, WatchEvent};
use leasebox_policy::config::Config;
use leasebox_policy::egress::{AllowedCidr, EgressPlan, parse_cidr};
use leasebox_policy::error::PolicyError;
use leasebox_policy::fake_cluster::FakeCluster;
use leasebox_policy::hooks::{DefaultHooks, Hooks};
use leasebox_policy::image::{ImageCandidate, ImageSource};
use leasebox_policy::lease::{Backend, Command, LeasePhase, LeaseRequest};
use leasebox_policy::lifecycle::{self, conditions::Readiness};
use leasebox_policy::plan::{plan, plan_with};
use serde_json::{Value, json};

const LEASE: &str = "lb-01jd8x7k2m3n4p5q6r7s8t9v0w";
const NS: &str = "leasebox-acme-corp";

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/objects")
        .join(name);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

fn request(config: Value, image_override: Option<&str>) -> LeaseRequest {
    LeaseRequest {
        config: config.to_string(),
        company_id: "Acme Corp".into(),
        run_id: "run-42".into(),
        lease_id: LEASE.into(),
        now: "2026-11-23T10:00:00Z".into(),
        adapter_type: None,
        image_override: image_override.map(str::to_string),
        command: Some(Command::Shell("make test".into())),
    }
}

fn pod_config() -> Value {
    json!({ "inCluster": true, "backend": "pod", "imageAllowList": ["ghcr.io/acme/*"] })
}

/// Refuses every image it is shown, naming where it came from.
struct RefuseEveryImage;

impl Hooks for RefuseEveryImage {
    fn image_policy(&self, candidate: &ImageCandidate<'_>) -> Result<(), PolicyError> {
        let source = match candidate.source {
            ImageSource::Override => "override",
            ImageSource::Adapter => "adapter",
        };
        Err(PolicyError::NotAllowed(format!(
            "{source} {} refused",
            candidate.image
        )))
    }
}

/// The `not-allowed` message of planning `image` under [`RefuseEveryImage`].
fn refusal(image: Option<&str>) -> String {
    match plan_with(&RefuseEveryImage, &request(pod_config(), image)) {
        Err(PolicyError::NotAllowed(message)) => message,
        other => panic!("expected NotAllowed, got {other:?}"),
    }
}

#[test]
fn image_policy_sees_the_override_and_the_adapter_image() {
    assert_eq!(
        refusal(Some("ghcr.io/acme/agent:1")),
        "override ghcr.io/acme/agent:1 refused"
    );
    let adapter = refusal(None);
    assert!(adapter.starts_with("adapter "), "{adapter}");
}

#[test]
fn image_policy_is_not_asked_about_an_override_that_does_not_parse() {
    let refused = plan_with(&RefuseEveryImage, &request(pod_config(), Some("Bad Image")));
    assert!(
        matches!(refused, Err(PolicyError::BadRequest(_))),
        "{refused:?}"
    );
}

/// Opens one more CIDR than the default plan.
struct ExtraCidr;

impl Hooks for ExtraCidr {
    fn egress(&self, config: &Config, adapter: &Adapter) -> EgressPlan {
        let mut plan = DefaultHooks.egress(config, adapter);
        plan.cidrs.push(AllowedCidr {
            cidr: parse_cidr("10.99.0.0/16").expect("valid CIDR"),
            ports: Vec::new(),
        });
        plan
    }
}

#[test]
fn egress_hook_decides_the_lease_egress_policy() {
    let request = request(pod_config(), None);
    let egress_policy = |objects: Vec<Value>| {
        objects
            .into_iter()
            .find(|o| o["metadata"]["name"] == format!("{LEASE}-egress"))
            .expect("egress policy")
            .to_string()
    };
    let hooked = egress_policy(plan_with(&ExtraCidr, &request).expect("plan"));
    assert!(hooked.contains("10.99.0.0/16"), "{hooked}");
    assert!(!egress_policy(plan(&request).expect("plan")).contains("10.99.0.0/16"));
}

/// Puts every tenant in one namespace.
struct OneNamespace;

impl Hooks for OneNamespace {
    fn tenant_namespace(&self, _config: &Config, _company_id: &str) -> String {
        "shared-agents".into()
    }
}

#[test]
fn probe_checks_the_namespace_the_naming_hook_gives() {
    let fake = FakeCluster::new();
    let checks = lifecycle::probe_with(&OneNamespace, &fake, &pod_config().to_string(), "Acme")
        .expect("probed");
    assert!(
        checks
            .iter()
            .any(|c| c.name == "tenant-namespace shared-agents"),
        "{checks:?}"
    );
}

/// Counts a pod as ready as soon as it is scheduled, and fails a pod of a
/// `job` lease at once.
struct Eager;

impl Hooks for Eager {
    fn pod_readiness(&self, backend: Backend, _pod: &Pod) -> Readiness {
        match backend {
            Backend::Job => Readiness::Failed {
                reason: "NoJobsHere".into(),
                message: "this policy fails job pods".into(),
            },
            Backend::SandboxCr | Backend::Pod => Readiness::Ready,
        }
    }
}

fn modified(name: &str) -> WatchEvent {
    WatchEvent {
        event_type: EventType::Modified,
        object: fixture(name),
    }
}

#[test]
fn acquire_waits_by_the_readiness_hook() {
    let fake = FakeCluster::new();
    fake.script_watch("Pod", vec![modified("pod-container-creating.json")]);
    let lease = lifecycle::acquire_with(&Eager, &fake, &request(pod_config(), None))
        .expect("a creating pod is ready to this policy");
    assert_eq!(lease.pod, LEASE);
}

#[test]
fn acquire_stops_on_a_failure_of_the_readiness_hook_and_rolls_back() {
    let fake = FakeCluster::new();
    fake.script_watch("Pod", vec![modified("job-pod-running.json")]);
    let config = json!({ "inCluster": true, "backend": "job" });
    match lifecycle::acquire_with(&Eager, &fake, &request(config, None)) {
        Err(PolicyError::Failed(failure)) => {
            assert_eq!(failure.step, "wait-ready");
            assert_eq!(failure.reason, "NoJobsHere");
            assert!(!failure.rolled_back.is_empty(), "{failure:?}");
        }
        other => panic!("expected a failed wait-ready, got {other:?}"),
    }
}

#[test]
fn lease_status_judges_the_pod_by_the_readiness_hook() {
    let fake = FakeCluster::new();
    let mut pod = fixture("pod-container-creating.json");
    if let Some(meta) = pod["metadata"].as_object_mut() {
        meta.remove("ownerReferences");
    }
    fake.put(pod);
    let hooked = lifecycle::lease_status_with(&Eager, &fake, LEASE, Some(NS)).expect("status");
    assert_eq!(hooked.phase, LeasePhase::Ready);
    let default = lifecycle::lease_status(&fake, LEASE, Some(NS)).expect("status");
    assert_eq!(default.phase, LeasePhase::Pending);
}
