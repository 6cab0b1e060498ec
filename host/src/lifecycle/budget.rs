//! How long each lifecycle call may take: one table for every front end
//! (the CLI, serve and the background sweep), documented in README.md
//! ("Time budgets").
//!
//! A call's wall-clock limit (host I/O included) is its budget, at least
//! the operator's CPU deadline (`guest.cpuDeadlineMs`) and at most its
//! ceiling: the operator's `guest.execTimeoutSec` for a command or a
//! copy of files, `guest.callTimeoutSec` for everything else.

use std::time::Duration;

use crate::runtime::{DEFAULT_CANCEL_GRACE, Limits};
use crate::settings::GuestSettings;

/// Slack on top of a command's own timeout, for the module's work around
/// it (resolving the pod, the exec's set-up, reading the status).
pub const EXEC_SLACK: Duration = Duration::from_secs(60);

/// A lifecycle call, as far as its time is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// validate, schema, plan: no cluster, only the CPU deadline.
    Offline,
    /// probe: a few reads and server-side dry runs.
    Probe,
    /// acquire: everything up to a ready pod, within the operator's call
    /// timeout (the configuration's `podReadyTimeoutSec` may only be
    /// shorter).
    Acquire,
    /// resume, renew, list, status: a few lists and one write.
    Lookup,
    /// A command with its own timeout (none: as long as the operator lets
    /// a command run).
    Exec(Option<Duration>),
    /// Files into or out of the lease (an upload, `cp`, the syncs): as
    /// long as the operator lets a command run.
    Upload,
    /// release and sweep: deletes, and waiting for them.
    Delete,
}

impl Budget {
    /// `(budget, ceiling)`: the one table.
    pub fn table(self, guest: &GuestSettings) -> (Duration, Duration) {
        let (call, exec) = (guest.call_timeout, guest.exec_timeout);
        match self {
            Budget::Offline => (Duration::ZERO, call),
            Budget::Probe => (Duration::from_secs(120), call),
            Budget::Acquire => (call, call),
            Budget::Lookup => (Duration::from_secs(60), call),
            Budget::Exec(Some(timeout)) => (timeout + EXEC_SLACK, exec),
            Budget::Exec(None) | Budget::Upload => (exec, exec),
            Budget::Delete => (Duration::from_secs(600), call),
        }
    }

    /// The limits of a call of this kind: the operator's memory cap and CPU
    /// deadline, and the budget (at least the CPU deadline, at most the
    /// ceiling) as its overall wall-clock limit.
    pub fn limits(self, guest: &GuestSettings) -> Limits {
        let (budget, ceiling) = self.table(guest);
        Limits {
            cpu_deadline: guest.cpu_deadline,
            memory_cap_bytes: guest.memory_cap_bytes,
            overall_timeout: Some(budget.max(guest.cpu_deadline).min(ceiling)),
            cancel_grace: DEFAULT_CANCEL_GRACE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guest(call: u64, exec: u64) -> GuestSettings {
        GuestSettings {
            call_timeout: Duration::from_secs(call),
            exec_timeout: Duration::from_secs(exec),
            ..crate::settings::HostSettings::default().guest
        }
    }

    #[test]
    fn a_budget_is_capped_by_the_operators_ceiling() {
        let limits = Budget::Delete.limits(&guest(300, 3600));
        assert_eq!(limits.overall_timeout, Some(Duration::from_secs(300)));
    }

    #[test]
    fn a_command_gets_its_timeout_and_slack_within_the_exec_timeout() {
        let guest = guest(600, 3600);
        let timed = Budget::Exec(Some(Duration::from_secs(10))).limits(&guest);
        assert_eq!(timed.overall_timeout, Some(Duration::from_secs(70)));
        let long = Budget::Exec(Some(Duration::from_secs(7200))).limits(&guest);
        assert_eq!(long.overall_timeout, Some(Duration::from_secs(3600)));
        let untimed = Budget::Exec(None).limits(&guest);
        assert_eq!(untimed.overall_timeout, Some(Duration::from_secs(3600)));
    }

    #[test]
    fn an_offline_call_gets_the_cpu_deadline() {
        let guest = guest(600, 3600);
        let limits = Budget::Offline.limits(&guest);
        assert_eq!(limits.overall_timeout, Some(guest.cpu_deadline));
    }
}
