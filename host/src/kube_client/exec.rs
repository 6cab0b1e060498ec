//! Exec sessions over the websocket exec API, with real exit codes from
//! the status channel (see [`super::exec_protocol`]).
//!
//! kube-rs opens the connection (`v5.channel.k8s.io`, falling back to
//! `v4.channel.k8s.io`); this module runs the message loop itself, because
//! ending stdin differs by version: on v5 it sends "close stdin" and the
//! process reads end of file; v4 (Kubernetes before 1.30, e.g. 1.20) has no
//! such message, and closing the websocket (what kube-rs does) loses the
//! output and the exit status that follow. So on v4, ending stdin only stops
//! sending: a command reading stdin must know where its input ends
//! (`head -c N`), which is how leasebox policies send it.
//!
//! Output is handled as it arrives, in the loop: forwarded output goes to
//! the caller's writers (flushed per chunk), the rest is queued for
//! [`KubeExec::read`]. Byte caps stop the delivery, not the reading, so the
//! process is never blocked. [`KubeExec::wait`] returns once the status has
//! arrived and the loop has ended, so no trailing output is lost.

use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::api::AttachParams;
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

use super::Ctx;
use super::exec_protocol::{
    Ending, Frame, close_stdin_frame, decode, ending_from_status, stdin_frame,
};
use super::exec_spdy;
use super::exec_stdin::{StdinCommand, forward_stdin, stdin_chunk};
use crate::cluster_io::{CallerIo, ExecSpec, ExecStatus, ExecStream, KubeError, OutputStream};

/// Stdin messages in flight to the message loop.
const STDIN_DEPTH: usize = 8;
/// Keep-alive ping interval for idle sessions.
pub(crate) const PING_INTERVAL: Duration = Duration::from_secs(30);
/// How long the final websocket close may take.
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

/// Runs one session: server frames to the deliveries while [`write_loop`]
/// sends stdin and pings alongside; ends at the status or when the
/// connection ends. Reading never waits on a send: a command that writes
/// output while its stdin is still coming would otherwise stall both ways
/// once the buffers between are full.
async fn run<S>(
    ws: S,
    v5: bool,
    commands: mpsc::Receiver<StdinCommand>,
    mut out: Delivery,
    mut err: Delivery,
) -> Outcome
where
    S: futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>>
        + futures::Sink<Message, Error = tokio_tungstenite::tungstenite::Error>
        + Unpin,
{
    let (to_server, mut from_server) = ws.split();
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let mut writer = std::pin::pin!(write_loop(to_server, v5, commands, stopped));
    let mut writing = true;
    let mut outcome = Outcome::default();
    loop {
        tokio::select! {
            message = from_server.next() => match message {
                Some(Ok(Message::Binary(frame))) => match decode(&frame) {
                    Frame::Stdout(data) => out.deliver(data),
                    Frame::Stderr(data) => err.deliver(data),
                    Frame::Status(json) => {
                        match serde_json::from_slice::<Status>(json) {
                            Ok(status) => outcome.status = Some(status),
                            Err(e) => outcome.failure = Some(format!("unreadable exit status: {e}")),
                        }
                        break;
                    }
                    Frame::Ignored => {}
                },
                Some(Ok(Message::Close(_))) | None => {
                    outcome.failure = Some("the connection closed before the exit status arrived".into());
                    break;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    outcome.failure = Some(format!("the connection failed: {e}"));
                    break;
                }
            },
            failure = &mut writer, if writing => {
                writing = false;
                if failure.is_some() {
                    outcome.failure = failure;
                    break;
                }
            },
        }
    }
    if writing {
        let _ = stop.send(());
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, &mut writer).await;
    }
    outcome.stdout_truncated = out.cap.truncated();
    outcome.stderr_truncated = err.cap.truncated();
    outcome
}

/// The sending half of a session: stdin as the guest hands it over, the
/// end of stdin (v5), pings every [`PING_INTERVAL`]; until `stop` or a
/// failed send (its reason). Closes the sending half at the end.
async fn write_loop<W>(
    mut to_server: W,
    v5: bool,
    mut commands: mpsc::Receiver<StdinCommand>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) -> Option<String>
