//! The lifecycle of a lease, once, for every front end: the CLI, `serve`
//! and the background sweep each build a request and call one typed method
//! here, and map its [`LifecycleError`] to their own answer (an exit code,
//! a JSON-RPC error, a log line). None of them builds a contract request, a
//! call environment or a time budget of its own.
//!
//! - [`slot`]: the module a host runs ([`Loaded`]: the module and the
//!   guard its cluster calls go through) and, for serve, the slot that
//!   swaps it live;
//! - [`budget`]: the one table of time budgets;
//! - [`request`]: what a front end asks for ([`LeaseSpec`],
//!   [`CommandSpec`], [`Target`]);
//! - [`error`]: how a call fails;
//! - [`pool`]: the acquire (from the warm pool when it can) and the
//!   pool's refill;
//! - [`sessions`]: terminals, detached processes and single paths, and
//!   [`files`]: trees copied in and out (contract 0.3.0).

pub mod budget;
pub mod error;
pub mod files;
pub mod pool;
pub mod request;
pub mod sessions;
pub mod slot;

use std::num::NonZeroU32;
use std::sync::Arc;

use serde_json::Value;

use crate::cluster::io::{CallerIo, ClusterIo, NoCluster};
use crate::contract::{
    ExecStatus, Lease, LeaseStatus, ProbeReport, ReleaseReport, SweepReport, ValidationReport,
};
use crate::runtime::{CallEnv, CallResult, Cancel, Logger};
use crate::settings::HostSettings;

pub use budget::Budget;
pub use error::LifecycleError;
pub use files::{Download, Landing, Upload};
pub use pool::Acquisition;
pub use request::{CommandSpec, DEFAULT_COMPANY, LeaseSpec, Target};
pub use sessions::{AttachFrom, TerminalSpec};
pub use slot::Loaded;

/// What one call brings from its front end: its cancellation, the caller's
/// streams (where forwarded output goes and forwarded stdin comes from) and
/// where the module's log messages go.
#[derive(Clone)]
pub struct CallContext {
    /// Cancels this call.
    pub cancel: Cancel,
    /// The caller's streams.
    pub caller: CallerIo,
    /// The module's log messages.
    pub logger: Logger,
}

impl std::fmt::Debug for CallContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallContext").finish_non_exhaustive()
    }
}

/// One module, the guarded cluster it acts on, and the operator's
/// settings: every lifecycle call, as a typed method.
#[derive(Clone, Copy)]
pub struct Lifecycle<'a> {
    loaded: &'a Loaded,
    settings: &'a HostSettings,
}

impl std::fmt::Debug for Lifecycle<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lifecycle")
            .field("module", &self.loaded)
            .finish_non_exhaustive()
    }
}

/// A new lease id (`lb-` + ULID).
pub fn mint_lease_id() -> Result<String, LifecycleError> {
    crate::lease_id::mint().map_err(|e| LifecycleError::LeaseId(e.to_string()))
}

