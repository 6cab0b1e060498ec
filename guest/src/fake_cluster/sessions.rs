//! The fake's long-lived handles: watches, exec sessions, log streams.
//! Each shares the cluster state, so time and records stay consistent.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use serde_json::Value;

use super::selector::{matches_field_selector, matches_label_selector};
use super::{ExecScript, LogScript, State, labels_of};
use crate::cluster::{
    EventType, ExecSession, ExecStatus, KubeError, LogStream, OutputStream, Watch, WatchEvent,
    WatchRequest,
};

/// True when `object` is in scope of the watch `request`.
pub(super) fn watch_matches(request: &WatchRequest, object: &Value) -> Result<bool, KubeError> {
    if object["kind"].as_str().is_some_and(|k| k != request.kind) {
        return Ok(false);
    }
    if !request.namespace.is_empty()
        && object["metadata"]["namespace"]
            .as_str()
            .is_some_and(|ns| ns != request.namespace)
    {
        return Ok(false);
    }
    Ok(
        matches_label_selector(&request.label_selector, &labels_of(object))?
            && matches_field_selector(&request.field_selector, object)?,
    )
}

/// A watch: the stored objects as `Added`, then the kind's timeline.
pub(super) struct FakeWatch {
    state: Rc<RefCell<State>>,
    request: WatchRequest,
    initial: VecDeque<Value>,
    cursor: usize,
    opened_at: usize,
}

impl FakeWatch {
    pub(super) fn new(
        state: Rc<RefCell<State>>,
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
        self.state.borrow_mut().check_wait(self.opened_at)?;
        if let Some(object) = self.initial.pop_front() {
            return Ok(Some(WatchEvent {
                event_type: EventType::Added,
                object,
            }));
        }
        let mut state = self.state.borrow_mut();
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
        state.clock_ms += timeout_ms;
        Ok(None)
    }
}

/// An exec session playing an [`ExecScript`].
pub(super) struct FakeExec {
    state: Rc<RefCell<State>>,
    index: usize,
    script: ExecScript,
    started_ms: u64,
    opened_at: usize,
    output: VecDeque<(OutputStream, Vec<u8>)>,
}

impl FakeExec {
    pub(super) fn new(
        state: Rc<RefCell<State>>,
        index: usize,
        script: ExecScript,
        started_ms: u64,
        opened_at: usize,
    ) -> Self {
        let output = script.output.clone().into();
        FakeExec {
            state,
            index,
            script,
            started_ms,
            opened_at,
            output,
        }
    }

    fn with_record(&self, f: impl FnOnce(&mut super::ExecRecord)) {
        if let Some(record) = self.state.borrow_mut().execs.get_mut(self.index) {
            f(record);
        }
    }

    fn killed(&self) -> bool {
        self.state
            .borrow()
            .execs
            .get(self.index)
            .is_some_and(|r| r.killed)
    }
}

impl ExecSession for FakeExec {
    fn write_stdin(&mut self, data: &[u8]) -> Result<(), KubeError> {
        let mut closed = false;
        self.with_record(|r| {
            closed = r.stdin_closed;
            if !r.stdin_closed {
                r.stdin.extend_from_slice(data);
            }
        });
        if closed {
            return Err(KubeError::BadArgument("stdin is already closed".into()));
        }
        Ok(())
    }

    fn close_stdin(&mut self) -> Result<(), KubeError> {
        self.with_record(|r| r.stdin_closed = true);
        Ok(())
    }

    fn read(&mut self, timeout_ms: u64) -> Result<Option<(OutputStream, Vec<u8>)>, KubeError> {
        self.state.borrow_mut().check_wait(self.opened_at)?;
        match self.output.pop_front() {
            Some(chunk) => Ok(Some(chunk)),
            None => {
                self.state.borrow_mut().clock_ms += timeout_ms;
                Ok(None)
            }
        }
    }

    fn wait(&mut self, timeout_ms: u64) -> Result<Option<ExecStatus>, KubeError> {
        self.state.borrow_mut().check_wait(self.opened_at)?;
        if self.killed() {
            return Ok(Some(ExecStatus {
                exit_code: Some(137),
                signal: Some(9),
                message: "killed".into(),
                ..ExecStatus::empty()
            }));
        }
        let mut state = self.state.borrow_mut();
        let elapsed = state.clock_ms.saturating_sub(self.started_ms);
        match self.script.runs_ms {
            Some(runs) if runs.saturating_sub(elapsed) <= timeout_ms => {
                state.clock_ms = state.clock_ms.max(self.started_ms + runs);
                Ok(Some(self.script.status.clone()))
            }
            _ => {
                state.clock_ms += timeout_ms;
                Ok(None)
            }
        }
    }

    fn kill(&mut self) -> Result<(), KubeError> {
        self.with_record(|r| r.killed = true);
        Ok(())
    }
}

/// A log stream playing a [`LogScript`].
pub(super) struct FakeLogs {
    state: Rc<RefCell<State>>,
    chunks: VecDeque<Vec<u8>>,
    ends: bool,
    opened_at: usize,
}

impl FakeLogs {
    pub(super) fn new(state: Rc<RefCell<State>>, script: LogScript, opened_at: usize) -> Self {
        FakeLogs {
            state,
            chunks: script.chunks.into(),
            ends: script.ends,
            opened_at,
        }
    }
}

impl LogStream for FakeLogs {
    fn read(&mut self, timeout_ms: u64) -> Result<Option<Vec<u8>>, KubeError> {
        self.state.borrow_mut().check_wait(self.opened_at)?;
        match self.chunks.pop_front() {
            Some(chunk) => Ok(Some(chunk)),
            None => {
                if !self.ends {
                    self.state.borrow_mut().clock_ms += timeout_ms;
                }
                Ok(None)
            }
        }
    }

    fn wait_end(&mut self, timeout_ms: u64) -> Result<bool, KubeError> {
        self.state.borrow_mut().check_wait(self.opened_at)?;
        if self.ends {
            self.chunks.clear();
            Ok(true)
        } else {
            self.state.borrow_mut().clock_ms += timeout_ms;
            Ok(false)
        }
    }
}
