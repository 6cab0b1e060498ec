//! Warm pools in the lifecycle: an acquire takes a pool pod when it can
//! (`claim-lease`) and starts one otherwise (`acquire-lease`); `ensure-pool`
//! refills. Both are calls of the module, under the operator's caps
//! (`pools` in the host settings): with pools off, or a module of a
//! contract before 0.4.0, every acquire is cold and nothing is pooled.

use serde_json::Value;

use super::{Budget, CallContext, LeaseSpec, Lifecycle, LifecycleError, answer};
use crate::contract::{Failure, Lease, LogLevel, PolicyError, PoolReport, PoolRequest};

/// A lease and where it came from.
#[derive(Debug, Clone)]
pub struct Acquisition {
    /// The lease.
    pub lease: Lease,
    /// True when it came from the warm pool.
    pub warm: bool,
}

impl Acquisition {
    /// The lease as JSON (`lease_json`), with `warm`.
    pub fn to_json(&self) -> Value {
        let mut json = crate::contract::lease_json::to_json(&self.lease);
        if let Some(map) = json.as_object_mut() {
            map.insert("warm".into(), Value::Bool(self.warm));
        }
        json
    }
}

impl Lifecycle<'_> {
    /// True when an acquire may come from a pool: the operator turned
    /// pools on and the module's contract has them.
    pub fn pools_on(&self) -> bool {
        self.settings.pools.enabled() && self.loaded.policy.supports_pools()
    }

    /// An acquire of `spec` as lease `lease_id`: from the pool when a
    /// ready pool pod can be claimed, else cold. A claim that failed a step
    /// (the module rolled it back and deleted the pod) goes cold too, its
    /// failure logged: a pool is never why an acquire fails. A cancelled
    /// claim, an invalid configuration or a module that could not run ends
    /// the acquire.
    pub fn acquire(
        &self,
        ctx: &CallContext,
        spec: &LeaseSpec,
        lease_id: &str,
    ) -> Result<Acquisition, LifecycleError> {
        let request = spec.request(lease_id);
        if self.pools_on() {
            let env = self.guarded(ctx, Budget::Acquire)?;
            let sha = self.loaded.policy.sha256();
            match answer(self.loaded.policy.claim_lease(&env, &request, sha)) {
                Ok(Some(lease)) => return Ok(Acquisition { lease, warm: true }),
                Ok(None) => {}
                Err(LifecycleError::Policy(refusal))
                    if matches!(*refusal, PolicyError::Failed(_)) =>
                {
                    (ctx.logger)(
                        LogLevel::Warn,
                        "acquire",
                        &format!(
                            "the claim from the warm pool failed ({}); starting a pod instead",
                            LifecycleError::Policy(refusal)
                        ),
                    );
                }
                Err(other) => return Err(other),
            }
        }
        let env = self.guarded(ctx, Budget::Acquire)?;
        let lease = answer(self.loaded.policy.acquire_lease(&env, &request))?;
        Ok(Acquisition { lease, warm: false })
    }

    /// `ensure-pool`: the pool of `spec`'s configuration, adapter and image
    /// for its company brought to its size, within the operator's caps
    /// (with pools off: emptied).
    pub fn ensure_pool(
        &self,
        ctx: &CallContext,
        spec: &LeaseSpec,
    ) -> Result<PoolReport, LifecycleError> {
        let policy = &self.loaded.policy;
        let guard = self
            .loaded
            .guard
            .as_ref()
            .ok_or(LifecycleError::NoCluster)?;
        let max_pods = if policy.supports_pools() {
            guard
                .pool_budget(&spec.company_id, &self.settings.pools)
                .map_err(|e| {
                    PolicyError::Failed(Failure {
                        step: "pool-budget".into(),
                        reason: "ListFailed".into(),
                        message: format!(
                            "counting the unclaimed pool pods of every tenant (the host's own \
                             read, for pools.maxTotal): {e:?}"
                        ),
                        rolled_back: Vec::new(),
                        left_behind: Vec::new(),
                    })
                })?
        } else {
            0
        };
        let lease = spec.request("");
        let request = PoolRequest {
            config: lease.config,
            company_id: lease.company_id,
            now: lease.now,
            adapter_type: lease.adapter_type,
            image_override: lease.image_override,
            max_pods,
            module_sha256: policy.sha256().to_string(),
        };
        let env = self.guarded(ctx, Budget::Acquire)?;
        answer(policy.ensure_pool(&env, &request))
    }
}
