//! An exec session over SPDY/3.1 ([`super::spdy`]), the transport of a
//! session whose stdin is open: the upgrade, then the message loop.
//!
//! The client opens the streams, all in one write: error (where the exit
//! status comes, protocol `v4.channel.k8s.io`), stdin, stdout, stderr; on a
//! terminal, error, stdin, stdout (stderr comes merged into it) and resize,
//! which takes the window sizes as JSON objects (`{"Width":80,"Height":24}`,
//! one per line, as kubectl sends them).
//! Stdin flows once the server has accepted its stream (the server drops
//! DATA on a stream it has not accepted yet) and ends with a FIN, which the
//! command reads as the end of its input. The session ends once the error
//! stream is complete: at its FIN, its reset, or the end of the connection;
//! the server writes the status after the output. Like both ends of
//! kubectl's sessions, this one keeps no flow-control windows: window
//! updates are ignored and none are sent.

use hyper_util::rt::TokioIo;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot};

use super::exec_loop::{CLOSE_TIMEOUT, Delivery, Outcome, PING_INTERVAL};
use super::exec_stdin::StdinCommand;
use super::spdy::{HeaderBlocks, Incoming, ping_frame, push_data_frames, read_frame};

/// The exec protocol spoken on the streams.
pub(crate) const PROTOCOL: &str = "v4.channel.k8s.io";
/// Bytes read from the connection at a time.
const READ_BUFFER: usize = 64 * 1024;
/// The largest exit status read (a `Status` object is a few hundred bytes).
const MAX_STATUS: usize = 1 << 20;
/// The server's pings held for an answer at most.
const PINGS_WAITING: usize = 8;

/// The upgraded connection of a session.
pub(crate) type Connection = TokioIo<hyper::upgrade::Upgraded>;

/// Adds the headers that ask for SPDY/3.1 and protocol v4 to an exec
/// request.
pub(crate) fn ask_for_spdy(request: &mut http::Request<Vec<u8>>) {
    use http::header::{CONNECTION, HeaderValue, UPGRADE};
    let headers = request.headers_mut();
    headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(UPGRADE, HeaderValue::from_static("SPDY/3.1"));
    headers.insert(
        "X-Stream-Protocol-Version",
        HeaderValue::from_static(PROTOCOL),
    );
}

/// Sends an exec request made by [`ask_for_spdy`]: the answer when it
/// switched protocols; an error answer (`Status` in its body, or its text)
/// as kube's API error, so that it is retried or reported like any other.
pub(crate) async fn send_upgrade(
    client: &kube::Client,
    request: http::Request<Vec<u8>>,
) -> Result<http::Response<kube::client::Body>, kube::Error> {
    let response = client.send(request.map(kube::client::Body::from)).await?;
    let code = response.status();
    if code == http::StatusCode::SWITCHING_PROTOCOLS {
        return Ok(response);
    }
    if !(code.is_client_error() || code.is_server_error()) {
        return Err(kube::Error::UpgradeConnection(
            kube::client::UpgradeConnectionError::ProtocolSwitch(code),
        ));
    }
    let body = response.into_body().collect_bytes().await?;
    let status = serde_json::from_slice::<kube::core::Status>(&body).unwrap_or_else(|_| {
        kube::core::Status::failure(String::from_utf8_lossy(&body).trim(), "")
            .with_code(code.as_u16())
    });
    Err(kube::Error::Api(status.boxed()))
}

/// The upgraded connection of an answer from [`send_upgrade`], once its
/// protocol is checked.
pub(crate) async fn upgraded(
    response: http::Response<kube::client::Body>,
) -> Result<Connection, String> {
    let chosen = response
        .headers()
        .get("X-Stream-Protocol-Version")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("none");
    if chosen != PROTOCOL {
        return Err(format!(
            "the server chose exec protocol `{chosen}`; leasebox speaks {PROTOCOL} over SPDY"
        ));
    }
    hyper::upgrade::on(response)
        .await
        .map(TokioIo::new)
        .map_err(|e| format!("the upgraded connection is not available: {e}"))
}

