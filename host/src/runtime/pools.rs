//! The calls contract 0.4.0 added: warm pools. `ensure-pool` keeps a
//! tenant's pool at its size; `claim-lease` acquires a lease from it. Each
//! is one export of a 0.4.0 module, in a fresh instance like every other
//! call; modules of older contracts answer
//! [`RuntimeError::Unsupported`](super::RuntimeError::Unsupported), and
//! [`Policy::supports_pools`] lets a caller skip them without an error (it
//! then acquires cold).

use super::{CallEnv, CallResult, Policy, V0_4};
use crate::cluster::io::CallScope;
use crate::contract::{Contract, Lease, LeaseRequest, PoolReport, PoolRequest};

impl Policy {
    /// True when the module's contract has the warm-pool calls (0.4.0 and
    /// newer): [`Policy::ensure_pool`] and [`Policy::claim_lease`] answer
    /// `unsupported` otherwise.
    pub fn supports_pools(&self) -> bool {
        match self.contract {
            Contract::V0_4 => true,
            Contract::V0_3 | Contract::V0_2 | Contract::V0_1 => false,
        }
    }

    /// `ensure-pool`: brings the tenant's warm pool to its size, for
    /// company `request.company_id`, allowed at most `request.max_pods`
    /// unclaimed pool pods (the guard refuses any beyond).
    pub fn ensure_pool(&self, env: &CallEnv, request: &PoolRequest) -> CallResult<PoolReport> {
        let call = "ensure-pool";
        let scope = Some(CallScope::pool(&request.company_id, request.max_pods));
        match self.contract {
            Contract::V0_4 => self.call(call, env, scope, |e, s| {
                e.call(s, V0_4::func_ensure_pool, (request,))
            }),
            Contract::V0_3 | Contract::V0_2 | Contract::V0_1 => self.unsupported(call),
        }
    }

    /// `claim-lease`: acquires the lease from a ready pool pod made by
    /// module `module_sha256`; `None` when there is none (acquire cold).
    /// The call is an acquire's: for the request's company, about the lease
    /// the host minted.
    pub fn claim_lease(
        &self,
        env: &CallEnv,
        request: &LeaseRequest,
        module_sha256: &str,
    ) -> CallResult<Option<Lease>> {
        let call = "claim-lease";
        let scope = Some(CallScope::acquire(&request.company_id, &request.lease_id));
        match self.contract {
            Contract::V0_4 => self.call(call, env, scope, |e, s| {
                e.call(s, V0_4::func_claim_lease, (request, module_sha256))
            }),
            Contract::V0_3 | Contract::V0_2 | Contract::V0_1 => self.unsupported(call),
        }
    }
}
