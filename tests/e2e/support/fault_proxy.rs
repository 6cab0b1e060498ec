//! A fault-injecting HTTP proxy in front of the test cluster's API server.
//!
//! The binary under test talks plain HTTP/1.1 to the proxy (see
//! [`FaultProxy::kubeconfig_yaml`]: no credentials); the proxy forwards
//! every request to the API server over TLS, presenting the client
//! certificate of the e2e kubeconfig. Each request travels on its own
//! connection (the proxy answers `Connection: close`), so the end of the
//! upstream connection is the end of the answer and a fault never touches
//! a neighbouring request.
//!
//! Request and answer heads are read with `httparse` (the parser under
//! hyper) and written again with the connection fields fixed; bodies are
//! copied as bytes.
//!
//! Upgraded connections (exec's `Upgrade: websocket`) are passed through:
//! after the `101` the bytes are copied both ways. Streaming answers
//! (watches) are copied as they arrive.
//!
//! A test sets [`Rule`]s: which requests (method, path substring, query
//! substring, from the Nth match on), what happens to them ([`Action`]),
//! and how often at most. Every request seen and every fault injected are
//! recorded.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine;
use kube::config::Kubeconfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer,
    ServerName,
};

/// The largest request or response head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// The most header fields a head may carry.
const MAX_FIELDS: usize = 128;

/// Bytes read at a time.
const CHUNK: usize = 16 * 1024;

/// What a rule does to a request it fires on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Answers this status without forwarding (429 carries
    /// `Retry-After: 1`), with a Kubernetes `Status` body.
    Status(u16),
    /// Closes the connection without forwarding and without an answer.
    Reset,
    /// Forwards the request, waits for the server's answer, then closes the
    /// connection without passing it on: the server did the work, the
    /// client never learns the result.
    LoseAnswer,
    /// Waits this long, then forwards.
    Delay(Duration),
    /// Forwards, and cuts the answer (not an upgraded one) after this many
    /// bytes of its body.
    CutStreamAfterBytes(u64),
    /// Forwards, and cuts the answer this long after its head arrived.
    CutStreamAfter(Duration),
    /// Forwards an upgrade, and cuts the upgraded stream after this many
    /// bytes from the server.
    CutUpgradeAfterBytes(u64),
    /// Answers a watch with the API server's "too old resource version"
    /// (a `200` whose only event is an `ERROR` with a `410 Gone` status),
    /// without forwarding.
    GoneOnWatch,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Status(code) => write!(f, "answer {code}"),
            Action::Reset => write!(f, "reset before forwarding"),
            Action::LoseAnswer => write!(f, "forward, then drop the answer"),
            Action::Delay(d) => write!(f, "delay {d:?}"),
            Action::CutStreamAfterBytes(n) => write!(f, "cut the answer after {n} bytes"),
            Action::CutStreamAfter(d) => write!(f, "cut the answer after {d:?}"),
            Action::CutUpgradeAfterBytes(n) => {
                write!(f, "cut the upgraded stream after {n} bytes")
            }
            Action::GoneOnWatch => write!(f, "answer the watch with 410 Gone"),
        }
    }
}

/// Which requests a fault hits, what it does, how often.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Named in the record of injected faults.
    pub name: String,
    method: Option<String>,
    path: String,
    query: Option<String>,
    not_query: Option<String>,
    first: u32,
    times: u32,
    action: Action,
}

impl Rule {
    /// Fires once, on the first request whose method is `method` (any when
    /// empty) and whose path contains `path` (ends with it, when `path`
    /// ends with `$`).
    pub fn new(name: &str, method: &str, path: &str, action: Action) -> Rule {
        Rule {
            name: name.to_string(),
            method: Some(method.to_ascii_uppercase()).filter(|m| !m.is_empty()),
            path: path.to_string(),
            query: None,
            not_query: None,
            first: 1,
            times: 1,
            action,
        }
    }

    /// Only requests whose query string contains `query`.
    pub fn query(mut self, query: &str) -> Rule {
        self.query = Some(query.to_string());
        self
    }

