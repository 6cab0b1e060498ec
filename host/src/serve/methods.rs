//! The methods of `leasebox serve`: parameters in, a result or a typed
//! error out. Each call runs on the module that was current when it
//! started, through that module's guard, within the operator's limits.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::log::{self, LogFields};
use super::rpc::{
    INVALID_PARAMS, METHOD_NOT_FOUND, MODULE_FAILED, MODULE_REFUSED, NO_CLUSTER, POLICY_REFUSED,
    REQUEST_CANCELLED, RpcError,
};
use super::slot::{Loaded, PolicySlot, SwapError};
use super::sweeper::SweepState;
use crate::clock::now_rfc3339;
use crate::cluster::io::{CallerIo, ClusterIo, NoCluster};
use crate::lease_record;
use crate::serve::metrics::Metrics;
use crate::render;
use crate::runtime::types::{
    Command, EnvVar, ExecRequest, Failure, Lease, LeaseRequest, PolicyError,
};
use crate::runtime::{CallEnv, Cancel, RuntimeError};
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

/// Time a call that waits on deletions or lists may take.
const LONG_CALL: Duration = Duration::from_secs(600);

/// Time a resume (a few lists) may take.
const RESUME_BUDGET: Duration = Duration::from_secs(60);

/// Slack on top of an exec's own timeout for the module's work.
const EXEC_SLACK: Duration = Duration::from_secs(60);

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
    fn env(&self, cluster: Arc<dyn ClusterIo>, budget: Duration, ceiling: Duration) -> CallEnv {
        CallEnv {
            cluster,
            caller: self.caller.clone(),
            logger: log::logger(self.log.clone()),
            limits: self.settings.guest.limits(budget, ceiling),
            cancel: self.cancel.clone(),
        }
    }

    /// No cluster: for validate, schema, plan.
    fn offline(&self) -> CallEnv {
        self.env(
            Arc::new(NoCluster),
            Duration::ZERO,
            self.settings.guest.call_timeout,
        )
    }

    /// Through the module's guard, within the operator's call timeout.
    fn cluster(&self, budget: Duration) -> Result<CallEnv, RpcError> {
        self.guarded(budget, None, self.settings.guest.call_timeout)
    }

    /// Through the module's guard narrowed to lease `lease`'s pod, within
    /// the operator's exec timeout: for execute and upload.
    fn exec_env(&self, budget: Duration, lease: &str) -> Result<CallEnv, RpcError> {
        self.guarded(budget, Some(lease), self.settings.guest.exec_timeout)
    }

    fn guarded(
        &self,
        budget: Duration,
        lease: Option<&str>,
        ceiling: Duration,
    ) -> Result<CallEnv, RpcError> {
        let guard = self.loaded.guard.as_ref().ok_or_else(|| {
            RpcError::new(
                NO_CLUSTER,
                "no-cluster",
                "this server has no cluster: start serve with --kubeconfig, cluster.kubeconfig \
                 in the host settings, KUBECONFIG, or in a pod",
            )
        })?;
        // The lease (and company) each export is for is taken by the runtime
        // from the export's own arguments; `lease` only names the budget.
        let _ = lease;
        Ok(self.env(Arc::new(guard.clone()), budget, ceiling))
    }

    /// This call, its log lines naming `lease` and its company.
    fn about(&self, lease: &Lease) -> Call<'a> {
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

    /// Lease `lease_id` found again by its labels.
    fn resume(&self, lease_id: &str, namespace: Option<&str>) -> Result<Lease, RpcError> {
        let env = self.cluster(RESUME_BUDGET)?;
        answer(self.loaded.policy.resume_lease(&env, lease_id, namespace))
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
        other => Err(RpcError::new(
            METHOD_NOT_FOUND,
            "method-not-found",
            format!(
                "no method `{other}`; the methods are {}",
                METHODS.join(", ")
            ),
        )),
    }
}

/// The params as `T`; `-32602` naming the field otherwise.
fn parse<T: DeserializeOwned>(params: Value) -> Result<T, RpcError> {
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
        .loaded
        .policy
        .validate_config(&call.offline(), &config_text(&p.config))
        .map_err(runtime_error)?;
    render::validation_report(&report).map_err(|e| RpcError::new(MODULE_FAILED, "bad-answer", e))
}

fn schema(call: &Call<'_>, _: Empty) -> Result<Value, RpcError> {
    let text = call
        .loaded
        .policy
        .config_schema(&call.offline())
        .map_err(runtime_error)?;
    serde_json::from_str(&text).map_err(|e| {
        RpcError::new(
            MODULE_FAILED,
            "bad-answer",
            format!("the module's schema is not JSON: {e}"),
        )
    })
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
    "default".into()
}

