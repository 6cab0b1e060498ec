//! One lifecycle call: a fresh [`Store`] and instance, the limits of the
//! call, and the translation of what went wrong into a [`RuntimeError`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime::{Engine, Store, Trap, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::admission::{Admission, Admitted};
use super::cancel::Cancel;
use super::error::{RuntimeError, cause, flatten};
use super::limits::{CallLimiter, MemoryCapExceeded, STDERR_CAP_BYTES, ticks};
use super::{CallEnv, LogLevel};
use crate::cluster::io::{CallerIo, ClusterIo};

/// The data of the store of one call: WASI (random and clocks only), the
/// resource table of `kube` handles, the call's limiter, and what the
/// imports need.
pub(crate) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: CallLimiter,
    cluster: Arc<dyn ClusterIo>,
    caller: CallerIo,
    logger: super::Logger,
    /// When the call started.
    started: Instant,
    /// Time spent inside host imports (not counted against the deadline).
    host_time: Duration,
    /// How many blocking host imports ran.
    host_calls: u32,
    /// The call's hold on the cores (released while imports block).
    admitted: Admitted,
    /// Time spent waiting for a core (not counted against the deadline).
    queued: Duration,
    /// The guest CPU budget.
    cpu_deadline: Duration,
    /// Set when the epoch callback stopped the guest.
    deadline_hit: bool,
    /// Wall-clock limit of the whole call.
    overall_timeout: Option<Duration>,
    /// Set when the overall timeout stopped the call.
    overall_hit: bool,
    /// The caller's cancellation flag.
    cancel: Cancel,
    /// How long a cancelled call may go on.
    cancel_grace: Duration,
    /// Set when the grace period of a cancelled call ran out.
    cancel_hit: bool,
    /// The `kube` handles open (bounded per call).
    handles: super::imports::kube::bounds::HandleCount,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl HostState {
    /// The state of a fresh call in `env`, its guest code admitted to the
    /// cores by `admission`, its stderr kept in `stderr`.
    pub(crate) fn new(
        env: &CallEnv,
        admission: &Arc<Admission>,
        stderr: MemoryOutputPipe,
    ) -> HostState {
        let started = Instant::now();
        HostState {
            wasi: wasi_ctx(stderr),
            table: ResourceTable::new(),
            limiter: CallLimiter::new(&env.limits),
            cluster: env.cluster.clone(),
            caller: env.caller.clone(),
            logger: env.logger.clone(),
            started,
            host_time: Duration::ZERO,
            host_calls: 0,
            admitted: Admitted::new(admission.clone(), started),
            queued: Duration::ZERO,
            cpu_deadline: env.limits.cpu_deadline,
            deadline_hit: false,
            overall_timeout: env.limits.overall_timeout,
            overall_hit: false,
            cancel: env.cancel.clone(),
            cancel_grace: env.limits.cancel_grace,
            cancel_hit: false,
            handles: Default::default(),
        }
    }

    /// The resource table of `kube` handles.
    pub(crate) fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }

    /// How many `kube` handles the call holds open.
    pub(crate) fn handles(&mut self) -> &mut super::imports::kube::bounds::HandleCount {
        &mut self.handles
    }

    /// Runs a blocking host operation against the cluster, keeping its
    /// duration out of the guest's CPU budget and its core free for
    /// other calls meanwhile.
    pub(crate) fn with_cluster<R>(&mut self, op: impl FnOnce(&dyn ClusterIo, &CallerIo) -> R) -> R {
        self.timed(|state| op(state.cluster.as_ref(), &state.caller))
    }

    /// Runs a blocking operation on a handle taken out of the table, keeping
    /// its duration out of the guest's CPU budget and its core free for
    /// other calls meanwhile.
    pub(crate) fn timed<R>(&mut self, op: impl FnOnce(&mut Self) -> R) -> R {
        self.admitted.pause();
        let start = Instant::now();
        let result = op(self);
        self.host_time += start.elapsed();
        self.host_calls += 1;
        self.take_turn();
        result
    }

    /// Takes a core in the call's turn (see [`Admission`]), the wait kept
    /// out of the guest's CPU budget.
    fn take_turn(&mut self) {
        let time_up = self.time_up();
        self.queued += self.admitted.resume(&time_up);
    }

    /// Checks in with the admission: after a whole [`CHECK_INTERVAL`] on
    /// its core, goes behind the calls waiting for one, if any.
    fn check_in(&mut self) {
        let time_up = self.time_up();
        self.queued += self.admitted.check_in(CHECK_INTERVAL, &time_up);
    }

    /// Whether the call's time is up (its overall timeout, or the grace
    /// of its cancellation): then it stops waiting for a core, to be
    /// stopped at its next check.
    fn time_up(&self) -> impl Fn() -> bool + use<> {
        let (started, overall) = (self.started, self.overall_timeout);
        let (cancel, grace) = (self.cancel.clone(), self.cancel_grace);
        move || {
            overall.is_some_and(|overall| started.elapsed() >= overall)
                || cancel.grace_left(grace) == Some(Duration::ZERO)
        }
    }

    /// The call's cancellation flag.
    pub(crate) fn cancel(&self) -> &Cancel {
        &self.cancel
    }

    /// Hands a message of the guest to the logger.
    pub(crate) fn emit_log(&self, level: LogLevel, context: &str, message: &str) {
        (self.logger)(level, context, message);
    }

    /// How long a blocking wait the guest asked for may take: at most
    /// `cap`, and never past the call's overall timeout.
    pub(crate) fn wait_budget(&self, asked: Duration) -> Duration {
        let asked = match self.overall_timeout {
            Some(overall) => asked.min(overall.saturating_sub(self.started.elapsed())),
            None => asked,
        };
        match self.cancel.grace_left(self.cancel_grace) {
            Some(left) => asked.min(left),
            None => asked,
        }
    }

    /// Guest time used so far.
    fn guest_time(&self) -> Duration {
        self.started
            .elapsed()
            .saturating_sub(self.host_time + self.queued)
    }
}

