//! The contract `leasebox:provider` (`wit/`) as the host sees it: the
//! generated bindings of every version it loads, one module per version
//! ([`v0_4`], the current one, [`v0_3`], [`v0_2`] and [`v0_1`]), the
//! conversions between them (`From` impls in `v0_3.rs`, `v0_2.rs` and
//! `v0_1.rs`, the same-shape ones written by `same_shape.rs`), the enum over
//! the versions
//! ([`Contract`]), and the kube interface's resources as Rust traits.
//!
//! The records are the current version's, as generated: the runtime, the
//! cluster, the CLI and serve all take their types from here. Nothing here
//! depends on another layer of the host.

mod describe;
pub mod lease_json;
mod resources;
mod same_shape;
pub mod v0_1;
pub mod v0_2;
pub mod v0_3;
pub mod v0_4;
mod version;

pub use resources::{
    ExecHandle, ExecStream, Handle, LogFollow, LogHandle, WatchHandle, WatchStream,
};
pub use v0_4::exports::leasebox::provider::provider::{
    ProbeCheck, ProbeReport, ReleaseReport, SweepReport,
};
pub use v0_4::leasebox::provider::kube::{
    DeleteOptions, Denial, EventType, ExecSpec, HandOverRequest, HostSecretRequest, KubeError,
    LogsRequest, OutputChunk, OutputStream, Propagation, WatchEvent, WatchRequest,
};
pub use v0_4::leasebox::provider::logging::Level as LogLevel;
pub use v0_4::leasebox::provider::types::{
    AttachRequest, Backend, Command, EnvVar, ExecRequest, ExecStatus, Failure, FileEntry, FileType,
    FilesInRequest, FilesOutRequest, Issue, Lease, LeasePhase, LeaseRequest, LeaseStatus,
    ObjectRef, PolicyError, PoolReport, PoolRequest, ProcessInfo, TerminalRequest,
    ValidationReport, WindowSize,
};
pub use version::{Contract, PACKAGE};
