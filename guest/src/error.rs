//! The one error type of the policy's side of the boundary, `policy-error`
//! of `wit/types.wit`, as generated, with the helpers the lifecycle uses.

use crate::config::document::Issue;

pub use crate::bindings::leasebox::provider::types::{Failure, PolicyError};

impl Failure {
    /// A failed step with no rollback information yet.
    pub fn new(step: &str, reason: &str, message: impl Into<String>) -> Failure {
        Failure {
            step: step.to_string(),
            reason: reason.to_string(),
            message: message.into(),
            rolled_back: Vec::new(),
            left_behind: Vec::new(),
        }
    }
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
        PolicyError::Failed(Failure::new(step, reason, message))
    }

    /// The error for a person (the generated `Display` is `Debug`).
    pub fn describe(&self) -> String {
        match self {
            PolicyError::InvalidConfig(issues) => {
                format!("invalid configuration: {}", render_issues(issues))
            }
            PolicyError::NotAllowed(m) => format!("not allowed: {m}"),
            PolicyError::Failed(f) => format!("{} failed ({}): {}", f.step, f.reason, f.message),
            PolicyError::LeaseNotFound(m) => format!("lease not found: {m}"),
            PolicyError::BadRequest(m) => format!("bad request: {m}"),
            PolicyError::Cancelled(f) => {
                format!("cancelled during {} ({}): {}", f.step, f.reason, f.message)
            }
        }
    }
}
