//! The caller's stdin on its way into an exec session: read on a thread of
//! its own, gathered into messages, framed when the policy asks for it.
//!
//! The wrapper in the pod decodes every frame with `dd` processes of its
//! own (see `frame-stdin` in `wit/kube.wit`), so what a stdin costs in the
//! pod goes with the number of frames, not bytes: 256 MiB in 64 KiB frames
//! took 2.7 s of the pod's CPU, in 1 MiB frames 1.0 s (one `dd` per frame),
//! where `cat` alone takes 0.3 s. A stdin that keeps coming is
//! therefore gathered into messages of up to [`MAX_MESSAGE`] bytes, while a
//! line typed by hand still goes as soon as the caller stops writing.

use std::io::Read;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::contract::{KubeError, WindowSize};

/// Bytes of the caller's stdin read at a time.
const CHUNK: usize = 64 * 1024;
/// Chunks read ahead of the session (bounds what a fast stdin holds).
const READ_AHEAD: usize = 16;
/// A message is sent once it holds this many bytes: one frame, which the
/// wrapper in the pod copies with at most two `dd` processes.
pub(crate) const MAX_MESSAGE: usize = 1024 * 1024;
/// A message is sent once no chunk has come for this long: the caller has
/// stopped writing for now (a line typed by hand waits no longer than this).
const QUIET: Duration = Duration::from_millis(2);
/// A message is sent at the latest this long after its first chunk, however
/// the chunks keep trickling in.
const LINGER: Duration = Duration::from_millis(20);

/// What the guest (and, for a terminal, the caller's window) asks of the
/// session's input side.
pub(crate) enum StdinCommand {
    Data(Vec<u8>),
    Close,
    /// A terminal's new size (sent on the resize stream).
    Resize(WindowSize),
}

/// One chunk of the caller's stdin as sent: as is, or framed as its
/// decimal length, a newline and the bytes (an empty chunk is the end
/// frame `0\n`).
pub(crate) fn stdin_chunk(data: &[u8], framed: bool) -> Vec<u8> {
    if !framed {
        return data.to_vec();
    }
    let mut out = format!("{}\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out
}

/// When [`gather`] sends a message.
#[derive(Debug, Clone, Copy)]
struct Gathering {
    max: usize,
    quiet: Duration,
    linger: Duration,
}

const GATHERING: Gathering = Gathering {
    max: MAX_MESSAGE,
    quiet: QUIET,
    linger: LINGER,
};

/// A terminal's input: every read goes at once, never waiting for more (a
/// keystroke is one read; its echo is what the person waits for).
const TYPED: Gathering = Gathering {
    max: MAX_MESSAGE,
    quiet: Duration::ZERO,
    linger: Duration::ZERO,
};

/// How the caller's stdin is sent on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Input {
    /// Bulk input: gathered into large messages (framed when asked).
    Piped { framed: bool },
    /// A terminal's keystrokes: each read sent at once, never framed.
    Typed,
}

/// Adds to `message` the chunks that follow it closely: until it holds
/// `max` bytes, no chunk came for `quiet`, `linger` has passed since it
/// began, or the reader ended. `next` waits up to the given time for a
/// chunk.
fn gather(
    mut message: Vec<u8>,
    mut next: impl FnMut(Duration) -> Result<Vec<u8>, RecvTimeoutError>,
    when: Gathering,
) -> Vec<u8> {
    let deadline = Instant::now() + when.linger;
    while message.len() < when.max {
        let wait = deadline
            .saturating_duration_since(Instant::now())
            .min(when.quiet);
        match next(wait) {
            Ok(more) => message.extend_from_slice(&more),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
        }
    }
    message
}

