//! `Retry-After` on 429 and 503 answers: the answer is held back for the
//! time the server asked for (at most [`MAX_WAIT`]) before the client sees
//! it, so the retry that follows ([`super::retry`]) is never sent sooner.
//!
//! kube-rs turns such an answer into an error that no longer carries its
//! headers, so this sits below kube-rs, as a layer of the client's service
//! stack. The API server sends `Retry-After` in seconds (API priority and
//! fairness answers `1`); the HTTP-date form is not used by it and is
//! ignored here.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::header::RETRY_AFTER;
use http::{HeaderMap, Response, StatusCode};
use tower::{Layer, Service};

/// The longest wait honoured; a longer request is cut to this.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(10);

/// How long the server asked the client to wait before trying again: the
/// seconds of `Retry-After` on a 429 or 503 answer, at most [`MAX_WAIT`].
pub(crate) fn requested_wait(status: StatusCode, headers: &HeaderMap) -> Option<Duration> {
    if status != StatusCode::TOO_MANY_REQUESTS && status != StatusCode::SERVICE_UNAVAILABLE {
        return None;
    }
    let seconds: u64 = headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds).min(MAX_WAIT))
}

/// Wraps a service in [`RetryAfter`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RetryAfterLayer;

impl<S> Layer<S> for RetryAfterLayer {
    type Service = RetryAfter<S>;

    fn layer(&self, inner: S) -> RetryAfter<S> {
        RetryAfter { inner }
    }
}

/// A service whose 429 and 503 answers arrive after their `Retry-After`.
#[derive(Debug, Clone)]
pub(crate) struct RetryAfter<S> {
    inner: S,
}

impl<S, Request, Body> Service<Request> for RetryAfter<S>
where
    S: Service<Request, Response = Response<Body>>,
    S::Future: Send + 'static,
    S::Error: 'static,
    Body: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let answer = self.inner.call(request);
        Box::pin(async move {
            let response = answer.await?;
            if let Some(wait) = requested_wait(response.status(), response.headers()) {
                tokio::time::sleep(wait).await;
            }
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(retry_after: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_str(retry_after).expect("a header value"),
        );
        headers
    }

    #[test]
    fn throttled_and_unavailable_answers_ask_for_their_seconds() {
        for status in [
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::SERVICE_UNAVAILABLE,
        ] {
            assert_eq!(
                requested_wait(status, &headers("2")),
                Some(Duration::from_secs(2))
            );
        }
    }

    #[test]
    fn other_answers_and_other_forms_ask_for_nothing() {
        assert_eq!(requested_wait(StatusCode::OK, &headers("2")), None);
        assert_eq!(
            requested_wait(StatusCode::INTERNAL_SERVER_ERROR, &headers("2")),
            None
        );
        assert_eq!(
            requested_wait(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new()),
            None
        );
        assert_eq!(
            requested_wait(
                StatusCode::TOO_MANY_REQUESTS,
                &headers("Wed, 21 Oct 2015 07:28:00 GMT")
            ),
            None
        );
    }

    #[test]
    fn a_long_wait_is_cut_to_the_maximum() {
        assert_eq!(
            requested_wait(StatusCode::TOO_MANY_REQUESTS, &headers("3600")),
            Some(MAX_WAIT)
        );
    }
}
