//! The stdin of a serve call, bounded by a credit: `exec/stdin` chunks are
//! held for the command until it reads them, and a call may have at most
//! [`STDIN_WINDOW_BYTES`] of them held at once.
//!
//! The server grants credit with `exec/stdinCredit {id, bytes}`
//! notifications: [`STDIN_WINDOW_BYTES`] when the call starts, then as the
//! command reads, so a client that sends no more than it was granted never
//! waits on anything but the command, and the server never holds more than
//! the window of one call's stdin. A client that sends past its credit has
//! that call ended with `stdin-overflow` (`-32600`, naming the window);
//! its connection and its other calls go on. The connection's reader never
//! blocks on a call's stdin, so `$/cancelRequest` and other calls always
//! get through.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};

use serde_json::{Value, json};

use super::rpc::{INVALID_REQUEST, Outbox, RpcError};

/// The stdin credit of one call: at most 4 MiB of its `exec/stdin` data
/// (decoded) held by the server at once. Enough to keep a command fed at
/// the speed of the exec stream (about 4 round trips of 1 MiB chunks in
/// flight); small enough that a thousand calls cannot exhaust the host.
pub const STDIN_WINDOW_BYTES: usize = 4 << 20;

/// Credit read by the command is granted back once this much has
/// gathered, or whenever the command has read everything sent so far.
const CREDIT_BATCH_BYTES: usize = 1 << 20;

/// The connection's side of a call's stdin: takes `exec/stdin` chunks.
pub struct StdinFeed {
    sender: Sender<Vec<u8>>,
    held: Arc<AtomicUsize>,
}

/// A chunk that would have passed the call's credit.
#[derive(Debug)]
pub struct Overflow {
    /// Bytes held for the command already.
    pub held: usize,
    /// Bytes of the chunk refused.
    pub chunk: usize,
}

impl Overflow {
    /// The answer of the call it ended.
    pub fn error(&self, id: &str) -> RpcError {
        RpcError::new(
            INVALID_REQUEST,
            "stdin-overflow",
            format!(
                "call {id} sent {} bytes of exec/stdin while {} were still unread, past its \
                 credit of {STDIN_WINDOW_BYTES} bytes (STDIN_WINDOW_BYTES); the call was \
                 stopped. Send no more than exec/stdinCredit has granted",
                self.chunk, self.held
            ),
        )
    }
}

/// A call's stdin: the feed for the connection, the reader for the
/// command. The call's initial credit is announced on `outbox` at once.
pub fn open(outbox: &Outbox, id: &Value) -> (StdinFeed, StdinReader) {
    let (sender, chunks) = channel();
    let held = Arc::new(AtomicUsize::new(0));
    let credit = Credit {
        outbox: outbox.clone(),
        id: id.clone(),
        owed: 0,
    };
    credit.grant(STDIN_WINDOW_BYTES);
    (
        StdinFeed {
            sender,
            held: held.clone(),
        },
        StdinReader {
            chunks,
            current: Vec::new(),
            at: 0,
            held,
            credit,
        },
    )
}

impl StdinFeed {
    /// Hands `data` to the command; an [`Overflow`] (and nothing held) when
    /// it would pass the call's credit.
    pub fn feed(&self, data: Vec<u8>) -> Result<(), Overflow> {
        if data.is_empty() {
            return Ok(());
        }
        let chunk = data.len();
        let took = self
            .held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                let after = held.checked_add(chunk)?;
                (after <= STDIN_WINDOW_BYTES).then_some(after)
            });
        match took {
            Ok(_) => {
                // The call may have ended: its data is dropped with it.
                let _ = self.sender.send(data);
                Ok(())
            }
            Err(held) => Err(Overflow { held, chunk }),
        }
    }
}

/// Credit owed to the client for stdin the command has read.
struct Credit {
    outbox: Outbox,
    id: Value,
    owed: usize,
}

impl Credit {
    fn grant(&self, bytes: usize) {
        self.outbox
            .notify("exec/stdinCredit", json!({"id": self.id, "bytes": bytes}));
    }

    fn pay(&mut self) {
        if self.owed > 0 {
            self.grant(self.owed);
            self.owed = 0;
        }
    }
}

/// The command's side of a call's stdin: the chunks in order; the end when
/// the client sends `exec/stdinEnd` (or leaves). Each chunk read whole is
/// granted back as credit.
pub struct StdinReader {
    chunks: Receiver<Vec<u8>>,
    current: Vec<u8>,
    at: usize,
    held: Arc<AtomicUsize>,
    credit: Credit,
}