/// The streams of a session, by id (client streams take odd ids, in the
/// order they are opened) and `streamtype`.
const STREAMS: [(u32, &str); 4] = [
    (ERROR, "error"),
    (STDIN, "stdin"),
    (STDOUT, "stdout"),
    (STDERR, "stderr"),
];
/// The streams of a session on a terminal.
const TTY_STREAMS: [(u32, &str); 4] = [
    (ERROR, "error"),
    (STDIN, "stdin"),
    (STDOUT, "stdout"),
    (RESIZE, "resize"),
];
const ERROR: u32 = 1;
const STDIN: u32 = 3;
const STDOUT: u32 = 5;
const STDERR: u32 = 7;
/// The resize stream takes the id stderr has without a terminal.
const RESIZE: u32 = 7;

/// Whether the session runs on a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Terminal {
    /// No terminal: stdout and stderr apart.
    No,
    /// A terminal: output merged on stdout, window sizes on the resize
    /// stream.
    Yes,
}

impl Terminal {
    fn streams(self) -> &'static [(u32, &'static str); 4] {
        match self {
            Terminal::No => &STREAMS,
            Terminal::Yes => &TTY_STREAMS,
        }
    }
}

/// The `SYN_STREAM` frames that open the streams of a session.
fn open_streams(terminal: Terminal) -> Vec<u8> {
    let mut blocks = HeaderBlocks::default();
    terminal
        .streams()
        .iter()
        .flat_map(|(id, kind)| blocks.syn_stream(*id, &[("streamtype", kind)]))
        .collect()
}

/// A window size as the kubelet reads it from the resize stream.
fn resize_message(size: crate::contract::WindowSize) -> Vec<u8> {
    format!("{{\"Width\":{},\"Height\":{}}}\n", size.cols, size.rows).into_bytes()
}

/// Runs one session on `connection`: output to the deliveries, stdin from
/// `commands` alongside (see [`write_loop`]), until the exit status is
/// complete or the connection ends.
pub(crate) async fn run<C>(
    connection: C,
    terminal: Terminal,
    commands: mpsc::Receiver<StdinCommand>,
    mut out: Delivery,
    mut err: Delivery,
) -> Outcome
where
    C: AsyncRead + AsyncWrite + Unpin,
{
    let (from_server, to_server) = tokio::io::split(connection);
    let mut from_server = BufReader::with_capacity(READ_BUFFER, from_server);
    let (accepted, on_accepted) = oneshot::channel();
    let mut accepted = Some(accepted);
    // The streams the client writes on, until the server has accepted them.
    let mut unaccepted: Vec<u32> = match terminal {
        Terminal::No => vec![STDIN],
        Terminal::Yes => vec![STDIN, RESIZE],
    };
    // Pings waiting to be answered: a server that pings faster than this
    // side writes gets no more answers than this many at a time.
    let (pongs, pongs_rx) = mpsc::channel(PINGS_WAITING);
    let (stop, stopped) = oneshot::channel();
    let mut writer = std::pin::pin!(write_loop(
        to_server,
        terminal,
        commands,
        on_accepted,
        pongs_rx,
        stopped
    ));
    let mut writing = true;
    let mut outcome = Outcome::default();
    let mut status = Vec::new();
    let mut payload = Vec::new();
    // A read cut short by the other branch is never resumed: that branch
    // ends the loop.
    let complete = loop {
        tokio::select! {
            frame = read_frame(&mut from_server, &mut payload) => match frame {
                Ok(Some(Incoming::Data { stream, fin, data })) => {
                    if stream == STDOUT {
                        out.deliver(data);
                    } else if stream == STDERR && terminal == Terminal::No {
                        err.deliver(data);
                    } else if stream == ERROR {
                        if status.len() + data.len() > MAX_STATUS {
                            outcome.failure = Some(format!(
                                "the exit status is larger than {MAX_STATUS} bytes"
                            ));
                            break false;
                        }
                        status.extend_from_slice(data);
                        if fin {
                            break true;
                        }
                    }
                }
                Ok(Some(Incoming::Reply { stream, fin })) => {
                    unaccepted.retain(|s| *s != stream);
                    if unaccepted.is_empty()
                        && let Some(accepted) = accepted.take()
                    {
                        let _ = accepted.send(());
                    }
                    if stream == ERROR && fin {
                        break true;
                    }
                }
                Ok(Some(Incoming::Reset { stream, .. })) if stream == ERROR => break true,
                // Even ids are the server's pings; odd ones answer ours.
                Ok(Some(Incoming::Ping(id))) if id % 2 == 0 => {
                    let _ = pongs.try_send(id);
                }
                Ok(Some(Incoming::GoAway) | None) => break true,
                Ok(Some(_)) => {}
                Err(e) => {
                    outcome.failure = Some(format!("the connection failed: {e}"));
                    break false;
                }
            },
            failure = &mut writer, if writing => {
                writing = false;
                if failure.is_some() {
                    outcome.failure = failure;
                    break false;
                }
            },
        }
    };
    if complete {
        if status.is_empty() {
            outcome.failure = Some("the connection closed before the exit status arrived".into());
        } else {
            match serde_json::from_slice::<Status>(&status) {
                Ok(status) => outcome.status = Some(status),
                Err(e) => outcome.failure = Some(format!("unreadable exit status: {e}")),
            }
        }
    }
    if writing {
        let _ = stop.send(());
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, &mut writer).await;
    }
    outcome.stdout_truncated = out.truncated();
    outcome.stderr_truncated = err.truncated();
    outcome
}

