//! The record of every call made to a [`super::FakeCluster`]: one
//! [`Call`] per call, in order, with its arguments, and a one-line form
//! (`apply Secret/ns/name`) for order assertions.

use std::fmt;

use serde_json::Value;

use crate::cluster::{
    DeleteOptions, ExecSpec, HandOverRequest, HostSecretRequest, LogsRequest, WatchRequest,
};
use crate::lease::ObjectRef;

/// One call made to the fake, with what it was given.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    /// Server-side apply of the object (fields the manifest lacks are
    /// empty).
    Apply(ObjectRef),
    /// Plain create.
    Create {
        /// The object created (fields the manifest lacks are empty).
        target: ObjectRef,
        /// For a `SelfSubjectAccessReview`: `<verb> <resource>[/<sub>]`.
        review: Option<String>,
    },
    /// `server_version`.
    ServerVersion,
    /// Read of one object.
    Get(ObjectRef),
    /// List of a kind.
    List {
        /// apiVersion listed.
        api_version: String,
        /// Kind listed.
        kind: String,
        /// Namespace; none lists every namespace.
        namespace: Option<String>,
        /// Label selector.
        label_selector: String,
    },
    /// Delete, with its options.
    Delete {
        /// The object.
        target: ObjectRef,
        /// The options.
        options: DeleteOptions,
    },
    /// A watch opened.
    Watch(WatchRequest),
    /// A command started.
    Exec(ExecSpec),
    /// A log opened.
    Logs(LogsRequest),
    /// A host-filled Secret (the request names keys, never values).
    ApplyHostSecret(HostSecretRequest),
    /// A Secret handed over to a pod.
    HandOverSecret(HandOverRequest),
}

/// The reference of `object`, with empty fields where it lacks them.
pub(super) fn target_of(object: &Value) -> ObjectRef {
    ObjectRef::of(object).unwrap_or_else(|| {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        ObjectRef {
            api_version: text(&object["apiVersion"]),
            kind: text(&object["kind"]),
            namespace: object["metadata"]["namespace"].as_str().map(str::to_string),
            name: text(&object["metadata"]["name"]),
            uid: None,
        }
    })
}

/// `Kind/ns/name`, or `<unnamed>` for an object without kind or name.
fn display(target: &ObjectRef) -> String {
    if target.kind.is_empty() || target.name.is_empty() {
        "<unnamed>".into()
    } else {
        target.display()
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Call::Apply(target) => write!(f, "apply {}", display(target)),
            Call::Create {
                review: Some(review),
                ..
            } => write!(f, "create SelfSubjectAccessReview {review}"),
            Call::Create { target, .. } => write!(f, "create {}", display(target)),
            Call::ServerVersion => f.write_str("version"),
            Call::Get(target) => write!(f, "get {}", target.display()),
            Call::List {
                kind,
                namespace,
                label_selector,
                ..
            } => write!(
                f,
                "list {kind}/{}?{label_selector}",
                namespace.as_deref().unwrap_or("*")
            ),
            Call::Delete { target, .. } => write!(f, "delete {}", target.display()),
            Call::Watch(request) => {
                write!(f, "watch {}/{}", request.kind, request.namespace)?;
                let selectors: Vec<&str> = [&request.label_selector, &request.field_selector]
                    .into_iter()
                    .map(String::as_str)
                    .filter(|s| !s.is_empty())
                    .collect();
                if !selectors.is_empty() {
                    write!(f, "?{}", selectors.join("&"))?;
                }
                Ok(())
            }
            Call::Exec(spec) => write!(
                f,
                "exec {}/{}/{} {}",
                spec.namespace,
                spec.pod,
                spec.container,
                spec.argv.first().map(String::as_str).unwrap_or("")
            ),
            Call::Logs(request) => write!(
                f,
                "logs {}/{}/{}",
                request.namespace, request.pod, request.container
            ),
            Call::ApplyHostSecret(request) => {
                write!(f, "apply {}", display(&target_of(&request.manifest)))
            }
            Call::HandOverSecret(request) => write!(
                f,
                "hand over Secret/{ns}/{} to Pod/{ns}/{} at {}",
                request.secret,
                request.pod,
                request.path,
                ns = request.namespace
            ),
        }
    }
}
