//! The default leasebox policy module, and the library that custom
//! policies are built on.
//!
//! Plain Rust modules hold the policy, written with the types generated
//! from the WIT contract (`wit/`, [`bindings`]); `component.rs` is the only
//! glue to the exports, `cluster_wasm.rs` the only caller of the imports:
//!
//! - [`hooks`]: the decisions a custom policy may take over (image policy,
//!   egress, pod shaping, naming, readiness), each with the default
//!   module's rule as its default, and [`export_policy!`], which exports a
//!   component for them;
//! - [`config`]: the configuration document, its defaults, schema and
//!   validation;
//! - [`adapters`], [`image`], [`egress`], [`names`]: the rules that turn a
//!   configuration into names, images and network allows;
//! - [`manifests`]: one typed builder per Kubernetes object, [`plan`],
//!   which orders them, and [`json_text`], the text they cross the
//!   boundary as;
//! - [`sandbox_path`]: absolute paths in the sandbox, read lexically (the
//!   file roots and the file calls);
//! - [`lease`], [`error`]: the lease records and `policy-error` of the
//!   contract, as generated;
//! - [`lifecycle`]: acquire, execute, release, resume, sweep, probe, renew,
//!   list and status, terminals, detached processes and files, written
//!   against the [`cluster::Cluster`] trait, and
//!   [`lifecycle::from_workload`], the one place a lease is built.
//!
//! Built for `wasm32-wasip2` with the feature `default-module` (a default)
//! the crate is the default component, `export_policy!(DefaultHooks)`,
//! exporting `leasebox:provider/provider`; without it, it is the library a
//! policy crate exports its own hooks with. Built natively it is a library
//! that the tests (and the host's comparison tests) drive directly: the
//! bindings are generated there too (imports stubbed), but nothing is
//! exported.

pub mod adapters;
pub mod call_alloc;
pub mod cluster;
pub mod config;
pub mod egress;
pub mod error;
#[cfg(any(test, feature = "fake-cluster"))]
pub mod fake_cluster;
pub mod hooks;
pub mod image;
pub mod json_text;
pub mod lease;
pub mod lifecycle;
pub mod manifests;
pub mod names;
pub mod plan;
pub mod sandbox_path;
pub mod time;

pub mod bindings;
#[cfg(target_arch = "wasm32")]
mod cluster_wasm;
#[cfg(target_arch = "wasm32")]
pub mod component;
mod export;

#[cfg(feature = "default-module")]
export_policy!(hooks::DefaultHooks);

/// The default module's allocator (a custom policy crate installs it the
/// same way, or keeps the system's).
#[cfg(all(target_arch = "wasm32", feature = "default-module"))]
#[global_allocator]
static ALLOCATOR: call_alloc::CallAllocator = call_alloc::CallAllocator::new();
