//! A JSON-RPC client of one `serve` connection that keeps several calls in
//! flight: requests go out on one stream as earlier ones are answered, a
//! thread reads the answers, and each call is timed from its request line
//! to its answer line. The client's allocations are counted as the
//! bench's (see `attributed_alloc`), not the host's.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

use super::attributed_alloc::{Party, Scope};

/// Longest wait for any answer before the run is given up.
const ANSWER_LIMIT: Duration = Duration::from_secs(300);
/// How often `between` runs while calls are in flight.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// One answered call.
pub struct Answer {
    /// When its request line was written (the wall clock, to set against
    /// the cluster's timestamps).
    pub sent: SystemTime,
    /// From its request line to its answer line.
    pub took: Duration,
    /// Its result.
    pub result: Value,
}

pub struct Client {
    requests: Box<dyn Write + Send>,
    answers: mpsc::Receiver<(Instant, Value)>,
    next_id: u64,
}

impl Client {
    /// A client writing to `requests` and reading `answers`.
    pub fn new(requests: Box<dyn Write + Send>, answers: Box<dyn Read + Send>) -> Client {
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let _client = Scope::enter(Party::Bench);
            for line in BufReader::new(answers).lines() {
                let Ok(line) = line else { return };
                let at = Instant::now();
                let message: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
                    panic!("serve wrote a line that is not JSON ({e}): {line}")
                });
                if sender.send((at, message)).is_err() {
                    return;
                }
            }
        });
        Client {
            requests,
            answers: receiver,
            next_id: 1,
        }
    }

    fn send(&mut self, method: &str, params: &Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let mut line =
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string();
        line.push('\n');
        self.requests
            .write_all(line.as_bytes())
            .and_then(|()| self.requests.flush())
            .unwrap_or_else(|e| panic!("cannot write to serve: {e}"));
        id
    }

    /// One call, waited for; its result.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let mut answers = self.calls(method, vec![params], 1, &mut || {});
        answers.pop().expect("one call, one answer").result
    }

    /// Calls `method` once per entry of `params`, at most `in_flight` at
    /// once, in order; `between` runs every [`SAMPLE_EVERY`] while calls
    /// are in flight. The answers, in the order of `params`. Panics when
    /// a call fails.
    pub fn calls(
        &mut self,
        method: &str,
        params: Vec<Value>,
        in_flight: usize,
        between: &mut dyn FnMut(),
    ) -> Vec<Answer> {
        let total = params.len();
        let mut pending = params.into_iter().enumerate();
        let mut waiting: HashMap<u64, (usize, Instant, SystemTime)> = HashMap::new();
        let mut done: Vec<Option<Answer>> = (0..total).map(|_| None).collect();
        let mut answered = 0;
        let mut last_answer = Instant::now();
        while answered < total {
            while waiting.len() < in_flight {
                let Some((index, p)) = pending.next() else {
                    break;
                };
                let (sent, sent_at) = (Instant::now(), SystemTime::now());
                let id = self.send(method, &p);
                waiting.insert(id, (index, sent, sent_at));
            }
            match self.answers.recv_timeout(SAMPLE_EVERY) {
                Ok((at, message)) => {
                    let Some((index, sent, sent_at)) =
                        message["id"].as_u64().and_then(|id| waiting.remove(&id))
                    else {
                        continue; // a notification, or an answer to nothing we sent
                    };
                    if let Some(error) = message.get("error") {
                        panic!("serve: {method} #{index} failed: {error}");
                    }
                    done[index] = Some(Answer {
                        sent: sent_at,
                        took: at - sent,
                        result: message["result"].clone(),
                    });
                    answered += 1;
                    last_answer = at;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    assert!(
                        last_answer.elapsed() < ANSWER_LIMIT,
                        "serve answered none of {} calls of {method} in flight for {ANSWER_LIMIT:?}",
                        waiting.len()
                    );
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    panic!(
                        "serve closed its output with {} calls of {method} unanswered",
                        waiting.len()
                    )
                }
            }
            between();
        }
        done.into_iter()
            .map(|d| d.expect("every call was answered"))
            .collect()
    }
}

/// Panics unless the leases of `answers` (acquire results, made for the
/// companies `0..tenants` in turn) are in one namespace per company: as
/// many namespaces as companies called, fewer than `tenants` when there
/// were fewer answers (`--leases N` below the tenant count).
pub fn assert_one_namespace_per_tenant(answers: &[Answer], tenants: usize) {
    let companies = tenants.min(answers.len());
    let namespaces: std::collections::BTreeSet<&str> = answers
        .iter()
        .map(|a| {
            a.result["namespace"]
                .as_str()
                .expect("a lease has a namespace")
        })
        .collect();
    assert_eq!(namespaces.len(), companies, "one namespace per company");
}