/// The sending half of a session: the streams opened, then stdin as the
/// guest hands it over (and a terminal's window sizes) once the server has
/// accepted the streams written on, stdin's end as a FIN, answers to the
/// server's pings and a ping of ours every [`PING_INTERVAL`]; until `stop`
/// or a failed write (its reason).
async fn write_loop<W>(
    mut to_server: W,
    terminal: Terminal,
    mut commands: mpsc::Receiver<StdinCommand>,
    mut accepted: oneshot::Receiver<()>,
    mut pongs: mpsc::Receiver<u32>,
    mut stop: oneshot::Receiver<()>,
) -> Option<String>
where
    W: AsyncWrite + Unpin,
{
    let mut ping = tokio::time::interval(PING_INTERVAL);
    ping.reset();
    let mut our_ping = 1u32;
    let mut stdin_accepted = false;
    let mut stdin_open = true;
    let mut frames = open_streams(terminal);
    let mut what = "the connection failed";
    let failure = loop {
        if !frames.is_empty() {
            tokio::select! {
                _ = &mut stop => break None,
                written = write_all_flushed(&mut to_server, &frames) => {
                    if let Err(e) = written {
                        break Some(format!("{what}: {e}"));
                    }
                }
            }
        }
        frames.clear();
        what = "the connection failed";
        tokio::select! {
            _ = &mut stop => break None,
            _ = &mut accepted, if !stdin_accepted => stdin_accepted = true,
            command = commands.recv(), if stdin_open && stdin_accepted => {
                what = "sending stdin failed";
                match command {
                    Some(StdinCommand::Resize(size)) => {
                        what = "sending the window size failed";
                        if terminal == Terminal::Yes {
                            push_data_frames(&mut frames, RESIZE, false, &resize_message(size));
                        }
                    }
                    Some(StdinCommand::Data(data)) if !data.is_empty() => {
                        push_data_frames(&mut frames, STDIN, false, &data);
                    }
                    Some(StdinCommand::Data(_)) => {}
                    Some(StdinCommand::Close) | None => {
                        stdin_open = false;
                        push_data_frames(&mut frames, STDIN, true, &[]);
                    }
                }
            },
            Some(id) = pongs.recv() => frames = ping_frame(id),
            _ = ping.tick() => {
                frames = ping_frame(our_ping);
                our_ping = our_ping.wrapping_add(2);
            },
        }
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, to_server.shutdown()).await;
    failure
}

