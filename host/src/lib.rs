//! The leasebox host: runs policy modules (WebAssembly components built for
//! the `leasebox:provider` contract) and carries out their Kubernetes I/O.
//!
//! - [`runtime`]: wasmtime engine, compiled-module cache, limits, one fresh
//!   instance per lifecycle call;
//! - [`cluster_io`]: the host side of the `kube` interface as a Rust trait;
//! - [`settings`]: the operator's host settings (fence, host secret keys,
//!   guest limits, cluster connection);
//! - [`grants`]: what a module may do, one table, from which the host's RBAC
//!   is derived;
//! - [`guard`]: the capability guard between a module and the cluster;
//! - [`shared_watch`]: one watch per namespace and kind, shared by every
//!   wait (for `serve`);
//! - [`heap`]: the process's heap in use (a metric of `serve`);
//! - [`lease_id`]: lease ids (`lb-` + ULID);
//! - [`cli`]: the `leasebox` command line.

pub mod cli;
pub mod clock;
pub mod cluster_io;
pub mod grants;
pub mod guard;
pub mod heap;
pub mod kube_client;
pub mod leader;
pub mod lease_id;
pub mod lease_record;
mod locks;
pub mod metrics;
pub mod render;
pub mod runtime;
pub mod serve;
pub mod settings;
pub mod shared_watch;
