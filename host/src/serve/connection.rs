//! One client of `leasebox serve`: reads its messages, runs each request on
//! a thread of its own (many in flight at once), answers in any order, and
//! cancels whatever is still running when the client leaves.
//!
//! Notifications from the client: `$/cancelRequest {id}`, for an `exec`
//! with `stdin: true` (and every `realizeWorkspace` and `terminal.open`)
//! `exec/stdin {id, data}` (base64) and `exec/stdinEnd {id}`, and for a
//! `terminal.open` `terminal/resize {id, rows, cols}`. To the client:
//! `exec/output {id, stream, data}` (base64, `stdout` or `stderr`) while a
//! command runs, and `exec/stdinCredit {id, bytes}` for a call's stdin
//! ([`super::stdin`]: at most a window of it is ever held).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use prometheus_client::metrics::counter::Counter;
use serde_json::{Value, json};

use super::Server;
use super::call::Call;
use super::log::LogFields;
use super::methods;
use super::rpc::{self, INVALID_REQUEST, Line, Outbox, RpcError};
use super::stdin::{self, Overflow, StdinFeed, StdinReader};
use crate::cluster::io::CallerIo;
use crate::contract::{LogLevel, WindowSize};
use crate::locks::lock;
use crate::runtime::Cancel;
use crate::serve::metrics::Metrics;

/// How long a leaving client's cancelled calls may take to roll back before
/// the connection stops waiting for them.
const DRAIN_LIMIT: Duration = Duration::from_secs(60);

/// The calls of one client in flight, by id (the id's JSON text).
#[derive(Default)]
struct InFlight {
    cancels: HashMap<String, Cancel>,
    stdins: HashMap<String, StdinFeed>,
    /// The window sizes of the terminals in flight.
    windows: HashMap<String, std::sync::mpsc::Sender<WindowSize>>,
    /// Calls stopped because their client sent stdin past the credit.
    overflows: HashMap<String, Overflow>,
}

type Shared = Arc<Mutex<InFlight>>;

/// Call `key` has ended (or never started): it can no longer be cancelled
/// nor take stdin.
fn forget(shared: &Shared, key: &str) {
    let mut in_flight = lock(shared);
    in_flight.cancels.remove(key);
    in_flight.stdins.remove(key);
    in_flight.windows.remove(key);
    in_flight.overflows.remove(key);
}

