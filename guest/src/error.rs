//! Errors of the policy's lifecycle calls, mirroring `policy-error` in
//! `wit/types.wit`.

use crate::config::Issue;
use crate::lease::ObjectRef;

/// A failure of one step of a lifecycle call.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Failure {
    /// The step that failed (`apply-namespace`, `wait-ready`, ...).
    pub step: String,
    /// Short machine-readable reason (`ImagePullBackOff`, `Forbidden`, ...).
    pub reason: String,
    /// What happened.
    pub message: String,
    /// Objects created by this call and deleted again.
    pub rolled_back: Vec<ObjectRef>,
    /// Objects that could not be deleted during rollback.
    pub left_behind: Vec<ObjectRef>,
}

/// Why a lifecycle call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The configuration is invalid.
    #[error("invalid configuration: {}", render_issues(.0))]
    InvalidConfig(Vec<Issue>),
    /// Forbidden by the configuration (image, adapter).
    #[error("not allowed: {0}")]
    NotAllowed(String),
    /// A step failed; what was created was rolled back.
    #[error("{} failed ({}): {}", .0.step, .0.reason, .0.message)]
    Failed(Failure),
    /// The lease does not exist.
    #[error("lease not found: {0}")]
    LeaseNotFound(String),
    /// The request is malformed.
    #[error("bad request: {0}")]
    BadRequest(String),
}

fn render_issues(issues: &[Issue]) -> String {
    issues
        .iter()
        .map(|i| format!("{}: {}", i.path, i.message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl PolicyError {
    /// A failed step with no rollback information yet.
    pub fn step(step: &str, reason: &str, message: impl Into<String>) -> PolicyError {
        PolicyError::Failed(Failure {
            step: step.to_string(),
            reason: reason.to_string(),
            message: message.into(),
            ..Failure::default()
        })
    }
}
