//! [`Context`]: everything resolved for one lease, which every builder
//! reads. It is plain data: the policy's hooks take part in resolving it
//! (`plan::resolve`) and are shown it, but it holds none.

use std::collections::BTreeMap;

use crate::adapters::Adapter;
use crate::config::Config;
use crate::egress::EgressPlan;
use crate::lease::Command;
use crate::names;

/// Everything resolved for one lease: the inputs of every builder, and
/// what the policy's `shape_pod` hook is shown.
#[derive(Debug, Clone)]
pub struct Context {
    /// Normalized configuration.
    pub config: Config,
    /// Company id (raw).
    pub company_id: String,
    /// Run id (raw).
    pub run_id: String,
    /// Lease id.
    pub lease_id: String,
    /// RFC 3339 creation time.
    pub now: String,
    /// RFC 3339 deadline (`now + leaseMaxAgeSec`).
    pub expires_at: String,
    /// Tenant namespace.
    pub namespace: String,
    /// Adapter in effect.
    pub adapter: Adapter,
    /// Agent image.
    pub image: String,
    /// Egress plan.
    pub egress: EgressPlan,
    /// Command of a `job` backend.
    pub command: Option<Command>,
}

impl Context {
    /// Labels of the lease's objects (workload, Secret, PVC).
    pub fn lease_labels(&self) -> BTreeMap<String, String> {
        names::lease_labels(
            &self.lease_id,
            &self.run_id,
            &self.company_id,
            &self.adapter.adapter_type,
        )
    }
}
