//! Builds the hostile policy module (`tests/guests/hostile/`, crate
//! `leasebox-hostile-guest`) for `wasm32-wasip2`, once per test process,
//! with [`crate::guest_build`]. Shared by `tests/component/` and
//! `tests/e2e/` with `#[path]` (each also includes `guest_build.rs`).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::guest_build::build_guest;

/// The hostile guest's package.
const PACKAGE: &str = "leasebox-hostile-guest";

/// The hostile module, built on first use (`cargo build -p
/// leasebox-hostile-guest --target wasm32-wasip2 --profile policy`); panics with
/// the fix when it cannot be built.
pub fn hostile_module() -> &'static Path {
    static MODULE: OnceLock<PathBuf> = OnceLock::new();
    MODULE.get_or_init(|| build_guest(PACKAGE, "guest-wasm"))
}
