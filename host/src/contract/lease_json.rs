//! The `lease` record (`wit/types.wit`) as the JSON the CLI prints and
//! serve answers (camelCase keys).
//!
//! Each function takes the record apart with a pattern that names every
//! field, so a field added to the WIT fails to compile here (and in the
//! 0.1.0 conversions) until the host says what it does with it.

use serde_json::{Value, json};

use super::{Backend, Lease, ObjectRef};

/// `sandbox-cr`, `job` or `pod`, as in the configuration.
pub fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::SandboxCr => "sandbox-cr",
        Backend::Job => "job",
        Backend::Pod => "pod",
    }
}

/// An object as `{apiVersion,kind,namespace,name,uid}`.
pub fn object_json(object: &ObjectRef) -> Value {
    let ObjectRef {
        api_version,
        kind,
        namespace,
        name,
        uid,
    } = object;
    json!({
        "apiVersion": api_version,
        "kind": kind,
        "namespace": namespace,
        "name": name,
        "uid": uid,
    })
}

/// The lease as the JSON document the CLI prints (camelCase keys).
pub fn to_json(lease: &Lease) -> Value {
    let Lease {
        id,
        namespace,
        backend,
        workload,
        pod,
        container,
        secret,
        company_id,
        run_id,
        adapter_type,
        image,
        created_at,
        expires_at,
        module_sha256,
    } = lease;
    json!({
        "id": id,
        "namespace": namespace,
        "backend": backend_name(*backend),
        "pod": pod,
        "container": container,
        "secret": secret,
        "workload": object_json(workload),
        "companyId": company_id,
        "runId": run_id,
        "adapterType": adapter_type,
        "image": image,
        "createdAt": created_at,
        "expiresAt": expires_at,
        "moduleSha256": module_sha256,
    })
}