impl<'a> Lifecycle<'a> {
    /// The lifecycle of `loaded` under `settings`.
    pub fn new(loaded: &'a Loaded, settings: &'a HostSettings) -> Lifecycle<'a> {
        Lifecycle { loaded, settings }
    }

    /// The environment of validate, schema and plan, which reach no
    /// cluster.
    fn offline(&self, ctx: &CallContext) -> CallEnv {
        self.env(ctx, Arc::new(NoCluster), Budget::Offline)
    }

    /// The environment of a call of kind `budget` through the module's
    /// guard; [`LifecycleError::NoCluster`] without a cluster.
    fn guarded(&self, ctx: &CallContext, budget: Budget) -> Result<CallEnv, LifecycleError> {
        let guard = self
            .loaded
            .guard
            .as_ref()
            .ok_or(LifecycleError::NoCluster)?;
        Ok(self.env(ctx, Arc::new(guard.clone()), budget))
    }

    /// `ctx`'s streams, logger and cancellation over `cluster`, with the
    /// limits of `budget` under the operator's settings.
    fn env(&self, ctx: &CallContext, cluster: Arc<dyn ClusterIo>, budget: Budget) -> CallEnv {
        CallEnv {
            cluster,
            caller: ctx.caller.clone(),
            logger: ctx.logger.clone(),
            limits: budget.limits(&self.settings.guest),
            cancel: ctx.cancel.clone(),
        }
    }

    /// `validate-config`: every problem of a configuration document.
    pub fn validate(
        &self,
        ctx: &CallContext,
        config: &str,
    ) -> Result<ValidationReport, LifecycleError> {
        Ok(self
            .loaded
            .policy
            .validate_config(&self.offline(ctx), config)?)
    }

    /// `config-schema`: the JSON Schema of the configuration.
    pub fn schema(&self, ctx: &CallContext) -> Result<Value, LifecycleError> {
        let text = self.loaded.policy.config_schema(&self.offline(ctx))?;
        serde_json::from_str(&text).map_err(|e| {
            LifecycleError::BadAnswer(format!(
                "the policy module {} returned a schema that is not JSON: {e}",
                self.loaded.policy.name()
            ))
        })
    }

    /// `plan`: every manifest an acquire of `spec` would apply, in order,
    /// for lease `lease_id` (none: a new id).
    pub fn plan(
        &self,
        ctx: &CallContext,
        spec: &LeaseSpec,
        lease_id: Option<&str>,
    ) -> Result<Vec<Value>, LifecycleError> {
        let id = match lease_id {
            Some(id) => id.to_string(),
            None => mint_lease_id()?,
        };
        let manifests = answer(
            self.loaded
                .policy
                .plan(&self.offline(ctx), &spec.request(&id)),
        )?;
        manifests
            .iter()
            .enumerate()
            .map(|(i, text)| {
                serde_json::from_str(text).map_err(|e| {
                    LifecycleError::BadAnswer(format!(
                        "the policy module returned manifest #{i} that is not JSON: {e}"
                    ))
                })
            })
            .collect()
    }

    /// `probe`: can the cluster serve leases of `config` for `company_id`.
    pub fn probe(
        &self,
        ctx: &CallContext,
        config: &str,
        company_id: &str,
    ) -> Result<ProbeReport, LifecycleError> {
        let env = self.guarded(ctx, Budget::Probe)?;
        answer(self.loaded.policy.probe(&env, config, company_id))
    }

    /// `resume-lease`: the lease `target` names, found again by its labels.
    pub fn resume(&self, ctx: &CallContext, target: &Target) -> Result<Lease, LifecycleError> {
        let env = self.guarded(ctx, Budget::Lookup)?;
        answer(
            self.loaded
                .policy
                .resume_lease(&env, &target.lease_id, target.namespace.as_deref()),
        )
    }

    /// `execute`: `command` in `lease`, output to the caller's streams.
    pub fn exec(
        &self,
        ctx: &CallContext,
        lease: Lease,
        command: &CommandSpec,
    ) -> Result<ExecStatus, LifecycleError> {
        let env = self.guarded(ctx, Budget::Exec(command.timeout))?;
        answer(self.loaded.policy.execute(&env, &command.request(lease)))
    }

    /// `realize-workspace`: the caller's stdin (a tar) unpacked into
    /// `path` of `lease` (none: the workspace).
    pub fn upload(
        &self,
        ctx: &CallContext,
        lease: &Lease,
        path: Option<&str>,
    ) -> Result<ExecStatus, LifecycleError> {
        let env = self.guarded(ctx, Budget::Upload)?;
        answer(self.loaded.policy.realize_workspace(&env, lease, path))
    }

    /// `release-lease`: deletes `lease`'s objects.
    pub fn release(
        &self,
        ctx: &CallContext,
        lease: &Lease,
    ) -> Result<ReleaseReport, LifecycleError> {
        let env = self.guarded(ctx, Budget::Delete)?;
        answer(self.loaded.policy.release_lease(&env, lease))
    }

    /// `renew-lease`: `lease`'s deadline moves to `now` (none: now) plus
    /// `ttl_seconds`.
    pub fn renew(
        &self,
        ctx: &CallContext,
        lease: &Lease,
        ttl_seconds: NonZeroU32,
        now: Option<&str>,
    ) -> Result<Lease, LifecycleError> {
        let env = self.guarded(ctx, Budget::Lookup)?;
        let now = now.map_or_else(crate::clock::now_rfc3339, str::to_string);
        answer(
            self.loaded
                .policy
                .renew_lease(&env, lease, &now, ttl_seconds.get()),
        )
    }

    /// `list-leases`: the leases of `company_id` (none: every company's),
    /// in `namespace` (none: every tenant namespace).
    pub fn list(
        &self,
        ctx: &CallContext,
        company_id: Option<&str>,
        namespace: Option<&str>,
    ) -> Result<Vec<Lease>, LifecycleError> {
        let env = self.guarded(ctx, Budget::Lookup)?;
        answer(self.loaded.policy.list_leases(&env, company_id, namespace))
    }

    /// `get-lease-status`: where the lease `target` names is in its life.
    pub fn status(
        &self,
        ctx: &CallContext,
        target: &Target,
    ) -> Result<LeaseStatus, LifecycleError> {
        let env = self.guarded(ctx, Budget::Lookup)?;
        answer(
            self.loaded
                .policy
                .lease_status(&env, &target.lease_id, target.namespace.as_deref()),
        )
    }

    /// `sweep`: deletes every lease expired at `now` (none: now), in
    /// `namespace` (none: every tenant namespace).
    pub fn sweep(
        &self,
        ctx: &CallContext,
        now: Option<&str>,
        namespace: Option<&str>,
    ) -> Result<SweepReport, LifecycleError> {
        let env = self.guarded(ctx, Budget::Delete)?;
        let now = now.map_or_else(crate::clock::now_rfc3339, str::to_string);
        answer(self.loaded.policy.sweep(&env, &now, namespace))
    }
}

/// A module call's outcome as one error type.
fn answer<T>(outcome: CallResult<T>) -> Result<T, LifecycleError> {
    outcome?.map_err(LifecycleError::from)
}
