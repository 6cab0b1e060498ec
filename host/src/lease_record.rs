//! Everything the host does with the fields of the `lease` record
//! (`wit/types.wit`): the JSON the CLI prints, and the conversions to and
//! from contract 0.1.0.
//!
//! Each function takes the record apart with a pattern that names every
//! field, so a field added to the WIT fails to compile here, and only
//! here, until the host says what it does with it.

use serde_json::{Value, json};

use crate::runtime::types::{Backend, Lease, ObjectRef};
use crate::runtime::v0_1_types as old;

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

/// A lease of a 0.1.0 module; `module_sha256` is that module's.
pub(crate) fn up_from_v0_1(lease: old::Lease, module_sha256: &str) -> Lease {
    let old::Lease {
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
    } = lease;
    Lease {
        id,
        namespace,
        backend: crate::runtime::v0_1_backend_up(backend),
        workload: crate::runtime::v0_1_object_ref_up(workload),
        pod,
        container,
        secret,
        company_id,
        run_id,
        adapter_type,
        image,
        created_at,
        expires_at,
        module_sha256: module_sha256.to_string(),
    }
}

/// A lease for a 0.1.0 module (which has no `module-sha256`).
pub(crate) fn down_to_v0_1(lease: &Lease) -> old::Lease {
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
        module_sha256: _,
    } = lease.clone();
    old::Lease {
        id,
        namespace,
        backend: crate::runtime::v0_1_backend_down(backend),
        workload: crate::runtime::v0_1_object_ref_down(workload),
        pod,
        container,
        secret,
        company_id,
        run_id,
        adapter_type,
        image,
        created_at,
        expires_at,
    }
}