impl LeaseParams {
    fn request(&self, lease_id: String) -> LeaseRequest {
        LeaseRequest {
            config: config_text(&self.config),
            company_id: self.company_id.clone(),
            run_id: self.run_id.clone().unwrap_or_else(|| lease_id.clone()),
            lease_id,
            now: self.now.clone().unwrap_or_else(now_rfc3339),
            adapter_type: self.adapter_type.clone(),
            image_override: self.image.clone(),
            command: (!self.command.is_empty()).then(|| Command::Argv(self.command.clone())),
        }
    }
}

fn new_lease_id() -> Result<String, RpcError> {
    crate::lease_id::mint()
        .map_err(|e| RpcError::new(super::rpc::INTERNAL_ERROR, "lease-id", e.to_string()))
}

fn plan(call: &Call<'_>, p: LeaseParams) -> Result<Value, RpcError> {
    let id = match &p.lease_id {
        Some(id) => id.clone(),
        None => new_lease_id()?,
    };
    let manifests = answer(call.loaded.policy.plan(&call.offline(), &p.request(id)))?;
    let manifests = manifests
        .iter()
        .map(|m| serde_json::from_str::<Value>(m))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            RpcError::new(
                MODULE_FAILED,
                "bad-answer",
                format!("a planned manifest is not JSON: {e}"),
            )
        })?;
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
    let env = call.cluster(RESUME_BUDGET)?;
    let report = answer(
        call.loaded
            .policy
            .probe(&env, &config_text(&p.config), &p.company_id),
    )?;
    Ok(render::probe_report(&report))
}

fn acquire(call: &Call<'_>, p: LeaseParams) -> Result<Value, RpcError> {
    if p.lease_id.is_some() {
        return Err(RpcError::invalid_params(
            "params: `leaseId` is minted by the host for acquire; leave it out",
        ));
    }
    let id = new_lease_id()?;
    let call = Call {
        log: call.log.with_lease(&id),
        caller: call.caller.clone(),
        cancel: call.cancel.clone(),
        loaded: call.loaded.clone(),
        ..*call
    };
    let started = Instant::now();
    let env = call.cluster(call.settings.guest.call_timeout)?;
    let outcome = answer(call.loaded.policy.acquire_lease(&env, &p.request(id)));
    let (backend, label) = match &outcome {
        Ok(lease) => (lease_record::backend_name(lease.backend), "ok"),
        Err(error) => ("unknown", error.reason()),
    };
    call.metrics.acquired(backend, label, started.elapsed());
    Ok(lease_record::to_json(&outcome?))
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
    let lease = call.resume(&p.lease_id, p.namespace.as_deref())?;
    let call = &call.about(&lease);
    let env = call.exec_env(LONG_CALL, &lease.id)?;
    let status = answer(
        call.loaded
            .policy
            .realize_workspace(&env, &lease, p.path.as_deref()),
    )?;
    Ok(render::exec_status(&status))
}

/// A command and how it runs.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct ExecParams {
    lease_id: String,
    namespace: Option<String>,
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

fn exec(call: &Call<'_>, p: ExecParams) -> Result<Value, RpcError> {
    let command = match (&p.command, &p.shell) {
        (Some(argv), None) if !argv.is_empty() => Command::Argv(argv.clone()),
        (None, Some(script)) => Command::Shell(script.clone()),
        _ => {
            return Err(RpcError::new(
                INVALID_PARAMS,
                "invalid-params",
                "params: give exactly one of `command` (a non-empty argv) and `shell` (a string)",
            ));
        }
    };
    let lease = call.resume(&p.lease_id, p.namespace.as_deref())?;
    let call = &call.about(&lease);
    let budget = p.timeout_ms.map_or(call.settings.guest.exec_timeout, |ms| {
        Duration::from_millis(ms) + EXEC_SLACK
    });
    let env = call.exec_env(budget, &lease.id)?;
    let request = ExecRequest {
        lease,
        command,
        cwd: p.cwd.clone(),
        env: p
            .env
            .iter()
            .map(|(name, value)| EnvVar {
                name: name.clone(),
                value: value.clone(),
            })
            .collect(),
        forward_stdin: p.stdin,
        timeout_ms: p.timeout_ms,
        max_stdout_bytes: p.max_stdout_bytes,
        max_stderr_bytes: p.max_stderr_bytes,
    };
    let status = answer(call.loaded.policy.execute(&env, &request))?;
    Ok(render::exec_status(&status))
}