/// Copies the caller's stdin into the session (framed when asked), then
/// ends it. The blocking reads run on a thread of their own, read ahead by
/// up to [`READ_AHEAD`] chunks, so a caller that never closes its stdin
/// holds no runtime thread; a second thread gathers what has been read
/// into messages ([`gather`]) and sends them.
pub(crate) fn forward_stdin(
    source: Option<Box<dyn Read + Send>>,
    commands: mpsc::Sender<StdinCommand>,
    input: Input,
) -> Result<(), KubeError> {
    let (framed, gathering) = match input {
        Input::Piped { framed } => (framed, GATHERING),
        Input::Typed => (false, TYPED),
    };
    let Some(mut source) = source else {
        if framed {
            commands
                .try_send(StdinCommand::Data(stdin_chunk(&[], true)))
                .map_err(|e| KubeError::Transport(format!("exec: ending stdin failed: {e}")))?;
        }
        return commands
            .try_send(StdinCommand::Close)
            .map_err(|e| KubeError::Transport(format!("exec: ending stdin failed: {e}")));
    };
    let start_failed = |e: std::io::Error| {
        KubeError::Transport(format!("exec: cannot start the stdin forwarder: {e}"))
    };
    let (chunks, read) = std::sync::mpsc::sync_channel::<Vec<u8>>(READ_AHEAD);
    std::thread::Builder::new()
        .name("leasebox-stdin-read".into())
        .spawn(move || {
            loop {
                let mut chunk = vec![0u8; CHUNK];
                match source.read(&mut chunk) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        chunk.truncate(n);
                        // The sender is gone: the session ended.
                        if chunks.send(chunk).is_err() {
                            return;
                        }
                    }
                }
            }
        })
        .map_err(start_failed)?;
    std::thread::Builder::new()
        .name("leasebox-stdin".into())
        .spawn(move || send_gathered(&read, &commands, framed, gathering))
        .map(|_| ())
        .map_err(start_failed)
}

/// Passes the caller's window sizes (`sizes`) to a terminal session's
/// `commands` on a thread of its own, until either side is gone.
pub(crate) fn forward_window_sizes(
    sizes: std::sync::mpsc::Receiver<WindowSize>,
    commands: mpsc::Sender<StdinCommand>,
) -> Result<(), KubeError> {
    std::thread::Builder::new()
        .name("leasebox-winsize".into())
        .spawn(move || {
            while let Ok(size) = sizes.recv() {
                if commands.blocking_send(StdinCommand::Resize(size)).is_err() {
                    return;
                }
            }
        })
        .map(|_| ())
        .map_err(|e| {
            KubeError::Transport(format!("exec: cannot start the window size forwarder: {e}"))
        })
}

