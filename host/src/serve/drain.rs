//! The calls in flight on a server, across all its clients, and stopping
//! gracefully: on SIGTERM the server takes no new call, lets the running
//! ones finish (up to a patience), cancels what is left, gives that its
//! cancellation grace, and exits 0.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::locks::lock;
use crate::runtime::Cancel;

/// Every call in flight, and whether the server is draining.
#[derive(Debug, Default)]
pub struct Calls {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    draining: bool,
    next: u64,
    running: HashMap<u64, Cancel>,
}

impl Calls {
    /// Registers a call; its ticket, or none when the server is draining.
    pub fn begin(&self, cancel: &Cancel) -> Option<u64> {
        let mut inner = lock(&self.inner);
        if inner.draining {
            return None;
        }
        inner.next += 1;
        let ticket = inner.next;
        inner.running.insert(ticket, cancel.clone());
        Some(ticket)
    }

    /// The call of `ticket` has ended.
    pub fn end(&self, ticket: u64) {
        lock(&self.inner).running.remove(&ticket);
    }

    /// Calls in flight.
    pub fn running(&self) -> usize {
        lock(&self.inner).running.len()
    }

    /// True once [`Calls::drain`] started.
    pub fn draining(&self) -> bool {
        lock(&self.inner).draining
    }

    /// Takes no new call, waits up to `patience` for the running ones, then
    /// cancels the rest and waits up to `grace` for them. Returns how many
    /// calls were cancelled.
    pub fn drain(&self, patience: Duration, grace: Duration) -> usize {
        lock(&self.inner).draining = true;
        if self.wait_idle(patience) {
            return 0;
        }
        let cancelled = {
            let inner = lock(&self.inner);
            for cancel in inner.running.values() {
                cancel.cancel();
            }
            inner.running.len()
        };
        self.wait_idle(grace);
        cancelled
    }

    /// Waits until no call runs, at most `limit`; true when none runs.
    fn wait_idle(&self, limit: Duration) -> bool {
        let started = Instant::now();
        while self.running() > 0 {
            if started.elapsed() >= limit {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draining_server_takes_no_new_call() {
        let calls = Calls::default();
        assert!(calls.begin(&Cancel::new()).is_some());
        let drained = std::thread::scope(|s| {
            let drain = s.spawn(|| calls.drain(Duration::from_millis(50), Duration::ZERO));
            while !calls.draining() {
                std::thread::yield_now();
            }
            assert!(calls.begin(&Cancel::new()).is_none());
            drain.join().expect("drain ends")
        });
        assert_eq!(drained, 1, "the call that never ended was cancelled");
    }

    #[test]
    fn running_calls_finish_before_the_drain_ends() {
        let calls = Calls::default();
        let cancel = Cancel::new();
        let ticket = calls.begin(&cancel).expect("not draining yet");
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(100));
                calls.end(ticket);
            });
            assert_eq!(calls.drain(Duration::from_secs(10), Duration::ZERO), 0);
        });
        assert!(
            !cancel.is_cancelled(),
            "a call that finished was not cancelled"
        );
        assert_eq!(calls.running(), 0);
    }
}