/// How often a running guest is checked for its overall timeout and for
/// the end of a cancellation's grace period.
const CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// WASI for a policy module: nothing inherited (no files, environment,
/// arguments, stdin or stdout), no sockets or name lookups; stderr goes to
/// `stderr`, so a panic message can be shown with the trap.
fn wasi_ctx(stderr: MemoryOutputPipe) -> WasiCtx {
    WasiCtxBuilder::new()
        .stderr(stderr)
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build()
}

/// Where one call runs: the engine, the admission of its guest code to
/// the cores, and the module and export named in its errors.
pub(crate) struct Site<'a> {
    pub engine: &'a Engine,
    pub admission: &'a Arc<Admission>,
    pub module: &'a str,
    pub call: &'a str,
}

/// Instantiates a module in a fresh store (`instantiate`: the bindings of
/// its contract) and runs `f` on the instance, at `site`.
pub(crate) fn call<I, R>(
    site: Site<'_>,
    instantiate: impl FnOnce(&mut Store<HostState>) -> wasmtime::Result<I>,
    env: &CallEnv,
    f: impl FnOnce(&I, &mut Store<HostState>) -> wasmtime::Result<R>,
) -> Result<R, RuntimeError> {
    let Site {
        engine,
        admission,
        module,
        call,
    } = site;
    let stderr = MemoryOutputPipe::new(STDERR_CAP_BYTES);
    let state = HostState::new(env, admission, stderr.clone());
    let mut store = Store::new(engine, state);
    store.limiter(|state| &mut state.limiter);
    store.set_epoch_deadline(ticks(env.limits.cpu_deadline.min(CHECK_INTERVAL)));
    store.epoch_deadline_callback(|mut ctx| {
        let state = ctx.data_mut();
        state.check_in();
        if let Some(overall) = state.overall_timeout
            && state.started.elapsed() >= overall
        {
            state.overall_hit = true;
            return Ok(UpdateDeadline::Interrupt);
        }
        if state.cancel.grace_left(state.cancel_grace) == Some(Duration::ZERO) {
            state.cancel_hit = true;
            return Ok(UpdateDeadline::Interrupt);
        }
        let used = state.guest_time();
        if used >= state.cpu_deadline {
            state.deadline_hit = true;
            return Ok(UpdateDeadline::Interrupt);
        }
        // Time spent in imports moved the wall clock but not the guest:
        // give back the remainder of the budget, looking again within
        // CHECK_INTERVAL for a timeout or a cancellation.
        Ok(UpdateDeadline::Continue(ticks(
            (state.cpu_deadline - used).min(CHECK_INTERVAL),
        )))
    });

    store.data_mut().take_turn();
    let queued = store.data().queued;
    let instance = instantiate(&mut store);
    let instantiated = store.data().started.elapsed().saturating_sub(queued);
    let instance = match instance {
        Ok(instance) => instance,
        Err(error) => {
            return Err(
                classify(&store, error, module, call).unwrap_or_else(|error| {
                    RuntimeError::Instantiate {
                        module: module.to_string(),
                        source: cause(&error),
                    }
                }),
            );
        }
    };
    let result = f(&instance, &mut store);
    store.data_mut().admitted.pause();
    log_time(store.data(), call, instantiated);
    match result {
        Ok(result) => Ok(result),
        Err(error) => Err(
            classify(&store, error, module, call).unwrap_or_else(|error| RuntimeError::Trap {
                module: module.to_string(),
                call: call.to_string(),
                message: trap_message(&error),
                guest_stderr: String::from_utf8_lossy(&stderr.contents()).into_owned(),
            }),
        ),
    }
}