    /// Only requests whose query string does not contain `query`.
    pub fn not_query(mut self, query: &str) -> Rule {
        self.not_query = Some(query.to_string());
        self
    }

    /// Fires on the `n`th matching request (1 for the first) and after it.
    pub fn nth(mut self, n: u32) -> Rule {
        self.first = n.max(1);
        self
    }

    /// Fires on every matching request, at most `times` times in all.
    pub fn times(mut self, times: u32) -> Rule {
        self.times = times;
        self
    }

    fn matches(&self, method: &str, path: &str, query: &str) -> bool {
        let path_matches = match self.path.strip_suffix('$') {
            Some(suffix) => path.ends_with(suffix),
            None => path.contains(&self.path),
        };
        self.method.as_deref().is_none_or(|m| m == method)
            && path_matches
            && self.query.as_deref().is_none_or(|q| query.contains(q))
            && self.not_query.as_deref().is_none_or(|q| !query.contains(q))
    }
}

/// One request the proxy saw.
#[derive(Debug, Clone)]
pub struct Seen {
    /// HTTP method.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// The query string (without `?`).
    pub query: String,
    /// The rule that fired on it.
    pub rule: Option<String>,
    /// When it arrived.
    pub at: Instant,
}

impl fmt::Display for Seen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)?;
        if !self.query.is_empty() {
            write!(f, "?{}", self.query)?;
        }
        if let Some(rule) = &self.rule {
            write!(f, "  <- {rule}")?;
        }
        Ok(())
    }
}

/// One fault the proxy injected.
#[derive(Debug, Clone)]
pub struct Injected {
    /// The rule's name.
    pub rule: String,
    /// HTTP method of the request.
    pub method: String,
    /// Its path.
    pub path: String,
    /// What was done.
    pub what: String,
}

impl fmt::Display for Injected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}] {} {}: {}",
            self.rule, self.method, self.path, self.what
        )
    }
}

struct Armed {
    rule: Rule,
    matched: u32,
    fired: u32,
}

#[derive(Default)]
struct Record {
    rules: Vec<Armed>,
    seen: Vec<Seen>,
    injected: Vec<Injected>,
}

/// Where requests go: the API server and how to talk TLS to it.
struct Upstream {
    address: String,
    authority: String,
    server_name: ServerName<'static>,
    tls: TlsConnector,
}

struct Shared {
    upstream: Upstream,
    record: Mutex<Record>,
}

impl Shared {
    fn record(&self) -> MutexGuard<'_, Record> {
        self.record.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records the request and picks the first rule that fires on it.
    fn choose(&self, method: &str, path: &str, query: &str) -> Option<(String, Action)> {
        let mut record = self.record();
        let mut chosen = None;
        for armed in &mut record.rules {
            if !armed.rule.matches(method, path, query) {
                continue;
            }
            armed.matched += 1;
            if chosen.is_none()
                && armed.matched >= armed.rule.first
                && armed.fired < armed.rule.times
            {
                armed.fired += 1;
                chosen = Some((armed.rule.name.clone(), armed.rule.action.clone()));
            }
        }
        record.seen.push(Seen {
            method: method.to_string(),
            path: path.to_string(),
            query: query.to_string(),
            rule: chosen.as_ref().map(|(name, _)| name.clone()),
            at: Instant::now(),
        });
        chosen
    }

    fn injected(&self, rule: &str, method: &str, path: &str, what: String) {
        self.record().injected.push(Injected {
            rule: rule.to_string(),
            method: method.to_string(),
            path: path.to_string(),
            what,
        });
    }
}

/// A running proxy; stops when dropped.
pub struct FaultProxy {
    address: SocketAddr,
    shared: Arc<Shared>,
    runtime: Option<Runtime>,
}

