//! `jobTtlSecondsAfterFinished`, `podActivityDeadlineSec`,
//! `podReadyTimeoutSec`, `leaseMaxAgeSec`: the lease's clocks.

use serde_json::{Map, Value};

use super::{Checker, U32_MAX};

impl Checker {
    /// Each clock is a `u32`; all but the Job TTL must be greater than 0.
    pub(super) fn timeouts(&mut self, doc: &Map<String, Value>) {
        for (key, min) in [
            ("jobTtlSecondsAfterFinished", 0),
            ("podActivityDeadlineSec", 1),
            ("podReadyTimeoutSec", 1),
            ("leaseMaxAgeSec", 1),
        ] {
            if let Some(v) = doc.get(key) {
                self.integer(key, v, min, U32_MAX);
            }
        }
    }
}