/// The context of the debug line [`log_time`] writes.
pub const TIME_LOG_CONTEXT: &str = "module-time";

/// Logs (at debug) how a call's time divided: the module's share (a fresh
/// store and instance, then the guest's code and the crossings of the
/// boundary), the host imports' share and the wait for a core; then the
/// linear memory it came to. One line per call, e.g. `acquire-lease: 1.234
/// ms in the module (0.101 ms instantiating, 1.133 ms in guest code and
/// crossings), 950.500 ms in 12 host calls, 0.020 ms waiting for a core;
/// linear memory 2048 KiB, grown 0 times`.
fn log_time(state: &HostState, call: &str, instantiated: Duration) {
    let total = state.started.elapsed();
    let module = total.saturating_sub(state.host_time + state.queued);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let message = format!(
        "{call}: {:.3} ms in the module ({:.3} ms instantiating, {:.3} ms in guest code and \
         crossings), {:.3} ms in {} host calls, {:.3} ms waiting for a core; linear memory \
         {} KiB, grown {} times",
        ms(module),
        ms(instantiated),
        ms(module.saturating_sub(instantiated)),
        ms(state.host_time),
        state.host_calls,
        ms(state.queued),
        state.limiter.memory.largest_bytes >> 10,
        state.limiter.memory.growths,
    );
    state.emit_log(LogLevel::Debug, TIME_LOG_CONTEXT, &message);
}

/// A deadline or memory cap behind `error`, or `error` back.
fn classify(
    store: &Store<HostState>,
    error: wasmtime::Error,
    module: &str,
    call: &str,
) -> Result<RuntimeError, wasmtime::Error> {
    let state = store.data();
    let interrupted = matches!(error.downcast_ref::<Trap>(), Some(Trap::Interrupt));
    if state.overall_hit {
        return Ok(RuntimeError::Timeout {
            module: module.to_string(),
            call: call.to_string(),
            timeout: state.overall_timeout.unwrap_or_default(),
        });
    }
    if state.cancel_hit {
        return Ok(RuntimeError::Cancelled {
            module: module.to_string(),
            call: call.to_string(),
            grace: state.cancel_grace,
        });
    }
    if state.deadline_hit || interrupted {
        return Ok(RuntimeError::DeadlineExceeded {
            module: module.to_string(),
            call: call.to_string(),
        });
    }
    if state.limiter.cap_hit || error.downcast_ref::<MemoryCapExceeded>().is_some() {
        return Ok(RuntimeError::MemoryLimit {
            module: module.to_string(),
            call: call.to_string(),
        });
    }
    Err(error)
}

/// The trap's chain and wasm backtrace, as one message.
fn trap_message(error: &wasmtime::Error) -> String {
    let mut message = flatten(error);
    if let Some(backtrace) = error.downcast_ref::<wasmtime::WasmBacktrace>() {
        let trace = backtrace.to_string();
        if !trace.trim().is_empty() && !message.contains(trace.trim()) {
            message.push('\n');
            message.push_str(trace.trim_end());
        }
    }
    message
}
