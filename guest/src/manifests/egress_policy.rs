//! The egress allow policy of one lease, and the tenant-wide policies of
//! 0.1 that it replaces.
//!
//! Since 0.2 each lease has its own policy, `<lease>-egress`, selecting
//! only its pod (by the lease label) and built from its own adapter and
//! image, so acquiring a lease never changes the egress of another lease
//! of the same company, and two acquires cannot race on one shared object.
//! The policy is owned by the workload: the garbage collector removes it
//! with the lease.

use super::cilium_policy;
use super::context::Context;
use super::network_policy;
use super::object::{controller_reference, meta, to_value};
use crate::config::EgressMode;
use crate::lease::ObjectRef;
use crate::names;

/// The lease's egress policy of the configured mode (a NetworkPolicy, or a
/// CiliumNetworkPolicy), owned by the workload when `owner` is given.
pub fn egress_policy(ctx: &Context, owner: Option<&ObjectRef>) -> serde_json::Value {
    let mut metadata = meta(
        &names::egress_policy_name(&ctx.lease_id),
        &ctx.namespace,
        ctx.lease_labels(),
    );
    metadata.owner_references = owner.map(|o| vec![controller_reference(o)]);
    match ctx.config.egress_mode {
        EgressMode::Standard => to_value(&network_policy::egress_allow(
            metadata,
            &ctx.lease_id,
            &ctx.egress,
        )),
        EgressMode::Cilium => to_value(&cilium_policy::egress_fqdn(
            metadata,
            &ctx.lease_id,
            &ctx.egress,
        )),
    }
}

/// The tenant-wide egress policies of 0.1 in `namespace` (both modes'),
/// which selected every agent pod of the tenant. Acquire deletes them:
/// allows are a union, so a stale broad policy must not survive.
pub fn legacy_egress_policies(namespace: &str) -> Vec<ObjectRef> {
    let object = |api_version: &str, kind: &str, name: &str| ObjectRef {
        api_version: api_version.to_string(),
        kind: kind.to_string(),
        namespace: Some(namespace.to_string()),
        name: name.to_string(),
        uid: None,
    };
    vec![
        object(
            "networking.k8s.io/v1",
            "NetworkPolicy",
            names::EGRESS_POLICY,
        ),
        object(
            cilium_policy::API_VERSION,
            cilium_policy::KIND,
            names::CILIUM_EGRESS_POLICY,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use rstest::rstest;
    use serde_json::json;

    use super::*;
    use crate::manifests::fixture::{self, LEASE};

    fn owner(ctx: &Context) -> ObjectRef {
        let mut owner = ctx.workload_ref();
        owner.uid = Some("0c7e-uid".into());
        owner
    }

    #[rstest]
    #[case::standard("standard", "networking.k8s.io/v1", "NetworkPolicy", "podSelector")]
    #[case::cilium("cilium", "cilium.io/v2", "CiliumNetworkPolicy", "endpointSelector")]
    fn policy_is_named_after_the_lease_and_selects_only_its_pod(
        #[case] mode: &str,
        #[case] api_version: &str,
        #[case] kind: &str,
        #[case] selector: &str,
    ) {
        let ctx = fixture::context(json!({ "egressMode": mode }));
        let policy = egress_policy(&ctx, None);
        assert_eq!(policy["apiVersion"], api_version);
        assert_eq!(policy["kind"], kind);
        assert_eq!(policy["metadata"]["name"], format!("{LEASE}-egress"));
        assert_eq!(policy["metadata"]["namespace"], ctx.namespace.as_str());
        assert_eq!(policy["metadata"]["labels"], to_value(&ctx.lease_labels()));
        assert_eq!(
            policy["spec"][selector],
            json!({ "matchLabels": { "leasebox.dev/lease": LEASE } }),
            "only the lease's pod, never every agent pod of the tenant"
        );
    }

    #[rstest]
    #[case::standard("standard")]
    #[case::cilium("cilium")]
    fn planned_policy_has_no_owner(#[case] mode: &str) {
        let ctx = fixture::context(json!({ "egressMode": mode }));
        assert!(
            egress_policy(&ctx, None)["metadata"]
                .get("ownerReferences")
                .is_none()
        );
    }

    #[rstest]
    #[case::standard_pod("standard", "pod")]
    #[case::standard_job("standard", "job")]
    #[case::cilium_sandbox("cilium", "sandbox-cr")]
    fn policy_is_owned_by_the_workload_uid(#[case] mode: &str, #[case] backend: &str) {
        let ctx = fixture::context(json!({ "egressMode": mode, "backend": backend }));
        let owner = owner(&ctx);
        let policy = egress_policy(&ctx, Some(&owner));
        assert_eq!(
            policy["metadata"]["ownerReferences"],
            json!([{
                "apiVersion": owner.api_version,
                "blockOwnerDeletion": true,
                "controller": true,
                "kind": owner.kind,
                "name": LEASE,
                "uid": "0c7e-uid"
            }])
        );
    }

    fn fqdn_rule(policy: &serde_json::Value) -> serde_json::Value {
        policy["spec"]["egress"]
            .as_array()
            .and_then(|rules| rules.iter().find(|r| r.get("toFQDNs").is_some()))
            .map(|r| r["toFQDNs"].clone())
            .unwrap_or_default()
    }

    #[test]
    fn policy_rules_come_from_the_lease_adapter() {
        let mut ctx = fixture::context(json!({
            "egressMode": "cilium",
            "adapters": [{
                "adapterType": "my_agent",
                "image": "ghcr.io/acme/agent:1.2.3",
                "allowFqdns": ["only.my-agent.example"]
            }],
            "adapterType": "my_agent"
        }));
        assert_eq!(
            fqdn_rule(&egress_policy(&ctx, None)),
            json!([{ "matchName": "only.my-agent.example" }])
        );

        let claude = crate::adapters::find(&ctx.config, "claude_local").expect("built in");
        ctx.egress = crate::egress::plan(&ctx.config, &claude);
        assert_eq!(
            fqdn_rule(&egress_policy(&ctx, None)),
            json!([{ "matchName": "api.anthropic.com" }])
        );
    }

    #[test]
    fn legacy_policies_are_both_modes_tenant_wide_names() {
        let refs = legacy_egress_policies("leasebox-acme");
        let shown: Vec<(&str, &str, &str, Option<&str>)> = refs
            .iter()
            .map(|r| {
                (
                    r.api_version.as_str(),
                    r.kind.as_str(),
                    r.name.as_str(),
                    r.namespace.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            shown,
            [
                (
                    "networking.k8s.io/v1",
                    "NetworkPolicy",
                    "leasebox-egress",
                    Some("leasebox-acme")
                ),
                (
                    "cilium.io/v2",
                    "CiliumNetworkPolicy",
                    "leasebox-egress-fqdn",
                    Some("leasebox-acme")
                ),
            ]
        );
    }

    #[rstest]
    #[case::standard("standard")]
    #[case::cilium("cilium")]
    fn lease_policy_is_never_a_legacy_name(#[case] mode: &str) {
        let ctx = fixture::context(json!({ "egressMode": mode }));
        let applied = ObjectRef::of(&egress_policy(&ctx, None)).expect("object ref");
        for legacy in legacy_egress_policies(&ctx.namespace) {
            assert_ne!(applied.name, legacy.name, "{mode}");
        }
    }
}