/// Serves one client until it closes its side; then cancels its calls and
/// waits (up to a minute) for them to end.
pub fn serve(server: Arc<Server>, input: Box<dyn Read + Send>, output: Box<dyn Write + Send>) {
    let outbox = Outbox::new(output);
    let shared: Shared = Arc::default();
    let mut reader = BufReader::new(input);
    let mut workers = Vec::new();
    loop {
        match rpc::read_line(&mut reader as &mut dyn BufRead) {
            Ok(Line::End) | Err(_) => break,
            Ok(Line::TooLong) => {
                outbox.respond(
                    &Value::Null,
                    Err(RpcError::new(
                        INVALID_REQUEST,
                        "too-large",
                        format!(
                            "a message is at most {} bytes; send big inputs as exec/stdin chunks",
                            rpc::MAX_LINE_BYTES
                        ),
                    )),
                );
            }
            Ok(Line::Message(bytes)) => match rpc::parse(&bytes) {
                Err(rejected) => {
                    outbox.respond(&rejected.id, Err(rejected.error));
                }
                Ok(message) => match message.id {
                    None => {
                        if let Err(ignored) =
                            notification(&shared, &message.method, &message.params)
                        {
                            server.log(LogLevel::Warn, "serve", &ignored);
                        }
                    }
                    Some(id) => {
                        if let Some(worker) = request(
                            &server,
                            &shared,
                            &outbox,
                            id,
                            message.method,
                            message.params,
                        ) {
                            workers.push(worker);
                        }
                    }
                },
            },
        }
        workers.retain(|w: &std::thread::JoinHandle<()>| !w.is_finished());
    }
    // The client left: its calls are cancelled and their stdin ends.
    {
        let mut in_flight = lock(&shared);
        for cancel in in_flight.cancels.values() {
            cancel.cancel();
        }
        in_flight.stdins.clear();
    }
    let started = Instant::now();
    while workers.iter().any(|w| !w.is_finished()) && started.elapsed() < DRAIN_LIMIT {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A notification: a cancellation or stdin of an exec. Unknown ones are
/// ignored, as JSON-RPC asks.
fn notification(shared: &Shared, method: &str, params: &Value) -> Result<(), String> {
    let Some(key) = params.get("id").map(Value::to_string) else {
        return Err(format!("notification `{method}` without an `id`: ignored"));
    };
    let mut in_flight = lock(shared);
    match method {
        "$/cancelRequest" => {
            // A call that already ended has nothing to cancel.
            if let Some(cancel) = in_flight.cancels.get(&key) {
                cancel.cancel();
            }
            Ok(())
        }
        "exec/stdin" => {
            let Some(stdin) = in_flight.stdins.get(&key) else {
                return Err(format!(
                    "exec/stdin for call {key}, which is not in flight or did not ask for stdin \
                     (`stdin: true`), or whose stdin has ended: ignored"
                ));
            };
            match params
                .get("data")
                .and_then(Value::as_str)
                .and_then(|d| BASE64.decode(d).ok())
            {
                Some(data) => match stdin.feed(data) {
                    Ok(()) => Ok(()),
                    // Past the credit: the call is stopped and answers
                    // `stdin-overflow`; nothing more of its stdin is held.
                    Err(overflow) => {
                        in_flight.stdins.remove(&key);
                        if let Some(cancel) = in_flight.cancels.get(&key) {
                            cancel.cancel();
                        }
                        let message = overflow.error(&key).message;
                        in_flight.overflows.insert(key, overflow);
                        Err(message)
                    }
                },
                // Undecodable stdin ends the input rather than corrupt it.
                None => {
                    in_flight.stdins.remove(&key);
                    Err(format!(
                        "exec/stdin for call {key}: `data` is not base64 text; the call's stdin \
                         is ended here"
                    ))
                }
            }
        }
        "exec/stdinEnd" => {
            in_flight.stdins.remove(&key);
            Ok(())
        }
        "terminal/resize" => {
            let Some(window) = in_flight.windows.get(&key) else {
                return Err(format!(
                    "terminal/resize for call {key}, which is not a terminal in flight: ignored"
                ));
            };
            let size = |name: &str| {
                params
                    .get(name)
                    .and_then(Value::as_u64)
                    .and_then(|n| u16::try_from(n).ok())
                    .filter(|n| *n > 0)
            };
            match (size("rows"), size("cols")) {
                (Some(rows), Some(cols)) => {
                    // A terminal that just ended takes no more sizes.
                    let _ = window.send(WindowSize { rows, cols });
                    Ok(())
                }
                _ => Err(format!(
                    "terminal/resize for call {key}: `rows` and `cols` must be 1-65535: ignored"
                )),
            }
        }
        other => Err(format!(
            "unknown notification `{other}` (the client may send $/cancelRequest, exec/stdin, \
             exec/stdinEnd, terminal/resize): ignored"
        )),
    }
}

/// Starts request `id` on a thread; none when it was answered at once.
fn request(
    server: &Arc<Server>,
    shared: &Shared,
    outbox: &Outbox,
    id: Value,
    method: String,
    params: Value,
) -> Option<std::thread::JoinHandle<()>> {
    let key = id.to_string();
    let cancel = Cancel::new();
    let Some(ticket) = server.calls.begin(&cancel) else {
        outbox.respond(
            &id,
            Err(RpcError::new(
                rpc::SHUTTING_DOWN,
                "shutting-down",
                "the server is stopping and takes no new call; send it to another replica",
            )),
        );
        return None;
    };
    let stdin = {
        let mut in_flight = lock(shared);
        if in_flight.cancels.contains_key(&key) {
            drop(in_flight);
            server.calls.end(ticket);
            outbox.respond(
                &id,
                Err(RpcError::new(
                    INVALID_REQUEST,
                    "duplicate-id",
                    format!("request id {key} is still in flight; use a new id"),
                )),
            );
            return None;
        }
        in_flight.cancels.insert(key.clone(), cancel.clone());
        let terminal = method == "terminal.open";
        let wants_stdin = method == "realizeWorkspace"
            || terminal
            || (method == "exec" && params.get("stdin").and_then(Value::as_bool) == Some(true));
        let stdin = wants_stdin.then(|| {
            let (feed, reader) = stdin::open(outbox, &id);
            in_flight.stdins.insert(key.clone(), feed);
            reader
        });
        let windows = terminal.then(|| {
            let (sizes, changes) = std::sync::mpsc::channel();
            in_flight.windows.insert(key.clone(), sizes);
            changes
        });
        (stdin, windows)
    };
    let (stdin, windows) = stdin;
    let (thread_server, in_flight, outbox) = (server.clone(), shared.clone(), outbox.clone());
    let (thread_key, thread_id, thread_outbox) = (key.clone(), id.clone(), outbox.clone());
    let spawned = std::thread::Builder::new()
        .name(format!("serve-{method}"))
        .spawn(move || {
            let (key, id, outbox, server) = (thread_key, thread_id, thread_outbox, thread_server);
            let mut caller = caller_io(&outbox, &id, stdin, &server.metrics);
            caller.window_sizes = Arc::new(Mutex::new(windows));
            let loaded = server.slot.current();
            let text = |key: &str| params.get(key).and_then(Value::as_str).map(String::from);
            let log = LogFields {
                method: Some(method.clone()),
                request_id: Some(id.to_string()),
                lease_id: text("leaseId"),
                company: text("companyId"),
                module_sha256: Some(loaded.policy.sha256().to_string()),
            };
            let call = Call {
                slot: &server.slot,
                loaded,
                settings: &server.settings,
                cancel,
                caller,
                log,
                metrics: &server.metrics,
                sweep: &server.sweep,
            };
            let mut result = methods::call(&call, &method, params);
            if let Some(overflow) = lock(&in_flight).overflows.remove(&key) {
                result = Err(overflow.error(&key));
            }
            server.metrics.call(&method, methods::outcome(&result));
            forget(&in_flight, &key);
            outbox.respond(&id, result);
            server.calls.end(ticket);
        });
    match spawned {
        Ok(worker) => Some(worker),
        Err(error) => {
            server.calls.end(ticket);
            forget(shared, &key);
            outbox.respond(
                &id,
                Err(RpcError::new(
                    rpc::INTERNAL_ERROR,
                    "no-thread",
                    format!("cannot start a thread for the call: {error}"),
                )),
            );
            None
        }
    }
}

/// The caller's streams of a call: output as `exec/output` notifications,
/// stdin from `exec/stdin` notifications (none: no stdin).
fn caller_io(
    outbox: &Outbox,
    id: &Value,
    stdin: Option<StdinReader>,
    metrics: &Metrics,
) -> CallerIo {
    let writer = |stream: &'static str| -> Arc<Mutex<dyn Write + Send>> {
        Arc::new(Mutex::new(OutputNotifier {
            outbox: outbox.clone(),
            id: id.clone(),
            stream,
            bytes: metrics.exec_output(stream),
        }))
    };
    CallerIo {
        stdout: writer("stdout"),
        stderr: writer("stderr"),
        stdin: Arc::new(Mutex::new(
            stdin.map(|r| Box::new(r) as Box<dyn Read + Send>),
        )),
        window_sizes: Arc::new(Mutex::new(None)),
    }
}

/// Output of a command, sent on as `exec/output` notifications.
struct OutputNotifier {
    outbox: Outbox,
    id: Value,
    stream: &'static str,
    /// `leasebox_exec_output_bytes_total` of this stream.
    bytes: Counter,
}

impl Write for OutputNotifier {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        let sent = self.outbox.notify(
            "exec/output",
            json!({"id": self.id, "stream": self.stream, "data": BASE64.encode(data)}),
        );
        if sent {
            self.bytes.inc_by(data.len() as u64);
            Ok(data.len())
        } else {
            Err(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the client is gone",
            ))
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection with call 2 in flight taking stdin that nothing reads.
    fn with_call_taking_stdin() -> (Shared, Cancel, StdinReader) {
        let shared: Shared = Arc::default();
        let cancel = Cancel::new();
        let outbox = Outbox::new(Box::new(std::io::sink()));
        let (feed, reader) = stdin::open(&outbox, &json!(2));
        let key = json!(2).to_string();
        let mut in_flight = lock(&shared);
        in_flight.cancels.insert(key.clone(), cancel.clone());
        in_flight.stdins.insert(key, feed);
        drop(in_flight);
        (shared, cancel, reader)
    }

    fn chunk(bytes: usize) -> Value {
        json!({"id": 2, "data": BASE64.encode(vec![b'x'; bytes])})
    }

    #[test]
    fn stdin_past_the_credit_stops_the_call_and_is_not_held() {
        let (shared, cancel, _reader) = with_call_taking_stdin();
        for _ in 0..4 {
            notification(&shared, "exec/stdin", &chunk(1 << 20)).expect("within the credit");
        }
        assert!(!cancel.is_cancelled());
        let refused = notification(&shared, "exec/stdin", &chunk(1)).expect_err("past it");
        assert!(refused.contains("credit of 4194304 bytes"), "{refused}");
        assert!(cancel.is_cancelled(), "the call is stopped");
        let in_flight = lock(&shared);
        assert!(in_flight.stdins.is_empty(), "its stdin is no longer taken");
        assert!(
            in_flight.overflows.contains_key("2"),
            "it will answer stdin-overflow"
        );
    }

    #[test]
    fn a_cancel_gets_through_while_a_call_waits_on_its_stdin() {
        let (shared, cancel, _reader) = with_call_taking_stdin();
        for _ in 0..4 {
            notification(&shared, "exec/stdin", &chunk(1 << 20)).expect("within the credit");
        }
        notification(&shared, "$/cancelRequest", &json!({"id": 2})).expect("cancel");
        assert!(cancel.is_cancelled());
    }
}
