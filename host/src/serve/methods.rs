//! The methods of `leasebox serve`: parameters in, a result or a typed
//! error out. Each call runs on the module that was current when it
//! started, through that module's guard, within the operator's limits.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::log::{self, LogFields};
use super::rpc::{
    INTERNAL_ERROR, INVALID_PARAMS, LOCAL_FILES, METHOD_NOT_FOUND, MODULE_FAILED, MODULE_REFUSED,
    NO_CLUSTER, POLICY_REFUSED, REQUEST_CANCELLED, RpcError,
};
use super::sweeper::SweepState;
use crate::cluster::io::CallerIo;
use crate::contract::lease_json;
use crate::contract::{Command, Failure, Lease, PolicyError};
use crate::lifecycle::slot::{Loaded, PolicySlot, SwapError};
use crate::lifecycle::{
    CallContext, CommandSpec, DEFAULT_COMPANY, LeaseSpec, Lifecycle, LifecycleError, Target,
    mint_lease_id,
};
use crate::render;
use crate::runtime::Cancel;
use crate::serve::metrics::Metrics;
use crate::settings::HostSettings;

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
];

/// What one call has: the module, the operator's settings, its
/// cancellation, the caller's streams (for exec), what its log lines say
/// and the server's instruments.
pub struct Call<'a> {
    /// The server's module slot.
    pub slot: &'a PolicySlot,
    /// The module current when the call started.
    pub loaded: Arc<Loaded>,
    /// The operator's settings.
    pub settings: &'a HostSettings,
    /// Cancels this call.
    pub cancel: Cancel,
    /// Output and stdin of an exec.
    pub caller: CallerIo,
    /// What the call's log lines (and its module's) say of it.
    pub log: LogFields,
    /// The server's instruments.
    pub metrics: &'a Metrics,
    /// The background sweep (for `health`).
    pub sweep: &'a SweepState,
}

impl<'a> Call<'a> {
    /// The lifecycle of the module this call runs on.
    pub(super) fn lifecycle(&self) -> Lifecycle<'_> {
        Lifecycle::new(&self.loaded, self.settings)
    }

    /// What the call brings to the lifecycle: its cancellation, the
    /// caller's streams, and its log lines.
    pub(super) fn context(&self) -> CallContext {
        CallContext {
            cancel: self.cancel.clone(),
            caller: self.caller.clone(),
            logger: log::logger(self.log.clone()),
        }
    }

    /// This call, its log lines naming `lease` and its company.
    pub(super) fn about(&self, lease: &Lease) -> Call<'a> {
        Call {
            log: LogFields {
                lease_id: Some(lease.id.clone()),
                company: Some(lease.company_id.clone()),
                ..self.log.clone()
            },
            loaded: self.loaded.clone(),
            cancel: self.cancel.clone(),
            caller: self.caller.clone(),
            ..*self
        }
    }

    /// Lease `lease_id` found again, and this call with its log lines
    /// naming it.
    pub(super) fn leased(
        &self,
        lease_id: &str,
        namespace: Option<&str>,
    ) -> Result<(Call<'a>, Lease), RpcError> {
        let lease = self.resume(lease_id, namespace).map_err(rpc_error)?;
        Ok((self.about(&lease), lease))
    }

    /// Lease `lease_id` found again by its labels.
    pub(super) fn resume(
        &self,
        lease_id: &str,
        namespace: Option<&str>,
    ) -> Result<Lease, LifecycleError> {
        let target = Target {
            lease_id: lease_id.to_string(),
            namespace: namespace.map(str::to_string),
        };
        self.lifecycle().resume(&self.context(), &target)
    }
}

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