impl StdinReader {
    /// The current chunk was read whole: it is no longer held.
    fn consumed(&mut self) {
        let len = std::mem::take(&mut self.current).len();
        self.at = 0;
        if len == 0 {
            return;
        }
        self.held.fetch_sub(len, Ordering::AcqRel);
        self.credit.owed += len;
        if self.credit.owed >= CREDIT_BATCH_BYTES {
            self.credit.pay();
        }
    }
}

impl Read for StdinReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.current.len() {
            self.consumed();
            let next = match self.chunks.try_recv() {
                Ok(chunk) => Ok(chunk),
                Err(TryRecvError::Disconnected) => return Ok(0),
                Err(TryRecvError::Empty) => {
                    // Everything sent was read: the client may send more.
                    self.credit.pay();
                    self.chunks.recv()
                }
            };
            match next {
                Ok(chunk) => self.current = chunk,
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.current.len() - self.at);
        out[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::Mutex;

    /// An outbox whose lines are kept.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl Write for Lines {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lines").extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Lines {
        fn credits(&self) -> Vec<u64> {
            let text = String::from_utf8(self.0.lock().expect("lines").clone()).expect("utf-8");
            text.lines()
                .map(|l| serde_json::from_str::<Value>(l).expect("json"))
                .filter(|m| m["method"] == "exec/stdinCredit")
                .map(|m| m["params"]["bytes"].as_u64().expect("bytes"))
                .collect()
        }
    }

    fn open_with_lines() -> (Lines, StdinFeed, StdinReader) {
        let lines = Lines::default();
        let outbox = Outbox::new(Box::new(lines.clone()));
        let (feed, reader) = open(&outbox, &json!(7));
        (lines, feed, reader)
    }

    #[test]
    fn a_call_starts_with_the_whole_window_of_credit() {
        let (lines, _feed, _reader) = open_with_lines();
        assert_eq!(lines.credits(), vec![STDIN_WINDOW_BYTES as u64]);
    }

    #[test]
    fn a_chunk_past_the_window_is_refused_and_not_held() {
        let (_lines, feed, _reader) = open_with_lines();
        feed.feed(vec![0; STDIN_WINDOW_BYTES - 10]).expect("within");
        let overflow = feed.feed(vec![0; 11]).expect_err("past the window");
        assert_eq!(
            (overflow.held, overflow.chunk),
            (STDIN_WINDOW_BYTES - 10, 11)
        );
        feed.feed(vec![0; 10])
            .expect("the refused chunk took no credit");
        let error = overflow.error("7");
        assert_eq!(error.reason(), "stdin-overflow");
        assert!(
            error.message.contains("credit of 4194304 bytes"),
            "{}",
            error.message
        );
    }

    #[test]
    fn what_the_command_reads_is_granted_back() {
        let (lines, feed, mut reader) = open_with_lines();
        feed.feed(vec![1; 3]).expect("within");
        feed.feed(vec![2; 5]).expect("within");
        let mut out = [0u8; 8];
        reader.read_exact(&mut out).expect("read");
        assert_eq!(out, [1, 1, 1, 2, 2, 2, 2, 2]);
        // The command waits for more: everything read so far is credited.
        let waiting = std::thread::spawn(move || reader.read(&mut out).map_err(|e| e.kind()));
        let started = std::time::Instant::now();
        while lines.credits()[1..].iter().sum::<u64>() < 8 {
            assert!(started.elapsed() < std::time::Duration::from_secs(5));
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(lines.credits(), vec![STDIN_WINDOW_BYTES as u64, 8]);
        drop(feed);
        assert_eq!(waiting.join().expect("reader"), Ok(0));
    }

    #[test]
    fn a_full_window_read_whole_makes_room_for_another() {
        let (_lines, feed, mut reader) = open_with_lines();
        feed.feed(vec![0; STDIN_WINDOW_BYTES])
            .expect("the whole window");
        assert!(feed.feed(vec![0; 1]).is_err());
        let mut out = vec![0u8; STDIN_WINDOW_BYTES];
        reader.read_exact(&mut out).expect("read");
        // The chunk counts as read once the reader moves past it.
        let reading = std::thread::spawn(move || {
            let mut one = [0u8; 1];
            reader.read(&mut one).map(|n| (n, one[0]))
        });
        let started = std::time::Instant::now();
        while feed.feed(vec![9; 1]).is_err() {
            assert!(started.elapsed() < std::time::Duration::from_secs(5));
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(reading.join().expect("reader").expect("read"), (1, 9));
    }
}
