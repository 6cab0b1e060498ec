//! Exec sessions, with real exit codes from the status the server sends
//! last (see [`super::exec_protocol`]).
//!
//! The transport depends on stdin. A session whose stdin is open runs over
//! SPDY/3.1 (`super::exec_spdy`), as `kubectl exec -i` does: SPDY ends stdin
//! with a FIN, where websocket protocol v4 (all that Kubernetes before 1.30
//! speaks, e.g. 1.20) cannot without losing the output and exit status that
//! follow, and a 1.20 node's runtime takes stdin over SPDY for a third of
//! the CPU. A session without stdin runs over a websocket
//! (`super::exec_websocket`). A session on a terminal (`spec.tty`) needs
//! stdin and runs over SPDY too: its output comes merged on stdout, and its
//! window sizes (the first from the spec, later ones from the caller's
//! `window_sizes`) go on the resize stream.
//!
//! Output is handled as it arrives, in the session's loop: forwarded output
//! goes to the caller's writers (flushed per chunk), the rest is queued for
//! [`KubeExec::read`]. Byte caps stop the delivery, not the reading, so the
//! process is never blocked. [`KubeExec::wait`] returns once the status has
//! arrived and the loop has ended, so no trailing output is lost.

use std::sync::Arc;
use std::time::Duration;

use kube::api::AttachParams;
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::Ctx;
use super::exec_loop::{Cap, Delivery, Outcome, Sink};
use super::exec_protocol::{Ending, ending_from_status};
use super::exec_stdin::{Input, StdinCommand, forward_stdin, forward_window_sizes, stdin_chunk};
use super::{exec_spdy, exec_websocket, spare};
use crate::cluster::io::CallerIo;
use crate::contract::{ExecSpec, ExecStatus, ExecStream, KubeError, OutputStream};

/// Stdin messages in flight to the message loop.
const STDIN_DEPTH: usize = 8;

/// A started exec session.
pub(crate) struct Session {
    commands: Option<mpsc::Sender<StdinCommand>>,
    stdin: bool,
    forward_stdin: bool,
    frame_stdin: bool,
    /// The session runs on a terminal (its stdin is typed).
    tty: bool,
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
    if spec.tty.is_some() && !spec.stdin {
        return Err(KubeError::BadArgument(
            "exec: a terminal (tty) needs stdin; set stdin in the exec request".into(),
        ));
    }
    let terminal = match spec.tty {
        Some(_) => exec_spdy::Terminal::Yes,
        None => exec_spdy::Terminal::No,
    };
    let params = AttachParams::default()
        .container(spec.container.clone())
        .stdin(spec.stdin)
        .stdout(true)
        .stderr(spec.tty.is_none())
        .tty(spec.tty.is_some());
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
    if let Some(size) = spec.tty {
        // The first message of the session: the terminal's size at start.
        let _ = commands.try_send(StdinCommand::Resize(size));
        let sizes = caller.window_sizes.lock().ok().and_then(|mut s| s.take());
        if let Some(sizes) = sizes {
            forward_window_sizes(sizes, commands.clone())?;
        }
    }
    // With stdin open the session runs over SPDY, as kubectl's does: it
    // can end stdin, and the node's runtime takes it in for a third of the
    // CPU (see `exec_spdy`). Without stdin, over a websocket (v5 or v4);
    // its stdin commands then go nowhere (`write_stdin` refuses first).
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
        spare::replace_upgraded(ctx);
        tokio::spawn(exec_spdy::run(connection, terminal, command_rx, out, err))
    } else {
        let connection = ctx
            .call(&step, || {
                let request = request();
                async move { ctx.client.connect(request?).await }
            })
            .await?;
        spare::replace_upgraded(ctx);
        tokio::spawn(exec_websocket::run(connection.into_stream(), out, err))
    };
    Ok(Session {
        commands: Some(commands),
        stdin: spec.stdin,
        forward_stdin: spec.forward_stdin,
        frame_stdin: spec.frame_stdin,
        tty: spec.tty.is_some(),
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
    /// Every chunk of output was read and the session's loop has ended.
    drained: bool,
}

impl KubeExec {
    /// Wraps a session from [`start`].
    pub(crate) fn new(handle: Handle, session: Session) -> KubeExec {
        KubeExec {
            handle,
            session,
            killed: false,
            ended: None,
            drained: false,
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
            let input = if self.session.tty {
                Input::Typed
            } else {
                Input::Piped {
                    framed: self.session.frame_stdin,
                }
            };
            forward_stdin(source, commands, input)
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
            self.drained = true;
            return Ok(None);
        };
        match self
            .handle
            .block_on(async { tokio::time::timeout(timeout, queue.recv()).await })
        {
            Ok(Some(chunk)) => Ok(Some(chunk)),
            // The loop ended, dropping its senders: the output is over.
            Ok(None) => {
                self.drained = true;
                Ok(None)
            }
            Err(_elapsed) => Ok(None),
        }
    }

    fn output_ended(&self) -> bool {
        self.drained
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
