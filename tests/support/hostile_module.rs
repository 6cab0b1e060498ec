//! Builds the hostile policy module (`tests/guests/hostile/`, crate
//! `leasebox-hostile-guest`) for `wasm32-wasip2`, once per test process.
//! Shared by `tests/component/` and `tests/e2e/` with `#[path]`.
//!
//! It goes to `target/guest-wasm`, the directory `host/build.rs` builds the
//! default module in, so both share their dependencies; like `host/build.rs`
//! the nested cargo drops the variables that would redirect it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The hostile guest's package.
const PACKAGE: &str = "leasebox-hostile-guest";

/// Target the guest is built for.
const TARGET: &str = "wasm32-wasip2";

/// File name cargo gives its cdylib.
const ARTIFACT: &str = "leasebox_hostile_guest.wasm";

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

/// The hostile module, built on first use (`cargo build -p
/// leasebox-hostile-guest --target wasm32-wasip2 --release`); panics with
/// the fix when it cannot be built.
pub fn hostile_module() -> &'static Path {
    static MODULE: OnceLock<PathBuf> = OnceLock::new();
    MODULE.get_or_init(build)
}

fn build() -> PathBuf {
    let workspace = workspace();
    let target_dir = workspace.join("target").join("guest-wasm");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(&workspace)
        .arg("build")
        .arg("--manifest-path")
        .arg(workspace.join("Cargo.toml"))
        .args(["-p", PACKAGE, "--target", TARGET, "--release"])
        .arg("--target-dir")
        .arg(&target_dir);
    for name in INHERITED_ENV {
        command.env_remove(name);
    }
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("failed to run cargo to build {PACKAGE}: {e}"));
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let missing_target = stderr.contains("may not be installed")
            || stderr.contains("can't find crate for `core`")
            || stderr.contains("can't find crate for `std`");
        if missing_target {
            panic!(
                "building the hostile module needs the {TARGET} target, which is not installed.\n\
                 fix: rustup target add {TARGET}\n\n{stderr}"
            );
        }
        panic!("failed to build {PACKAGE} for {TARGET}:\n{stderr}");
    }
    let built = target_dir.join(TARGET).join("release").join(ARTIFACT);
    assert!(
        built.is_file(),
        "cargo built {PACKAGE} but {} is missing",
        built.display()
    );
    built
}
