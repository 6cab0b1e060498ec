//! The metrics endpoint: `GET /metrics` (OpenMetrics text) and
//! `GET /healthz` over HTTP/1.1, with hyper on a runtime of its own.
//!
//! A scraper on the network must not be able to hold the server's threads
//! or memory: at most [`LIMITS`]`.connections` connections are served at
//! once (one more is closed as soon as it is accepted), a client has
//! [`LIMITS`]`.header_timeout` to send its request's head, and no
//! connection lasts longer than [`LIMITS`]`.deadline`. Each connection
//! carries one request (`connection: close`).

use std::convert::Infallible;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use http::{Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::Semaphore;

use crate::contract::LogLevel;
use crate::serve::log::{self, LogFields};

/// What a scrape answers: the OpenMetrics text of the server's metrics.
pub type Scrape = Arc<dyn Fn() -> String + Send + Sync>;

/// Content type of a scrape answer.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Content type of every other answer.
const PLAIN: &str = "text/plain; charset=utf-8";

/// How long the accept loop waits after a failed accept (out of file
/// descriptors, say) before it tries again, so it does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The bounds on the clients of the endpoint.
#[derive(Debug, Clone, Copy)]
struct Limits {
    /// Connections served at once.
    connections: usize,
    /// Time a client has to send a request's head.
    header_timeout: Duration,
    /// Time a connection may last, request and answer.
    deadline: Duration,
}

/// The endpoint's bounds: a scrape is one short request (Prometheus makes
/// one per target at a time), so 64 connections leave room for several
/// scrapers and probes; 10 s for the head is far more than a client on the
/// network needs; 30 s covers the slowest scrape.
const LIMITS: Limits = Limits {
    connections: 64,
    header_timeout: Duration::from_secs(10),
    deadline: Duration::from_secs(30),
};

/// Serves `GET /metrics` (the text of `scrape()`) and `GET /healthz` on
/// `listener`, on a thread of its own; returns at once. When the endpoint
/// cannot start (no runtime), a warning is logged and the server goes on
/// without it.
pub fn serve_http(listener: TcpListener, scrape: Scrape) {
    start(listener, scrape, LIMITS);
}

/// [`serve_http`] with `limits`.
fn start(listener: TcpListener, scrape: Scrape, limits: Limits) {
    std::thread::spawn(move || {
        if let Err(error) = run(listener, scrape, limits) {
            let message = format!("the metrics endpoint stopped: {error}");
            log::emit(&LogFields::default(), LogLevel::Warn, "metrics", &message);
        }
    });
}

/// Accepts connections on `listener` for as long as the process runs.
fn run(listener: TcpListener, scrape: Scrape, limits: Limits) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    listener.set_nonblocking(true)?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let slots = Arc::new(Semaphore::new(limits.connections));
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(_) => {
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            };
            // Over the bound: dropping the stream closes it.
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                continue;
            };
            let scrape = scrape.clone();
            tokio::spawn(async move {
                let connection = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(limits.header_timeout)
                    .keep_alive(false)
                    .serve_connection(
                        TokioIo::new(stream),
                        service_fn(move |request| answer(request, scrape.clone())),
                    );
                // A broken or slow client is the client's problem; past
                // the deadline the connection is dropped, which closes it.
                let _ = tokio::time::timeout(limits.deadline, connection).await;
                drop(slot);
            });
        }
    })
}

