//! Contract 0.2.0 (`wit/v0.2.0/`, frozen): its bindings, and the
//! conversions between its `kube` and `logging` records and the current
//! ones, as `From` impls.
//!
//! 0.3.0 added calls and records and one field (`exec-spec.tty`), 0.4.0
//! added calls, records and one import, and neither changed anything else,
//! so the `types` interface of 0.2.0 is the current one: its
//! records are the current records (`with` below), and a 0.2.0 module's
//! exports are called with the current records as they are (a call types
//! its export by structure, `runtime/export.rs`). Only the records of
//! `kube` and `logging`, which 0.2.0 declares in interfaces of its own
//! version, are converted; a 0.2.0 module never asks for a terminal.

wasmtime::component::bindgen!({
    path: "../wit/v0.2.0",
    world: "policy-module",
    with: {
        "leasebox:provider/types": crate::contract::v0_4::leasebox::provider::types,
        "leasebox:provider/kube.watch": crate::contract::WatchHandle,
        "leasebox:provider/kube.exec-session": crate::contract::ExecHandle,
        "leasebox:provider/kube.log-stream": crate::contract::LogHandle,
    },
    imports: { default: trappable },
});

use self::leasebox::provider::kube as old;
use self::leasebox::provider::logging as old_logging;
use super::same_shape::{same_cases, same_payload_cases, same_record};
use crate::contract as now;

// Up: what a 0.2.0 module passes to an import.
same_cases!(old::Propagation => now::Propagation { Foreground, Background, Orphan });
same_cases!(old_logging::Level => now::LogLevel { Debug, Info, Warn, Error });
same_record!(old::DeleteOptions => now::DeleteOptions {
    propagation, precondition_uid, grace_period_seconds,
});
same_record!(old::WatchRequest => now::WatchRequest {
    api_version, kind, namespace, label_selector, field_selector,
});
same_record!(old::LogsRequest => now::LogsRequest {
    namespace, pod, container, follow, forward_output, max_bytes,
});
same_record!(old::HostSecretRequest => now::HostSecretRequest {
    manifest, random_keys, host_keys, literal,
});

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

// Down: what an import answers a 0.2.0 module.
same_cases!(now::EventType => old::EventType { Added, Modified, Deleted });
same_cases!(now::OutputStream => old::OutputStream { Stdout, Stderr });
same_record!(now::Denial => old::Denial { rule, message });
same_record!(now::WatchEvent => old::WatchEvent { event_type, object });
same_record!(now::OutputChunk => old::OutputChunk { source, data });
same_payload_cases!(now::KubeError => old::KubeError {
    NoCluster, Denied, NotFound, Conflict, Forbidden, Invalid, Gone, TimedOut, Transport,
    BadArgument, Cancelled,
});
