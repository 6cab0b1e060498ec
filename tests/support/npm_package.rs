//! Runs an npm package's own tests (`npm test` in `clients/<package>`: it
//! builds the package, then `node --test`) against the binary of this
//! build. Shared by the CLI suite (no cluster) and the e2e suite (with
//! `LEASEBOX_E2E_KUBECONFIG`): the TypeScript client and the Paperclip
//! plugin.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `npm test` in `clients/<package>` with `LEASEBOX_BIN` set to this
/// build's binary; the cluster tests run against
/// `kubeconfig` when given and say they are skipped otherwise. Panics with
/// npm's output when it fails.
pub fn npm_test(package: &str, kubeconfig: Option<&Path>) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../clients")
        .join(package);
    assert!(
        dir.join("node_modules").is_dir(),
        "{} is missing: run `npm ci --prefix clients/{package}` first (README, the test command)",
        dir.join("node_modules").display()
    );
    let mut command = Command::new("npm");
    command
        .arg("test")
        .current_dir(&dir)
        .env("LEASEBOX_BIN", env!("CARGO_BIN_EXE_leasebox"))
        .env(
            "LEASEBOX_CACHE_DIR",
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("leasebox-cache"),
        )
        .env_remove("LEASEBOX_E2E_KUBECONFIG");
    if let Some(kubeconfig) = kubeconfig {
        command.env("LEASEBOX_E2E_KUBECONFIG", kubeconfig);
    }
    let output = command.output().unwrap_or_else(|e| {
        panic!(
            "cannot run `npm test` in {}: {e}; install Node 20 and npm",
            dir.display()
        )
    });
    assert!(
        output.status.success(),
        "`npm test` in {} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        dir.display(),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
