//! The methods of `leasebox serve`: parameters in, a result or a typed
//! error out. Each call runs on the module that was current when it
//! started, through that module's guard, within the operator's limits.

use std::num::NonZeroU32;
use std::time::Instant;

use serde::Deserialize;
use serde_json::{Value, json};

use super::call::{Call, parse, rpc_error};
use super::exec_params::ExecParams;
use super::rpc::{METHOD_NOT_FOUND, MODULE_FAILED, MODULE_REFUSED, RpcError};
use crate::contract::lease_json;
use crate::lifecycle::slot::{Loaded, PolicySlot, SwapError};
use crate::lifecycle::{DEFAULT_COMPANY, LeaseSpec, Target, mint_lease_id};
use crate::render;

/// Every method `serve` answers (`$/cancelRequest` and the `exec/stdin`
/// notifications are handled by the connection).
pub const METHODS: &[&str] = &[
    "validate",
    "schema",
    "plan",
    "probe",
    "acquire",
    "realizeWorkspace",
    "exec",
    "release",
    "renew",
    "list",
    "status",
    "sweep",
    "health",
    "policy.info",
    "policy.reload",
    "pool.ensure",
];

/// Runs method `method` with `params`.
pub fn call(call: &Call<'_>, method: &str, params: Value) -> Result<Value, RpcError> {
    match method {
        "validate" => validate(call, parse(params)?),
        "schema" => schema(call, parse(params)?),
        "plan" => plan(call, parse(params)?),
        "probe" => probe(call, parse(params)?),
        "acquire" => acquire(call, parse(params)?),
        "realizeWorkspace" => realize_workspace(call, parse(params)?),
        "exec" => exec(call, parse(params)?),
        "release" => release(call, parse(params)?),
        "renew" => renew(call, parse(params)?),
        "list" => list(call, parse(params)?),
        "status" => status(call, parse(params)?),
        "sweep" => sweep(call, parse(params)?),
        "health" => health(call, parse(params)?),
        "policy.info" => {
            parse::<Empty>(params)?;
            Ok(info(&call.loaded, call.slot))
        }
        "policy.reload" => reload(call, parse(params)?),
        "pool.ensure" => ensure_pool(call, parse(params)?),
        other if super::sessions::METHODS.contains(&other) => {
            super::sessions::call(call, other, params)
        }
        other if super::transfers::METHODS.contains(&other) => {
            super::transfers::call(call, other, params)
        }
        other => Err(method_not_found(other)),
    }
}

/// `-32601` for `method`, listing every method.
pub(super) fn method_not_found(method: &str) -> RpcError {
    RpcError::new(
        METHOD_NOT_FOUND,
        "method-not-found",
        format!(
            "no method `{method}`; the methods are {}, {}, {}",
            METHODS.join(", "),
            super::sessions::METHODS.join(", "),
            super::transfers::METHODS.join(", ")
        ),
    )
}

/// No parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

