//! Cancellation of a lifecycle call in flight.
//!
//! The caller keeps a [`Cancel`] and hands a clone to the call's
//! [`super::CallEnv`]. After [`Cancel::cancel`], the `kube` imports answer
//! `cancelled` to every mutation and to every wait on a handle opened before
//! the cancellation (`wit/kube.wit`, "Cancellation"); reads, deletes, `exec`
//! and `kill` keep working for the grace period, so the module can roll back
//! and kill the command it started. Past the grace period the call is
//! stopped like one past its overall timeout.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::locks::lock;

/// How long a cancelled call may go on rolling back: 30 s.
pub const DEFAULT_CANCEL_GRACE: Duration = Duration::from_secs(30);

/// Slice in which the host waits on a cluster stream, so that a
/// cancellation ends a long wait within this much time.
pub(crate) const WAIT_SLICE: Duration = Duration::from_millis(100);

/// A cancellation flag shared by a caller and its call. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Cancel {
    at: Arc<Mutex<Option<Instant>>>,
}

impl Cancel {
    /// A flag that is not set.
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Cancels the call (again is a no-op: the first time counts).
    pub fn cancel(&self) {
        let mut at = lock(&self.at);
        if at.is_none() {
            *at = Some(Instant::now());
        }
    }

    /// True once [`Cancel::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        lock(&self.at).is_some()
    }

    /// When the call was cancelled.
    pub fn cancelled_at(&self) -> Option<Instant> {
        *lock(&self.at)
    }

    /// Time left of the grace period `grace`; none while not cancelled.
    pub fn grace_left(&self, grace: Duration) -> Option<Duration> {
        self.cancelled_at()
            .map(|at| grace.saturating_sub(at.elapsed()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_flag_is_not_cancelled() {
        let cancel = Cancel::new();
        assert!(!cancel.is_cancelled());
        assert_eq!(cancel.grace_left(Duration::from_secs(1)), None);
    }

    #[test]
    fn a_clone_sees_the_cancellation() {
        let cancel = Cancel::new();
        let seen_by_call = cancel.clone();
        cancel.cancel();
        assert!(seen_by_call.is_cancelled());
    }

    #[test]
    fn the_first_cancellation_starts_the_grace_period() {
        let cancel = Cancel::new();
        cancel.cancel();
        let first = cancel.cancelled_at();
        std::thread::sleep(Duration::from_millis(5));
        cancel.cancel();
        assert_eq!(cancel.cancelled_at(), first);
        let left = cancel.grace_left(Duration::from_secs(60));
        assert!(
            left.is_some_and(|left| left < Duration::from_secs(60)),
            "{left:?}"
        );
    }
}
