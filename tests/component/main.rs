//! Component-level tests: the real policy module (the `guest/` crate built
//! for wasm32-wasip2 and embedded in the host) in the host runtime, with no
//! cluster, compared against the same crate built natively and against a
//! second host (the module transpiled by jco, in Node); hostile guests
//! (`tests/guests/`, the `.wat` fixtures and the Rust `hostile/` module)
//! that the runtime must stop and name; and the example policy of
//! `examples/policies/`, a custom module built on the policy library.

mod admission;
mod cancellation;
mod contract_v0_1;
mod contract_v0_2;
mod contract_v0_3;
mod example_policy;
#[path = "../support/example_policy.rs"]
mod example_policy_module;
#[path = "../support/guest_build.rs"]
mod guest_build;
mod hand_over;
mod hostile_guests;
#[path = "../support/hostile_module.rs"]
mod hostile_module;
mod hostile_policy_module;
mod hostile_through_the_guard;
mod in_memory_cluster;
mod lifecycle_service;
mod lifecycle_through_wasm;
mod node_host;
mod plan_matches_native;
mod support;
mod validate_matches_native;
