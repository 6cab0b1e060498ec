//! JSON-RPC 2.0, one message per line: reading a bounded line, parsing a
//! request, and writing responses and notifications.
//!
//! A line longer than [`MAX_LINE_BYTES`] is skipped without being kept in
//! memory, and answered with `-32600` (its id cannot be read).

use std::io::{BufRead, Write};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::locks::lock;

/// Longest message accepted: 16 MiB (a 64 MiB upload travels as many
/// `exec/stdin` chunks).
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// Invalid JSON was received.
pub const PARSE_ERROR: i64 = -32700;
/// The JSON is not a valid request object.
pub const INVALID_REQUEST: i64 = -32600;
/// The method does not exist.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// Invalid method parameters.
pub const INVALID_PARAMS: i64 = -32602;
/// An internal error of the server.
pub const INTERNAL_ERROR: i64 = -32603;
/// The policy module refused (`data.reason`: `invalid-config`,
/// `not-allowed`, `failed`, `lease-not-found`, `bad-request`).
pub const POLICY_REFUSED: i64 = -32001;
/// The policy module could not run the call (a trap, a deadline, the
/// memory cap, a call its contract lacks).
pub const MODULE_FAILED: i64 = -32002;
/// The server has no cluster to talk to.
pub const NO_CLUSTER: i64 = -32003;
/// A new policy module was refused; the old one keeps serving.
pub const MODULE_REFUSED: i64 = -32004;
/// The server is stopping (SIGTERM) and takes no new call.
pub const SHUTTING_DOWN: i64 = -32005;
/// The local end of a file copy failed: a file of the server's machine
/// could not be read or written, or the sandbox's stream broke a rule of
/// the unpack (`data.reason`: `local-files`).
pub const LOCAL_FILES: i64 = -32006;
/// The request was cancelled (`$/cancelRequest`, or its client left).
pub const REQUEST_CANCELLED: i64 = -32800;

/// A JSON-RPC error: code, message, and machine-readable data.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    /// The error code.
    pub code: i64,
    /// For a person.
    pub message: String,
    /// `{"reason": ..., ...}`, or null.
    pub data: Value,
}

impl RpcError {
    /// An error with `code`, `message` and `data.reason`.
    pub fn new(code: i64, reason: &str, message: impl Into<String>) -> RpcError {
        RpcError {
            code,
            message: message.into(),
            data: json!({ "reason": reason }),
        }
    }

    /// Its `data.reason` (`error` when there is none).
    pub fn reason(&self) -> &str {
        self.data
            .get("reason")
            .and_then(Value::as_str)
            .unwrap_or("error")
    }

    /// `-32602` naming what is wrong with the parameters.
    pub fn invalid_params(message: impl Into<String>) -> RpcError {
        RpcError::new(INVALID_PARAMS, "invalid-params", message)
    }

    /// The error object of a response.
    pub fn to_json(&self) -> Value {
        let mut error = json!({ "code": self.code, "message": self.message });
        if !self.data.is_null() {
            error["data"] = self.data.clone();
        }
        error
    }
}

/// One line read from a client.
#[derive(Debug, PartialEq)]
pub enum Line {
    /// A message (not yet parsed).
    Message(Vec<u8>),
    /// A line over [`MAX_LINE_BYTES`], skipped.
    TooLong,
    /// The client closed its side.
    End,
}

/// Reads the next line, keeping at most [`MAX_LINE_BYTES`] of it.
pub fn read_line(reader: &mut dyn BufRead) -> std::io::Result<Line> {
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let buffer = match reader.fill_buf() {
            Ok(buffer) => buffer,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        if buffer.is_empty() {
            return Ok(match (too_long, line.is_empty()) {
                (true, _) => Line::TooLong,
                (false, true) => Line::End,
                (false, false) => Line::Message(line),
            });
        }
        let (chunk, found_end) = match buffer.iter().position(|b| *b == b'\n') {
            Some(end) => (&buffer[..end], Some(end + 1)),
            None => (buffer, None),
        };
        if !too_long {
            if line.len() + chunk.len() > MAX_LINE_BYTES {
                too_long = true;
                line = Vec::new();
            } else {
                line.extend_from_slice(chunk);
            }
        }
        let used = found_end.unwrap_or(buffer.len());
        reader.consume(used);
        if found_end.is_some() {
            return Ok(if too_long {
                Line::TooLong
            } else {
                Line::Message(line)
            });
        }
    }
}

/// A parsed message from a client.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    /// The id; none for a notification.
    pub id: Option<Value>,
    /// The method.
    pub method: String,
    /// The params (an object, or null).
    pub params: Value,
}

