//! How a lifecycle call fails, for every front end: the CLI maps it to an
//! exit code and a message, serve to a JSON-RPC error, the sweep to a log
//! line; each uses [`LifecycleError::reason`] as the label of the outcome.

use crate::contract::PolicyError;
use crate::runtime::RuntimeError;

/// Why a lifecycle call did not answer.
#[derive(Debug)]
pub enum LifecycleError {
    /// The host has no cluster, and the call needs one.
    NoCluster,
    /// No lease id could be minted (the system's randomness failed).
    LeaseId(String),
    /// The module could not run: a trap, a deadline, the memory cap, a
    /// cancellation past its grace period, a call its contract lacks.
    Runtime(RuntimeError),
    /// The module refused, or its step failed (and what it rolled back);
    /// boxed, as the largest case.
    Policy(Box<PolicyError>),
    /// The module answered something the host cannot read.
    BadAnswer(String),
    /// The local end of a file copy failed: a local file could not be read
    /// or written, or the sandbox's stream broke a rule of the unpack.
    Files(crate::files::Error),
}

impl LifecycleError {
    /// The outcome's label: `no-cluster`, `lease-id`,
    /// the runtime failure (`trap`, `cpu-deadline`, `timeout`,
    /// `memory-cap`, `unsupported`, `cancelled`, `runtime`), the refusal
    /// (`invalid-config`, `not-allowed`, `lease-not-found`, `bad-request`,
    /// `failed`, `cancelled`), `bad-answer` or `local-files`.
    pub fn reason(&self) -> &'static str {
        match self {
            LifecycleError::NoCluster => "no-cluster",
            LifecycleError::LeaseId(_) => "lease-id",
            LifecycleError::Runtime(error) => match error {
                RuntimeError::Cancelled { .. } => "cancelled",
                RuntimeError::Trap { .. } => "trap",
                RuntimeError::DeadlineExceeded { .. } => "cpu-deadline",
                RuntimeError::Timeout { .. } => "timeout",
                RuntimeError::MemoryLimit { .. } => "memory-cap",
                RuntimeError::Unsupported { .. } => "unsupported",
                _ => "runtime",
            },
            LifecycleError::Policy(error) => match error.as_ref() {
                PolicyError::InvalidConfig(_) => "invalid-config",
                PolicyError::NotAllowed(_) => "not-allowed",
                PolicyError::LeaseNotFound(_) => "lease-not-found",
                PolicyError::BadRequest(_) => "bad-request",
                PolicyError::Failed(_) => "failed",
                PolicyError::Cancelled(_) => "cancelled",
            },
            LifecycleError::BadAnswer(_) => "bad-answer",
            LifecycleError::Files(_) => "local-files",
        }
    }

    /// Whether the lease the call was about does not exist.
    pub fn is_lease_not_found(&self) -> bool {
        matches!(self, LifecycleError::Policy(error) if matches!(**error, PolicyError::LeaseNotFound(_)))
    }
}

impl std::fmt::Display for LifecycleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LifecycleError::NoCluster => f.write_str(
                "this server has no cluster: start serve with --kubeconfig, cluster.kubeconfig \
                 in the host settings, KUBECONFIG, or in a pod",
            ),
            LifecycleError::LeaseId(message) | LifecycleError::BadAnswer(message) => {
                f.write_str(message)
            }
            LifecycleError::Runtime(error) => write!(f, "{error}"),
            LifecycleError::Files(error) => write!(f, "{error}"),
            LifecycleError::Policy(error) => match error.as_ref() {
                PolicyError::InvalidConfig(_) => f.write_str("the configuration is invalid"),
                PolicyError::NotAllowed(message)
                | PolicyError::LeaseNotFound(message)
                | PolicyError::BadRequest(message) => f.write_str(message),
                PolicyError::Failed(failure) => write!(
                    f,
                    "{} failed ({}): {}",
                    failure.step, failure.reason, failure.message
                ),
                PolicyError::Cancelled(failure) => {
                    write!(f, "cancelled during {}: {}", failure.step, failure.message)
                }
            },
        }
    }
}

impl std::error::Error for LifecycleError {}

impl From<RuntimeError> for LifecycleError {
    fn from(error: RuntimeError) -> Self {
        LifecycleError::Runtime(error)
    }
}

impl From<PolicyError> for LifecycleError {
    fn from(error: PolicyError) -> Self {
        LifecycleError::Policy(Box::new(error))
    }
}