impl FaultProxy {
    /// Starts a proxy on 127.0.0.1 (a free port) in front of the cluster
    /// of the kubeconfig at `kubeconfig` (its current context), with no
    /// rules.
    pub fn start(kubeconfig: &Path) -> FaultProxy {
        let upstream = upstream(kubeconfig).unwrap_or_else(|e| {
            panic!(
                "fault proxy: cannot use the kubeconfig {}: {e}",
                kubeconfig.display()
            )
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fault-proxy")
            .enable_all()
            .build()
            .expect("a tokio runtime for the fault proxy");
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("the fault proxy binds 127.0.0.1:0");
        let address = listener.local_addr().expect("the proxy's address");
        let shared = Arc::new(Shared {
            upstream,
            record: Mutex::new(Record::default()),
        });
        let accepting = shared.clone();
        runtime.spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                tokio::spawn(serve(client, accepting.clone()));
            }
        });
        FaultProxy {
            address,
            shared,
            runtime: Some(runtime),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// A kubeconfig that points at the proxy, without credentials.
    pub fn kubeconfig_yaml(&self) -> String {
        format!(
            "apiVersion: v1\n\
             kind: Config\n\
             clusters:\n\
             - name: fault-proxy\n  cluster:\n    server: {url}\n\
             users:\n\
             - name: through-the-proxy\n  user: {{}}\n\
             contexts:\n\
             - name: fault-proxy\n  context:\n    cluster: fault-proxy\n    user: through-the-proxy\n\
             current-context: fault-proxy\n",
            url = self.url()
        )
    }

    /// Replaces the rules (their counts start again); the records are kept.
    pub fn set_rules(&self, rules: Vec<Rule>) {
        self.shared.record().rules = rules
            .into_iter()
            .map(|rule| Armed {
                rule,
                matched: 0,
                fired: 0,
            })
            .collect();
    }

    /// Forgets the requests seen and the faults injected.
    pub fn clear_records(&self) {
        let mut record = self.shared.record();
        record.seen.clear();
        record.injected.clear();
    }

    /// Every request seen since the last [`FaultProxy::clear_records`].
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.record().seen.clone()
    }

    /// Every fault injected since the last [`FaultProxy::clear_records`].
    pub fn injected(&self) -> Vec<Injected> {
        self.shared.record().injected.clone()
    }

    /// Names of the current rules that never fired.
    pub fn unfired(&self) -> Vec<String> {
        self.shared
            .record()
            .rules
            .iter()
            .filter(|armed| armed.fired == 0)
            .map(|armed| armed.rule.name.clone())
            .collect()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Reads the API server's address, its CA and the client identity from
/// the kubeconfig (current context, else the first cluster and user).
fn upstream(path: &Path) -> Result<Upstream, String> {
    let config = Kubeconfig::read_from(path).map_err(|e| e.to_string())?;
    let context = config
        .current_context
        .as_ref()
        .and_then(|name| config.contexts.iter().find(|c| &c.name == name))
        .and_then(|c| c.context.clone());
    let cluster = config
        .clusters
        .iter()
        .find(|c| context.as_ref().is_none_or(|ctx| ctx.cluster == c.name))
        .and_then(|c| c.cluster.clone())
        .ok_or("no cluster")?;
    let user = config
        .auth_infos
        .iter()
        .find(|u| {
            context
                .as_ref()
                .and_then(|ctx| ctx.user.as_ref())
                .is_none_or(|name| name == &u.name)
        })
        .and_then(|u| u.auth_info.clone())
        .ok_or("no user")?;

    let server = cluster.server.clone().ok_or("the cluster has no server")?;
    let authority = server
        .strip_prefix("https://")
        .ok_or_else(|| format!("the server {server} is not https"))?
        .trim_end_matches('/')
        .to_string();
    let (host, address) = match authority.rsplit_once(':') {
        Some((host, _port)) => (host.to_string(), authority.clone()),
        None => (authority.clone(), format!("{authority}:443")),
    };
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let server_name = ServerName::try_from(cluster.tls_server_name.clone().unwrap_or(host))
        .map_err(|e| format!("server name: {e}"))?;

    let data = |value: Option<&str>, what: &str| -> Result<Vec<u8>, String> {
        let text = value.ok_or_else(|| format!("no {what}"))?;
        base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|e| format!("{what}: {e}"))
    };
    // The key is a secret string in kube-rs; its serialised form is the
    // kubeconfig's own field.
    let user_json = serde_json::to_value(&user).map_err(|e| e.to_string())?;
    let ca = data(
        cluster.certificate_authority_data.as_deref(),
        "certificate-authority-data",
    )?;
    let cert = data(
        user.client_certificate_data.as_deref(),
        "client-certificate-data",
    )?;
    let key = data(
        user_json.get("client-key-data").and_then(|v| v.as_str()),
        "client-key-data",
    )?;

    let mut roots = rustls::RootCertStore::empty();
    for (_, der) in pem_blocks(&ca)? {
        roots
            .add(CertificateDer::from(der))
            .map_err(|e| format!("certificate-authority-data: {e}"))?;
    }
    let chain: Vec<CertificateDer<'static>> = pem_blocks(&cert)?
        .into_iter()
        .map(|(_, der)| CertificateDer::from(der))
        .collect();
    let key = pem_blocks(&key)?
        .into_iter()
        .find_map(|(label, der)| match label.as_str() {
            "PRIVATE KEY" => Some(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der))),
            "RSA PRIVATE KEY" => Some(PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(der))),
            "EC PRIVATE KEY" => Some(PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(der))),
            _ => None,
        })
        .ok_or("client-key-data holds no private key")?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| format!("client identity: {e}"))?;
    Ok(Upstream {
        address,
        authority,
        server_name,
        tls: TlsConnector::from(Arc::new(tls)),
    })
}

