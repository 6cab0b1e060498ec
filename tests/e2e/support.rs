//! Shared by the end-to-end tests: running the binary, reading the
//! cluster, and the per-test case.

pub mod case;
pub mod cli;
pub mod cluster;
pub mod fault_proxy;
pub mod faulted;
