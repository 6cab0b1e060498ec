//! A scripted fake API server on 127.0.0.1: each request must match the
//! next step of the script (method, path, query, body); the step's reply is
//! sent and the connection closed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use leasebox::cluster::kube_client::{KubeClusterIo, RetryPolicy};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: serde_json::Value,
}

impl Seen {
    /// The value of a query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What a step answers.
pub enum Reply {
    /// Status and JSON body.
    Json(u16, serde_json::Value),
    /// Status and JSON body, after a pause.
    JsonAfter(Duration, u16, serde_json::Value),
    /// 200 with one JSON line per item, then end of body.
    Lines(Vec<serde_json::Value>),
    /// 200, headers only, then silence for a while.
    Hang(Duration),
    /// 429 with `Retry-After` in seconds and a `Status` body.
    Throttled(u64),
}

/// A check on one request.
type Check = Box<dyn Fn(&Seen) -> Result<(), String> + Send>;

/// A step: the method and path expected, extra checks, the reply.
pub struct Step {
    method: &'static str,
    path: String,
    check: Check,
    reply: Reply,
}

/// Expects `method path` and answers `reply`.
pub fn step(method: &'static str, path: &str, reply: Reply) -> Step {
    Step {
        method,
        path: path.to_string(),
        check: Box::new(|_| Ok(())),
        reply,
    }
}

impl Step {
    /// Adds a check on the request.
    pub fn check(mut self, check: impl Fn(&Seen) -> Result<(), String> + Send + 'static) -> Step {
        self.check = Box::new(check);
        self
    }
}

/// The running server.
pub struct FakeApi {
    pub url: String,
    steps: Arc<Mutex<Vec<Step>>>,
    failures: Arc<Mutex<Vec<String>>>,
}

fn status(code: u16, reason: &str, message: &str) -> serde_json::Value {
    serde_json::json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason, "message": message})
}

/// A Kubernetes `Status` failure body.
pub fn failure(code: u16, reason: &str, message: &str) -> Reply {
    Reply::Json(code, status(code, reason, message))
}

/// A watch `ERROR` event carrying a status.
pub fn error_event(code: u16, reason: &str, message: &str) -> serde_json::Value {
    serde_json::json!({"type": "ERROR", "object": status(code, reason, message)})
}

/// A listener on a free port of 127.0.0.1, and its `http://` URL.
pub fn listen() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    let address = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("addr: {e}"));
    (listener, format!("http://{address}"))
}

impl FakeApi {
    /// Starts a server that plays `steps` in order.
    pub fn start(steps: Vec<Step>) -> FakeApi {
        let (listener, url) = listen();
        let mut steps = steps;
        steps.reverse();
        let steps = Arc::new(Mutex::new(steps));
        let failures = Arc::new(Mutex::new(Vec::new()));
        let (s, f) = (steps.clone(), failures.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (s, f) = (s.clone(), f.clone());
                std::thread::spawn(move || serve(conn, &s, &f));
            }
        });
        FakeApi {
            url,
            steps,
            failures,
        }
    }

    /// A client for this server (fast retries).
    pub fn client(&self) -> KubeClusterIo {
        let uri = self.url.parse().unwrap_or_else(|e| panic!("url: {e}"));
        let policy = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
        };
        KubeClusterIo::from_config(kube::Config::new(uri))
            .unwrap_or_else(|e| panic!("client: {e}"))
            .with_retry_policy(policy)
    }

    /// Asserts that every step was played and every check passed.
    pub fn finish(&self) {
        let failures = self.failures.lock().map(|f| f.clone()).unwrap_or_default();
        assert!(failures.is_empty(), "fake api: {failures:#?}");
        let left = self.steps.lock().map(|s| s.len()).unwrap_or_default();
        assert_eq!(left, 0, "fake api: {left} steps were not requested");
    }
}

/// Reads one request (line, headers, a `Content-Length` body); `None` at
/// the end of the connection or on a malformed request.
pub fn read_request(conn: &mut BufReader<TcpStream>) -> Option<Seen> {
    let mut line = String::new();
    conn.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        conn.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0u8; length];
    conn.read_exact(&mut body).ok()?;
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let query = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect();
    let body = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    Some(Seen {
        method,
        path: path.to_string(),
        query,
        body,
    })
}

/// Percent-decoding of a query component.
fn decode(text: &str) -> String {
    let bytes = text.replace('+', " ").into_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&String::from_utf8_lossy(&bytes[i + 1..i + 3]), 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn serve(conn: TcpStream, steps: &Mutex<Vec<Step>>, failures: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(conn);
    let Some(seen) = read_request(&mut reader) else {
        return;
    };
    let mut conn = reader.into_inner();
    let next = steps.lock().ok().and_then(|mut s| s.pop());
    let fail = |m: String| {
        if let Ok(mut f) = failures.lock() {
            f.push(m);
        }
    };
    let Some(step) = next else {
        fail(format!("unexpected request {} {}", seen.method, seen.path));
        let _ = write!(
            conn,
            "HTTP/1.1 418 I'm a teapot\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        return;
    };
    if seen.method != step.method || seen.path != step.path {
        fail(format!(
            "expected {} {}, got {} {}",
            step.method, step.path, seen.method, seen.path
        ));
    } else if let Err(e) = (step.check)(&seen) {
        fail(format!("{} {}: {e}", seen.method, seen.path));
    }
    let head = |code: u16| {
        format!("HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nConnection: close\r\n")
    };
    let reply = match step.reply {
        Reply::JsonAfter(pause, code, body) => {
            std::thread::sleep(pause);
            Reply::Json(code, body)
        }
        other => other,
    };
    match reply {
        Reply::JsonAfter(..) => {}
        Reply::Json(code, body) => {
            let body = body.to_string();
            let _ = write!(
                conn,
                "{}Content-Length: {}\r\n\r\n{body}",
                head(code),
                body.len()
            );
        }
        Reply::Throttled(seconds) => {
            let body = status(429, "TooManyRequests", "slow down").to_string();
            let _ = write!(
                conn,
                "{}Retry-After: {seconds}\r\nContent-Length: {}\r\n\r\n{body}",
                head(429),
                body.len()
            );
        }
        Reply::Lines(lines) => {
            let _ = write!(conn, "{}\r\n", head(200));
            for line in lines {
                let _ = writeln!(conn, "{line}");
                let _ = conn.flush();
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Reply::Hang(time) => {
            let _ = write!(conn, "{}\r\n", head(200));
            let _ = conn.flush();
            std::thread::sleep(time);
        }
    }
}
