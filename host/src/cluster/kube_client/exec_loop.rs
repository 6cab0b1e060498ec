//! What an exec session and its transport's message loop
//! (`super::exec_spdy`, `super::exec_websocket`) share: where each output
//! stream goes and how much of it ([`Delivery`]), how the loop ended
//! ([`Outcome`]), and the loop's timing. The session (`super::exec`) starts
//! a loop; a loop knows nothing of the session.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use tokio::sync::mpsc;

use crate::contract::OutputStream;

/// Keep-alive ping interval for idle sessions.
pub(crate) const PING_INTERVAL: Duration = Duration::from_secs(30);
/// How long closing a session's sending half may take.
pub(crate) const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Where one output stream goes.
pub(crate) enum Sink {
    /// To the caller's writer.
    Forward(Arc<std::sync::Mutex<dyn std::io::Write + Send>>),
    /// Queued for `read`.
    Queue(mpsc::UnboundedSender<(OutputStream, Vec<u8>)>),
}

/// Counts bytes against a cap.
#[derive(Debug)]
pub(crate) struct Cap {
    limit: Option<u64>,
    delivered: u64,
    truncated: bool,
}

impl Cap {
    /// A cap of `limit` bytes (none: unlimited).
    pub(crate) fn new(limit: Option<u64>) -> Cap {
        Cap {
            limit,
            delivered: 0,
            truncated: false,
        }
    }

    /// The part of `chunk` still within the cap; marks truncation.
    pub(crate) fn admit<'a>(&mut self, chunk: &'a [u8]) -> &'a [u8] {
        let Some(limit) = self.limit else {
            return chunk;
        };
        let room = usize::try_from(limit.saturating_sub(self.delivered)).unwrap_or(usize::MAX);
        let take = chunk.len().min(room);
        if take < chunk.len() {
            self.truncated = true;
        }
        self.delivered += take as u64;
        &chunk[..take]
    }

    /// Whether anything was cut.
    pub(crate) fn truncated(&self) -> bool {
        self.truncated
    }
}

/// One output stream: its cap and destination.
pub(crate) struct Delivery {
    kind: OutputStream,
    cap: Cap,
    sink: Sink,
    /// False once the destination refused a write (the stream is still read).
    open: bool,
}

impl Delivery {
    pub(crate) fn new(kind: OutputStream, cap: Cap, sink: Sink) -> Delivery {
        Delivery {
            kind,
            cap,
            sink,
            open: true,
        }
    }

    /// Whether the cap cut anything.
    pub(crate) fn truncated(&self) -> bool {
        self.cap.truncated()
    }

    pub(crate) fn deliver(&mut self, data: &[u8]) {
        let part = self.cap.admit(data);
        if part.is_empty() || !self.open {
            return;
        }
        self.open = match &self.sink {
            // The caller's writer blocks; keep the runtime's other tasks
            // running meanwhile.
            Sink::Forward(writer) => tokio::task::block_in_place(|| match writer.lock() {
                Ok(mut w) => w.write_all(part).and_then(|()| w.flush()).is_ok(),
                Err(_) => false,
            }),
            Sink::Queue(tx) => tx.send((self.kind, part.to_vec())).is_ok(),
        };
    }
}

/// How the message loop ended.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) status: Option<Status>,
    pub(crate) stdout_truncated: bool,
    pub(crate) stderr_truncated: bool,
    /// Why the loop ended without a status.
    pub(crate) failure: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_cuts_the_chunk_that_crosses_it() {
        let mut cap = Cap::new(Some(5));
        assert_eq!(cap.admit(b"abc"), b"abc");
        assert!(!cap.truncated());
        assert_eq!(cap.admit(b"defg"), b"de");
        assert!(cap.truncated());
        assert_eq!(cap.admit(b"h"), b"");
    }

    #[test]
    fn no_cap_admits_everything() {
        let mut cap = Cap::new(None);
        assert_eq!(cap.admit(&[0u8; 100_000]).len(), 100_000);
        assert!(!cap.truncated());
    }

    #[test]
    fn queued_delivery_stops_at_the_cap() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut d = Delivery::new(OutputStream::Stderr, Cap::new(Some(3)), Sink::Queue(tx));
        d.deliver(b"ab");
        d.deliver(b"cd");
        d.deliver(b"ef");
        assert_eq!(
            rx.try_recv().ok(),
            Some((OutputStream::Stderr, b"ab".to_vec()))
        );
        assert_eq!(
            rx.try_recv().ok(),
            Some((OutputStream::Stderr, b"c".to_vec()))
        );
        assert!(rx.try_recv().is_err());
        assert!(d.cap.truncated());
    }
}