where
    W: futures::Sink<Message, Error = tokio_tungstenite::tungstenite::Error> + Unpin,
{
    let mut ping = tokio::time::interval(PING_INTERVAL);
    ping.reset();
    let mut stdin_open = true;
    let failure = loop {
        let message = tokio::select! {
            _ = &mut stop => break None,
            command = commands.recv(), if stdin_open => match command {
                Some(StdinCommand::Data(data)) => Some(Message::binary(stdin_frame(&data))),
                Some(StdinCommand::Close) | None => {
                    stdin_open = false;
                    // v4 has no way to end stdin but closing the session.
                    v5.then(|| Message::binary(close_stdin_frame()))
                }
            },
            _ = ping.tick() => Some(Message::Ping(Default::default())),
        };
        let Some(message) = message else {
            continue;
        };
        let what = if matches!(message, Message::Ping(_)) {
            "the connection failed"
        } else {
            "sending stdin failed"
        };
        tokio::select! {
            _ = &mut stop => break None,
            sent = to_server.send(message) => {
                if let Err(e) = sent {
                    break Some(format!("{what}: {e}"));
                }
            }
        }
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, to_server.close()).await;
    failure
}

/// A started exec session.
pub(crate) struct Session {
    commands: Option<mpsc::Sender<StdinCommand>>,
    stdin: bool,
    forward_stdin: bool,
    frame_stdin: bool,
    caller: CallerIo,
    queue: Option<mpsc::UnboundedReceiver<(OutputStream, Vec<u8>)>>,
    task: JoinHandle<Outcome>,
}

/// Starts `spec.argv` in the container.
pub(crate) async fn start(
    ctx: &Ctx,
    spec: &ExecSpec,
    caller: &CallerIo,
) -> Result<Session, KubeError> {
    if spec.argv.is_empty() {
        return Err(KubeError::BadArgument(
            "exec: argv is empty; give the command to run".into(),
        ));
    }
    let params = AttachParams::default()
        .container(spec.container.clone())
        .stdin(spec.stdin)
        .stdout(true)
        .stderr(true);
    let pods = kube::core::Request::new(format!("/api/v1/namespaces/{}/pods", spec.namespace));
    let step = format!(
        "exec in pod {}/{} container {}",
        spec.namespace, spec.pod, spec.container
    );
    let request = || {
        pods.exec(&spec.pod, spec.argv.clone(), &params)
            .map_err(kube::Error::BuildRequest)
    };
    let (queue_tx, queue) = if spec.forward_output {
        (None, None)
    } else {
        let (tx, rx) = mpsc::unbounded_channel();
        (Some(tx), Some(rx))
    };
    let delivery = |kind, cap, writer: &Arc<std::sync::Mutex<dyn std::io::Write + Send>>| {
        let sink = match &queue_tx {
            Some(tx) => Sink::Queue(tx.clone()),
            None => Sink::Forward(writer.clone()),
        };
        Delivery::new(kind, Cap::new(cap), sink)
    };
    let out = delivery(OutputStream::Stdout, spec.max_stdout_bytes, &caller.stdout);
    let err = delivery(OutputStream::Stderr, spec.max_stderr_bytes, &caller.stderr);
    let (commands, command_rx) = mpsc::channel(STDIN_DEPTH);
    // With stdin open the session runs over SPDY, as kubectl's does: it
    // can end stdin, and the node's runtime takes it in for a third of the
    // CPU (see `exec_spdy`). Without stdin, over a websocket (v5 or v4).
    let task = if spec.stdin {
        let response = ctx
            .call(&step, || {
                let request = request().map(|mut r| {
                    exec_spdy::ask_for_spdy(&mut r);
                    r
                });
                async move { exec_spdy::send_upgrade(&ctx.client, request?).await }
            })
            .await?;
        let connection = exec_spdy::upgraded(response)
            .await
            .map_err(|e| KubeError::Transport(format!("{step}: {e}")))?;
        tokio::spawn(exec_spdy::run(connection, true, command_rx, out, err))
    } else {
        let connection = ctx
            .call(&step, || {
                let request = request();
                async move { ctx.client.connect(request?).await }
            })
            .await?;
        let v5 = connection.supports_stream_close();
        tokio::spawn(run(connection.into_stream(), v5, command_rx, out, err))
    };
    Ok(Session {
        commands: Some(commands),
        stdin: spec.stdin,
        forward_stdin: spec.forward_stdin,
        frame_stdin: spec.frame_stdin,
        caller: caller.clone(),
        queue,
        task,
    })
}

