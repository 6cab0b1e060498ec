//! Plain object verbs: server-side apply, create, get, list, delete, and the
//! server version. Objects travel as JSON text.

use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions, PropagationPolicy,
};
use kube::core::{DynamicObject, TypeMeta};
use serde_json::Value;

use super::resources::Resolved;
use super::{Ctx, FIELD_MANAGER};
use crate::cluster::manifest::Manifest;
use crate::contract::{DeleteOptions, KubeError, ObjectRef, Propagation};

/// The text of a manifest (a host-filled Secret's), parsed and checked as a
/// write needs it.
pub(crate) fn parse_manifest(manifest: &str) -> Result<Manifest, KubeError> {
    let value: Value = serde_json::from_str(manifest)
        .map_err(|e| KubeError::BadArgument(format!("the manifest is not JSON: {e}")))?;
    let m = Manifest::from_value(value);
    writable(&m)?;
    Ok(m)
}

/// What every write needs of a manifest: an object with apiVersion and
/// kind.
fn writable(m: &Manifest) -> Result<(), KubeError> {
    if !m.value.is_object() {
        return Err(KubeError::BadArgument(
            "the manifest is not a JSON object".into(),
        ));
    }
    if m.api_version.is_empty() || m.kind.is_empty() {
        return Err(KubeError::BadArgument(
            "the manifest needs apiVersion and kind".into(),
        ));
    }
    Ok(())
}

/// The API for one kind in one namespace (`None`: all namespaces, or
/// cluster-scoped).
pub(crate) fn api(ctx: &Ctx, resolved: &Resolved, namespace: Option<&str>) -> Api<DynamicObject> {
    match namespace {
        Some(ns) if resolved.namespaced => {
            Api::namespaced_with(ctx.client.clone(), ns, &resolved.resource)
        }
        _ => Api::all_with(ctx.client.clone(), &resolved.resource),
    }
}

/// The API a write goes to; a namespaced kind needs its namespace.
async fn write_api(ctx: &Ctx, m: &Manifest, verb: &str) -> Result<Api<DynamicObject>, KubeError> {
    let resolved = ctx
        .resolver
        .resolve(&ctx.client, &m.api_version, &m.kind)
        .await?;
    if resolved.namespaced && m.namespace.is_none() {
        return Err(KubeError::BadArgument(format!(
            "{verb} {} {:?}: metadata.namespace is missing for a namespaced kind",
            m.kind, m.name
        )));
    }
    Ok(api(ctx, &resolved, m.namespace.as_deref()))
}

/// Serialises an object, filling apiVersion/kind when the server left them
/// out (list items do).
pub(crate) fn to_json(
    mut object: DynamicObject,
    api_version: &str,
    kind: &str,
) -> Result<String, KubeError> {
    if object.types.is_none() {
        object.types = Some(TypeMeta {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
        });
    }
    serde_json::to_string(&object)
        .map_err(|e| KubeError::Transport(format!("cannot encode a {kind}: {e}")))
}

/// Server-side apply with field manager `leasebox`, forced.
pub(crate) async fn apply(ctx: &Ctx, m: &Manifest) -> Result<String, KubeError> {
    writable(m)?;
    if m.name.is_empty() {
        return Err(KubeError::BadArgument(format!(
            "apply {}: metadata.name is missing",
            m.kind
        )));
    }
    let api = write_api(ctx, m, "apply").await?;
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let step = format!("apply {} {}", m.kind, m.name);
    let patch = Patch::Apply(&m.value);
    let stored = ctx
        .call(&step, || api.patch(&m.name, &params, &patch))
        .await?;
    to_json(stored, &m.api_version, &m.kind)
}

/// Plain create (POST); returns the server's answer.
pub(crate) async fn create(ctx: &Ctx, m: &Manifest) -> Result<String, KubeError> {
    writable(m)?;
    let api = write_api(ctx, m, "create").await?;
    let object: DynamicObject = serde_json::from_value(m.value.clone()).map_err(|e| {
        KubeError::BadArgument(format!(
            "create {}: the manifest is not an object: {e}",
            m.kind
        ))
    })?;
    let step = format!("create {} {}", m.kind, m.name);
    let post = PostParams::default();
    let answer = ctx.call(&step, || api.create(&post, &object)).await?;
    to_json(answer, &m.api_version, &m.kind)
}

