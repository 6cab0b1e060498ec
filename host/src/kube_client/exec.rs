//! Exec sessions over the websocket exec API (`v5.channel.k8s.io`, falling
//! back to `v4.channel.k8s.io`), with real exit codes from the status
//! channel (see [`super::exec_protocol`]).
//!
//! Output is drained by one task per stream as it arrives, so a chatty
//! process is never blocked by a slow reader: forwarded output goes to the
//! caller's writers (flushed per chunk), the rest is queued for
//! [`KubeExec::read`]. Byte caps stop the delivery, not the draining.
//! [`KubeExec::wait`] returns once the status arrived and both streams ended,
//! so no trailing output is lost.
//!
//! Ending stdin: on v5 kube-rs sends a close for the stdin channel; on v4
//! (Kubernetes before 1.30) the protocol has no such message, and kube-rs
//! closes the whole websocket: the process sees end of input, but output and
//! the status sent after that are lost. Policies that need both stdin and an
//! exit code on old clusters bound the input themselves (`head -c N`).

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams, AttachedProcess};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, SimplexStream, WriteHalf};
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::Ctx;
use super::exec_protocol::{Ending, ending_from_status};
use crate::cluster_io::{CallerIo, ExecSpec, ExecStream, ExitStatus, IoError, StreamKind};

/// Bytes read from a stream at a time.
const CHUNK: usize = 16 * 1024;
/// Buffer between kube-rs's message loop and our drains, per stream.
const PIPE_BUFFER: usize = 64 * 1024;
/// Chunks of forwarded stdin in flight.
const STDIN_DEPTH: usize = 8;

/// Where one output stream goes.
#[derive(Clone)]
enum Sink {
    /// To the caller's writer.
    Forward(Arc<std::sync::Mutex<dyn std::io::Write + Send>>),
    /// Queued for `read`.
    Queue(mpsc::UnboundedSender<(StreamKind, Vec<u8>)>),
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
        Cap { limit, delivered: 0, truncated: false }
    }

    /// The part of `chunk` still within the cap; marks truncation.
    pub(crate) fn admit<'a>(&mut self, chunk: &'a [u8]) -> &'a [u8] {
        let Some(limit) = self.limit else { return chunk };
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

/// Reads a stream to its end, delivering what fits under the cap.
async fn drain(mut reader: impl AsyncRead + Unpin, kind: StreamKind, mut cap: Cap, sink: Sink, truncated: Arc<AtomicBool>) {
    let mut buf = vec![0u8; CHUNK];
    let mut forwarding = true;
    loop {
        let n = match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let part = cap.admit(&buf[..n]);
        if cap.truncated() {
            truncated.store(true, Ordering::SeqCst);
        }
        if part.is_empty() || !forwarding {
            continue;
        }
        match &sink {
            Sink::Forward(writer) => {
                // The caller's writer is blocking; keep the runtime's other
                // tasks running while it writes.
                let ok = tokio::task::block_in_place(|| match writer.lock() {
                    Ok(mut w) => w.write_all(part).and_then(|()| w.flush()).is_ok(),
                    Err(_) => false,
                });
                // A closed caller stream stops forwarding; draining goes on.
                forwarding = ok;
            }
            Sink::Queue(tx) => forwarding = tx.send((kind, part.to_vec())).is_ok(),
        }
    }
}

/// A started exec session.
pub(crate) struct Session {
    attached: AttachedProcess,
    stdin: Option<WriteHalf<SimplexStream>>,
    forward_stdin: bool,
    caller: CallerIo,
    queue: Option<mpsc::UnboundedReceiver<(StreamKind, Vec<u8>)>>,
    finish: JoinHandle<Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Status>>,
    stdout_truncated: Arc<AtomicBool>,
    stderr_truncated: Arc<AtomicBool>,
}