/// An exec session seen through the blocking [`ExecStream`] trait.
pub(crate) struct KubeExec {
    handle: Handle,
    session: Session,
    killed: bool,
    ended: Option<ExecStatus>,
}

impl KubeExec {
    /// Wraps a session from [`start`].
    pub(crate) fn new(handle: Handle, session: Session) -> KubeExec {
        KubeExec {
            handle,
            session,
            killed: false,
            ended: None,
        }
    }
}

impl Drop for KubeExec {
    fn drop(&mut self) {
        self.session.task.abort();
    }
}

impl ExecStream for KubeExec {
    fn write_stdin(&mut self, data: &[u8]) -> Result<(), KubeError> {
        let commands = match (&self.session.commands, self.session.stdin) {
            (Some(c), true) => c.clone(),
            _ => {
                return Err(KubeError::BadArgument(
                    "exec: stdin is closed or was not opened (set stdin in the exec request)"
                        .into(),
                ));
            }
        };
        self.handle
            .block_on(commands.send(StdinCommand::Data(data.to_vec())))
            .map_err(|_| {
                KubeError::Transport("exec: the session ended; stdin was not delivered".into())
            })
    }

    fn close_stdin(&mut self) -> Result<(), KubeError> {
        let Some(commands) = self.session.commands.take() else {
            return Ok(());
        };
        if self.session.stdin && self.session.forward_stdin {
            let source = self
                .session
                .caller
                .stdin
                .lock()
                .ok()
                .and_then(|mut s| s.take());
            forward_stdin(source, commands, self.session.frame_stdin)
        } else {
            // A session that already ended needs no end of input.
            if self.session.frame_stdin {
                let end = StdinCommand::Data(stdin_chunk(&[], true));
                let _ = self.handle.block_on(commands.send(end));
            }
            let _ = self.handle.block_on(commands.send(StdinCommand::Close));
            Ok(())
        }
    }

    fn read(&mut self, timeout: Duration) -> Result<Option<(OutputStream, Vec<u8>)>, KubeError> {
        let Some(queue) = self.session.queue.as_mut() else {
            return Ok(None);
        };
        Ok(self
            .handle
            .block_on(async { tokio::time::timeout(timeout, queue.recv()).await })
            .ok()
            .flatten())
    }

