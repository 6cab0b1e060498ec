//! The two programs of the cluster benches and the tenant they work in:
//! the `leasebox` binary cargo built with the bench (in the same profile)
//! with the operator's settings of the benches, kubectl on the same
//! kubeconfig, a lease as `acquire` prints it, and the deletion of the
//! tenant namespace at the end of a run.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::Value;

/// The kubeconfig of the cluster; the cluster benches are skipped without
/// it.
pub const KUBECONFIG_ENV: &str = "LEASEBOX_BENCH_KUBECONFIG";
/// The kubectl to compare with (default: `kubectl` on PATH).
pub const KUBECTL_ENV: &str = "LEASEBOX_BENCH_KUBECTL";
/// The binary cargo built with this bench, in the same profile.
pub const BINARY: &str = env!("CARGO_BIN_EXE_leasebox");

/// The two programs, on one cluster.
pub struct Tools {
    pub kubeconfig: PathBuf,
    pub kubectl: PathBuf,
    /// The operator's settings (`LEASEBOX_SETTINGS`).
    pub settings: PathBuf,
    /// The compiled module's cache, shared by the benches' runs.
    pub cache: PathBuf,
}

impl Tools {
    /// The tools for `kubeconfig`, with the settings written into `dir`:
    /// the fence `fence_prefix`, the cluster, and no background sweep in
    /// serve (its leader election would add API calls). kubectl from
    /// [`KUBECTL_ENV`].
    pub fn new(kubeconfig: PathBuf, dir: &Path, fence_prefix: &str) -> Tools {
        let kubectl = std::env::var_os(KUBECTL_ENV)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("kubectl"));
        let settings = dir.join("settings.yaml");
        super::write(
            &settings,
            &format!(
                "fence:\n  namespacePrefix: {fence_prefix}\ncluster:\n  kubeconfig: {}\nserve:\n  sweepIntervalSec: 0\n",
                kubeconfig.display()
            ),
        );
        Tools {
            kubeconfig,
            kubectl,
            settings,
            cache: std::env::temp_dir().join("leasebox-bench-cache"),
        }
    }

    /// `leasebox <args>` with the bench's settings, cache and cluster.
    pub fn leasebox(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BINARY);
        command
            .args(args)
            .env("LEASEBOX_SETTINGS", &self.settings)
            .env("LEASEBOX_CACHE_DIR", &self.cache)
            .env("KUBECONFIG", &self.kubeconfig)
            .env_remove("LEASEBOX_LOG")
            .env_remove("LEASEBOX_LOG_LEVEL");
        command
    }

    /// `kubectl --kubeconfig K <args>`.
    pub fn kubectl(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.kubectl);
        command.arg("--kubeconfig").arg(&self.kubeconfig).args(args);
        command
    }

    /// Deletes `namespace` without waiting (with whatever a failed run
    /// left in it); says so when that fails.
    pub fn delete_namespace(&self, namespace: &str, bench: &str) {
        let deleted = self
            .kubectl(&[
                "delete",
                "namespace",
                namespace,
                "--ignore-not-found",
                "--wait=false",
            ])
            .stdout(Stdio::null())
            .status();
        if !deleted.is_ok_and(|s| s.success()) {
            eprintln!("{bench}: could not delete the namespace {namespace}; delete it by hand");
        }
    }
}

/// A lease as `acquire` printed it.
pub struct Lease {
    pub id: String,
    pub namespace: String,
    pub pod: String,
}

impl Lease {
    /// The lease of `leasebox acquire`'s stdout (JSON); panics naming what
    /// is missing.
    pub fn from_acquire(stdout: &str) -> Lease {
        let lease: Value = serde_json::from_str(stdout)
            .unwrap_or_else(|e| panic!("acquire printed no JSON ({e}): {stdout}"));
        let field = |name: &str| {
            lease[name]
                .as_str()
                .unwrap_or_else(|| panic!("the lease has no `{name}`: {lease}"))
                .to_string()
        };
        Lease {
            id: field("id"),
            namespace: field("namespace"),
            pod: field("pod"),
        }
    }
}

/// A client of the cluster of the kubeconfig at `path`.
pub async fn connect(path: &Path) -> Result<kube::Client, String> {
    let kubeconfig = Kubeconfig::read_from(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| format!("{}: {e}", path.display()))?;
    kube::Client::try_from(config).map_err(|e| e.to_string())
}
