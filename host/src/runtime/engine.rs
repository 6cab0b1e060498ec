//! The one wasmtime [`Engine`] of the process and its epoch ticker.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig,
    Strategy,
};

use super::error::{RuntimeError, flatten};
use super::limits::EPOCH_TICK;

/// A pool of instance slots reserved once and reused by every call (for a
/// long-running server): instantiation is a slot taken from the pool
/// rather than fresh mappings per call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    /// Module instances alive at once (one per call in flight).
    pub instances: u32,
    /// Largest linear memory of one instance, bytes (the operator's cap).
    pub memory_cap_bytes: usize,
}

/// Core instances, memories and tables a policy component may have: a
/// `wasm32-wasip2` Rust component has one module with one memory and a few
/// shim modules with tables; the margins leave room for other toolchains.
const CORE_INSTANCES_PER_COMPONENT: u32 = 16;
const MEMORIES_PER_COMPONENT: u32 = 2;
const TABLES_PER_COMPONENT: u32 = 16;

/// Linear memory of a pooled slot kept mapped between calls, where the
/// kernel can say which of its pages are resident (`PAGEMAP_SCAN`, Linux
/// 6.7 and later): after a call, only the pages it touched, up to this
/// much, are reset to the module's initial memory, instead of being
/// unmapped and faulted in again by the next call. A `plan` touches a few
/// hundred KiB; at most this much per slot stays resident.
const KEEP_RESIDENT_BYTES: usize = 1 << 20;

/// The same for a slot's tables: the pages of the function tables a call
/// filled stay mapped and are zeroed where it touched them, instead of
/// being given back and faulted in by the next call. A `plan` in a reused
/// slot took 5 page faults, all in its tables, and takes none with this;
/// the default module's tables hold 683 entries, about 5 KiB.
const TABLE_KEEP_RESIDENT_BYTES: usize = 64 << 10;

/// Builds the engine: component model, Cranelift at `speed`, epoch
/// interruption (the CPU deadline of every call), and with `pool` the
/// pooling instance allocator.
pub(crate) fn new_engine(pool: Option<Pool>) -> Result<Engine, RuntimeError> {
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .strategy(Strategy::Cranelift)
        .cranelift_opt_level(OptLevel::Speed)
        .epoch_interruption(true);
    if let Some(pool) = pool {
        let mut pooling = PoolingAllocationConfig::new();
        pooling
            .total_component_instances(pool.instances)
            .total_core_instances(pool.instances.saturating_mul(CORE_INSTANCES_PER_COMPONENT))
            .total_memories(pool.instances.saturating_mul(MEMORIES_PER_COMPONENT))
            .total_tables(pool.instances.saturating_mul(TABLES_PER_COMPONENT))
            .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
            .max_memories_per_component(MEMORIES_PER_COMPONENT)
            .max_tables_per_component(TABLES_PER_COMPONENT)
            .max_memory_size(pool.memory_cap_bytes);
        // Without the scan, keeping pages resident means resetting all of
        // them after every call, which costs more than the page faults it
        // saves (BENCHMARKS.md, P1): only with it, for memories and tables
        // alike.
        if PoolingAllocationConfig::is_pagemap_scan_available() {
            pooling
                .pagemap_scan(Enabled::Yes)
                .linear_memory_keep_resident(KEEP_RESIDENT_BYTES.min(pool.memory_cap_bytes))
                .table_keep_resident(TABLE_KEEP_RESIDENT_BYTES);
        }
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
    }
    Engine::new(&config).map_err(|e| RuntimeError::Engine {
        message: flatten(&e),
    })
}

/// A thread that advances the engine's epoch every [`EPOCH_TICK`], so that a
/// call's deadline (counted in ticks) is reached. Stops when dropped.
pub(crate) struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    /// Starts ticking `engine`. The thread holds only a weak reference, so
    /// it never keeps the engine alive.
    pub(crate) fn start(engine: &Engine) -> Result<EpochTicker, RuntimeError> {
        let stop = Arc::new(AtomicBool::new(false));
        let weak = engine.weak();
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("leasebox-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .map_err(|e| RuntimeError::Engine {
                message: format!("failed to start the epoch ticker thread: {e}"),
            })?;
        Ok(EpochTicker {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            // The thread wakes within one tick; a panic in it has nothing to
            // report during drop.
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for EpochTicker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EpochTicker").finish_non_exhaustive()
    }
}