/// A line that is not a request: the error, and the id to answer it with
/// (null when it could not be read).
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// The id of the answer.
    pub id: Value,
    /// Why.
    pub error: RpcError,
}

/// Parses one line.
pub fn parse(line: &[u8]) -> Result<Incoming, Box<Rejected>> {
    let value: Value = serde_json::from_slice(line).map_err(|e| {
        Box::new(Rejected {
            id: Value::Null,
            error: RpcError::new(PARSE_ERROR, "parse-error", format!("not JSON: {e}")),
        })
    })?;
    let id = value.get("id").cloned();
    let invalid = |message: &str| {
        Box::new(Rejected {
            id: id.clone().unwrap_or(Value::Null),
            error: RpcError::new(INVALID_REQUEST, "invalid-request", message),
        })
    };
    if value.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(invalid("`jsonrpc` must be \"2.0\""));
    }
    if let Some(id) = &id
        && !(id.is_string() || id.is_number() || id.is_null())
    {
        return Err(invalid("`id` must be a string or a number"));
    }
    let Some(method) = value.get("method").and_then(Value::as_str) else {
        return Err(invalid("`method` must be a string"));
    };
    let params = value.get("params").cloned().unwrap_or(Value::Null);
    if !(params.is_object() || params.is_null()) {
        return Err(invalid("`params` must be an object"));
    }
    Ok(Incoming {
        id,
        method: method.to_string(),
        params,
    })
}

/// Where a connection's messages go: one line each, never interleaved.
#[derive(Clone)]
pub struct Outbox {
    sink: Arc<Mutex<Box<dyn Write + Send>>>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Outbox")
    }
}

impl Outbox {
    /// An outbox writing to `sink`.
    pub fn new(sink: Box<dyn Write + Send>) -> Outbox {
        Outbox {
            sink: Arc::new(Mutex::new(sink)),
        }
    }

    /// Writes `message` as one line; false when the client is gone.
    pub fn send(&self, message: &Value) -> bool {
        let mut line = message.to_string();
        line.push('\n');
        let mut sink = lock(&self.sink);
        sink.write_all(line.as_bytes())
            .and_then(|_| sink.flush())
            .is_ok()
    }

    /// The response to request `id`.
    pub fn respond(&self, id: &Value, result: Result<Value, RpcError>) -> bool {
        let message = match result {
            Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
            Err(error) => json!({"jsonrpc": "2.0", "id": id, "error": error.to_json()}),
        };
        self.send(&message)
    }

    /// A notification.
    pub fn notify(&self, method: &str, params: Value) -> bool {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8]) -> Vec<Line> {
        let mut reader = std::io::BufReader::with_capacity(7, input);
        let mut out = Vec::new();
        loop {
            let line = read_line(&mut reader).expect("in-memory reads do not fail");
            let end = line == Line::End;
            out.push(line);
            if end {
                return out;
            }
        }
    }

    #[test]
    fn lines_are_split_at_newlines_across_buffer_refills() {
        assert_eq!(
            lines(b"{\"a\":1}\n{\"bb\":22}\nlast"),
            vec![
                Line::Message(b"{\"a\":1}".to_vec()),
                Line::Message(b"{\"bb\":22}".to_vec()),
                Line::Message(b"last".to_vec()),
                Line::End,
            ]
        );
    }

    #[test]
    fn an_overlong_line_is_skipped_and_the_next_one_read() {
        let mut input = vec![b'x'; MAX_LINE_BYTES + 10];
        input.extend_from_slice(b"\n{}\n");
        assert_eq!(
            lines(&input),
            vec![Line::TooLong, Line::Message(b"{}".to_vec()), Line::End]
        );
    }

    #[test]
    fn a_request_without_jsonrpc_2_is_invalid_and_keeps_its_id() {
        let rejected = parse(br#"{"id":7,"method":"health"}"#).expect_err("invalid");
        assert_eq!(rejected.id, json!(7));
        assert_eq!(rejected.error.code, INVALID_REQUEST);
    }

    #[test]
    fn garbage_is_a_parse_error_with_a_null_id() {
        let rejected = parse(b"{nope").expect_err("not JSON");
        assert_eq!(rejected.id, Value::Null);
        assert_eq!(rejected.error.code, PARSE_ERROR);
    }

    #[test]
    fn a_notification_has_no_id() {
        let message = parse(br#"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":3}}"#)
            .expect("valid");
        assert_eq!(message.id, None);
        assert_eq!(message.params["id"], 3);
    }
}