/// The blocks of a PEM text: (label, DER bytes).
fn pem_blocks(pem: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let text = std::str::from_utf8(pem).map_err(|e| format!("PEM is not text: {e}"))?;
    let mut blocks = Vec::new();
    let mut open: Option<(String, String)> = None;
    for line in text.lines().map(str::trim) {
        if let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        {
            open = Some((label.to_string(), String::new()));
        } else if line.starts_with("-----END ") {
            if let Some((label, body)) = open.take() {
                let der = base64::engine::general_purpose::STANDARD
                    .decode(body.as_bytes())
                    .map_err(|e| format!("PEM block {label}: {e}"))?;
                blocks.push((label, der));
            }
        } else if let Some((_, body)) = open.as_mut() {
            body.push_str(line);
        }
    }
    if blocks.is_empty() {
        return Err("no PEM block".into());
    }
    Ok(blocks)
}

/// Reads from `stream` into `buf` until `parse` finds a whole head at its
/// start; that head and the index just after it, or `None` at an end before
/// it.
async fn read_head<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    parse: fn(&[u8]) -> Parsed,
) -> Parsed {
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(parsed) = parse(buf)? {
            return Ok(Some(parsed));
        }
        if buf.len() > MAX_HEAD {
            return Err(std::io::Error::other("head too large"));
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// A whole head at the start of a buffer and the index just after it;
/// `None` while the head is incomplete.
type Parsed = std::io::Result<Option<(Head, usize)>>;

/// A parsed head: the first line's parts (a request's method, target and
/// version; an answer's version, code and reason) and the header fields.
struct Head {
    first: [String; 3],
    fields: Vec<(String, String)>,
}

impl Head {
    /// The request head at the start of `bytes` and its length; `None` while
    /// it is incomplete.
    fn request(bytes: &[u8]) -> Parsed {
        let mut fields = [httparse::EMPTY_HEADER; MAX_FIELDS];
        let mut request = httparse::Request::new(&mut fields);
        let httparse::Status::Complete(len) = request.parse(bytes).map_err(unreadable)? else {
            return Ok(None);
        };
        let first = [
            request.method.unwrap_or_default().to_string(),
            request.path.unwrap_or_default().to_string(),
            http_version(request.version),
        ];
        Ok(Some((Head::new(first, request.headers)?, len)))
    }

    /// The answer head at the start of `bytes` and its length; `None` while
    /// it is incomplete.
    fn response(bytes: &[u8]) -> Parsed {
        let mut fields = [httparse::EMPTY_HEADER; MAX_FIELDS];
        let mut response = httparse::Response::new(&mut fields);
        let httparse::Status::Complete(len) = response.parse(bytes).map_err(unreadable)? else {
            return Ok(None);
        };
        let first = [
            http_version(response.version),
            response.code.unwrap_or_default().to_string(),
            response.reason.unwrap_or_default().to_string(),
        ];
        Ok(Some((Head::new(first, response.headers)?, len)))
    }

    fn new(first: [String; 3], fields: &[httparse::Header<'_>]) -> std::io::Result<Head> {
        let fields = fields
            .iter()
            .map(|field| {
                let value = std::str::from_utf8(field.value).map_err(unreadable)?;
                Ok((field.name.to_string(), value.trim().to_string()))
            })
            .collect::<std::io::Result<_>>()?;
        Ok(Head { first, fields })
    }

    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The head again, without hop-by-hop connection fields (kept when
    /// `keep_connection`), with `Host` replaced when given and
    /// `Connection: close` added unless `keep_connection`.
    fn render(&self, host: Option<&str>, keep_connection: bool) -> Vec<u8> {
        let mut out = self.first.join(" ");
        out.push_str("\r\n");
        for (k, v) in &self.fields {
            let lower = k.to_ascii_lowercase();
            if !keep_connection
                && matches!(
                    lower.as_str(),
                    "connection" | "keep-alive" | "proxy-connection"
                )
            {
                continue;
            }
            if lower == "host" && host.is_some() {
                continue;
            }
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some(host) = host {
            out.push_str(&format!("Host: {host}\r\n"));
        }
        if !keep_connection {
            out.push_str("Connection: close\r\n");
        }
        out.push_str("\r\n");
        out.into_bytes()
    }
}

/// `HTTP/1.<minor>`.
fn http_version(minor: Option<u8>) -> String {
    format!("HTTP/1.{}", minor.unwrap_or(1))
}

/// A head that is not HTTP/1.x.
fn unreadable(error: impl fmt::Display) -> std::io::Error {
    std::io::Error::other(format!("unreadable head: {error}"))
}

/// Reason phrases of the statuses the proxy answers itself.
fn reason(code: u16) -> (&'static str, &'static str) {
    match code {
        429 => ("Too Many Requests", "TooManyRequests"),
        500 => ("Internal Server Error", "InternalError"),
        502 => ("Bad Gateway", "InternalError"),
        503 => ("Service Unavailable", "ServiceUnavailable"),
        504 => ("Gateway Timeout", "Timeout"),
        _ => ("Injected", "Unknown"),
    }
}

/// A whole answer of `code` with a Kubernetes `Status` body.
fn status_answer(code: u16) -> Vec<u8> {
    let (phrase, why) = reason(code);
    let body = serde_json::json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": format!("fault proxy: injected {code}"),
        "reason": why,
        "code": code,
    })
    .to_string();
    let retry_after = if code == 429 {
        "Retry-After: 1\r\n"
    } else {
        ""
    };
    format!(
        "HTTP/1.1 {code} {phrase}\r\nContent-Type: application/json\r\n{retry_after}\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The answer of an API server to a watch from a resourceVersion it no
/// longer has: one `ERROR` event with a 410 status, then the end.
fn gone_answer() -> Vec<u8> {
    let event = serde_json::json!({
        "type": "ERROR",
        "object": {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "too old resource version (fault proxy)",
            "reason": "Expired",
            "code": 410,
        }
    })
    .to_string()
        + "\n";
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\
         Connection: close\r\n\r\n{:x}\r\n{event}\r\n0\r\n\r\n",
        event.len()
    )
    .into_bytes()
}

/// One client connection: one request, forwarded or faulted.
async fn serve(mut client: TcpStream, shared: Arc<Shared>) {
    let mut buf = Vec::new();
    let Ok(Some((head, end))) = read_head(&mut client, &mut buf, Head::request).await else {
        return;
    };
    let [method, target, _] = head.first.clone();
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target.clone(), String::new()),
    };
    let rest = buf[end..].to_vec();
    let chosen = shared.choose(&method, &path, &query);
    let note = |rule: &str, what: String| shared.injected(rule, &method, &path, what);
    let mut cut = Cut::None;
    let mut lose = None;
    match chosen {
        None => {}
        Some((rule, Action::Status(code))) => {
            note(&rule, format!("answered {code}"));
            let _ = client.write_all(&status_answer(code)).await;
            let _ = client.shutdown().await;
            return;
        }
        Some((rule, Action::Reset)) => {
            note(&rule, "reset the connection before forwarding".into());
            let _ = client.set_zero_linger();
            return;
        }
        Some((rule, Action::GoneOnWatch)) => {
            note(&rule, "answered the watch with 410 Gone".into());
            let _ = client.write_all(&gone_answer()).await;
            let _ = client.shutdown().await;
            return;
        }
        Some((rule, Action::Delay(d))) => {
            note(&rule, format!("delayed {d:?}"));
            tokio::time::sleep(d).await;
        }
        Some((rule, Action::LoseAnswer)) => lose = Some(rule),
        Some((rule, Action::CutStreamAfterBytes(n))) => cut = Cut::Bytes(rule, n, false),
        Some((rule, Action::CutStreamAfter(d))) => cut = Cut::Time(rule, d),
        Some((rule, Action::CutUpgradeAfterBytes(n))) => cut = Cut::Bytes(rule, n, true),
    }
    if let Err(e) = forward(client, &head, rest, &shared, cut, lose, &method, &path).await {
        shared.record().seen.push(Seen {
            method: method.clone(),
            path: path.clone(),
            query: format!("(proxy error: {e})"),
            rule: None,
            at: Instant::now(),
        });
    }
}

/// Where an answer is cut.
enum Cut {
    None,
    /// (rule, bytes, only an upgraded stream).
    Bytes(String, u64, bool),
    /// (rule, after the head).
    Time(String, Duration),
}

#[allow(clippy::too_many_arguments)]
async fn forward(
    client: TcpStream,
    head: &Head,
    rest: Vec<u8>,
    shared: &Shared,
    cut: Cut,
    lose: Option<String>,
    method: &str,
    path: &str,
) -> std::io::Result<()> {
    let upstream = &shared.upstream;
    let tcp = TcpStream::connect(&upstream.address).await?;
    let _ = tcp.set_nodelay(true);
    let tls = upstream
        .tls
        .connect(upstream.server_name.clone(), tcp)
        .await?;
    let upgrade = head.field("upgrade").is_some();
    let (mut up_read, mut up_write) = tokio::io::split(tls);
    let (mut client_read, mut client_write) = client.into_split();
    up_write
        .write_all(&head.render(Some(&upstream.authority), upgrade))
        .await?;
    up_write.write_all(&rest).await?;
    up_write.flush().await?;
    let to_server = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_read, &mut up_write).await;
        let _ = up_write.shutdown().await;
    });
    let result = answer(
        &mut up_read,
        &mut client_write,
        shared,
        cut,
        lose,
        method,
        path,
    )
    .await;
    to_server.abort();
    result
}