    fn wait(&mut self, timeout: Duration) -> Result<Option<ExecStatus>, KubeError> {
        if let Some(done) = &self.ended {
            return Ok(Some(done.clone()));
        }
        let task = &mut self.session.task;
        let outcome = match self
            .handle
            .block_on(async { tokio::time::timeout(timeout, task).await })
        {
            Err(_elapsed) => return Ok(None),
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) if self.killed => Outcome::default(),
            Ok(Err(join)) => {
                return Err(KubeError::Transport(format!(
                    "exec: the session task failed: {join}"
                )));
            }
        };
        let ending = match (&outcome.status, &outcome.failure) {
            (Some(status), _) => ending_from_status(status),
            (None, _) if self.killed => Ending {
                code: None,
                signal: None,
                message:
                    "the exec session was aborted by kill; the process in the pod may still run"
                        .into(),
            },
            (None, failure) => {
                return Err(KubeError::Transport(format!(
                    "exec: {}",
                    failure
                        .as_deref()
                        .unwrap_or("the session ended without an exit status")
                )));
            }
        };
        let done = ExecStatus {
            exit_code: ending.code,
            signal: ending.signal,
            timed_out: false,
            stdout_truncated: outcome.stdout_truncated,
            stderr_truncated: outcome.stderr_truncated,
            message: ending.message,
        };
        self.ended = Some(done.clone());
        Ok(Some(done))
    }

    fn kill(&mut self) -> Result<(), KubeError> {
        self.killed = true;
        self.session.commands = None;
        self.session.task.abort();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::exec_protocol::{STATUS as STATUS_CHANNEL, STDOUT as STDOUT_CHANNEL};
    use super::super::exec_stdin::MAX_MESSAGE;
    use super::*;
    use futures::{SinkExt, StreamExt};

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
        let mut d = Delivery {
            kind: OutputStream::Stderr,
            cap: Cap::new(Some(3)),
            sink: Sink::Queue(tx),
            open: true,
        };
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

    /// Bytes each way in the test below: far more than the 64 KiB pipe
    /// between the two ends holds.
    const BOTH_WAYS: usize = 4 << 20;
    const FRAME: usize = 32 * 1024;

    /// A command that writes all its output before it reads its stdin (as
    /// `cat` does once its output pipe is full): the session must keep
    /// reading output while a stdin message waits to be sent, or the two
    /// ends wait on each other for ever.
    #[tokio::test]
    async fn output_is_read_while_stdin_waits_to_be_sent() {
        use tokio_tungstenite::WebSocketStream;
        use tokio_tungstenite::tungstenite::protocol::Role;

        let (client_io, server_io) = tokio::io::duplex(64 * 1024);
        let client = WebSocketStream::from_raw_socket(client_io, Role::Client, None).await;
        let mut server = WebSocketStream::from_raw_socket(server_io, Role::Server, None).await;
        let pod = tokio::spawn(async move {
            // All the output first, reading nothing.
            let mut frame = vec![STDOUT_CHANNEL; FRAME + 1];
            frame[1..].fill(b'o');
            for _ in 0..BOTH_WAYS / FRAME {
                server.send(Message::binary(frame.clone())).await?;
            }
            // Then all the input.
            let mut received = 0;
            while received < BOTH_WAYS {
                match server.next().await {
                    Some(Ok(Message::Binary(data))) if data.first() == Some(&0) => {
                        received += data.len() - 1;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e),
                    None => break,
                }
            }
            let status = br#"{"metadata":{},"status":"Success"}"#;
            let mut frame = vec![STATUS_CHANNEL];
            frame.extend_from_slice(status);
            server.send(Message::binary(frame)).await?;
            Ok(received)
        });

        let (commands, command_rx) = mpsc::channel(STDIN_DEPTH);
        let feeder = tokio::spawn(async move {
            for _ in 0..BOTH_WAYS / MAX_MESSAGE {
                let data = StdinCommand::Data(vec![b'i'; MAX_MESSAGE]);
                if commands.send(data).await.is_err() {
                    return;
                }
            }
        });
        let (out_tx, mut out_rx) = mpsc::unbounded_channel();
        let (err_tx, _err_rx) = mpsc::unbounded_channel();
        let delivery = |kind, sink| Delivery {
            kind,
            cap: Cap::new(None),
            sink,
            open: true,
        };
        let outcome = tokio::time::timeout(
            Duration::from_secs(30),
            run(
                client,
                false,
                command_rx,
                delivery(OutputStream::Stdout, Sink::Queue(out_tx)),
                delivery(OutputStream::Stderr, Sink::Queue(err_tx)),
            ),
        )
        .await
        .expect("the session ends: output and stdin do not wait on each other");
        assert!(outcome.status.is_some(), "{outcome:?}");
        let received = pod
            .await
            .expect("the pod side ran")
            .expect("no websocket error");
        assert_eq!(received, BOTH_WAYS, "all of stdin arrived");
        let mut output = 0;
        while let Ok((_, data)) = out_rx.try_recv() {
            output += data.len();
        }
        assert_eq!(output, BOTH_WAYS, "all of the output was read");
        feeder.await.expect("the feeder ran");
    }
}
