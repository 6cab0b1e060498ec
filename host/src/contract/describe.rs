//! The contract's errors in words, for people, logs and metrics.

use super::{Denial, KubeError};

impl Denial {
    /// `rule `<rule>`: <message>`, the form a refusal is logged and shown in.
    pub fn describe(&self) -> String {
        format!("rule `{}`: {}", self.rule, self.message)
    }
}

impl KubeError {
    /// The kind of error as its WIT case name (`not-found`, `conflict`,
    /// ...): a label for metrics and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            KubeError::NoCluster(_) => "no-cluster",
            KubeError::Denied(_) => "denied",
            KubeError::NotFound(_) => "not-found",
            KubeError::Conflict(_) => "conflict",
            KubeError::Forbidden(_) => "forbidden",
            KubeError::Invalid(_) => "invalid",
            KubeError::Gone(_) => "gone",
            KubeError::TimedOut(_) => "timed-out",
            KubeError::Transport(_) => "transport",
            KubeError::BadArgument(_) => "bad-argument",
            KubeError::Cancelled(_) => "cancelled",
        }
    }

    /// The error for a person: `<kind>: <message>` (the generated
    /// `Display` prints the `Debug` form).
    pub fn describe(&self) -> String {
        match self {
            KubeError::NoCluster(m) => format!("no cluster: {m}"),
            KubeError::Denied(d) => format!("denied: {}", d.describe()),
            KubeError::NotFound(m) => format!("not found: {m}"),
            KubeError::Conflict(m) => format!("conflict: {m}"),
            KubeError::Forbidden(m) => format!("forbidden: {m}"),
            KubeError::Invalid(m) => format!("invalid: {m}"),
            KubeError::Gone(m) => format!("gone: {m}"),
            KubeError::TimedOut(m) => format!("timed out: {m}"),
            KubeError::Transport(m) => format!("transport: {m}"),
            KubeError::BadArgument(m) => format!("bad argument: {m}"),
            KubeError::Cancelled(m) => format!("cancelled: {m}"),
        }
    }
}
