//! The fake's long-lived handles: watches, exec sessions, log streams.
//! Each shares the cluster state, so time and records stay consistent.
//! They are public so that a host-side adapter can hold them as they are
//! (they are `Send`); lifecycle code sees them as the `Cluster` trait's
//! boxed handles.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::scripts::{CallerStreams, ExecRecord, ExecScript};
use super::selector::watch_matches;
use super::state::{State, lock};
use crate::cluster::{
    EventType, ExecSession, ExecStatus, KubeError, LogStream, OutputStream, Watch, WatchEvent,
    WatchRequest,
};

/// A watch: the stored objects as `Added`, then the kind's timeline, then
/// the kind's scripted changes (see [`super::FakeCluster::script_watch`]
/// and [`super::FakeCluster::script_watch_event`]).
pub struct FakeWatch {
    state: Arc<Mutex<State>>,
    request: WatchRequest,
    initial: VecDeque<Value>,
    cursor: usize,
    opened_at: usize,
}

impl FakeWatch {
    pub(super) fn new(
        state: Arc<Mutex<State>>,
        request: WatchRequest,
        initial: Vec<Value>,
        opened_at: usize,
    ) -> Self {
        FakeWatch {
            state,
            request,
            initial: initial.into(),
            cursor: 0,
            opened_at,
        }
    }
}

impl Watch for FakeWatch {
    fn next(&mut self, timeout_ms: u64) -> Result<Option<WatchEvent>, KubeError> {
        let mut state = lock(&self.state);
        state.check_wait(self.opened_at)?;
        if let Some(object) = self.initial.pop_front() {
            return Ok(Some(WatchEvent {
                event_type: EventType::Added,
                object,
            }));
        }
        let timeline = state
            .timelines
            .get(&self.request.kind)
            .cloned()
            .unwrap_or_default();
        while let Some(event) = timeline.get(self.cursor) {
            self.cursor += 1;
            if watch_matches(&self.request, &event.object)? {
                return Ok(Some(event.clone()));
            }
        }
        if let Some(event) = state.take_change(&self.request)? {
            return Ok(Some(event));
        }
        state.clock_ms += timeout_ms;
        Ok(None)
    }
}

/// An exec session playing an [`ExecScript`]. Output of a session that
/// forwards it goes to the caller's streams when the command ends, and is
/// recorded (see [`super::FakeCluster::forwarded`]).
pub struct FakeExec {
    state: Arc<Mutex<State>>,
    index: usize,
    script: ExecScript,
    started_ms: u64,
    opened_at: usize,
    output: VecDeque<(OutputStream, Vec<u8>)>,
    caller: Option<Box<dyn CallerStreams>>,
}

impl FakeExec {
    pub(super) fn new(
        state: Arc<Mutex<State>>,
        index: usize,
        script: ExecScript,
        opened_at: usize,
        caller: Option<Box<dyn CallerStreams>>,
    ) -> Self {
        let output = script.output.clone().into();
        let started_ms = lock(&state).clock_ms;
        FakeExec {
            state,
            index,
            script,
            started_ms,
            opened_at,
            output,
            caller,
        }
    }

    fn with_record<T>(&self, f: impl FnOnce(&mut ExecRecord) -> T) -> T {
        let mut state = lock(&self.state);
        f(&mut state.execs[self.index])
    }

    /// Sends the rest of the output to the caller (and the record).
    fn forward_output(&mut self) -> Result<(), KubeError> {
        for (stream, data) in self.output.drain(..) {
            if let Some(caller) = self.caller.as_mut() {
                caller.output(stream, &data)?;
            }
            lock(&self.state).forwarded.push((stream, data));
        }
        Ok(())
    }
}

impl ExecSession for FakeExec {
    fn write_stdin(&mut self, data: &[u8]) -> Result<(), KubeError> {
        self.with_record(|r| {
            if !r.spec.stdin || r.stdin_closed {
                return Err(KubeError::BadArgument(
                    "stdin of this session is not open".into(),
                ));
            }
            r.stdin.extend_from_slice(data);
            Ok(())
        })
    }

