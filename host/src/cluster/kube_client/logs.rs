//! Container logs, followed across reconnects without lost or repeated
//! lines.
//!
//! Logs are requested with `timestamps=true`. Each line's RFC 3339 prefix is
//! stripped and remembered; when a follow stream ends while the container
//! still runs (API server timeouts, kubelet restarts), the log is reopened
//! with `sinceTime` (whole seconds: the API's resolution) and [`LineDedup`]
//! drops the replayed lines: everything before the last timestamp, and at
//! that timestamp the lines already delivered (by content and count). When
//! the container has stopped, one last non-follow read picks up the tail.

use std::sync::Arc;
use std::time::Duration;

use futures::io::{AsyncBufRead, AsyncBufReadExt};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams};
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::Ctx;
use crate::cluster::io::CallerIo;
use crate::contract::{KubeError, LogFollow, LogsRequest};

/// Reconnects in a row that delivered nothing before the follow gives up.
const MAX_IDLE_RECONNECTS: u32 = 30;
/// Pause before reopening a log.
const RECONNECT_DELAY: Duration = Duration::from_millis(500);

/// Splits `<timestamp> <line>`; lines without a valid timestamp keep none.
pub(crate) fn split_timestamp(line: &[u8]) -> (Option<Timestamp>, &[u8]) {
    let Some(space) = line.iter().position(|b| *b == b' ') else {
        return (None, line);
    };
    let parsed = std::str::from_utf8(&line[..space])
        .ok()
        .and_then(|t| t.parse::<Timestamp>().ok());
    match parsed {
        Some(ts) => (Some(ts), &line[space + 1..]),
        None => (None, line),
    }
}

/// Drops lines that a reopened log replays.
#[derive(Debug, Default)]
pub(crate) struct LineDedup {
    last: Option<Timestamp>,
    /// Lines delivered at `last`.
    at_last: Vec<Vec<u8>>,
    /// Lines at `last` a reopened log may still replay.
    replay: Vec<Vec<u8>>,
}

impl LineDedup {
    /// Called before reopening: lines at the last timestamp may come again.
    pub(crate) fn reopen(&mut self) {
        self.replay = self.at_last.clone();
    }

    /// The timestamp to reopen from.
    pub(crate) fn since(&self) -> Option<Timestamp> {
        self.last
    }

    /// Whether a line is new (and remembers it).
    pub(crate) fn admit(&mut self, ts: Option<Timestamp>, content: &[u8]) -> bool {
        let Some(ts) = ts else { return true };
        match self.last {
            Some(last) if ts < last => false,
            Some(last) if ts == last => {
                if let Some(i) = self.replay.iter().position(|l| l.as_slice() == content) {
                    self.replay.swap_remove(i);
                    false
                } else {
                    self.at_last.push(content.to_vec());
                    true
                }
            }
            _ => {
                self.last = Some(ts);
                self.at_last = vec![content.to_vec()];
                self.replay.clear();
                true
            }
        }
    }
}

/// Where log bytes go.
enum Sink {
    Forward(Arc<std::sync::Mutex<dyn std::io::Write + Send>>),
    Queue(mpsc::UnboundedSender<Vec<u8>>),
}

/// State of one log follow, moved into its task.
struct Follower {
    pods: Api<Pod>,
    request: LogsRequest,
    dedup: LineDedup,
    sink: Sink,
    delivered: u64,
}

impl Follower {
    fn params(&self, follow: bool) -> LogParams {
        LogParams {
            container: Some(self.request.container.clone()),
            follow,
            timestamps: true,
            since_time: self.dedup.since(),
            ..LogParams::default()
        }
    }