/// Starts `spec.argv` in the container.
pub(crate) async fn start(ctx: &Ctx, spec: &ExecSpec, caller: &CallerIo) -> Result<Session, IoError> {
    if spec.argv.is_empty() {
        return Err(IoError::BadArgument("exec: argv is empty; give the command to run".into()));
    }
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &spec.namespace);
    let mut params = AttachParams::default().container(spec.container.clone()).stdin(spec.stdin).stdout(true).stderr(true);
    params.max_stdout_buf_size = Some(PIPE_BUFFER);
    params.max_stderr_buf_size = Some(PIPE_BUFFER);
    params.max_stdin_buf_size = Some(PIPE_BUFFER);
    let step = format!("exec in pod {}/{} container {}", spec.namespace, spec.pod, spec.container);
    let mut attached = ctx.call(&step, || pods.exec(&spec.pod, spec.argv.clone(), &params)).await?;

    let stdin = attached.stdin();
    let (stdout, stderr) = match (attached.stdout(), attached.stderr()) {
        (Some(o), Some(e)) => (o, e),
        _ => return Err(IoError::Transport(format!("{step}: the session has no output streams"))),
    };
    let status = attached
        .take_status()
        .ok_or_else(|| IoError::Transport(format!("{step}: the session has no status channel")))?;

    let (queue_tx, queue) = if spec.forward_output {
        (None, None)
    } else {
        let (tx, rx) = mpsc::unbounded_channel();
        (Some(tx), Some(rx))
    };
    let sink = |writer: &Arc<std::sync::Mutex<dyn std::io::Write + Send>>| match &queue_tx {
        Some(tx) => Sink::Queue(tx.clone()),
        None => Sink::Forward(writer.clone()),
    };
    let stdout_truncated = Arc::new(AtomicBool::new(false));
    let stderr_truncated = Arc::new(AtomicBool::new(false));
    let out_task = tokio::spawn(drain(stdout, StreamKind::Stdout, Cap::new(spec.max_stdout_bytes), sink(&caller.stdout), stdout_truncated.clone()));
    let err_task = tokio::spawn(drain(stderr, StreamKind::Stderr, Cap::new(spec.max_stderr_bytes), sink(&caller.stderr), stderr_truncated.clone()));
    drop(queue_tx);
    let finish = tokio::spawn(async move {
        let status = status.await;
        // The streams end when the message loop stops: after the status,
        // or when the session is aborted.
        let _ = out_task.await;
        let _ = err_task.await;
        status
    });
    Ok(Session {
        attached,
        stdin,
        forward_stdin: spec.forward_stdin,
        caller: caller.clone(),
        queue,
        finish,
        stdout_truncated,
        stderr_truncated,
    })
}

/// An exec session seen through the blocking [`ExecStream`] trait.
pub(crate) struct KubeExec {
    handle: Handle,
    session: Session,
    killed: bool,
    ended: Option<ExitStatus>,
}

impl KubeExec {
    /// Wraps a session from [`start`].
    pub(crate) fn new(handle: Handle, session: Session) -> KubeExec {
        KubeExec { handle, session, killed: false, ended: None }
    }

    fn exit_status(&self, ending: Ending) -> ExitStatus {
        ExitStatus {
            code: ending.code,
            signal: ending.signal,
            stdout_truncated: self.session.stdout_truncated.load(Ordering::SeqCst),
            stderr_truncated: self.session.stderr_truncated.load(Ordering::SeqCst),
            message: ending.message,
        }
    }
}

