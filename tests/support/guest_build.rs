//! Builds a guest crate of the workspace (a policy module) for
//! `wasm32-wasip2` with a nested cargo, and returns its `.wasm`. Used by the
//! builders of `tests/support/` (`hostile_module.rs`, `example_policy.rs`),
//! which build each module once per test process.
//!
//! Each builder names its target directory under `target/`: the hostile
//! module shares `target/guest-wasm` with `host/build.rs` (they share their
//! dependencies); a policy crate built on `leasebox-policy` uses a
//! directory of its own, because its build also leaves that crate's cdylib,
//! without the default module, as `leasebox_policy.wasm`, the very file
//! `host/build.rs` embeds from `target/guest-wasm`. Like `host/build.rs`,
//! the nested cargo drops the variables that would redirect it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Target the guests are built for.
pub const TARGET: &str = "wasm32-wasip2";
/// Their cargo profile (`[profile.policy]`, as `host/build.rs`), so that
/// the guests of `target/guest-wasm` share their dependencies' builds.
pub const PROFILE: &str = "policy";

/// Variables of the test's own build that would misdirect the nested one:
/// another target directory, host-only flags, a forced target.
const INHERITED_ENV: &[&str] = &[
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET_DIR",
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "CARGO_BUILD_TARGET",
];

/// The workspace root (the host crate lives one level below it).
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

/// Builds `package` (`cargo build -p <package> --target wasm32-wasip2
/// --profile policy`) in `target/<target_dir>` and returns the path of its
/// cdylib; panics with the fix when it cannot be built.
pub fn build_guest(package: &str, target_dir: &str) -> PathBuf {
    let workspace = workspace();
    let target_dir = workspace.join("target").join(target_dir);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(&workspace)
        .arg("build")
        .arg("--manifest-path")
        .arg(workspace.join("Cargo.toml"))
        .args(["-p", package, "--target", TARGET, "--profile", PROFILE])
        .arg("--target-dir")
        .arg(&target_dir);
    for name in INHERITED_ENV {
        command.env_remove(name);
    }
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("failed to run cargo to build {package}: {e}"));
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let missing_target = stderr.contains("may not be installed")
            || stderr.contains("can't find crate for `core`")
            || stderr.contains("can't find crate for `std`");
        if missing_target {
            panic!(
                "building {package} needs the {TARGET} target, which is not installed.\n\
                 fix: rustup target add {TARGET}\n\n{stderr}"
            );
        }
        panic!("failed to build {package} for {TARGET}:\n{stderr}");
    }
    let artifact = format!("{}.wasm", package.replace('-', "_"));
    let built = target_dir.join(TARGET).join(PROFILE).join(artifact);
    assert!(
        built.is_file(),
        "cargo built {package} but {} is missing",
        built.display()
    );
    built
}
