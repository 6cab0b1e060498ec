//! One call of `leasebox serve`: what it has (the module current when it
//! started, the operator's settings, its cancellation, the caller's
//! streams, its log fields), how its params are read, and how a lifecycle
//! error becomes its JSON-RPC error. Every method file builds on it.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::log::{self, LogFields};
use super::rpc::{
    INTERNAL_ERROR, LOCAL_FILES, MODULE_FAILED, NO_CLUSTER, POLICY_REFUSED, REQUEST_CANCELLED,
    RpcError,
};
use super::sweeper::SweepState;
use crate::cluster::io::CallerIo;
use crate::contract::lease_json;
use crate::contract::{Failure, Lease, PolicyError};
use crate::lifecycle::slot::{Loaded, PolicySlot};
use crate::lifecycle::{CallContext, Lifecycle, LifecycleError, Target};
use crate::render;
use crate::runtime::Cancel;
use crate::serve::metrics::Metrics;
use crate::settings::HostSettings;

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

/// The params as `T`; `-32602` naming the field otherwise.
pub(super) fn parse<T: DeserializeOwned>(params: Value) -> Result<T, RpcError> {
    let params = if params.is_null() { json!({}) } else { params };
    serde_json::from_value(params).map_err(|e| RpcError::invalid_params(format!("params: {e}")))
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
