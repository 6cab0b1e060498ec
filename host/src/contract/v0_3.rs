//! Contract 0.3.0 (`wit/v0.3.0/`, frozen): its bindings, and the
//! conversions between its `kube` and `logging` records and the current
//! ones, as `From` impls.
//!
//! 0.4.0 added records to `types` (`pool-request`, `pool-report`), two
//! calls to `provider` (`ensure-pool`, `claim-lease`) and one record and
//! one import to `kube` (`hand-over-request`, `hand-over-secret`), and
//! changed nothing else. So the `types` interface of 0.3.0 is the current
//! one: its records are the current records (`with` below), and a 0.3.0
//! module's exports are called with the current records as they are (a call
//! types its export by structure, `runtime/export.rs`). The records of
//! `kube` and `logging`, which 0.3.0 declares in interfaces of its own
//! version, have the current shapes and are converted field for field; a
//! 0.3.0 module never hands a Secret over.

wasmtime::component::bindgen!({
    path: "../wit/v0.3.0",
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

// Up: what a 0.3.0 module passes to an import.
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
same_record!(old::ExecSpec => now::ExecSpec {
    namespace, pod, container, argv, stdin, forward_output, forward_stdin, frame_stdin, tty,
    max_stdout_bytes, max_stderr_bytes,
});

// Down: what an import answers a 0.3.0 module.
same_cases!(now::EventType => old::EventType { Added, Modified, Deleted });
same_cases!(now::OutputStream => old::OutputStream { Stdout, Stderr });
same_record!(now::Denial => old::Denial { rule, message });
same_record!(now::WatchEvent => old::WatchEvent { event_type, object });
same_record!(now::OutputChunk => old::OutputChunk { source, data });
same_payload_cases!(now::KubeError => old::KubeError {
    NoCluster, Denied, NotFound, Conflict, Forbidden, Invalid, Gone, TimedOut, Transport,
    BadArgument, Cancelled,
});