/// Sends the chunks from `read` as gathered messages, then the end of
/// stdin; stops early when the session is gone.
fn send_gathered(
    read: &Receiver<Vec<u8>>,
    commands: &mpsc::Sender<StdinCommand>,
    framed: bool,
    gathering: Gathering,
) {
    while let Ok(first) = read.recv() {
        let message = gather(first, |wait| read.recv_timeout(wait), gathering);
        if commands
            .blocking_send(StdinCommand::Data(stdin_chunk(&message, framed)))
            .is_err()
        {
            return;
        }
    }
    if framed {
        let _ = commands.blocking_send(StdinCommand::Data(stdin_chunk(&[], true)));
    }
    let _ = commands.blocking_send(StdinCommand::Close);
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::{channel, sync_channel};

    use super::*;

    const KIB: usize = 1024;

    #[test]
    fn framed_stdin_chunks_carry_their_length() {
        assert_eq!(stdin_chunk(b"abc", true), b"3\nabc");
        assert_eq!(stdin_chunk(b"", true), b"0\n");
        assert_eq!(stdin_chunk(b"abc", false), b"abc");
    }

    #[test]
    fn chunks_that_wait_together_go_as_one_message_up_to_the_cap() {
        let (tx, rx) = channel();
        for _ in 0..20 {
            tx.send(vec![b'x'; 64 * KIB]).expect("queued");
        }
        let first = rx.recv().expect("a chunk");
        let message = gather(first, |wait| rx.recv_timeout(wait), GATHERING);
        assert_eq!(message.len(), MAX_MESSAGE);
        assert_eq!(
            rx.try_iter().count(),
            4,
            "the rest waits for the next message"
        );
    }

    /// A caller typing one line: the line goes once the caller is quiet, not
    /// after the linger (an hour here).
    #[test]
    fn a_lone_line_goes_once_the_caller_is_quiet() {
        let (tx, rx) = channel::<Vec<u8>>();
        let when = Gathering {
            max: MAX_MESSAGE,
            quiet: Duration::from_millis(10),
            linger: Duration::from_secs(3600),
        };
        let (done_tx, done) = channel();
        std::thread::spawn(move || {
            let message = gather(b"ls\n".to_vec(), |wait| rx.recv_timeout(wait), when);
            let _ = done_tx.send(message);
        });
        let message = done
            .recv_timeout(Duration::from_secs(60))
            .expect("the line is sent without waiting for the linger");
        assert_eq!(message, b"ls\n");
        drop(tx);
    }

    /// A keystroke goes as it is read: no quiet wait and no linger, only
    /// what had already arrived with it.
    #[test]
    fn typed_input_goes_at_once_with_what_already_came() {
        let mut queued = vec![b"b".to_vec()];
        let mut waits = Vec::new();
        let message = gather(
            b"a".to_vec(),
            |wait| {
                waits.push(wait);
                queued.pop().ok_or(RecvTimeoutError::Timeout)
            },
            TYPED,
        );
        assert_eq!(message, b"ab");
        assert!(waits.iter().all(Duration::is_zero), "waited {waits:?}");
    }

    /// A caller that never pauses long enough to look quiet (a chunk every
    /// 5 ms, the quiet wait an hour): its first bytes still go once the
    /// linger (50 ms) is over, not when a whole message is full.
    #[test]
    fn a_trickle_is_sent_when_the_linger_is_over() {
        let (tx, rx) = sync_channel::<Vec<u8>>(1);
        let writer = std::thread::spawn(move || {
            while tx.send(vec![b'y'; 16]).is_ok() {
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        let when = Gathering {
            max: MAX_MESSAGE,
            quiet: Duration::from_secs(3600),
            linger: Duration::from_millis(50),
        };
        let (done_tx, done) = channel();
        std::thread::spawn(move || {
            let first = rx.recv().expect("a chunk");
            let message = gather(first, |wait| rx.recv_timeout(wait), when);
            let _ = done_tx.send(message.len());
        });
        let gathered = done
            .recv_timeout(Duration::from_secs(60))
            .expect("the message is sent once the linger is over");
        assert!(gathered < MAX_MESSAGE, "{gathered} bytes");
        writer
            .join()
            .expect("the writer stops once the reader is gone");
    }

    #[test]
    fn the_end_of_the_callers_stdin_sends_what_was_gathered() {
        let (tx, rx) = channel();
        tx.send(b"tail".to_vec()).expect("queued");
        drop(tx);
        let message = gather(b"head ".to_vec(), |wait| rx.recv_timeout(wait), GATHERING);
        assert_eq!(message, b"head tail");
    }

    /// The whole forwarder over a reader that hands out 4 KiB at a time as
    /// fast as it is asked: the session sees the bytes in order, in
    /// messages far larger than one read, framed, then the end frame and
    /// the close.
    #[test]
    fn a_fast_stdin_arrives_framed_in_large_messages() {
        const TOTAL: usize = 8 << 20;
        struct Small(usize);
        impl Read for Small {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = buf.len().min(4 * KIB).min(TOTAL - self.0);
                for (i, b) in buf[..n].iter_mut().enumerate() {
                    *b = ((self.0 + i) % 251) as u8;
                }
                self.0 += n;
                Ok(n)
            }
        }
        let (tx, mut rx) = mpsc::channel(8);
        forward_stdin(Some(Box::new(Small(0))), tx, Input::Piped { framed: true })
            .expect("started");
        let mut received = Vec::new();
        let mut messages = 0;
        let mut closed = false;
        while let Some(command) = rx.blocking_recv() {
            match command {
                StdinCommand::Data(data) => {
                    messages += 1;
                    received.extend_from_slice(&data);
                }
                StdinCommand::Close => closed = true,
                StdinCommand::Resize(_) => panic!("no terminal, no window size"),
            }
        }
        assert!(closed, "stdin is closed at the end");
        let mut expected = Vec::new();
        let mut sent = 0;
        let mut frames = 0;
        let mut rest = &received[..];
        while let Some(newline) = rest.iter().position(|b| *b == b'\n') {
            let len: usize = std::str::from_utf8(&rest[..newline])
                .expect("ascii length")
                .parse()
                .expect("a length");
            rest = &rest[newline + 1..];
            frames += 1;
            if len == 0 {
                break;
            }
            expected.extend((sent..sent + len).map(|i| (i % 251) as u8));
            assert_eq!(&rest[..len], &expected[sent..sent + len], "frame {frames}");
            sent += len;
            rest = &rest[len..];
        }
        assert!(rest.is_empty(), "nothing after the end frame");
        assert_eq!(sent, TOTAL);
        assert_eq!(frames, messages, "one frame per message");
        // One message per read would be 2,048; a machine busy enough to
        // hold the reader back for the quiet wait now and then may cut a
        // few messages short, which this bound allows.
        assert!(
            messages <= TOTAL / (16 * KIB),
            "{messages} messages for {TOTAL} bytes read 4 KiB at a time"
        );
    }
}
