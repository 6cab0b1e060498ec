//! Contract 0.2.0 (`wit/v0.2.0/`, frozen): its bindings, and the
//! conversions between its `kube` and `logging` records and the current
//! ones, as `From` impls.
//!
//! 0.3.0 added calls and records and one field (`exec-spec.tty`) and changed
//! nothing else, so the `types` interface of 0.2.0 is the current one: its
//! records are the current records (`with` below), and a 0.2.0 module's
//! exports are called with the current records as they are (a call types
//! its export by structure, `runtime/export.rs`). Only the records of
//! `kube` and `logging`, which 0.2.0 declares in interfaces of its own
//! version, are converted; a 0.2.0 module never asks for a terminal.

wasmtime::component::bindgen!({
    path: "../wit/v0.2.0",
    world: "policy-module",
    with: {
        "leasebox:provider/types": crate::contract::v0_3::leasebox::provider::types,
        "leasebox:provider/kube.watch": crate::contract::WatchHandle,
        "leasebox:provider/kube.exec-session": crate::contract::ExecHandle,
        "leasebox:provider/kube.log-stream": crate::contract::LogHandle,
    },
    imports: { default: trappable },
});

use self::leasebox::provider::kube as old;
use self::leasebox::provider::logging as old_logging;
use crate::contract as now;

/// A field-for-field conversion of a record whose fields have the same
/// names in both versions (each converted by its own `From`); the pattern
/// is exhaustive, so a field added to either side is a compile error here.
macro_rules! same_record {
    ($from:ident => $to:ident { $($field:ident),* $(,)? }) => {
        impl From<old::$from> for now::$to {
            fn from(record: old::$from) -> Self {
                let old::$from { $($field),* } = record;
                now::$to { $($field: $field.into()),* }
            }
        }
    };
}

/// A conversion between two enums (or two variants without payload) with
/// the same cases, in the direction given.
macro_rules! same_cases {
    ($from:path => $to:path { $($case:ident),* $(,)? }) => {
        impl From<$from> for $to {
            fn from(value: $from) -> Self {
                use $from as F;
                use $to as T;
                match value {
                    $(F::$case => T::$case),*
                }
            }
        }
    };
}

same_cases!(old::Propagation => now::Propagation { Foreground, Background, Orphan });
same_cases!(now::EventType => old::EventType { Added, Modified, Deleted });
same_cases!(now::OutputStream => old::OutputStream { Stdout, Stderr });
same_cases!(old_logging::Level => now::LogLevel { Debug, Info, Warn, Error });
same_record!(DeleteOptions => DeleteOptions { propagation, precondition_uid, grace_period_seconds });
same_record!(WatchRequest => WatchRequest { api_version, kind, namespace, label_selector, field_selector });
same_record!(LogsRequest => LogsRequest { namespace, pod, container, follow, forward_output, max_bytes });
same_record!(HostSecretRequest => HostSecretRequest { manifest, random_keys, host_keys, literal });

impl From<old::ExecSpec> for now::ExecSpec {
    fn from(spec: old::ExecSpec) -> Self {
        let old::ExecSpec {
            namespace,
            pod,
            container,
            argv,
            stdin,
            forward_output,
            forward_stdin,
            frame_stdin,
            max_stdout_bytes,
            max_stderr_bytes,
        } = spec;
        now::ExecSpec {
            namespace,
            pod,
            container,
            argv,
            stdin,
            forward_output,
            forward_stdin,
            frame_stdin,
            tty: None,
            max_stdout_bytes,
            max_stderr_bytes,
        }
    }
}

impl From<now::Denial> for old::Denial {
    fn from(denial: now::Denial) -> Self {
        let now::Denial { rule, message } = denial;
        old::Denial { rule, message }
    }
}

impl From<now::KubeError> for old::KubeError {
    fn from(error: now::KubeError) -> Self {
        use now::KubeError as N;
        use old::KubeError as O;
        match error {
            N::NoCluster(m) => O::NoCluster(m),
            N::Denied(d) => O::Denied(d.into()),
            N::NotFound(m) => O::NotFound(m),
            N::Conflict(m) => O::Conflict(m),
            N::Forbidden(m) => O::Forbidden(m),
            N::Invalid(m) => O::Invalid(m),
            N::Gone(m) => O::Gone(m),
            N::TimedOut(m) => O::TimedOut(m),
            N::Transport(m) => O::Transport(m),
            N::BadArgument(m) => O::BadArgument(m),
            N::Cancelled(m) => O::Cancelled(m),
        }
    }
}

impl From<now::WatchEvent> for old::WatchEvent {
    fn from(event: now::WatchEvent) -> Self {
        let now::WatchEvent { event_type, object } = event;
        old::WatchEvent {
            event_type: event_type.into(),
            object,
        }
    }
}

impl From<now::OutputChunk> for old::OutputChunk {
    fn from(chunk: now::OutputChunk) -> Self {
        let now::OutputChunk { source, data } = chunk;
        old::OutputChunk {
            source: source.into(),
            data,
        }
    }
}
