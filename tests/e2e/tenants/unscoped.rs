//! A call for no company and no lease: `validate-config` as `leasebox
//! acquire` calls it before the acquire. It reaches no cluster: it neither
//! writes nor deletes in another company's tenant.

use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, PostParams};
use serde_json::json;

use super::{Call, OtherTenant, hostile};
use crate::support::case::Case;

/// The tenant-wide deny-all (`guest/src/names.rs`).
const DENY_ALL: &str = "leasebox-deny-all";

#[test]
fn validate_config_deletes_nothing_of_another_companys_tenant() {
    let Some(case) = Case::start("red-unscoped-a") else {
        return;
    };
    let victim = OtherTenant::make(&case, "red-unscoped-v");
    let policies = Api::<NetworkPolicy>::namespaced(case.client(), &victim.namespace);
    let deny_all: NetworkPolicy = serde_json::from_value(json!({
        "metadata": {
            "name": DENY_ALL,
            "labels": { "app.kubernetes.io/managed-by": "leasebox" }
        },
        "spec": { "podSelector": {}, "policyTypes": ["Ingress", "Egress"] }
    }))
    .expect("the literal is a NetworkPolicy");
    case.block_on(policies.create(&PostParams::default(), &deny_all))
        .unwrap_or_else(|e| panic!("creating {}/{DENY_ALL}: {e}", victim.namespace));

    let attack = json!({
        "attack": "delete-foreign-deny-all",
        "during": "validate",
        "namespace": victim.namespace
    });
    let output = hostile(&case, Call::Acquire, &attack);
    let left = case
        .block_on(policies.get_opt(DENY_ALL))
        .unwrap_or_else(|e| panic!("{}/{DENY_ALL}: {e}", victim.namespace));
    let still = left.is_some_and(|p| p.metadata.deletion_timestamp.is_none());
    assert!(
        still,
        "validate-config deleted {}/{DENY_ALL}\n{}",
        victim.namespace,
        output.describe()
    );
    drop(victim);
    case.finish();
}