/// Copies the caller's stdin into the session's stdin, then ends it. The
/// blocking reads run on their own thread, so a caller that never closes
/// its stdin holds no runtime thread.
fn forward_stdin(handle: &Handle, source: Option<Box<dyn Read + Send>>, mut sink: WriteHalf<SimplexStream>) {
    let Some(mut source) = source else {
        handle.spawn(async move {
            let _ = sink.shutdown().await;
        });
        return;
    };
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(STDIN_DEPTH);
    let spawned = std::thread::Builder::new().name("leasebox-stdin".into()).spawn(move || {
        let mut buf = vec![0u8; CHUNK];
        loop {
            match source.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.blocking_send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    if spawned.is_err() {
        // No thread: end the input rather than leave the process waiting.
        rx.close();
    }
    handle.spawn(async move {
        while let Some(chunk) = rx.recv().await {
            if sink.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = sink.shutdown().await;
    });
}

impl ExecStream for KubeExec {
    fn write_stdin(&mut self, data: &[u8]) -> Result<(), IoError> {
        let Some(stdin) = self.session.stdin.as_mut() else {
            return Err(IoError::BadArgument(
                "exec: stdin is closed or was not opened (set stdin in the exec request)".into(),
            ));
        };
        self.handle
            .block_on(async { stdin.write_all(data).await.and(stdin.flush().await) })
            .map_err(|e| IoError::Transport(format!("exec: writing to stdin failed: {e}")))
    }

    fn close_stdin(&mut self) -> Result<(), IoError> {
        let Some(mut stdin) = self.session.stdin.take() else { return Ok(()) };
        if self.session.forward_stdin {
            let source = self.session.caller.stdin.lock().ok().and_then(|mut s| s.take());
            forward_stdin(&self.handle, source, stdin);
            Ok(())
        } else {
            self.handle
                .block_on(stdin.shutdown())
                .map_err(|e| IoError::Transport(format!("exec: closing stdin failed: {e}")))
        }
    }

    fn read(&mut self, timeout: Duration) -> Result<Option<(StreamKind, Vec<u8>)>, IoError> {
        let Some(queue) = self.session.queue.as_mut() else { return Ok(None) };
        Ok(self.handle.block_on(async { tokio::time::timeout(timeout, queue.recv()).await }).ok().flatten())
    }

    fn wait(&mut self, timeout: Duration) -> Result<Option<ExitStatus>, IoError> {
        if let Some(done) = &self.ended {
            return Ok(Some(done.clone()));
        }
        let finish = &mut self.session.finish;
        let status = match self.handle.block_on(async { tokio::time::timeout(timeout, finish).await }) {
            Err(_elapsed) => return Ok(None),
            Ok(Err(join)) => {
                return Err(IoError::Transport(format!("exec: the session task failed: {join}")));
            }
            Ok(Ok(status)) => status,
        };
        let ending = match status {
            Some(status) => ending_from_status(&status),
            None if self.killed => Ending {
                code: None,
                signal: None,
                message: "the exec session was aborted by kill; the process in the pod may still run".into(),
            },
            None => {
                return Err(IoError::Transport(
                    "exec: the connection closed before the exit status arrived (on Kubernetes before 1.30 closing stdin closes the session)".into(),
                ));
            }
        };
        let done = self.exit_status(ending);
        self.ended = Some(done.clone());
        Ok(Some(done))
    }

    fn kill(&mut self) -> Result<(), IoError> {
        self.killed = true;
        self.session.stdin = None;
        self.session.attached.abort();
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
    fn drain_forwards_under_the_cap_and_flags_the_rest() {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build();
        let runtime = runtime.unwrap_or_else(|e| panic!("{e}"));
        let out: Arc<std::sync::Mutex<Vec<u8>>> = Arc::new(std::sync::Mutex::new(Vec::new()));
        let writer: Arc<std::sync::Mutex<dyn std::io::Write + Send>> = out.clone();
        let flag = Arc::new(AtomicBool::new(false));
        let data: &[u8] = b"0123456789";
        runtime.block_on(drain(data, StreamKind::Stdout, Cap::new(Some(4)), Sink::Forward(writer), flag.clone()));
        assert_eq!(out.lock().map(|v| v.clone()).unwrap_or_default(), b"0123");
        assert!(flag.load(Ordering::SeqCst));
    }
}