fn release(call: &Call<'_>, p: TargetParams) -> Result<Value, RpcError> {
    let lease = match call.resume(&p.lease_id, p.namespace.as_deref()) {
        Ok(lease) => lease,
        Err(error) if error.data["reason"] == "lease-not-found" => {
            return Ok(json!({"deleted": [], "alreadyGone": true}));
        }
        Err(error) => return Err(error),
    };
    let call = &call.about(&lease);
    let env = call.cluster(LONG_CALL)?;
    let report = answer(call.loaded.policy.release_lease(&env, &lease))?;
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
    if p.ttl_seconds == 0 {
        return Err(RpcError::invalid_params(
            "params: `ttlSeconds` must be at least 1",
        ));
    }
    let lease = call.resume(&p.lease_id, p.namespace.as_deref())?;
    let call = &call.about(&lease);
    let env = call.cluster(RESUME_BUDGET)?;
    let now = p.now.clone().unwrap_or_else(now_rfc3339);
    let renewed = answer(
        call.loaded
            .policy
            .renew_lease(&env, &lease, &now, p.ttl_seconds),
    )?;
    Ok(lease_record::to_json(&renewed))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ListParams {
    company_id: Option<String>,
    namespace: Option<String>,
}

fn list(call: &Call<'_>, p: ListParams) -> Result<Value, RpcError> {
    let env = call.cluster(RESUME_BUDGET)?;
    let leases = answer(call.loaded.policy.list_leases(
        &env,
        p.company_id.as_deref(),
        p.namespace.as_deref(),
    ))?;
    Ok(json!({ "leases": leases.iter().map(lease_record::to_json).collect::<Vec<_>>() }))
}

fn status(call: &Call<'_>, p: TargetParams) -> Result<Value, RpcError> {
    let env = call.cluster(RESUME_BUDGET)?;
    let status = answer(call.loaded.policy.lease_status(
        &env,
        &p.lease_id,
        p.namespace.as_deref(),
    ))?;
    Ok(render::lease_status(&status))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SweepParams {
    now: Option<String>,
    namespace: Option<String>,
}

fn sweep(call: &Call<'_>, p: SweepParams) -> Result<Value, RpcError> {
    let env = call.cluster(LONG_CALL)?;
    let now = p.now.clone().unwrap_or_else(now_rfc3339);
    let report = answer(call.loaded.policy.sweep(&env, &now, p.namespace.as_deref()))?;
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
        "source": loaded.source,
        "sha256": loaded.policy.sha256(),
        "contract": loaded.policy.contract(),
        "sizeBytes": loaded.size,
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

/// The outcome of a module call as a result or a typed error.
fn answer<T>(outcome: Result<Result<T, PolicyError>, RuntimeError>) -> Result<T, RpcError> {
    outcome.map_err(runtime_error)?.map_err(policy_error)
}

fn runtime_error(error: RuntimeError) -> RpcError {
    let reason = match &error {
        RuntimeError::Cancelled { .. } => {
            return RpcError::new(REQUEST_CANCELLED, "cancelled", error.to_string());
        }
        RuntimeError::Trap { .. } => "trap",
        RuntimeError::DeadlineExceeded { .. } => "cpu-deadline",
        RuntimeError::Timeout { .. } => "timeout",
        RuntimeError::MemoryLimit { .. } => "memory-cap",
        RuntimeError::Unsupported { .. } => "unsupported",
        _ => "runtime",
    };
    RpcError::new(MODULE_FAILED, reason, error.to_string())
}

fn failure_json(failure: &Failure) -> Value {
    json!({
        "step": failure.step,
        "failureReason": failure.reason,
        "rolledBack": failure.rolled_back.iter().map(lease_record::object_json).collect::<Vec<_>>(),
        "leftBehind": failure.left_behind.iter().map(lease_record::object_json).collect::<Vec<_>>(),
    })
}

fn policy_error(error: PolicyError) -> RpcError {
    let with = |reason: &str, message: String, extra: Value| {
        let mut data = json!({ "reason": reason });
        if let (Some(data), Some(extra)) = (data.as_object_mut(), extra.as_object()) {
            data.extend(extra.clone());
        }
        RpcError {
            code: POLICY_REFUSED,
            message,
            data,
        }
    };
    match error {
        PolicyError::InvalidConfig(issues) => with(
            "invalid-config",
            "the configuration is invalid".into(),
            json!({ "errors": render::issues(&issues) }),
        ),
        PolicyError::NotAllowed(m) => with("not-allowed", m, Value::Null),
        PolicyError::LeaseNotFound(m) => with("lease-not-found", m, Value::Null),
        PolicyError::BadRequest(m) => with("bad-request", m, Value::Null),
        PolicyError::Failed(f) => with(
            "failed",
            format!("{} failed ({}): {}", f.step, f.reason, f.message),
            failure_json(&f),
        ),
        PolicyError::Cancelled(f) => {
            let mut error = with(
                "cancelled",
                format!("cancelled during {}: {}", f.step, f.message),
                failure_json(&f),
            );
            error.code = REQUEST_CANCELLED;
            error
        }
    }
}
