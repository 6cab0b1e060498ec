//! The leasebox host: runs policy modules (WebAssembly components built for
//! the `leasebox:provider` contract) and carries out their Kubernetes I/O.
//!
//! - [`contract`]: the `leasebox:provider` contract: the bindings of every
//!   version, the conversions between them, and the records the rest of
//!   the host uses as generated;
//! - [`runtime`]: wasmtime engine, compiled-module cache, limits, one fresh
//!   instance per lifecycle call;
//! - [`cluster`]: the `kube` interface as a Rust trait, the capability
//!   guard, the grants table, shared watches and the kube-rs client;
//! - [`lifecycle`]: every lifecycle call as one typed method, with one
//!   table of time budgets, for the CLI, serve and the background sweep;
//! - [`settings`]: the operator's host settings (fence, host secret keys,
//!   guest limits, cluster connection);
//! - [`files`]: the local end of a file copy (tar streams packed from and
//!   unpacked into this machine's files);
//! - [`lease_id`]: lease ids (`lb-` + ULID);
//! - [`cli`]: the `leasebox` command line; [`serve`]: the long-running
//!   host, with its leader election, metrics and background sweep.

pub mod cli;
pub mod clock;
pub mod cluster;
pub mod contract;
pub mod files;
pub mod lease_id;
pub mod lifecycle;
mod locks;
pub mod render;
pub mod runtime;
pub mod serve;
pub mod settings;
