//! Detached processes: start, list, attach, kill.

use crate::cluster::Cluster;
use crate::error::PolicyError;
use crate::lease::{AttachRequest, ExecRequest, ExecStatus, Lease, ProcessInfo};

fn pending(step: &str) -> PolicyError {
    PolicyError::step(step, "NotImplemented", "not yet")
}

pub(crate) fn start(
    _cluster: &dyn Cluster,
    request: &ExecRequest,
) -> Result<ProcessInfo, PolicyError> {
    super::execute::check_lease(&request.lease)?;
    Err(pending("start-process"))
}

pub(crate) fn list(_cluster: &dyn Cluster, lease: &Lease) -> Result<Vec<ProcessInfo>, PolicyError> {
    super::execute::check_lease(lease)?;
    Err(pending("list-processes"))
}

pub(crate) fn attach(
    _cluster: &dyn Cluster,
    request: &AttachRequest,
) -> Result<ExecStatus, PolicyError> {
    super::execute::check_lease(&request.lease)?;
    Err(pending("attach-process"))
}

pub(crate) fn kill(
    _cluster: &dyn Cluster,
    lease: &Lease,
    _process: &str,
    _signal: u32,
) -> Result<ProcessInfo, PolicyError> {
    super::execute::check_lease(lease)?;
    Err(pending("kill-process"))
}
