//! The per-run Secret `<lease>-env`, whose values the host fills: the
//! policy never sees an API key.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;

use super::context::Context;
use super::object::{controller_reference, meta, to_value};
use crate::cluster::HostSecretRequest;
use crate::lease::{EnvVar, ObjectRef};
use crate::names;

/// Key of the bootstrap token: 32 random bytes, hex, made by the host.
pub const BOOTSTRAP_TOKEN: &str = "BOOTSTRAP_TOKEN";

/// The Secret request of a lease: an Opaque Secret without data (lease
/// labels, owned by the workload when `owner` is given), the bootstrap
/// token as a random key, the adapter's env keys copied by the host and its
/// default env as literals.
///
/// An adapter cannot override the bootstrap token: that key is dropped
/// from its env keys and defaults. Without an owner (a plan), the manifest
/// is annotated with every key the Secret will hold
/// ([`names::ANNOTATION_HOST_FILLED_KEYS`]), since it shows no data.
pub fn secret(ctx: &Context, owner: Option<&ObjectRef>) -> HostSecretRequest {
    let random_keys = vec![BOOTSTRAP_TOKEN.to_string()];
    let mut host_keys: Vec<String> = Vec::new();
    for key in &ctx.adapter.env_keys {
        if !random_keys.contains(key) && !host_keys.contains(key) {
            host_keys.push(key.clone());
        }
    }
    let literal: Vec<EnvVar> = ctx
        .adapter
        .default_env
        .iter()
        .filter(|(name, _)| !random_keys.contains(name) && !host_keys.contains(name))
        .map(|(name, value)| EnvVar {
            name: name.clone(),
            value: value.clone(),
        })
        .collect();

    let mut metadata = meta(
        &names::secret_name(&ctx.lease_id),
        &ctx.namespace,
        ctx.lease_labels(),
    );
    match owner {
        Some(owner) => metadata.owner_references = Some(vec![controller_reference(owner)]),
        None => {
            let keys: Vec<&str> = random_keys
                .iter()
                .chain(&host_keys)
                .map(String::as_str)
                .chain(literal.iter().map(|e| e.name.as_str()))
                .collect();
            metadata.annotations = Some(BTreeMap::from([(
                names::ANNOTATION_HOST_FILLED_KEYS.to_string(),
                keys.join(","),
            )]));
        }
    }
    let manifest = Secret {
        metadata,
        type_: Some("Opaque".to_string()),
        ..Secret::default()
    };

    HostSecretRequest {
        manifest: to_value(&manifest),
        random_keys,
        host_keys,
        literal,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::manifests::fixture;

    fn with_adapter(env_keys: serde_json::Value, default_env: serde_json::Value) -> Context {
        fixture::context(json!({
            "adapterType": "my_agent",
            "adapters": [{
                "adapterType": "my_agent",
                "image": "ghcr.io/acme/agent:1.0.0",
                "envKeys": env_keys,
                "defaultEnv": default_env
            }]
        }))
    }

    #[test]
    fn secret_holds_no_data_and_is_opaque() {
        let ctx = fixture::context(json!({}));
        let manifest = secret(&ctx, None).manifest;
        assert_eq!(manifest["apiVersion"], "v1");
        assert_eq!(manifest["kind"], "Secret");
        assert_eq!(manifest["type"], "Opaque");
        assert_eq!(
            manifest["metadata"]["name"],
            format!("{}-env", ctx.lease_id).as_str()
        );
        assert!(manifest.get("data").is_none());
        assert!(manifest.get("stringData").is_none());
    }

    #[test]
    fn host_fills_the_bootstrap_token_and_adapter_keys() {
        let ctx = with_adapter(json!(["ACME_API_KEY"]), json!({ "ACME_MODE": "fast" }));
        let request = secret(&ctx, None);
        assert_eq!(request.random_keys, ["BOOTSTRAP_TOKEN"]);
        assert_eq!(request.host_keys, ["ACME_API_KEY"]);
        assert_eq!(
            request.literal,
            [EnvVar {
                name: "ACME_MODE".into(),
                value: "fast".into()
            }]
        );
    }

    #[test]
    fn adapter_cannot_override_the_bootstrap_token() {
        let ctx = with_adapter(
            json!(["BOOTSTRAP_TOKEN", "ACME_API_KEY"]),
            json!({ "BOOTSTRAP_TOKEN": "fixed", "ACME_API_KEY": "literal" }),
        );
        let request = secret(&ctx, None);
        assert_eq!(request.random_keys, ["BOOTSTRAP_TOKEN"]);
        assert_eq!(request.host_keys, ["ACME_API_KEY"]);
        assert!(request.literal.is_empty(), "{:?}", request.literal);
    }

    #[test]
    fn planned_secret_lists_every_key_it_will_hold() {
        let ctx = with_adapter(json!(["ACME_API_KEY"]), json!({ "ACME_MODE": "fast" }));
        let manifest = secret(&ctx, None).manifest;
        assert_eq!(
            manifest["metadata"]["annotations"][names::ANNOTATION_HOST_FILLED_KEYS],
            "BOOTSTRAP_TOKEN,ACME_API_KEY,ACME_MODE"
        );
        assert!(manifest["metadata"].get("ownerReferences").is_none());
    }

    #[test]
    fn owned_secret_cascades_with_the_workload() {
        let ctx = fixture::context(json!({}));
        let mut owner = ctx.workload_ref();
        owner.uid = Some("5d1c-uid".into());
        let manifest = secret(&ctx, Some(&owner)).manifest;
        assert_eq!(
            manifest["metadata"]["ownerReferences"],
            json!([{
                "apiVersion": "agents.x-k8s.io/v1beta1",
                "blockOwnerDeletion": true,
                "controller": true,
                "kind": "Sandbox",
                "name": ctx.lease_id,
                "uid": "5d1c-uid"
            }])
        );
        assert!(manifest["metadata"].get("annotations").is_none());
    }

    #[test]
    fn secret_carries_the_lease_labels() {
        let ctx = fixture::context(json!({}));
        let manifest = secret(&ctx, None).manifest;
        assert_eq!(
            manifest["metadata"]["labels"],
            crate::manifests::to_value(&ctx.lease_labels())
        );
    }
}
