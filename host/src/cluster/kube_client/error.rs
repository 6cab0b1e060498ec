//! Turning kube-rs errors into [`KubeError`], by HTTP status, with the
//! server's own message.

use crate::contract::KubeError;

/// Maps an HTTP status code and the server's message to an [`KubeError`].
///
/// 404 not found, 409 conflict, 403 forbidden (401 too: the credentials were
/// refused), 400/422 invalid, 410 gone, 408/504 timed out, everything else
/// (429, 5xx, unexpected codes) transport.
pub(crate) fn from_status(step: &str, code: u16, message: &str) -> KubeError {
    let text = format!("{step}: {message} (http {code})");
    match code {
        404 => KubeError::NotFound(text),
        409 => KubeError::Conflict(text),
        401 | 403 => KubeError::Forbidden(text),
        400 | 422 => KubeError::Invalid(text),
        410 => KubeError::Gone(text),
        408 | 504 => KubeError::TimedOut(text),
        _ => KubeError::Transport(text),
    }
}

/// Maps a kube-rs error met during `step` to an [`KubeError`].
pub(crate) fn from_kube(step: &str, err: &kube::Error) -> KubeError {
    use kube::Error as E;
    match err {
        E::Api(status) => from_status(step, status.code, &status.message),
        E::UpgradeConnection(kube::client::UpgradeConnectionError::ProtocolSwitch(code)) => {
            from_status(step, code.as_u16(), "the server refused to open the stream")
        }
        E::BuildRequest(e) => {
            KubeError::BadArgument(format!("{step}: cannot build the request: {e}"))
        }
        E::Discovery(e) => KubeError::NotFound(format!(
            "{step}: the server does not serve this kind: {e}; is its CustomResourceDefinition installed?"
        )),
        E::Auth(e) => KubeError::Forbidden(format!(
            "{step}: authentication failed: {e}; check the kubeconfig user"
        )),
        E::InferConfig(e) => KubeError::NoCluster(format!("{step}: {e}")),
        E::InferKubeconfig(e) => KubeError::NoCluster(format!("{step}: {e}")),
        E::SerdeError(e) => {
            KubeError::Transport(format!("{step}: unreadable answer from the server: {e}"))
        }
        E::HyperError(_) | E::Service(_) => KubeError::Transport(format!(
            "{step}: the connection failed before an answer came ({}); the request may or may \
             not have been carried out",
            causes(err)
        )),
        other => KubeError::Transport(format!("{step}: {other}")),
    }
}

/// `err` and every error under it, outermost first (a connection failure's
/// top level says only "client error (SendRequest)"; its cause says what
/// happened).
fn causes(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut next = err.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        next = cause.source();
    }
    parts.join(": ")
}

/// Whether a failed call may succeed when repeated: 429, 500, 502, 503,
/// 504 and connection-level failures (refused, reset, broken pipe).
pub(crate) fn is_retryable(err: &kube::Error) -> bool {
    use kube::Error as E;
    match err {
        E::Api(status) => is_retryable_status(status.code),
        E::UpgradeConnection(kube::client::UpgradeConnectionError::ProtocolSwitch(code)) => {
            is_retryable_status(code.as_u16())
        }
        E::HyperError(_) | E::Service(_) | E::ReadEvents(_) => true,
        _ => false,
    }
}

/// Whether an HTTP status is worth a retry.
pub(crate) fn is_retryable_status(code: u16) -> bool {
    matches!(code, 429 | 500 | 502 | 503 | 504)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|l| l as _)
        }
    }

    #[test]
    fn connection_failure_names_its_root_cause() {
        let err = Layer(
            "client error (SendRequest)",
            Some(Box::new(Layer(
                "connection closed before message completed",
                None,
            ))),
        );
        assert_eq!(
            causes(&err),
            "client error (SendRequest): connection closed before message completed"
        );
    }

    #[rstest]
    #[case::not_found(404, "not found")]
    #[case::conflict(409, "conflict")]
    #[case::forbidden(403, "forbidden")]
    #[case::unauthorized(401, "forbidden")]
    #[case::bad_request(400, "invalid")]
    #[case::unprocessable(422, "invalid")]
    #[case::gone(410, "gone")]
    #[case::gateway_timeout(504, "timed out")]
    #[case::unavailable(503, "transport")]
    #[case::too_many_requests(429, "transport")]
    fn status_codes_map_to_error_variants(#[case] code: u16, #[case] prefix: &str) {
        let err = from_status("apply pod x", code, "the message");
        let text = err.describe();
        assert!(text.starts_with(prefix), "{text}");
        assert!(text.contains("apply pod x: the message"), "{text}");
    }

    #[rstest]
    #[case::throttled(429, true)]
    #[case::unavailable(503, true)]
    #[case::internal(500, true)]
    #[case::conflict(409, false)]
    #[case::not_found(404, false)]
    fn only_throttling_and_server_errors_are_retried(#[case] code: u16, #[case] retry: bool) {
        assert_eq!(is_retryable_status(code), retry);
    }
}
