//! Watches of cluster-scoped kinds (Namespace), narrowed to what the call
//! may read: the API server answers them for the whole cluster, whatever
//! namespace the module named.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::{GuardedCluster, str_at};
use crate::cluster_io::{KubeError, WatchEvent, WatchStream};

/// A watch of a cluster-scoped kind, showing only what the call may read.
pub(super) struct FilteredWatch {
    pub(super) inner: Box<dyn WatchStream>,
    pub(super) guard: GuardedCluster,
}

impl WatchStream for FilteredWatch {
    fn next(&mut self, timeout: Duration) -> Result<Option<WatchEvent>, KubeError> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(event) = self.inner.next(left)? else {
                return Ok(None);
            };
            let name = serde_json::from_str::<Value>(&event.object)
                .ok()
                .and_then(|v| str_at(&v, "/metadata/name").map(str::to_string));
            if let Some(name) = name
                && self.guard.namespace_shown(&name)?
            {
                return Ok(Some(event));
            }
            if left.is_zero() {
                return Ok(None);
            }
        }
    }
}

impl GuardedCluster {
    /// True when the Namespace `name` may be shown to this call: inside the
    /// fence and, for a call for a company, that company's (an unowned one
    /// too, so a call can tell why it cannot use it).
    pub(super) fn namespace_shown(&self, name: &str) -> Result<bool, KubeError> {
        if self.fence_rule(name).is_some() {
            return Ok(false);
        }
        let Some(company) = self.scope.company.as_deref() else {
            return Ok(true);
        };
        Ok(match self.facts(name)? {
            Some(f) if f.owned => f.company.as_deref() == Some(company),
            _ => true,
        })
    }
}