/// The params as `T`; `-32602` naming the field otherwise.
pub(super) fn parse<T: DeserializeOwned>(params: Value) -> Result<T, RpcError> {
    let params = if params.is_null() { json!({}) } else { params };
    serde_json::from_value(params).map_err(|e| RpcError::invalid_params(format!("params: {e}")))
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
    let outcome = call.lifecycle().acquire(&call.context(), &p.spec(), &id);
    let (backend, label) = match &outcome {
        Ok(lease) => (lease_json::backend_name(lease.backend), "ok"),
        Err(error) => ("unknown", error.reason()),
    };
    call.metrics.acquired(backend, label, started.elapsed());
    Ok(lease_json::to_json(&outcome.map_err(rpc_error)?))
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

/// A command and how it runs.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct ExecParams {
    pub(super) lease_id: String,
    pub(super) namespace: Option<String>,
    command: Option<Vec<String>>,
    shell: Option<String>,
    cwd: Option<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    timeout_ms: Option<u64>,
    /// The caller sends stdin with `exec/stdin` notifications, ended by
    /// `exec/stdinEnd`.
    #[serde(default)]
    pub(super) stdin: bool,
    max_stdout_bytes: Option<u64>,
    max_stderr_bytes: Option<u64>,
}

impl ExecParams {
    pub(super) fn spec(&self) -> Result<CommandSpec, RpcError> {
        let command = match (&self.command, &self.shell) {
            (Some(argv), None) if !argv.is_empty() => Command::Argv(argv.clone()),
            (None, Some(script)) => Command::Shell(script.clone()),
            _ => {
                return Err(RpcError::new(
                    INVALID_PARAMS,
                    "invalid-params",
                    "params: give exactly one of `command` (a non-empty argv) and `shell` (a \
                     string)",
                ));
            }
        };
        Ok(CommandSpec {
            command,
            cwd: self.cwd.clone(),
            env: self.env.clone().into_iter().collect(),
            timeout: self.timeout_ms.map(Duration::from_millis),
            forward_stdin: self.stdin,
            max_stdout_bytes: self.max_stdout_bytes,
            max_stderr_bytes: self.max_stderr_bytes,
        })
    }
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

/// A lifecycle error as a JSON-RPC error: its code by kind (a
/// cancellation, at any depth, `-32800`), its `data.reason` the lifecycle's
/// label, and for a refusal what the module said.
pub fn rpc_error(error: LifecycleError) -> RpcError {
    let reason = error.reason();
    let code = match &error {
        _ if reason == "cancelled" => REQUEST_CANCELLED,
        LifecycleError::NoCluster => NO_CLUSTER,
        LifecycleError::LeaseId(_) => INTERNAL_ERROR,
        LifecycleError::Runtime(_) | LifecycleError::BadAnswer(_) => MODULE_FAILED,
        LifecycleError::Policy(_) => POLICY_REFUSED,
        LifecycleError::Files(_) => LOCAL_FILES,
    };
    let mut answer = RpcError::new(code, reason, error.to_string());
    if let (LifecycleError::Policy(refusal), Some(data)) = (&error, answer.data.as_object_mut())
        && let Value::Object(said) = refusal_data(refusal)
    {
        data.extend(said);
    }
    answer
}

fn failure_json(failure: &Failure) -> Value {
    json!({
        "step": failure.step,
        "failureReason": failure.reason,
        "rolledBack": failure.rolled_back.iter().map(lease_json::object_json).collect::<Vec<_>>(),
        "leftBehind": failure.left_behind.iter().map(lease_json::object_json).collect::<Vec<_>>(),
    })
}

/// What a refusal carries besides its reason: the configuration's errors,
/// or the failed step and what it rolled back and left behind.
fn refusal_data(refusal: &PolicyError) -> Value {
    match refusal {
        PolicyError::InvalidConfig(issues) => json!({ "errors": render::issues(issues) }),
        PolicyError::Failed(f) | PolicyError::Cancelled(f) => failure_json(f),
        PolicyError::NotAllowed(_) | PolicyError::LeaseNotFound(_) | PolicyError::BadRequest(_) => {
            Value::Null
        }
    }
}
