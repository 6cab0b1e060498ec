//! The cluster a policy module reaches, from the module's side down to the
//! wire:
//!
//! - [`io`]: the host side of the `kube` interface as a Rust trait
//!   ([`io::ClusterIo`]), whom a call is for ([`io::CallScope`]), and the
//!   "no cluster" stand-in;
//! - [`manifest`]: a manifest, parsed once where it enters the host;
//! - [`guard`]: the capability guard between a module and the cluster;
//! - [`grants`]: what a module may do, one table, from which the host's RBAC
//!   is derived;
//! - [`shared_watch`]: one watch per namespace and kind, shared by every
//!   wait (for `serve`);
//! - [`kube_client`]: the real cluster, over kube-rs.

pub mod grants;
pub mod guard;
pub mod io;
pub mod kube_client;
pub mod manifest;
pub mod shared_watch;