    /// Delivers one line; false when the byte cap is reached.
    fn deliver(&mut self, line: &[u8]) -> bool {
        let (ts, content) = split_timestamp(line);
        if !self.dedup.admit(ts, content) {
            return true;
        }
        let mut part = content;
        if let Some(max) = self.request.max_bytes {
            let room = usize::try_from(max.saturating_sub(self.delivered)).unwrap_or(usize::MAX);
            part = &content[..content.len().min(room)];
        }
        self.delivered += part.len() as u64;
        if !part.is_empty() {
            match &self.sink {
                Sink::Forward(writer) => {
                    let _ = tokio::task::block_in_place(|| {
                        writer
                            .lock()
                            .map(|mut w| w.write_all(part).and_then(|()| w.flush()))
                    });
                }
                Sink::Queue(tx) => {
                    let _ = tx.send(part.to_vec());
                }
            }
        }
        self.request
            .max_bytes
            .is_none_or(|max| self.delivered < max)
    }

    /// Reads a stream to its end; false when the cap stopped it.
    async fn consume(
        &mut self,
        mut stream: impl AsyncBufRead + Unpin,
    ) -> Result<(bool, bool), KubeError> {
        let mut line = Vec::new();
        let mut any = false;
        loop {
            line.clear();
            match stream.read_until(b'\n', &mut line).await {
                Ok(0) => return Ok((true, any)),
                Ok(_) => {
                    any = true;
                    if !self.deliver(&line) {
                        return Ok((false, any));
                    }
                }
                // A broken stream is reopened like an ended one.
                Err(_) => return Ok((true, any)),
            }
        }
    }

    /// Whether the container still runs (or has not started yet).
    async fn container_running(&self) -> Result<bool, KubeError> {
        let pod = self.pods.get_opt(&self.request.pod).await.map_err(|e| {
            super::error::from_kube(&format!("logs: read pod {}", self.request.pod), &e)
        })?;
        let Some(pod) = pod else { return Ok(false) };
        let statuses = pod
            .status
            .and_then(|s| s.container_statuses)
            .unwrap_or_default();
        Ok(statuses
            .iter()
            .find(|s| s.name == self.request.container)
            .and_then(|s| s.state.as_ref())
            .is_some_and(|state| state.terminated.is_none()))
    }

    async fn open(&self, follow: bool) -> Result<impl AsyncBufRead + Unpin + use<>, KubeError> {
        let params = self.params(follow);
        self.pods
            .log_stream(&self.request.pod, &params)
            .await
            .map_err(|e| {
                super::error::from_kube(
                    &format!(
                        "logs of {}/{} container {}",
                        self.request.namespace, self.request.pod, self.request.container
                    ),
                    &e,
                )
            })
    }

    async fn run(mut self, first: impl AsyncBufRead + Unpin) -> Result<(), KubeError> {
        let (mut open, _) = self.consume(first).await?;
        if !self.request.follow {
            return Ok(());
        }
        let mut idle = 0;
        while open {
            self.dedup.reopen();
            if !self.container_running().await? {
                // Stopped: one last read for lines written after the break.
                let tail = self.open(false).await?;
                self.consume(tail).await?;
                return Ok(());
            }
            tokio::time::sleep(RECONNECT_DELAY).await;
            let stream = self.open(true).await?;
            let (still_open, any) = self.consume(stream).await?;
            open = still_open;
            idle = if any { 0 } else { idle + 1 };
            if idle >= MAX_IDLE_RECONNECTS {
                return Err(KubeError::Transport(format!(
                    "logs of {}: the stream kept closing without output {MAX_IDLE_RECONNECTS} times",
                    self.request.pod
                )));
            }
        }
        Ok(())
    }
}

/// A started log read: its task and, when not forwarded, its queue.
pub(crate) struct Started {
    task: JoinHandle<Result<(), KubeError>>,
    queue: Option<mpsc::UnboundedReceiver<Vec<u8>>>,
}

/// Opens the log (errors such as a missing pod surface here) and starts
/// reading it in the background.
pub(crate) async fn start(
    ctx: &Ctx,
    request: &LogsRequest,
    caller: &CallerIo,
) -> Result<Started, KubeError> {
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &request.namespace);
    let (sink, queue) = if request.forward_output {
        (Sink::Forward(caller.stdout.clone()), None)
    } else {
        let (tx, rx) = mpsc::unbounded_channel();
        (Sink::Queue(tx), Some(rx))
    };
    let follower = Follower {
        pods,
        request: request.clone(),
        dedup: LineDedup::default(),
        sink,
        delivered: 0,
    };
    let step = format!(
        "logs of {}/{} container {}",
        request.namespace, request.pod, request.container
    );
    let params = follower.params(request.follow);
    let pods = follower.pods.clone();
    let first = ctx
        .call(&step, || pods.log_stream(&request.pod, &params))
        .await?;
    let task = tokio::spawn(follower.run(first));
    Ok(Started { task, queue })
}

