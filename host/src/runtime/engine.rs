//! The one wasmtime [`Engine`] of the process and its epoch ticker.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use wasmtime::{Config, Engine, OptLevel, Strategy};

use super::error::{RuntimeError, flatten};
use super::limits::EPOCH_TICK;

/// Builds the engine: component model, Cranelift at `speed`, and epoch
/// interruption (the CPU deadline of every call).
pub(crate) fn new_engine() -> Result<Engine, RuntimeError> {
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .strategy(Strategy::Cranelift)
        .cranelift_opt_level(OptLevel::Speed)
        .epoch_interruption(true);
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
