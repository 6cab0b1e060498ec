//! open-terminal: a command on a terminal in the lease's container.

use crate::cluster::Cluster;
use crate::error::PolicyError;
use crate::lease::{ExecStatus, TerminalRequest};

/// See [`super::open_terminal`].
pub(crate) fn open_terminal(
    _cluster: &dyn Cluster,
    request: &TerminalRequest,
) -> Result<ExecStatus, PolicyError> {
    super::execute::check_lease(&request.lease)?;
    Err(PolicyError::step(
        "open-terminal",
        "NotImplemented",
        "not yet",
    ))
}