/// A log being read, seen through the blocking [`LogFollow`] trait.
pub(crate) struct KubeLogs {
    handle: Handle,
    started: Started,
    ended: bool,
}

impl KubeLogs {
    /// Wraps a started log read.
    pub(crate) fn new(handle: Handle, started: Started) -> KubeLogs {
        KubeLogs {
            handle,
            started,
            ended: false,
        }
    }
}

impl Drop for KubeLogs {
    fn drop(&mut self) {
        self.started.task.abort();
    }
}

impl LogFollow for KubeLogs {
    fn read(&mut self, timeout: Duration) -> Result<Option<Vec<u8>>, KubeError> {
        let Some(queue) = self.started.queue.as_mut() else {
            return Ok(None);
        };
        Ok(self
            .handle
            .block_on(async { tokio::time::timeout(timeout, queue.recv()).await })
            .ok()
            .flatten())
    }

    fn wait_end(&mut self, timeout: Duration) -> Result<bool, KubeError> {
        if self.ended {
            return Ok(true);
        }
        let task = &mut self.started.task;
        match self
            .handle
            .block_on(async { tokio::time::timeout(timeout, task).await })
        {
            Err(_elapsed) => Ok(false),
            Ok(Ok(result)) => {
                self.ended = true;
                result.map(|()| true)
            }
            Ok(Err(join)) => {
                self.ended = true;
                Err(KubeError::Transport(format!(
                    "logs: the reading task failed: {join}"
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> Option<Timestamp> {
        text.parse().ok()
    }

    #[test]
    fn timestamp_prefix_is_split_off() {
        let (t, rest) = split_timestamp(b"2024-05-01T10:00:00.123456789Z hello world\n");
        assert_eq!(t, ts("2024-05-01T10:00:00.123456789Z"));
        assert_eq!(rest, b"hello world\n");
    }

    #[test]
    fn line_without_timestamp_is_kept_whole() {
        assert_eq!(
            split_timestamp(b"no stamp here"),
            (None, &b"no stamp here"[..])
        );
    }

    #[test]
    fn reopened_log_replays_nothing_twice() {
        let mut d = LineDedup::default();
        assert!(d.admit(ts("2024-05-01T10:00:01.1Z"), b"a\n"));
        assert!(d.admit(ts("2024-05-01T10:00:01.5Z"), b"b\n"));
        assert!(d.admit(ts("2024-05-01T10:00:01.5Z"), b"c\n"));
        d.reopen();
        // sinceTime has second resolution: everything from 10:00:01 comes again.
        assert!(!d.admit(ts("2024-05-01T10:00:01.1Z"), b"a\n"));
        assert!(!d.admit(ts("2024-05-01T10:00:01.5Z"), b"b\n"));
        assert!(!d.admit(ts("2024-05-01T10:00:01.5Z"), b"c\n"));
        assert!(d.admit(ts("2024-05-01T10:00:01.5Z"), b"d\n"));
        assert!(d.admit(ts("2024-05-01T10:00:02Z"), b"e\n"));
    }

    #[test]
    fn identical_lines_are_counted_not_collapsed() {
        let mut d = LineDedup::default();
        assert!(d.admit(ts("2024-05-01T10:00:01Z"), b"x\n"));
        d.reopen();
        assert!(!d.admit(ts("2024-05-01T10:00:01Z"), b"x\n"));
        assert!(d.admit(ts("2024-05-01T10:00:01Z"), b"x\n"));
    }

    #[test]
    fn since_is_the_last_timestamp() {
        let mut d = LineDedup::default();
        d.admit(ts("2024-05-01T10:00:07.9Z"), b"x\n");
        assert_eq!(d.since(), ts("2024-05-01T10:00:07.9Z"));
    }
}
