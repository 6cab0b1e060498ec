//! The faults a test injects into the fake: failures of one verb on one
//! kind, kinds the server does not serve, and the host cancelling the
//! lease call (after a number of calls, or at the first wait).

use std::collections::BTreeSet;

use crate::cluster::KubeError;

/// A failure every later call of `verb` on `kind` answers.
struct Injected {
    verb: String,
    kind: String,
    error: KubeError,
}

/// Every fault a test asked for, and when the call was cancelled.
#[derive(Default)]
pub(super) struct Faults {
    failures: Vec<Injected>,
    unserved: BTreeSet<(String, String)>,
    cancel_after: Option<usize>,
    cancel_on_wait: bool,
    cancelled_at: Option<usize>,
}

impl Faults {
    /// Every later call of `verb` on `kind` (`*`: any) fails with `error`.
    pub(super) fn fail_on(&mut self, verb: &str, kind: &str, error: KubeError) {
        self.failures.push(Injected {
            verb: verb.into(),
            kind: kind.into(),
            error,
        });
    }

    /// Removes every injected failure.
    pub(super) fn clear_failures(&mut self) {
        self.failures.clear();
    }

    /// The server does not serve `kind` at `api_version`.
    pub(super) fn unserve(&mut self, api_version: &str, kind: &str) {
        self.unserved.insert((api_version.into(), kind.into()));
    }

    /// The host cancels the call right after the `calls`-th call.
    pub(super) fn cancel_after_calls(&mut self, calls: usize) {
        self.cancel_after = Some(calls);
    }

    /// The host cancels the call at its first wait.
    pub(super) fn cancel_at_first_wait(&mut self) {
        self.cancel_on_wait = true;
    }

    /// True once the host has cancelled the call.
    pub(super) fn cancelled(&self) -> bool {
        self.cancelled_at.is_some()
    }

    /// After the `calls`-th call: cancels when the test asked for it after
    /// this many calls.
    pub(super) fn after_call(&mut self, calls: usize) {
        if self.cancelled_at.is_none()
            && let Some(after) = self.cancel_after
            && calls > after
        {
            self.cancelled_at = Some(after);
        }
    }

    /// `apply`, `create` and `apply_host_secret` answer `cancelled` once
    /// the host has cancelled the call.
    pub(super) fn check_writable(&self) -> Result<(), KubeError> {
        match self.cancelled_at {
            Some(_) => Err(KubeError::Cancelled(
                "the caller cancelled the lease call".into(),
            )),
            None => Ok(()),
        }
    }

    /// A wait on a handle opened by call number `opened_at`, `calls` calls
    /// in: `cancelled` when the handle predates the cancellation. The first
    /// wait cancels the call when the test asked for that.
    pub(super) fn check_wait(&mut self, opened_at: usize, calls: usize) -> Result<(), KubeError> {
        if self.cancel_on_wait && self.cancelled_at.is_none() {
            self.cancelled_at = Some(calls);
        }
        match self.cancelled_at {
            Some(at) if opened_at <= at => Err(KubeError::Cancelled(
                "the caller cancelled the lease call".into(),
            )),
            _ => Ok(()),
        }
    }

    /// The failure injected for `verb` on `kind`, if any.
    pub(super) fn check(&self, verb: &str, kind: &str) -> Result<(), KubeError> {
        match self
            .failures
            .iter()
            .find(|f| f.verb == verb && (f.kind == kind || f.kind == "*"))
        {
            Some(f) => Err(f.error.clone()),
            None => Ok(()),
        }
    }

    /// A 404 for a kind the server does not serve.
    pub(super) fn check_served(&self, api_version: &str, kind: &str) -> Result<(), KubeError> {
        if self
            .unserved
            .contains(&(api_version.to_string(), kind.to_string()))
        {
            Err(KubeError::NotFound(format!(
                "the server could not find the requested resource ({kind} {api_version})"
            )))
        } else {
            Ok(())
        }
    }
}
