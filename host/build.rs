//! Builds the default policy module (the `guest/` crate) for `wasm32-wasip2`
//! and leaves it in `OUT_DIR/leasebox_policy.wasm`, where
//! `runtime::DEFAULT_MODULE` embeds it with `include_bytes!`.
//!
//! The nested cargo uses its own target directory (`target/guest-wasm`):
//! sharing the outer build's directory would wait forever on the lock the
//! outer cargo holds while it runs this script.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Name of the guest package in the workspace.
const GUEST_PACKAGE: &str = "leasebox-policy";
/// Target the guest is built for; rustc links it into a component.
const GUEST_TARGET: &str = "wasm32-wasip2";
/// The cargo profile of policy modules (`[profile.policy]` in the
/// workspace: release, one codegen unit per crate); its output directory
/// has its name.
const GUEST_PROFILE: &str = "policy";
/// File name cargo gives the guest's cdylib.
const GUEST_ARTIFACT: &str = "leasebox_policy.wasm";

/// Environment variables that cargo sets for this build script (or that the
/// caller set for the outer build) and that would misdirect the nested build:
/// another target directory, host-only flags, a forced target, or a wrapper
/// that expects the outer build's arguments.
const INHERITED_ENV: &[&str] = &[
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "CARGO_BUILD_TARGET_DIR",
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_BUILD_RUSTC_WRAPPER",
    "CARGO_MAKEFLAGS",
    "CARGO_PRIMARY_PACKAGE",
    "TARGET",
    "HOST",
    "PROFILE",
    "OPT_LEVEL",
    "DEBUG",
    "NUM_JOBS",
    "OUT_DIR",
    "RUSTC_LINKER",
    "RUSTDOC",
];

fn main() {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let workspace = manifest_dir
        .parent()
        .expect("the host crate lives one level below the workspace root")
        .to_path_buf();
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));

    for watched in [
        "guest/src",
        "guest/Cargo.toml",
        "guest/build.rs",
        "wit",
        "Cargo.lock",
        "Cargo.toml",
    ] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }
    println!("cargo:rerun-if-env-changed=LEASEBOX_GUEST_WASM");

    let destination = out_dir.join(GUEST_ARTIFACT);

    // An already-built module (for packagers that build the guest separately).
    if let Some(prebuilt) = env::var_os("LEASEBOX_GUEST_WASM") {
        let prebuilt = PathBuf::from(prebuilt);
        println!("cargo:rerun-if-changed={}", prebuilt.display());
        copy(&prebuilt, &destination);
        return;
    }

    let target_dir = workspace.join("target").join("guest-wasm");
    build_guest(&workspace, &target_dir);
    let built = target_dir
        .join(GUEST_TARGET)
        .join(GUEST_PROFILE)
        .join(GUEST_ARTIFACT);
    copy(&built, &destination);
}

/// Runs `cargo build -p leasebox-policy --target wasm32-wasip2 --profile
/// policy`.
fn build_guest(workspace: &Path, target_dir: &Path) {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .arg("build")
        .arg("--manifest-path")
        .arg(workspace.join("Cargo.toml"))
        .args([
            "-p",
            GUEST_PACKAGE,
            "--target",
            GUEST_TARGET,
            "--profile",
            GUEST_PROFILE,
        ])
        .arg("--target-dir")
        .arg(target_dir);
    for name in INHERITED_ENV {
        command.env_remove(name);
    }
    for (name, _) in env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_CFG_")
            || name.starts_with("CARGO_FEATURE_")
            || name.starts_with("CARGO_PKG_")
            || name.starts_with("DEP_")
        {
            command.env_remove(name.as_ref());
        }
    }

    let output = match command.output() {
        Ok(output) => output,
        Err(err) => {
            panic!("failed to run cargo to build the policy module ({GUEST_PACKAGE}): {err}")
        }
    };
    if output.status.success() {
        return;
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let missing_target = stderr.contains("may not be installed")
        || stderr.contains("can't find crate for `core`")
        || stderr.contains("can't find crate for `std`");
    if missing_target {
        panic!(
            "building the policy module needs the {GUEST_TARGET} target, which is not installed.\n\
             fix: rustup target add {GUEST_TARGET}\n\n{stderr}"
        );
    }
    panic!("failed to build the policy module ({GUEST_PACKAGE}) for {GUEST_TARGET}:\n{stderr}");
}

fn copy(from: &Path, to: &Path) {
    if let Err(err) = std::fs::copy(from, to) {
        panic!(
            "failed to copy the policy module from {} to {}: {err}",
            from.display(),
            to.display()
        );
    }
}