/// Copies the server's answer to the client, cutting it when asked.
async fn answer<R, W>(
    up_read: &mut R,
    client_write: &mut W,
    shared: &Shared,
    cut: Cut,
    lose: Option<String>,
    method: &str,
    path: &str,
) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = Vec::new();
    let Some((head, end)) = read_head(up_read, &mut buf, Head::response).await? else {
        return Ok(());
    };
    let code: u16 = head.first[1].parse().unwrap_or(0);
    if let Some(rule) = lose {
        shared.injected(
            &rule,
            method,
            path,
            format!("forwarded, dropped the server's {code} answer, closed the connection"),
        );
        return Ok(());
    }
    let upgraded = code == 101;
    client_write.write_all(&head.render(None, upgraded)).await?;
    // Without an upgrade the answer ends with the connection, or after
    // Content-Length bytes.
    let mut remaining: Option<u64> = if upgraded {
        None
    } else {
        head.field("content-length").and_then(|v| v.parse().ok())
    };
    let (mut budget, deadline, rule) = match cut {
        Cut::Bytes(rule, n, only_upgraded) if only_upgraded == upgraded => {
            (Some(n), None, Some(rule))
        }
        Cut::Time(rule, d) => (None, Some(Instant::now() + d), Some(rule)),
        Cut::Bytes(rule, _, _) => {
            shared.injected(
                &rule,
                method,
                path,
                format!("armed, but the answer was {code}: passed on uncut"),
            );
            (None, None, None)
        }
        Cut::None => (None, None, None),
    };
    let mut copied: u64 = 0;
    let mut pending = buf[end..].to_vec();
    let mut chunk = vec![0u8; CHUNK];
    loop {
        if !pending.is_empty() {
            let mut take = pending.len();
            if let Some(left) = remaining {
                take = take.min(usize::try_from(left).unwrap_or(usize::MAX));
            }
            if let Some(left) = budget {
                take = take.min(usize::try_from(left).unwrap_or(usize::MAX));
            }
            client_write.write_all(&pending[..take]).await?;
            client_write.flush().await?;
            copied += take as u64;
            if let Some(left) = remaining.as_mut() {
                *left -= take as u64;
            }
            if let Some(left) = budget.as_mut() {
                *left -= take as u64;
                if *left == 0 {
                    let rule = rule.as_deref().unwrap_or("?");
                    shared.injected(
                        rule,
                        method,
                        path,
                        format!("cut the {code} answer after {copied} bytes"),
                    );
                    return Ok(());
                }
            }
            pending.clear();
        }
        if remaining == Some(0) {
            break;
        }
        let read = match deadline {
            Some(at) => match tokio::time::timeout_at(at.into(), up_read.read(&mut chunk)).await {
                Ok(read) => read?,
                Err(_) => {
                    let rule = rule.as_deref().unwrap_or("?");
                    shared.injected(
                        rule,
                        method,
                        path,
                        format!("cut the {code} answer after {copied} bytes (time)"),
                    );
                    return Ok(());
                }
            },
            None => up_read.read(&mut chunk).await?,
        };
        if read == 0 {
            break;
        }
        pending.extend_from_slice(&chunk[..read]);
    }
    if let Some(rule) = rule {
        shared.injected(
            &rule,
            method,
            path,
            format!("armed, but the {code} answer ended after {copied} bytes, before the cut"),
        );
    }
    client_write.flush().await?;
    client_write.shutdown().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(text: &str) -> (Head, usize) {
        Head::request(text.as_bytes())
            .expect("a request head")
            .expect("a whole head")
    }

    #[test]
    fn a_request_goes_upstream_with_the_servers_host_and_connection_close() {
        let text = "GET /api/v1/pods?watch=1 HTTP/1.1\r\nHost: 127.0.0.1:4000\r\n\
                    Connection: keep-alive\r\nAccept: application/json\r\n\r\nbody";
        let (head, end) = request(text);
        assert_eq!(&text[end..], "body");
        assert_eq!(
            String::from_utf8(head.render(Some("10.0.0.1:6443"), false)).expect("text"),
            "GET /api/v1/pods?watch=1 HTTP/1.1\r\nAccept: application/json\r\n\
             Host: 10.0.0.1:6443\r\nConnection: close\r\n\r\n"
        );
    }

    #[test]
    fn an_upgrade_keeps_its_connection_fields() {
        let text = "GET /exec HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n\
                    Upgrade: websocket\r\n\r\n";
        let (head, _) = request(text);
        assert_eq!(head.field("upgrade"), Some("websocket"));
        assert_eq!(
            String::from_utf8(head.render(Some("k"), true)).expect("text"),
            "GET /exec HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nHost: k\r\n\r\n"
        );
    }

    #[test]
    fn an_answer_head_gives_its_code_and_is_passed_on_as_it_came() {
        let text = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                    Connection: Upgrade\r\n\r\n";
        let (head, end) = Head::response(text.as_bytes())
            .expect("an answer head")
            .expect("a whole head");
        assert_eq!(end, text.len());
        assert_eq!(head.first[1], "101");
        assert_eq!(
            String::from_utf8(head.render(None, true)).expect("text"),
            text
        );
    }

    #[test]
    fn a_head_cut_short_is_incomplete_and_a_garbled_one_an_error() {
        assert!(
            Head::request(b"GET /api HTTP/1.1\r\nHost: x\r\n")
                .expect("no error yet")
                .is_none()
        );
        assert!(Head::request(b"GET /api HTTP/9\r\n\r\n").is_err());
        assert!(Head::response(b"HTTP/1.1 abc OK\r\n\r\n").is_err());
    }
}
