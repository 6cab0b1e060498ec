//! Errors of the runtime layer: a module that cannot be compiled, linked or
//! instantiated, or a call that trapped or ran past its limits.
//!
//! These are host faults and module bugs; a policy's own refusal is a
//! `policy-error` value inside `Ok` (see [`crate::runtime::CallResult`]).

/// A cause from wasmtime (its error type is not a `std::error::Error`, so it
/// is carried boxed).
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why the runtime could not run a policy module call.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The engine could not be configured.
    #[error("failed to configure the wasm engine: {message}")]
    Engine {
        /// What went wrong.
        message: String,
    },
    /// The module could not be read from disk.
    #[error("failed to read policy module {path}: {source}; check the --policy path")]
    ReadModule {
        /// The path given.
        path: String,
        /// What is wrong with the file (never its bytes).
        #[source]
        source: super::ModuleFileError,
    },
    /// The module is not a valid component for this engine.
    #[error(
        "failed to compile policy module {module}: {source}; is it a wasm component built for wasm32-wasip2?"
    )]
    Compile {
        /// Module name (file name, or `default`).
        module: String,
        /// wasmtime's reason.
        #[source]
        source: Cause,
    },
    /// The compiled module could not be cached (the module still runs).
    #[error(
        "failed to cache the compiled policy module in {path}: {message}; set LEASEBOX_CACHE_DIR to a writable directory"
    )]
    CacheWrite {
        /// Cache directory or file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The module targets another major/minor version of the contract.
    #[error("module targets leasebox:provider@{found}, host supports @{supported}")]
    IncompatibleContract {
        /// Version the module imports or exports.
        found: String,
        /// Version this host implements.
        supported: String,
    },
    /// The module's imports cannot be satisfied, or its exports do not
    /// match the `policy-module` world.
    #[error(
        "failed to link policy module {module}: {source}; a policy module may import only leasebox:provider/{{kube,logging}} and wasi random, clocks, cli and io"
    )]
    Link {
        /// Module name.
        module: String,
        /// wasmtime's reason.
        #[source]
        source: Cause,
    },
    /// Instantiating the module failed (its start code trapped, or a limit).
    #[error("failed to instantiate policy module {module}: {source}")]
    Instantiate {
        /// Module name.
        module: String,
        /// wasmtime's reason.
        #[source]
        source: Cause,
    },
    /// The guest trapped (a panic, `unreachable`, an out-of-bounds access).
    #[error(
        "policy module {module} trapped in {call}: {message}{}",
        stderr_suffix(guest_stderr)
    )]
    Trap {
        /// Module name.
        module: String,
        /// The exported function called.
        call: String,
        /// The trap and its wasm backtrace.
        message: String,
        /// What the guest wrote to stderr (a panic message), cut at 64 KiB.
        guest_stderr: String,
    },
    /// The guest used more CPU time than the call allows.
    #[error(
        "policy module {module} exceeded its cpu deadline in {call}; the module loops, or the deadline is too short for it"
    )]
    DeadlineExceeded {
        /// Module name.
        module: String,
        /// The exported function called.
        call: String,
    },
    /// The call, host I/O included, ran past its overall timeout.
    #[error(
        "policy module {module} did not finish {call} within its overall timeout of {timeout:?} (host i/o included)"
    )]
    Timeout {
        /// Module name.
        module: String,
        /// The exported function called.
        call: String,
        /// The overall timeout.
        timeout: std::time::Duration,
    },
    /// The call was cancelled and did not end within its grace period.
    #[error(
        "policy module {module} was cancelled in {call} and did not finish rolling back within {grace:?}"
    )]
    Cancelled {
        /// Module name.
        module: String,
        /// The exported function called.
        call: String,
        /// The grace period it had.
        grace: std::time::Duration,
    },
    /// The module's contract has no such call (a module of an older
    /// contract).
    #[error(
        "policy module {module} implements leasebox:provider@{contract}, which has no {call}; rebuild it against @{current}"
    )]
    Unsupported {
        /// Module name.
        module: String,
        /// The call asked for.
        call: String,
        /// The module's contract version.
        contract: String,
        /// The host's current contract version.
        current: String,
    },
    /// The guest tried to grow its memory past the cap.
    #[error(
        "policy module {module} exceeded its memory cap in {call}; the module leaks or builds something too large"
    )]
    MemoryLimit {
        /// Module name.
        module: String,
        /// The exported function called.
        call: String,
    },
}

fn stderr_suffix(stderr: &str) -> String {
    let trimmed = stderr.trim();
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("\nguest stderr:\n{trimmed}")
    }
}

/// A wasmtime error flattened to one message: every context of its chain,
/// outermost first, joined by `: `.
#[derive(Debug)]
pub(crate) struct Flattened(pub(crate) String);

impl std::fmt::Display for Flattened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Flattened {}

/// Boxes a wasmtime error as a [`Cause`] whose message keeps the whole
/// context chain (wasmtime's own `Display` shows only the outermost).
pub(crate) fn cause(error: &wasmtime::Error) -> Cause {
    Box::new(Flattened(flatten(error)))
}

/// The context chain of `error` as one line.
pub(crate) fn flatten(error: &wasmtime::Error) -> String {
    error
        .chain()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incompatible_contract_names_both_versions() {
        let error = RuntimeError::IncompatibleContract {
            found: "0.2.0".into(),
            supported: "0.1.0".into(),
        };
        assert_eq!(
            error.to_string(),
            "module targets leasebox:provider@0.2.0, host supports @0.1.0"
        );
    }

    #[test]
    fn trap_message_carries_guest_stderr() {
        let error = RuntimeError::Trap {
            module: "default".into(),
            call: "plan".into(),
            message: "wasm trap: unreachable".into(),
            guest_stderr: "panicked at src/lib.rs:1:1\n".into(),
        };
        assert_eq!(
            error.to_string(),
            "policy module default trapped in plan: wasm trap: unreachable\nguest stderr:\npanicked at src/lib.rs:1:1"
        );
    }

    #[test]
    fn trap_without_stderr_has_no_stderr_section() {
        let error = RuntimeError::Trap {
            module: "m".into(),
            call: "plan".into(),
            message: "wasm trap: unreachable".into(),
            guest_stderr: String::new(),
        };
        assert!(!error.to_string().contains("guest stderr"));
    }
}