/// A configuration: a JSON object, or its text.
fn config_text(config: &Value) -> String {
    match config {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigParams {
    config: Value,
}

fn validate(call: &Call<'_>, p: ConfigParams) -> Result<Value, RpcError> {
    let report = call
        .lifecycle()
        .validate(&call.context(), &config_text(&p.config))
        .map_err(rpc_error)?;
    render::validation_report(&report).map_err(|e| RpcError::new(MODULE_FAILED, "bad-answer", e))
}

fn schema(call: &Call<'_>, _: Empty) -> Result<Value, RpcError> {
    call.lifecycle().schema(&call.context()).map_err(rpc_error)
}

/// What a lease is for.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LeaseParams {
    config: Value,
    #[serde(default = "default_company")]
    company_id: String,
    run_id: Option<String>,
    lease_id: Option<String>,
    now: Option<String>,
    adapter_type: Option<String>,
    image: Option<String>,
    #[serde(default)]
    command: Vec<String>,
}

fn default_company() -> String {
    DEFAULT_COMPANY.into()
}

impl LeaseParams {
    fn spec(&self) -> LeaseSpec {
        LeaseSpec {
            config: config_text(&self.config),
            company_id: self.company_id.clone(),
            run_id: self.run_id.clone(),
            adapter_type: self.adapter_type.clone(),
            image: self.image.clone(),
            command: self.command.clone(),
            now: self.now.clone(),
        }
    }
}

/// `pool.ensure`: the warm pool of a configuration (and adapter and
/// image) for a company brought to its size now, within the operator's
/// caps; answers what the pool holds.
fn ensure_pool(call: &Call<'_>, p: LeaseParams) -> Result<Value, RpcError> {
    if p.lease_id.is_some() || p.run_id.is_some() || !p.command.is_empty() {
        return Err(RpcError::invalid_params(
            "params: a pool belongs to no lease or run; leave out `leaseId`, `runId` and \
             `command`",
        ));
    }
    let report = call
        .lifecycle()
        .ensure_pool(&call.context(), &p.spec())
        .map_err(rpc_error)?;
    call.metrics.pool_ensured(&report);
    Ok(render::pool_report(&report))
}

fn plan(call: &Call<'_>, p: LeaseParams) -> Result<Value, RpcError> {
    let manifests = call
        .lifecycle()
        .plan(&call.context(), &p.spec(), p.lease_id.as_deref())
        .map_err(rpc_error)?;
    Ok(json!({ "manifests": manifests }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ProbeParams {
    config: Value,
    #[serde(default = "default_company")]
    company_id: String,
}

fn probe(call: &Call<'_>, p: ProbeParams) -> Result<Value, RpcError> {
    let report = call
        .lifecycle()
        .probe(&call.context(), &config_text(&p.config), &p.company_id)
        .map_err(rpc_error)?;
    Ok(render::probe_report(&report))
}

fn acquire(call: &Call<'_>, p: LeaseParams) -> Result<Value, RpcError> {
    if p.lease_id.is_some() {
        return Err(RpcError::invalid_params(
            "params: `leaseId` is minted by the host for acquire; leave it out",
        ));
    }
    let id = mint_lease_id().map_err(rpc_error)?;
    let call = Call {
        log: call.log.with_lease(&id),
        caller: call.caller.clone(),
        cancel: call.cancel.clone(),
        loaded: call.loaded.clone(),
        ..*call
    };
    let started = Instant::now();
    let spec = p.spec();
    let outcome = call.lifecycle().acquire(&call.context(), &spec, &id);
    let (backend, label) = match &outcome {
        Ok(acquired) => (lease_json::backend_name(acquired.lease.backend), "ok"),
        Err(error) => ("unknown", error.reason()),
    };
    call.metrics.acquired(backend, label, started.elapsed());
    if let Ok(acquired) = &outcome {
        call.metrics.pool_acquire(acquired.warm);
    }
    super::refill::refill(
        call.loaded.clone(),
        call.settings,
        &spec,
        call.context().logger,
        call.metrics.clone(),
    );
    Ok(outcome.map_err(rpc_error)?.to_json())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TargetParams {
    lease_id: String,
    namespace: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RealizeParams {
    lease_id: String,
    namespace: Option<String>,
    path: Option<String>,
}

fn realize_workspace(call: &Call<'_>, p: RealizeParams) -> Result<Value, RpcError> {
    let lease = call
        .resume(&p.lease_id, p.namespace.as_deref())
        .map_err(rpc_error)?;
    let call = &call.about(&lease);
    let status = call
        .lifecycle()
        .upload(&call.context(), &lease, p.path.as_deref())
        .map_err(rpc_error)?;
    Ok(render::exec_status(&status))
}

fn exec(call: &Call<'_>, p: ExecParams) -> Result<Value, RpcError> {
    let spec = p.spec()?;
    let lease = call
        .resume(&p.lease_id, p.namespace.as_deref())
        .map_err(rpc_error)?;
    let call = &call.about(&lease);
    let status = call
        .lifecycle()
        .exec(&call.context(), lease, &spec)
        .map_err(rpc_error)?;
    Ok(render::exec_status(&status))
}

fn release(call: &Call<'_>, p: TargetParams) -> Result<Value, RpcError> {
    let lease = match call.resume(&p.lease_id, p.namespace.as_deref()) {
        Ok(lease) => lease,
        Err(error) if error.is_lease_not_found() => {
            return Ok(json!({"deleted": [], "alreadyGone": true}));
        }
        Err(error) => return Err(rpc_error(error)),
    };
    let call = &call.about(&lease);
    let report = call
        .lifecycle()
        .release(&call.context(), &lease)
        .map_err(rpc_error)?;
    Ok(render::release_report(&report))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RenewParams {
    lease_id: String,
    namespace: Option<String>,
    ttl_seconds: u32,
    now: Option<String>,
}

fn renew(call: &Call<'_>, p: RenewParams) -> Result<Value, RpcError> {
    let ttl = NonZeroU32::new(p.ttl_seconds)
        .ok_or_else(|| RpcError::invalid_params("params: `ttlSeconds` must be at least 1"))?;
    let lease = call
        .resume(&p.lease_id, p.namespace.as_deref())
        .map_err(rpc_error)?;
    let call = &call.about(&lease);
    let renewed = call
        .lifecycle()
        .renew(&call.context(), &lease, ttl, p.now.as_deref())
        .map_err(rpc_error)?;
    Ok(lease_json::to_json(&renewed))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ListParams {
    company_id: Option<String>,
    namespace: Option<String>,
}

fn list(call: &Call<'_>, p: ListParams) -> Result<Value, RpcError> {
    let leases = call
        .lifecycle()
        .list(
            &call.context(),
            p.company_id.as_deref(),
            p.namespace.as_deref(),
        )
        .map_err(rpc_error)?;
    Ok(json!({ "leases": leases.iter().map(lease_json::to_json).collect::<Vec<_>>() }))
}

fn status(call: &Call<'_>, p: TargetParams) -> Result<Value, RpcError> {
    let target = Target {
        lease_id: p.lease_id,
        namespace: p.namespace,
    };
    let status = call
        .lifecycle()
        .status(&call.context(), &target)
        .map_err(rpc_error)?;
    Ok(render::lease_status(&status))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SweepParams {
    now: Option<String>,
    namespace: Option<String>,
}

fn sweep(call: &Call<'_>, p: SweepParams) -> Result<Value, RpcError> {
    let report = call
        .lifecycle()
        .sweep(&call.context(), p.now.as_deref(), p.namespace.as_deref())
        .map_err(rpc_error)?;
    Ok(render::sweep_report(&report))
}

fn health(call: &Call<'_>, _: Empty) -> Result<Value, RpcError> {
    Ok(json!({
        "ok": true,
        "module": info(&call.loaded, call.slot),
        "cluster": if call.slot.has_cluster() { "configured" } else { "none" },
        "swaps": call.slot.swaps(),
        "refusedModules": call.slot.refusals(),
        "guardDenials": call.slot.denials().snapshot(),
        "sweep": call.sweep.to_json(call.settings),
    }))
}

/// `{"source","sha256","contract","sizeBytes"}` of a module.
pub fn info(loaded: &Loaded, slot: &PolicySlot) -> Value {
    json!({
        "source": loaded.policy.name(),
        "sha256": loaded.policy.sha256(),
        "contract": loaded.policy.contract().version(),
        "sizeBytes": loaded.policy.size(),
        "watched": slot.path().map(|p| p.display().to_string()),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReloadParams {
    path: Option<std::path::PathBuf>,
}

/// `policy.reload`: without a path, the operator's own module file again;
/// with one, only as `serve.reload` in the host settings allows
/// ([`crate::settings::ReloadSettings`]), and then the resolved path.
fn reload(call: &Call<'_>, p: ReloadParams) -> Result<Value, RpcError> {
    let path = match p.path.as_deref() {
        None => None,
        Some(path) => Some(call.settings.serve.reload.admit(path).map_err(|refused| {
            RpcError::new(
                MODULE_REFUSED,
                refused.reason(),
                format!("module refused, the current one keeps serving: {refused}"),
            )
        })?),
    };
    let loaded = call
        .slot
        .reload(path.as_deref())
        .map_err(|error| swap_error(&error))?;
    Ok(info(&loaded, call.slot))
}

/// A refused module as `-32004`.
pub fn swap_error(error: &SwapError) -> RpcError {
    let reason = match error {
        SwapError::Read { .. } => "unreadable",
        SwapError::Load(_) => "not-a-policy-module",
        SwapError::Smoke(_) => "smoke-call-failed",
        SwapError::NoPath => "no-module-file",
    };
    RpcError::new(
        MODULE_REFUSED,
        reason,
        format!("module refused, the current one keeps serving: {error}"),
    )
}

/// The metrics label of a call's answer: `ok`, or the error's
/// `data.reason`.
pub fn outcome(result: &Result<Value, RpcError>) -> &str {
    match result {
        Ok(_) => "ok",
        Err(error) => error.reason(),
    }
}
