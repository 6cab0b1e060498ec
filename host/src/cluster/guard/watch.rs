//! What a call may be shown of what it reads: watches of cluster-scoped
//! kinds (Namespace), which the API server answers for the whole cluster
//! whatever namespace the module named, narrowed to the call's namespaces;
//! and everything a call about one lease (for no company) reads, narrowed
//! to that lease's objects.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::{GuardedCluster, lease_of, str_at};
use crate::contract::{KubeError, WatchEvent, WatchStream};

/// What a [`FilteredWatch`] lets through.
pub(super) enum Shown {
    /// Namespaces the call may see ([`GuardedCluster::namespace_shown`]).
    Namespaces,
    /// Objects the call may see ([`GuardedCluster::object_shown`]).
    Objects,
}

/// A watch showing only what the call may read.
pub(super) struct FilteredWatch {
    pub(super) inner: Box<dyn WatchStream>,
    pub(super) guard: GuardedCluster,
    pub(super) shown: Shown,
}

impl WatchStream for FilteredWatch {
    fn next(&mut self, timeout: Duration) -> Result<Option<WatchEvent>, KubeError> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(event) = self.inner.next(left)? else {
                return Ok(None);
            };
            let object = serde_json::from_str::<Value>(&event.object).ok();
            let shown = match (&self.shown, object) {
                (_, None) => false,
                (Shown::Objects, Some(object)) => self.guard.object_shown(&object),
                (Shown::Namespaces, Some(object)) => match str_at(&object, "/metadata/name") {
                    Some(name) => self.guard.namespace_shown(name)?,
                    None => false,
                },
            };
            if shown {
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
    /// A call about one lease and for no company is shown no namespace.
    pub(super) fn namespace_shown(&self, name: &str) -> Result<bool, KubeError> {
        if self.fence_rule(name).is_some() || self.lease_only().is_some() {
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

    /// True when an object (of a namespaced kind) may be shown to this
    /// call: a call about one lease and for no company sees only that
    /// lease's objects; other calls see what their namespaces allow.
    pub(super) fn object_shown(&self, object: &Value) -> bool {
        match self.lease_only() {
            Some(lease) => lease_of(object) == Some(lease),
            None => true,
        }
    }

    /// The lease of a call about one lease and for no company.
    pub(super) fn lease_only(&self) -> Option<&str> {
        match (&self.scope.company, &self.scope.lease) {
            (None, Some(lease)) => Some(lease),
            _ => None,
        }
    }
}
