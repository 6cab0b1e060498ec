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

use std::io::Read;
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
use crate::cluster_io::{CallerIo, ExecSpec, ExecStatus, ExecStream, KubeError, OutputStream};

/// Bytes of the caller's stdin read at a time.
const CHUNK: usize = 16 * 1024;
/// Stdin chunks in flight to the message loop.
const STDIN_DEPTH: usize = 8;
/// Keep-alive ping interval for idle sessions.
const PING_INTERVAL: Duration = Duration::from_secs(30);
/// How long the final websocket close may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Where one output stream goes.
enum Sink {
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
struct Delivery {
    kind: OutputStream,
    cap: Cap,
    sink: Sink,
    /// False once the destination refused a write (the stream is still read).
    open: bool,
}

impl Delivery {
    fn deliver(&mut self, data: &[u8]) {
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

/// What the guest asks of stdin.
enum StdinCommand {
    Data(Vec<u8>),
    Close,
}

/// How the message loop ended.
#[derive(Debug, Default)]
struct Outcome {
    status: Option<Status>,
    stdout_truncated: bool,
    stderr_truncated: bool,
    /// Why the loop ended without a status.
    failure: Option<String>,
}

/// Runs one session: server frames to the deliveries, stdin commands to the
/// server, pings while idle; ends at the status or when the connection ends.
async fn run<S>(
    ws: S,
    v5: bool,
    mut commands: mpsc::Receiver<StdinCommand>,
    mut out: Delivery,
    mut err: Delivery,
) -> Outcome
where
    S: futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>>
        + futures::Sink<Message, Error = tokio_tungstenite::tungstenite::Error>
        + Unpin,
{
    let (mut to_server, mut from_server) = ws.split();
    let mut ping = tokio::time::interval(PING_INTERVAL);
    ping.reset();
    let mut stdin_open = true;
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
            command = commands.recv(), if stdin_open => {
                let frame = match command {
                    Some(StdinCommand::Data(data)) => Some(stdin_frame(&data)),
                    Some(StdinCommand::Close) | None => {
                        stdin_open = false;
                        // v4 has no way to end stdin but closing the session.
                        v5.then(close_stdin_frame)
                    }
                };
                if let Some(frame) = frame
                    && let Err(e) = to_server.send(Message::binary(frame)).await
                {
                    outcome.failure = Some(format!("sending stdin failed: {e}"));
                    break;
                }
            },
            _ = ping.tick() => {
                if let Err(e) = to_server.send(Message::Ping(Default::default())).await {
                    outcome.failure = Some(format!("the connection failed: {e}"));
                    break;
                }
            },
        }
    }
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, to_server.close()).await;
    outcome.stdout_truncated = out.cap.truncated();
    outcome.stderr_truncated = err.cap.truncated();
    outcome
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
    let connection = ctx
        .call(&step, || {
            let request = pods
                .exec(&spec.pod, spec.argv.clone(), &params)
                .map_err(kube::Error::BuildRequest);
            async move { ctx.client.connect(request?).await }
        })
        .await?;
    let v5 = connection.supports_stream_close();

    let (queue_tx, queue) = if spec.forward_output {
        (None, None)
    } else {
        let (tx, rx) = mpsc::unbounded_channel();
        (Some(tx), Some(rx))
    };
    let delivery =
        |kind, cap, writer: &Arc<std::sync::Mutex<dyn std::io::Write + Send>>| Delivery {
            kind,
            cap: Cap::new(cap),
            sink: match &queue_tx {
                Some(tx) => Sink::Queue(tx.clone()),
                None => Sink::Forward(writer.clone()),
            },
            open: true,
        };
    let out = delivery(OutputStream::Stdout, spec.max_stdout_bytes, &caller.stdout);
    let err = delivery(OutputStream::Stderr, spec.max_stderr_bytes, &caller.stderr);
    let (commands, command_rx) = mpsc::channel(STDIN_DEPTH);
    let task = tokio::spawn(run(connection.into_stream(), v5, command_rx, out, err));
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

/// Copies the caller's stdin into the session (framed when asked), then
/// ends it. The blocking reads run on their own thread, so a caller that
/// never closes its stdin holds no runtime thread.
fn forward_stdin(
    source: Option<Box<dyn Read + Send>>,
    commands: mpsc::Sender<StdinCommand>,
    framed: bool,
) -> Result<(), KubeError> {
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
    std::thread::Builder::new()
        .name("leasebox-stdin".into())
        .spawn(move || {
            let mut buf = vec![0u8; CHUNK];
            loop {
                match source.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if commands
                            .blocking_send(StdinCommand::Data(stdin_chunk(&buf[..n], framed)))
                            .is_err()
                        {
                            return;
                        }
                    }
                }
            }
            if framed {
                let _ = commands.blocking_send(StdinCommand::Data(stdin_chunk(&[], true)));
            }
            let _ = commands.blocking_send(StdinCommand::Close);
        })
        .map(|_| ())
        .map_err(|e| KubeError::Transport(format!("exec: cannot start the stdin forwarder: {e}")))
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

    #[test]
    fn framed_stdin_chunks_carry_their_length() {
        assert_eq!(stdin_chunk(b"abc", true), b"3\nabc");
        assert_eq!(stdin_chunk(b"", true), b"0\n");
        assert_eq!(stdin_chunk(b"abc", false), b"abc");
    }
}
