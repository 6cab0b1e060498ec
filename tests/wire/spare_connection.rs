//! The spare connection after an exec upgrade (`kube_client/spare.rs`),
//! against a fake API server that keeps its connections open (HTTP/1.1
//! keep-alive) and records which connection each request came on.
//!
//! An exec's upgrade takes its connection out of the client's pool. A
//! client with spares (`serve`) replaces it in the background, so the call
//! after an exec arrives on a connection that was already open; a client
//! without (the one-shot CLI) sends nothing more, and that call opens a
//! new connection itself.

use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use leasebox::cluster::io::{CallerIo, ClusterIo};
use leasebox::cluster::kube_client::KubeClusterIo;
use leasebox::contract::ExecSpec;

use super::fake_api::{listen, read_request};

/// Longest wait for the spare's request to reach the server.
const SPARE_LIMIT: Duration = Duration::from_secs(10);

/// Time for the client to read the spare's answer and put its connection
/// back in the pool, once the server has written that answer. Without it
/// the next call could race the spare and open a connection of its own.
const SETTLE: Duration = Duration::from_millis(300);

/// What the server answers to `GET /version`.
const VERSION: &str = r#"{"major":"1","minor":"20","gitVersion":"v1.20.2"}"#;

/// One request: the connection it came on (0 for the first accepted) and
/// its request line's method and path (without the query).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Request {
    connection: usize,
    method: String,
    path: String,
}

/// A server that answers `GET /version` with keep-alive and switches an
/// exec request to SPDY (then reads that connection until it closes).
struct KeepAliveApi {
    url: String,
    seen: Arc<Mutex<Vec<Request>>>,
    answered: Arc<Mutex<usize>>,
}

impl KeepAliveApi {
    fn start() -> KeepAliveApi {
        let (listener, url) = listen();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let answered = Arc::new(Mutex::new(0));
        let (log, count) = (seen.clone(), answered.clone());
        std::thread::spawn(move || {
            for (connection, stream) in listener.incoming().flatten().enumerate() {
                let (log, count) = (log.clone(), count.clone());
                std::thread::spawn(move || answer(connection, stream, &log, &count));
            }
        });
        KeepAliveApi {
            url,
            seen,
            answered,
        }
    }

    fn client(&self) -> KubeClusterIo {
        let uri = self.url.parse().unwrap_or_else(|e| panic!("url: {e}"));
        KubeClusterIo::from_config(kube::Config::new(uri)).unwrap_or_else(|e| panic!("client: {e}"))
    }

    fn seen(&self) -> Vec<Request> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Waits until `count` `/version` answers have been written (the spare
    /// is sent in the background), then [`SETTLE`]; the requests seen.
    fn wait_for_answers(&self, count: usize) -> Vec<Request> {
        let started = Instant::now();
        while self.answered.lock().map(|a| *a).unwrap_or_default() < count
            && started.elapsed() < SPARE_LIMIT
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(SETTLE);
        self.seen()
    }
}

/// Serves one connection: requests in turn until it closes or upgrades.
fn answer(
    connection: usize,
    stream: TcpStream,
    seen: &Mutex<Vec<Request>>,
    answered: &Mutex<usize>,
) {
    let mut writer = stream.try_clone().unwrap_or_else(|e| panic!("clone: {e}"));
    let mut reader = BufReader::new(stream);
    while let Some(request) = read_request(&mut reader) {
        let upgrade = request.path.ends_with("/exec");
        if let Ok(mut seen) = seen.lock() {
            seen.push(Request {
                connection,
                method: request.method,
                path: request.path,
            });
        }
        if upgrade {
            let switched = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\
                            Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n";
            if writer.write_all(switched.as_bytes()).is_err() {
                return;
            }
            // The session's frames: read and dropped until the client goes.
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
            return;
        }
        let reply = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{VERSION}",
            VERSION.len()
        );
        if writer.write_all(reply.as_bytes()).is_err() {
            return;
        }
        if let Ok(mut answered) = answered.lock() {
            *answered += 1;
        }
    }
}

/// An exec of `cat` with stdin open: the SPDY upgrade.
fn exec_spec() -> ExecSpec {
    ExecSpec {
        namespace: "leasebox-acme".into(),
        pod: "lb-01jdq7s5v8n3c2x9w4y6z0a1b2".into(),
        container: "agent".into(),
        argv: vec!["cat".into()],
        stdin: true,
        forward_output: false,
        forward_stdin: false,
        frame_stdin: false,
        tty: None,
        max_stdout_bytes: None,
        max_stderr_bytes: None,
    }
}

fn version(connection: usize) -> Request {
    Request {
        connection,
        method: "GET".into(),
        path: "/version".into(),
    }
}

fn exec(connection: usize) -> Request {
    Request {
        connection,
        method: "GET".into(),
        path: "/api/v1/namespaces/leasebox-acme/pods/lb-01jdq7s5v8n3c2x9w4y6z0a1b2/exec".into(),
    }
}

#[test]
fn after_an_exec_upgrade_the_next_call_finds_a_connection_already_open() {
    let api = KeepAliveApi::start();
    let cluster = api.client().with_spare_connections();
    cluster.server_version().expect("version");
    let session = cluster
        .exec(&exec_spec(), &CallerIo::none())
        .expect("exec upgrade");
    // The spare: sent by the client on its own, on a new connection.
    assert_eq!(
        api.wait_for_answers(2),
        vec![version(0), exec(0), version(1)],
        "the exec took connection 0; the spare must open connection 1"
    );
    cluster.server_version().expect("version after the exec");
    assert_eq!(
        api.seen(),
        vec![version(0), exec(0), version(1), version(1)],
        "the call after the exec must reuse the spare's connection"
    );
    drop(session);
}

#[test]
fn a_client_without_spares_sends_nothing_after_an_exec_upgrade() {
    let api = KeepAliveApi::start();
    let cluster = api.client();
    cluster.server_version().expect("version");
    let session = cluster
        .exec(&exec_spec(), &CallerIo::none())
        .expect("exec upgrade");
    cluster.server_version().expect("version after the exec");
    assert_eq!(
        api.seen(),
        vec![version(0), exec(0), version(1)],
        "without spares, the call after the exec opens connection 1 itself"
    );
    drop(session);
}
