//! Builds the example policy of `examples/policies/digest-pinned/` (crate
//! `leasebox-policy-digest-pinned`) for `wasm32-wasip2`, once per test
//! process, with [`crate::guest_build`], in `target/policy-wasm` (not the
//! default module's directory, see there).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::guest_build::build_guest;

/// The example policy's package.
const PACKAGE: &str = "leasebox-policy-digest-pinned";

/// The digest-pinned example module, built on first use (`cargo build -p
/// leasebox-policy-digest-pinned --target wasm32-wasip2 --profile policy`);
/// panics with the fix when it cannot be built.
pub fn example_policy_module() -> &'static Path {
    static MODULE: OnceLock<PathBuf> = OnceLock::new();
    MODULE.get_or_init(|| build_guest(PACKAGE, "policy-wasm"))
}