async fn write_all_flushed<W: AsyncWrite + Unpin>(w: &mut W, bytes: &[u8]) -> std::io::Result<()> {
    w.write_all(bytes).await?;
    w.flush().await
}

/// How long the tests give a session.
#[cfg(test)]
const TEST_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::io::{AsyncReadExt, DuplexStream};

    use super::super::exec_loop::{Cap, Sink};
    use super::super::spdy::data_frame;
    use super::*;
    use crate::contract::OutputStream;

    /// The server side of a session in a test: reads the client's frames
    /// raw, writes its own.
    struct Server {
        io: DuplexStream,
    }

    /// A frame as the test server sees it.
    #[derive(Debug)]
    enum Seen {
        Open {
            stream: u32,
            kind: &'static str,
        },
        Data {
            stream: u32,
            fin: bool,
            data: Vec<u8>,
        },
        Ping(u32),
    }

    impl Server {
        async fn frame(&mut self) -> Option<Seen> {
            let mut head = [0u8; 8];
            self.io.read_exact(&mut head).await.ok()?;
            let length =
                usize::from(head[5]) << 16 | usize::from(head[6]) << 8 | usize::from(head[7]);
            let mut payload = vec![0u8; length];
            self.io.read_exact(&mut payload).await.ok()?;
            let word = |at: usize| {
                u32::from_be_bytes(payload[at..at + 4].try_into().expect("4 bytes")) & 0x7fff_ffff
            };
            if head[0] & 0x80 == 0 {
                let stream = u32::from_be_bytes(head[..4].try_into().expect("4 bytes"));
                return Some(Seen::Data {
                    stream,
                    fin: head[4] & 1 != 0,
                    data: payload,
                });
            }
            Some(match u16::from_be_bytes([head[2], head[3]]) {
                // The stored header block holds one pair, its value last.
                1 => {
                    let block = payload[10..]
                        .strip_suffix(&[0, 0, 0, 0xff, 0xff])
                        .expect("a block ends with a sync flush");
                    let text = String::from_utf8_lossy(block);
                    let kind = ["error", "stdin", "stdout", "stderr", "resize"]
                        .into_iter()
                        .find(|k| text.ends_with(k))
                        .expect("a stream type");
                    Seen::Open {
                        stream: word(0),
                        kind,
                    }
                }
                6 => Seen::Ping(word(0)),
                other => panic!("unexpected control frame {other}"),
            })
        }

        /// The first `count` frames, each a stream opened: `(id, type)`.
        async fn opened(&mut self, count: usize) -> Vec<(u32, &'static str)> {
            let mut opened = Vec::new();
            for _ in 0..count {
                match self.frame().await.expect("a SYN_STREAM") {
                    Seen::Open { stream, kind } => opened.push((stream, kind)),
                    other => panic!("expected the streams opened first, got {other:?}"),
                }
            }
            opened
        }

        async fn send(&mut self, bytes: &[u8]) {
            self.io.write_all(bytes).await.expect("the client reads");
        }

        async fn reply(&mut self, stream: u32) {
            let mut frame = vec![0x80, 0x03, 0x00, 0x02, 0x00, 0x00, 0x00, 0x06];
            frame.extend_from_slice(&stream.to_be_bytes());
            frame.extend_from_slice(&[0, 0]);
            self.send(&frame).await;
        }
    }

    fn queue() -> (Delivery, mpsc::UnboundedReceiver<(OutputStream, Vec<u8>)>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Delivery::new(OutputStream::Stdout, Cap::new(None), Sink::Queue(tx)),
            rx,
        )
    }

    fn forward() -> (Delivery, Arc<std::sync::Mutex<Vec<u8>>>) {
        let buffer = Arc::new(std::sync::Mutex::new(Vec::new()));
        let writer: Arc<std::sync::Mutex<dyn std::io::Write + Send>> =
            Arc::new(std::sync::Mutex::new(SharedBuffer(buffer.clone())));
        (
            Delivery::new(OutputStream::Stderr, Cap::new(None), Sink::Forward(writer)),
            buffer,
        )
    }

    struct SharedBuffer(Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for SharedBuffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("buffer").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    const STATUS_EXIT_3: &[u8] = br#"{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}"#;

    /// The whole exchange with a server that behaves like the kubelet's:
    /// streams opened in order, stdin held until its stream is accepted,
    /// then all of it and its FIN, output on both streams, a ping answered,
    /// the status on the error stream, the connection closed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stdin_flows_once_accepted_and_ends_with_a_fin() {
        let (out, mut out_rx) = queue();
        let (err, err_buffer) = forward();
        let (session, mut server, commands) = session(out, err);
        // Stdin handed over before the server accepted the stream.
        commands
            .send(StdinCommand::Data(b"early ".to_vec()))
            .await
            .expect("queued");

        assert_eq!(
            server.opened(STREAMS.len()).await,
            [(1, "error"), (3, "stdin"), (5, "stdout"), (7, "stderr")]
        );

        // Nothing on stdin before the reply: the server's ping is the
        // next frame the client sends.
        server.send(&ping_frame(2)).await;
        match tokio::time::timeout(TEST_LIMIT, server.frame()).await {
            Ok(Some(Seen::Ping(2))) => {}
            other => panic!("expected the ping answered before any stdin, got {other:?}"),
        }
        for stream in [1, 3, 5, 7] {
            server.reply(stream).await;
        }
        commands
            .send(StdinCommand::Data(b"late".to_vec()))
            .await
            .expect("queued");
        commands.send(StdinCommand::Close).await.expect("queued");
        let mut stdin = Vec::new();
        loop {
            match tokio::time::timeout(TEST_LIMIT, server.frame()).await {
                Ok(Some(Seen::Data {
                    stream: 3,
                    fin,
                    data,
                })) => {
                    stdin.extend_from_slice(&data);
                    if fin {
                        break;
                    }
                }
                other => panic!("expected stdin, got {other:?}"),
            }
        }
        assert_eq!(stdin, b"early late");

        server.send(&data_frame(5, false, b"out")).await;
        server.send(&data_frame(7, false, b"err")).await;
        server.send(&data_frame(1, false, STATUS_EXIT_3)).await;
        drop(server);

        let outcome = ended(session, "the session ends with the connection").await;
        let status = outcome.status.expect("a status");
        assert_eq!(status.reason.as_deref(), Some("NonZeroExitCode"));
        assert_eq!(outcome.failure, None);
        assert_eq!(
            out_rx.try_recv().ok(),
            Some((OutputStream::Stdout, b"out".to_vec()))
        );
        assert_eq!(*err_buffer.lock().expect("buffer"), b"err");
    }

    /// A session running on an in-memory connection, output to `out` and
    /// `err`: its task, the test server's end, and its stdin.
    fn session(
        out: Delivery,
        err: Delivery,
    ) -> (
        tokio::task::JoinHandle<Outcome>,
        Server,
        mpsc::Sender<StdinCommand>,
    ) {
        session_on(Terminal::No, out, err)
    }

    fn session_on(
        terminal: Terminal,
        out: Delivery,
        err: Delivery,
    ) -> (
        tokio::task::JoinHandle<Outcome>,
        Server,
        mpsc::Sender<StdinCommand>,
    ) {
        let (client_io, server_io) = tokio::io::duplex(64 * 1024);
        let (commands, command_rx) = mpsc::channel(8);
        let session = tokio::spawn(run(client_io, terminal, command_rx, out, err));
        (session, Server { io: server_io }, commands)
    }

    /// A terminal session opens resize instead of stderr, sends each window
    /// size as the JSON line kubectl sends, only once the server has
    /// accepted both streams it writes on, and passes on nothing the server
    /// writes on the resize stream's id.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_terminal_sends_window_sizes_on_the_resize_stream_once_accepted() {
        use crate::contract::WindowSize;
        let (out, mut out_rx) = queue();
        let (err, err_buffer) = forward();
        let (session, mut server, commands) = session_on(Terminal::Yes, out, err);
        commands
            .send(StdinCommand::Resize(WindowSize { rows: 24, cols: 80 }))
            .await
            .expect("queued");
        assert_eq!(
            server.opened(TTY_STREAMS.len()).await,
            [(1, "error"), (3, "stdin"), (5, "stdout"), (7, "resize")]
        );
        // Stdin accepted but resize not yet: still nothing written.
        server.reply(1).await;
        server.reply(3).await;
        server.reply(5).await;
        server.send(&ping_frame(2)).await;
        match tokio::time::timeout(TEST_LIMIT, server.frame()).await {
            Ok(Some(Seen::Ping(2))) => {}
            other => panic!("expected nothing before the resize stream is accepted, got {other:?}"),
        }
        server.reply(7).await;
        match tokio::time::timeout(TEST_LIMIT, server.frame()).await {
            Ok(Some(Seen::Data {
                stream: 7,
                fin: false,
                data,
            })) => assert_eq!(data, b"{\"Width\":80,\"Height\":24}\n"),
            other => panic!("expected the first window size, got {other:?}"),
        }
        commands
            .send(StdinCommand::Data(b"ls\r".to_vec()))
            .await
            .expect("queued");
        commands
            .send(StdinCommand::Resize(WindowSize {
                rows: 50,
                cols: 132,
            }))
            .await
            .expect("queued");
        let mut seen = Vec::new();
        for _ in 0..2 {
            match tokio::time::timeout(TEST_LIMIT, server.frame()).await {
                Ok(Some(Seen::Data { stream, data, .. })) => seen.push((stream, data)),
                other => panic!("expected stdin and a resize, got {other:?}"),
            }
        }
        assert_eq!(
            seen,
            [
                (3, b"ls\r".to_vec()),
                (7, b"{\"Width\":132,\"Height\":50}\n".to_vec())
            ]
        );
        server.send(&data_frame(5, false, b"merged")).await;
        server.send(&data_frame(7, false, b"not stderr")).await;
        server
            .send(&data_frame(1, true, br#"{"status":"Success"}"#))
            .await;
        let outcome = ended(session, "the status ends the session").await;
        assert_eq!(outcome.failure, None);
        assert_eq!(
            out_rx.try_recv().ok(),
            Some((OutputStream::Stdout, b"merged".to_vec()))
        );
        assert!(err_buffer.lock().expect("buffer").is_empty());
    }

    /// The outcome of a session's task, which must end within
    /// [`TEST_LIMIT`] (`why`: what ends it).
    async fn ended(session: tokio::task::JoinHandle<Outcome>, why: &str) -> Outcome {
        tokio::time::timeout(TEST_LIMIT, session)
            .await
            .unwrap_or_else(|_| panic!("{why}"))
            .expect("the session ran")
    }

    /// A [`session`] with its output queued (and dropped), the test server
    /// past the streams it opened.
    async fn opened_session() -> (
        tokio::task::JoinHandle<Outcome>,
        Server,
        mpsc::Sender<StdinCommand>,
    ) {
        let (out, _) = queue();
        let (err, _) = queue();
        let (session, mut server, commands) = session(out, err);
        server.opened(STREAMS.len()).await;
        (session, server, commands)
    }

    #[tokio::test]
    async fn a_connection_closed_before_the_status_is_a_failure() {
        let (session, mut server, _commands) = opened_session().await;
        server
            .send(&data_frame(STDOUT, false, b"partial output"))
            .await;
        drop(server);
        let outcome = ended(session, "the session ends").await;
        assert!(outcome.status.is_none());
        assert_eq!(
            outcome.failure.as_deref(),
            Some("the connection closed before the exit status arrived")
        );
    }

    #[tokio::test]
    async fn an_endless_error_stream_is_a_failure_not_a_growing_buffer() {
        let (session, mut server, _commands) = opened_session().await;
        let junk = vec![b'x'; 64 * 1024];
        for _ in 0..=MAX_STATUS / junk.len() {
            server.send(&data_frame(ERROR, false, &junk)).await;
        }
        let outcome = ended(session, "the session ends").await;
        assert!(outcome.status.is_none());
        assert_eq!(
            outcome.failure,
            Some(format!("the exit status is larger than {MAX_STATUS} bytes"))
        );
        drop(server);
    }

    #[tokio::test]
    async fn the_status_ends_the_session_at_the_error_streams_fin() {
        let (session, mut server, _commands) = opened_session().await;
        // In two pieces, the second with the FIN; the connection stays open.
        let (head, tail) = STATUS_EXIT_3.split_at(20);
        server.send(&data_frame(1, false, head)).await;
        server.send(&data_frame(1, true, tail)).await;
        let outcome = ended(
            session,
            "the session ends at the FIN, with the connection still open",
        )
        .await;
        assert_eq!(
            outcome.status.and_then(|s| s.reason).as_deref(),
            Some("NonZeroExitCode")
        );
        drop(server);
    }

    /// Bytes each way in the test below: far more than the 64 KiB pipe
    /// between the two ends holds.
    const BOTH_WAYS: usize = 4 << 20;
    const CHUNK: usize = 32 * 1024;

    /// A command that writes all its output before it reads its stdin (as
    /// `cat` does once its output pipe is full): the session must keep
    /// reading output while stdin waits to be written, or the two ends wait
    /// on each other for ever.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn output_is_read_while_stdin_waits_to_be_written() {
        let (out, mut out_rx) = queue();
        let (err, _err_rx) = queue();
        let (session, mut server, commands) = session(out, err);
        let feeder = tokio::spawn(async move {
            for _ in 0..BOTH_WAYS / CHUNK {
                if commands
                    .send(StdinCommand::Data(vec![b'i'; CHUNK]))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            let _ = commands.send(StdinCommand::Close).await;
        });
        let pod = tokio::spawn(async move {
            for _ in 0..STREAMS.len() {
                server.frame().await.expect("a SYN_STREAM");
            }
            server.reply(STDIN).await;
            // All the output first, reading nothing.
            for _ in 0..BOTH_WAYS / CHUNK {
                server
                    .send(&data_frame(STDOUT, false, &[b'o'; CHUNK]))
                    .await;
            }
            // Then all the input.
            let mut received = 0;
            loop {
                match server.frame().await {
                    Some(Seen::Data {
                        stream: STDIN,
                        fin,
                        data,
                    }) => {
                        received += data.len();
                        if fin {
                            break;
                        }
                    }
                    Some(_) => {}
                    None => break,
                }
            }
            server
                .send(&data_frame(
                    ERROR,
                    true,
                    br#"{"metadata":{},"status":"Success"}"#,
                ))
                .await;
            received
        });
        let outcome = ended(
            session,
            "the session ends: output and stdin do not wait on each other",
        )
        .await;
        assert!(outcome.status.is_some(), "{outcome:?}");
        assert_eq!(
            pod.await.expect("the pod side ran"),
            BOTH_WAYS,
            "all of stdin arrived"
        );
        let mut output = 0;
        while let Ok((_, data)) = out_rx.try_recv() {
            output += data.len();
        }
        assert_eq!(output, BOTH_WAYS, "all of the output was read");
        feeder.await.expect("the feeder ran");
    }
}