    fn close_stdin(&mut self) -> Result<(), KubeError> {
        let (forward, frame) = self.with_record(|r| {
            r.stdin_closed = true;
            (r.spec.forward_stdin, r.spec.frame_stdin)
        });
        let Some(caller) = self.caller.as_mut().filter(|_| forward) else {
            return Ok(());
        };
        let Some(input) = caller.take_stdin()? else {
            return Ok(());
        };
        self.with_record(|r| {
            if !frame {
                r.stdin.extend_from_slice(&input);
                return;
            }
            if !input.is_empty() {
                r.stdin
                    .extend_from_slice(format!("{}\n", input.len()).as_bytes());
                r.stdin.extend_from_slice(&input);
            }
            r.stdin.extend_from_slice(b"0\n");
        });
        Ok(())
    }

    fn read(&mut self, timeout_ms: u64) -> Result<Option<(OutputStream, Vec<u8>)>, KubeError> {
        let mut state = lock(&self.state);
        state.check_wait(self.opened_at)?;
        let chunk = if state.execs[self.index].spec.forward_output {
            None
        } else {
            self.output.pop_front()
        };
        match chunk {
            Some(chunk) => Ok(Some(chunk)),
            None => {
                state.clock_ms += timeout_ms;
                Ok(None)
            }
        }
    }

    fn wait(&mut self, timeout_ms: u64) -> Result<Option<ExecStatus>, KubeError> {
        let (status, forward) = {
            let mut state = lock(&self.state);
            state.check_wait(self.opened_at)?;
            state.faults.check("exec-wait", "Pod")?;
            let record = &state.execs[self.index];
            if record.killed {
                return Ok(Some(ExecStatus {
                    exit_code: Some(137),
                    signal: Some(9),
                    message: "killed".into(),
                    ..ExecStatus::empty()
                }));
            }
            let forward = record.spec.forward_output;
            let elapsed = state.clock_ms.saturating_sub(self.started_ms);
            match self.script.runs_ms {
                Some(runs) if runs.saturating_sub(elapsed) <= timeout_ms => {
                    state.clock_ms = state.clock_ms.max(self.started_ms + runs);
                    (self.script.status.clone(), forward)
                }
                _ => {
                    state.clock_ms += timeout_ms;
                    return Ok(None);
                }
            }
        };
        if forward {
            self.forward_output()?;
        }
        Ok(Some(status))
    }

    fn kill(&mut self) -> Result<(), KubeError> {
        self.with_record(|r| r.killed = true);
        Ok(())
    }
}

/// A log stream playing a [`super::LogScript`] (forwarded logs were sent
/// to the caller when it was opened).
pub struct FakeLogs {
    state: Arc<Mutex<State>>,
    chunks: VecDeque<Vec<u8>>,
    ends: bool,
    opened_at: usize,
}

impl FakeLogs {
    pub(super) fn new(
        state: Arc<Mutex<State>>,
        chunks: Vec<Vec<u8>>,
        ends: bool,
        opened_at: usize,
    ) -> Self {
        FakeLogs {
            state,
            chunks: chunks.into(),
            ends,
            opened_at,
        }
    }
}

impl LogStream for FakeLogs {
    fn read(&mut self, timeout_ms: u64) -> Result<Option<Vec<u8>>, KubeError> {
        let mut state = lock(&self.state);
        state.check_wait(self.opened_at)?;
        match self.chunks.pop_front() {
            Some(chunk) => Ok(Some(chunk)),
            None => {
                if !self.ends {
                    state.clock_ms += timeout_ms;
                }
                Ok(None)
            }
        }
    }

    fn wait_end(&mut self, timeout_ms: u64) -> Result<bool, KubeError> {
        let mut state = lock(&self.state);
        state.check_wait(self.opened_at)?;
        if self.ends {
            self.chunks.clear();
            Ok(true)
        } else {
            state.clock_ms += timeout_ms;
            Ok(false)
        }
    }
}
