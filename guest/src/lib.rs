//! The default leasebox policy module.
//!
//! Plain Rust modules hold the policy, written with the types generated
//! from the WIT contract (`wit/`, [`bindings`]); `component.rs` is the only
//! glue to the exports, `cluster_wasm.rs` the only caller of the imports:
//!
//! - [`config`]: the configuration document, its defaults, schema and
//!   validation;
//! - [`adapters`], [`image`], [`egress`], [`names`]: the rules that turn a
//!   configuration into names, images and network allows;
//! - [`manifests`]: one typed builder per Kubernetes object, and [`plan`],
//!   which orders them;
//! - [`lease`], [`error`]: the lease records and `policy-error` of the
//!   contract, as generated, and [`lease::from_workload`], the one place a
//!   lease is built;
//! - [`lifecycle`]: acquire, execute, release, resume, sweep, probe, renew,
//!   list and status, written against the [`cluster::Cluster`] trait.
//!
//! Built for `wasm32-wasip2` the crate is a component exporting
//! `leasebox:provider/provider`; built natively it is a library that the
//! tests (and the host's comparison tests) drive directly: the bindings are
//! generated there too (imports stubbed), but nothing is exported.

pub mod adapters;
pub mod cluster;
pub mod config;
pub mod egress;
pub mod error;
#[cfg(any(test, feature = "fake-cluster"))]
pub mod fake_cluster;
pub mod image;
pub mod lease;
pub mod lifecycle;
pub mod manifests;
pub mod names;
pub mod plan;
pub mod time;

pub mod bindings;
#[cfg(target_arch = "wasm32")]
mod cluster_wasm;
#[cfg(target_arch = "wasm32")]
mod component;
