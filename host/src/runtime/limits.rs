//! What one lifecycle call may use: linear memory, guest CPU time, and the
//! size of the guest's captured stderr.

use std::time::Duration;

use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};

/// Largest linear memory of a policy module, per memory: 64 MiB. The default
/// module needs a few MiB to build a plan; the cap keeps a runaway or hostile
/// module from taking the host's memory (each call has its own instance, so
/// concurrent calls each get this much).
pub const MEMORY_CAP_BYTES: usize = 64 << 20;

/// Guest CPU time a call may use when the caller does not say otherwise: 5 s.
/// Pure calls (`validate-config`, `plan`) take milliseconds; time the guest
/// spends waiting in a `kube` import does not count.
pub const DEFAULT_CPU_DEADLINE: Duration = Duration::from_secs(5);

/// Largest guest stderr kept for an error report: 64 KiB. A panicking guest
/// prints its message there; more than this is cut.
pub const STDERR_CAP_BYTES: usize = 64 << 10;

/// Interval of the epoch ticker, and so the resolution of the CPU deadline.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Instances, tables and memories one call may create: a component built by
/// rustc uses a handful of each; the caps stop a module from creating
/// thousands.
const MAX_INSTANCES: usize = 64;
const MAX_TABLES: usize = 64;
const MAX_MEMORIES: usize = 16;

/// Limits of one lifecycle call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Guest CPU time (wall time spent in guest code, excluding time in host
    /// imports) after which the call is stopped with `DeadlineExceeded`.
    pub cpu_deadline: Duration,
    /// Largest linear memory, in bytes.
    pub memory_cap_bytes: usize,
    /// Wall-clock time for the whole call, host I/O included; none: no
    /// limit beyond the CPU deadline (and each wait's own cap).
    pub overall_timeout: Option<Duration>,
    /// How long a cancelled call may go on rolling back before it is
    /// stopped (see `runtime/cancel.rs`).
    pub cancel_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            cpu_deadline: DEFAULT_CPU_DEADLINE,
            memory_cap_bytes: MEMORY_CAP_BYTES,
            overall_timeout: None,
            cancel_grace: super::cancel::DEFAULT_CANCEL_GRACE,
        }
    }
}

impl Limits {
    /// The default limits with another CPU deadline.
    pub fn with_cpu_deadline(cpu_deadline: Duration) -> Limits {
        Limits {
            cpu_deadline,
            ..Limits::default()
        }
    }

    /// These limits with an overall (wall-clock, host I/O included)
    /// timeout.
    pub fn with_overall_timeout(self, timeout: Duration) -> Limits {
        Limits {
            overall_timeout: Some(timeout),
            ..self
        }
    }
}

/// Whole ticks in `duration`, at least one.
pub(crate) fn ticks(duration: Duration) -> u64 {
    let ticks = duration.as_millis() / EPOCH_TICK.as_millis().max(1);
    u64::try_from(ticks).unwrap_or(u64::MAX).max(1)
}

/// The error a memory growth past the cap traps with; the runtime finds it
/// in the trap to report `MemoryLimit`.
#[derive(Debug, thiserror::Error)]
#[error("linear memory would grow to {desired} bytes, over the cap of {cap} bytes")]
pub(crate) struct MemoryCapExceeded {
    /// Requested size.
    pub desired: usize,
    /// The cap.
    pub cap: usize,
}

/// `StoreLimits` that turn a memory growth past the cap into a trap carrying
/// [`MemoryCapExceeded`] (instead of a failed `memory.grow` the guest turns
/// into an anonymous abort), and remember that it happened.
pub(crate) struct CallLimiter {
    inner: StoreLimits,
    cap: usize,
    /// Set when a growth was refused for the cap.
    pub(crate) cap_hit: bool,
    /// What the call's linear memories came to.
    pub(crate) memory: MemoryUse,
}

/// The linear memory one call used, as its growths were granted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct MemoryUse {
    /// The largest size any of its memories reached, bytes (its initial
    /// size when it never grew).
    pub(crate) largest_bytes: usize,
    /// Growths past a memory's initial size (each one a change of page
    /// protection in the host, and a second one to undo it when a pooled
    /// slot is reused).
    pub(crate) growths: u32,
}

impl CallLimiter {
    /// A limiter for `limits`.
    pub(crate) fn new(limits: &Limits) -> CallLimiter {
        CallLimiter {
            inner: StoreLimitsBuilder::new()
                .memory_size(limits.memory_cap_bytes)
                .instances(MAX_INSTANCES)
                .tables(MAX_TABLES)
                .memories(MAX_MEMORIES)
                .build(),
            cap: limits.memory_cap_bytes,
            cap_hit: false,
            memory: MemoryUse::default(),
        }
    }
}

impl ResourceLimiter for CallLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.cap {
            self.cap_hit = true;
            return Err(wasmtime::Error::new(MemoryCapExceeded {
                desired,
                cap: self.cap,
            }));
        }
        let granted = self.inner.memory_growing(current, desired, maximum)?;
        if granted {
            // A memory being created asks to grow from nothing to its
            // initial size; only what comes after is a growth.
            if current > 0 {
                self.memory.growths = self.memory.growths.saturating_add(1);
            }
            self.memory.largest_bytes = self.memory.largest_bytes.max(desired);
        }
        Ok(granted)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_seconds_is_five_hundred_ticks() {
        assert_eq!(ticks(Duration::from_secs(5)), 500);
    }

    #[test]
    fn a_deadline_below_one_tick_still_waits_one_tick() {
        assert_eq!(ticks(Duration::from_millis(1)), 1);
    }

    #[test]
    fn growth_past_the_cap_traps_and_is_remembered() {
        let mut limiter = CallLimiter::new(&Limits::default());
        assert!(
            limiter
                .memory_growing(0, MEMORY_CAP_BYTES, None)
                .unwrap_or(false)
        );
        assert!(!limiter.cap_hit);
        let refused = limiter.memory_growing(0, MEMORY_CAP_BYTES + 65536, None);
        assert!(refused.is_err());
        assert!(limiter.cap_hit);
    }

    #[test]
    fn growths_past_the_initial_size_are_counted_with_the_largest_size() {
        const PAGE: usize = 64 << 10;
        let mut limiter = CallLimiter::new(&Limits::default());
        let grant = |limiter: &mut CallLimiter, from: usize, to: usize| {
            assert!(limiter.memory_growing(from, to, None).unwrap_or(false));
        };
        // Two memories created, then the first grows twice.
        grant(&mut limiter, 0, 32 * PAGE);
        grant(&mut limiter, 0, PAGE);
        assert_eq!(
            limiter.memory,
            MemoryUse {
                largest_bytes: 32 * PAGE,
                growths: 0
            },
            "creating a memory is not a growth"
        );
        grant(&mut limiter, 32 * PAGE, 33 * PAGE);
        grant(&mut limiter, 33 * PAGE, 40 * PAGE);
        assert_eq!(
            limiter.memory,
            MemoryUse {
                largest_bytes: 40 * PAGE,
                growths: 2
            }
        );
        // A refused growth is not counted.
        assert!(
            limiter
                .memory_growing(40 * PAGE, MEMORY_CAP_BYTES + PAGE, None)
                .is_err()
        );
        assert_eq!(limiter.memory.growths, 2);
        assert_eq!(limiter.memory.largest_bytes, 40 * PAGE);
    }
}
