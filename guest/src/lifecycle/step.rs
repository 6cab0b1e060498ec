//! How a lifecycle step names itself and its failures: the step of
//! applying an object, and a failed Kubernetes call or an unreadable object
//! as a failed step.

use crate::cluster::KubeError;
use crate::error::{Failure, PolicyError};

/// A failed Kubernetes call as a failed lifecycle step; a call the host
/// cancelled makes the step [`PolicyError::Cancelled`].
pub(crate) fn kube_failure(step: &str, what: &str, error: &KubeError) -> PolicyError {
    let failure = Failure::new(
        step,
        error.reason(),
        format!("{what}: {}", error.describe()),
    );
    if error.is_cancelled() {
        PolicyError::Cancelled(failure)
    } else {
        PolicyError::Failed(failure)
    }
}

/// A watched or listed object that does not read as its kind (the message
/// of [`super::conditions::read`]), as a failed step.
pub(crate) fn invalid_object(step: &str, message: String) -> PolicyError {
    PolicyError::step(step, "Invalid", message)
}

/// `apply-<kind-lowercase>`, the step name of applying an object.
pub(crate) fn apply_step(object: &serde_json::Value) -> String {
    let kind = object
        .get("kind")
        .and_then(|k| k.as_str())
        .unwrap_or("object");
    format!("apply-{}", kind.to_ascii_lowercase())
}