/// The server's `gitVersion`.
pub(crate) async fn server_version(ctx: &Ctx) -> Result<String, KubeError> {
    let info = ctx
        .call("read the server version", || ctx.client.apiserver_version())
        .await?;
    Ok(info.git_version)
}

/// Reads one object; `None` when it does not exist.
pub(crate) async fn get(ctx: &Ctx, target: &ObjectRef) -> Result<Option<String>, KubeError> {
    let resolved = ctx
        .resolver
        .resolve(&ctx.client, &target.api_version, &target.kind)
        .await?;
    let api = api(ctx, &resolved, target.namespace.as_deref());
    let step = format!("get {} {}", target.kind, target.name);
    match ctx.call(&step, || api.get_opt(&target.name)).await? {
        Some(object) => to_json(object, &target.api_version, &target.kind).map(Some),
        None => Ok(None),
    }
}

/// Lists objects (all pages); `namespace` none lists every namespace.
pub(crate) async fn list(
    ctx: &Ctx,
    api_version: &str,
    kind: &str,
    namespace: Option<&str>,
    label_selector: &str,
) -> Result<Vec<String>, KubeError> {
    let resolved = ctx.resolver.resolve(&ctx.client, api_version, kind).await?;
    let api = api(ctx, &resolved, namespace);
    let mut params = ListParams::default();
    if !label_selector.is_empty() {
        params = params.labels(label_selector);
    }
    let step = format!("list {kind}");
    let mut out = Vec::new();
    loop {
        let page = ctx.call(&step, || api.list(&params)).await?;
        let next = page.metadata.continue_.clone().filter(|c| !c.is_empty());
        for item in page.items {
            out.push(to_json(item, api_version, kind)?);
        }
        match next {
            Some(token) => params.continue_token = Some(token),
            None => return Ok(out),
        }
    }
}

/// The delete parameters for `options`.
pub(crate) fn delete_params(options: &DeleteOptions) -> DeleteParams {
    DeleteParams {
        dry_run: false,
        grace_period_seconds: options.grace_period_seconds,
        propagation_policy: Some(match options.propagation {
            Propagation::Foreground => PropagationPolicy::Foreground,
            Propagation::Background => PropagationPolicy::Background,
            Propagation::Orphan => PropagationPolicy::Orphan,
        }),
        preconditions: options.precondition_uid.clone().map(|uid| Preconditions {
            uid: Some(uid),
            resource_version: None,
        }),
    }
}

/// Deletes; `false` when the object was already gone. A uid precondition
/// that does not match is a conflict.
pub(crate) async fn delete(
    ctx: &Ctx,
    target: &ObjectRef,
    options: &DeleteOptions,
) -> Result<bool, KubeError> {
    let resolved = ctx
        .resolver
        .resolve(&ctx.client, &target.api_version, &target.kind)
        .await?;
    let api = api(ctx, &resolved, target.namespace.as_deref());
    let params = delete_params(options);
    let step = format!("delete {} {}", target.kind, target.name);
    match ctx.call(&step, || api.delete(&target.name, &params)).await {
        Ok(_) => Ok(true),
        Err(KubeError::NotFound(_)) => Ok(false),
        Err(other) => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_fields_are_read() {
        let m = parse_manifest(
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"n"}}"#,
        );
        let m = m.map(|m| (m.api_version, m.kind, m.name, m.namespace));
        assert_eq!(
            m,
            Ok(("v1".into(), "Pod".into(), "p".into(), Some("n".into())))
        );
    }

    #[test]
    fn manifest_without_kind_is_refused() {
        assert!(matches!(
            parse_manifest(r#"{"apiVersion":"v1"}"#),
            Err(KubeError::BadArgument(_))
        ));
    }

    #[test]
    fn manifest_that_is_not_json_is_refused() {
        assert!(matches!(
            parse_manifest("apiVersion: v1"),
            Err(KubeError::BadArgument(_))
        ));
    }

    #[test]
    fn delete_options_become_query_and_body() {
        let params = delete_params(&DeleteOptions {
            propagation: Propagation::Foreground,
            precondition_uid: Some("u-1".into()),
            grace_period_seconds: Some(0),
        });
        let body = serde_json::to_value(&params).unwrap_or_default();
        assert_eq!(body["propagationPolicy"], "Foreground");
        assert_eq!(body["preconditions"]["uid"], "u-1");
        assert_eq!(body["gracePeriodSeconds"], 0);
    }
}