/// The answer to `request`.
async fn answer(
    request: Request<Incoming>,
    scrape: Scrape,
) -> Result<Response<String>, Infallible> {
    let (status, content_type, body) = match (request.method(), request.uri().path()) {
        (&Method::GET, "/metrics") => {
            // Off the runtime's one thread: a slow scrape does not hold
            // up /healthz.
            match tokio::task::spawn_blocking(move || scrape()).await {
                Ok(text) => (StatusCode::OK, OPENMETRICS, text),
                Err(_) => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    PLAIN,
                    "the scrape failed\n".to_string(),
                ),
            }
        }
        (&Method::GET, "/healthz") => (StatusCode::OK, PLAIN, "ok\n".to_string()),
        (&Method::GET, _) => (
            StatusCode::NOT_FOUND,
            PLAIN,
            "not found: the paths are /metrics and /healthz\n".to_string(),
        ),
        _ => (
            StatusCode::METHOD_NOT_ALLOWED,
            PLAIN,
            "only GET is answered\n".to_string(),
        ),
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    if status == StatusCode::METHOD_NOT_ALLOWED {
        headers.insert(header::ALLOW, header::HeaderValue::from_static("GET"));
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use std::io::{ErrorKind, Read, Write};
    use std::net::{SocketAddr, TcpStream};

    use rstest::rstest;

    use super::*;

    /// How long a test client waits for the server to answer or close; only
    /// so that a broken server fails the test instead of hanging it.
    const CLIENT_PATIENCE: Duration = Duration::from_secs(10);

    /// An endpoint with `limits` on a free local port, scraping a fixed text.
    fn endpoint(limits: Limits) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        start(listener, Arc::new(|| "m 1\n# EOF\n".to_string()), limits);
        addr
    }

    fn connect(addr: SocketAddr) -> TcpStream {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(CLIENT_PATIENCE))
            .expect("read timeout");
        stream
    }

    /// What the server sends on `stream` until it closes it; empty when it
    /// closed without answering (a reset included).
    fn until_closed(mut stream: TcpStream) -> String {
        let mut answer = Vec::new();
        match stream.read_to_end(&mut answer) {
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("the server neither answered nor closed the connection")
            }
            Err(_) => answer.clear(),
        }
        String::from_utf8_lossy(&answer).into_owned()
    }

    /// The whole answer to `request` sent on a new connection.
    fn exchange(addr: SocketAddr, request: &str) -> String {
        let mut stream = connect(addr);
        // A server that closed at once may have reset the connection
        // already: the read below tells.
        let _ = stream.write_all(request.as_bytes());
        until_closed(stream)
    }

    fn get(addr: SocketAddr, path: &str) -> String {
        exchange(addr, &format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n"))
    }

    #[test]
    fn http_answers_metrics_healthz_404_and_405() {
        let addr = endpoint(LIMITS);
        let metrics = get(addr, "/metrics");
        assert!(metrics.starts_with("HTTP/1.1 200 OK"), "{metrics}");
        assert!(metrics.contains("openmetrics-text"), "{metrics}");
        assert!(metrics.contains("connection: close"), "{metrics}");
        assert!(metrics.ends_with("\r\n\r\nm 1\n# EOF\n"), "{metrics}");
        let healthz = get(addr, "/healthz?verbose");
        assert!(healthz.starts_with("HTTP/1.1 200 OK"), "{healthz}");
        assert!(healthz.ends_with("\r\n\r\nok\n"), "{healthz}");
        let nope = get(addr, "/nope");
        assert!(nope.starts_with("HTTP/1.1 404"), "{nope}");
        let post = exchange(
            addr,
            "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
        );
        assert!(post.starts_with("HTTP/1.1 405"), "{post}");
        assert!(post.contains("allow: GET"), "{post}");
    }

    #[test]
    fn a_connection_over_the_bound_is_closed_at_once_and_served_once_a_slot_frees() {
        let addr = endpoint(Limits {
            connections: 2,
            ..LIMITS
        });
        // Two clients that send nothing hold both slots (the server accepts
        // in order, so both are taken before the third is accepted).
        let idle = [connect(addr), connect(addr)];
        assert_eq!(get(addr, "/healthz"), "", "over the bound, no answer");
        drop(idle);
        // Their slots come back once the server sees them close.
        let served = (0..100).any(|_| {
            let healthz = get(addr, "/healthz");
            if healthz.is_empty() {
                std::thread::sleep(Duration::from_millis(50));
            }
            healthz.starts_with("HTTP/1.1 200 OK")
        });
        assert!(served, "a freed slot serves the next client");
    }

    #[rstest]
    #[case::by_the_header_timeout(Duration::from_millis(200), Duration::from_secs(60))]
    #[case::by_the_connection_deadline(Duration::from_secs(60), Duration::from_millis(200))]
    fn a_client_that_sends_a_partial_head_is_dropped(
        #[case] header_timeout: Duration,
        #[case] deadline: Duration,
    ) {
        let addr = endpoint(Limits {
            header_timeout,
            deadline,
            ..LIMITS
        });
        let mut stream = connect(addr);
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            .expect("write");
        let answer = until_closed(stream);
        assert!(!answer.contains("200 OK"), "{answer}");
    }
}
