//! One end-to-end test: its company (so its own tenant namespace), its
//! configuration files, the binary runs, and the checks every test ends
//! with.

use std::cell::Cell;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use kube::Client;
use serde_json::Value;
use tokio::runtime::Runtime;

use super::cli::{self, Output};
use super::cluster::{self, GONE_LIMIT};
use crate::reconciler::Reconciler;

/// Environment variable with the kubeconfig of the test cluster.
pub const KUBECONFIG_ENV: &str = "LEASEBOX_E2E_KUBECONFIG";

/// Tenant namespace prefix of every test configuration.
pub const NAMESPACE_PREFIX: &str = "leasebox-e2e-";

/// The configuration every test starts from (pod backend, the
/// `busybox:k8s-real` image, resources that fit a small node).
const BASE_CONFIG: &str = include_str!("../configs/base.json");

/// Default limit of one run of the binary.
pub const CLI_LIMIT: Duration = Duration::from_secs(240);

/// How long the namespace of an earlier run may take to go away.
const STALE_NAMESPACE_LIMIT: Duration = Duration::from_secs(180);

/// The tests share one small cluster: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// A lease as `acquire` printed it.
#[derive(Debug, Clone)]
pub struct Lease {
    /// Lease id.
    pub id: String,
    /// Tenant namespace.
    pub namespace: String,
    /// Pod running the agent container.
    pub pod: String,
    /// Agent container.
    pub container: String,
    /// Backend.
    pub backend: String,
    /// The whole document.
    pub json: Value,
}

impl Lease {
    fn parse(json: Value, output: &Output) -> Lease {
        let field = |name: &str| {
            json.get(name)
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| {
                    panic!(
                        "acquire: the lease has no string `{name}`\n{}",
                        output.describe()
                    )
                })
        };
        Lease {
            id: field("id"),
            namespace: field("namespace"),
            pod: field("pod"),
            container: field("container"),
            backend: field("backend"),
            json: json.clone(),
        }
    }

    /// `workload.<key>` of the lease.
    pub fn workload(&self, key: &str) -> String {
        self.json
            .pointer(&format!("/workload/{key}"))
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("the lease has no workload.{key}: {}", self.json))
            .to_string()
    }
}

/// One test on the cluster. Dropping it stops the reconciler and deletes
/// the namespace, also when the test panicked.
pub struct Case {
    /// Company id of the test.
    pub company: String,
    /// Its tenant namespace.
    pub namespace: String,
    kubeconfig: PathBuf,
    dir: PathBuf,
    configs: Cell<u32>,
    reconciler: Option<Reconciler>,
    client: Client,
    runtime: Runtime,
    _serial: MutexGuard<'static, ()>,
}

impl Case {
    /// Starts a test for `company`; `None` (after saying so) when no
    /// cluster is configured.
    pub fn start(company: &str) -> Option<Case> {
        let Some(kubeconfig) = std::env::var_os(KUBECONFIG_ENV) else {
            eprintln!("e2e skipped: {KUBECONFIG_ENV} is not set");
            return None;
        };
        let serial = SERIAL
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let kubeconfig = PathBuf::from(kubeconfig);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let client = runtime
            .block_on(cluster::connect(&kubeconfig))
            .unwrap_or_else(|e| panic!("{KUBECONFIG_ENV}: {e:#}"));
        let namespace = format!("{NAMESPACE_PREFIX}{company}");
        runtime
            .block_on(cluster::remove_namespace(
                &client,
                &namespace,
                STALE_NAMESPACE_LIMIT,
            ))
            .unwrap_or_else(|e| panic!("{e:#}"));
        let dir =
            std::env::temp_dir().join(format!("leasebox-e2e-{company}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        Some(Case {
            company: company.to_string(),
            namespace,
            kubeconfig,
            dir,
            configs: Cell::new(0),
            reconciler: None,
            client,
            runtime,
            _serial: serial,
        })
    }

    /// The test's own directory (removed with the case).
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// The kubeconfig the CLI is run with.
    pub fn kubeconfig(&self) -> &std::path::Path {
        &self.kubeconfig
    }

    /// A kube client for checks of the test's own.
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// Runs `future` (kube reads of the test) to its end.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// The runtime of [`Case::block_on`], for guards that clean up in
    /// `Drop` (drop them before the case).
    pub fn handle(&self) -> tokio::runtime::Handle {
        self.runtime.handle().clone()
    }

    /// Starts the stand-in agent-sandbox controller for this namespace.
    pub fn start_reconciler(&mut self) {
        self.reconciler = Some(Reconciler::spawn(
            &self.runtime,
            self.client.clone(),
            &self.namespace,
        ));
    }

    /// Writes the base configuration with `overrides` merged in (JSON
    /// merge patch: `null` removes a field) and the kubeconfig set; returns
    /// its path.
    pub fn config(&self, overrides: Value) -> PathBuf {
        self.config_for(overrides, &self.kubeconfig)
    }

    /// [`Case::config`] with the configuration's `kubeconfig` set to
    /// `kubeconfig` (e.g. the fault proxy's).
    pub fn config_for(&self, overrides: Value, kubeconfig: &Path) -> PathBuf {
        let mut config: Value =
            serde_json::from_str(BASE_CONFIG).expect("configs/base.json is JSON");
        merge(&mut config, &overrides);
        config["kubeconfig"] = Value::String(kubeconfig.display().to_string());
        let n = self.configs.get() + 1;
        self.configs.set(n);
        let path = self.dir.join(format!("config-{n}.json"));
        let text = serde_json::to_string_pretty(&config).expect("a JSON value serialises");
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }

    /// Writes `text` to the file `name` in the test's own directory;
    /// returns its path.
    pub fn write_file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }

    /// Runs `leasebox <args>` without stdin.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_with(args, None, CLI_LIMIT)
    }

    /// Runs `leasebox <args>` with `stdin` and a limit.
    pub fn cli_with(&self, args: &[&str], stdin: Option<Vec<u8>>, limit: Duration) -> Output {
        self.cli_env(args, &[], stdin, limit)
    }

    /// Runs `leasebox <args>` with `env` added to its environment, `stdin`
    /// and a limit.
    pub fn cli_env(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
        stdin: Option<Vec<u8>>,
        limit: Duration,
    ) -> Output {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        cli::run_with_env(&self.kubeconfig, &args, env, stdin, limit)
    }

    /// Starts `leasebox <args>` in the background, to be interrupted.
    pub fn spawn(&self, args: &[&str]) -> cli::Running {
        cli::spawn(&self.kubeconfig, args)
    }

    /// The arguments of `acquire --config <config> --company-id <company>
    /// [-- command]`.
    pub fn acquire_args(&self, config: &Path, command: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = [
            "acquire",
            "--config",
            &config.display().to_string(),
            "--company-id",
            &self.company,
            "--run-id",
            "e2e-run",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        if !command.is_empty() {
            args.push("--".to_string());
            args.extend(command.iter().map(|a| a.to_string()));
        }
        args
    }

    /// `acquire --config <config> --company-id <company> [-- command]`,
    /// without checking the outcome.
    pub fn try_acquire(&self, config: &Path, command: &[&str]) -> Output {
        self.try_acquire_env(config, command, &[])
    }

    /// [`Case::try_acquire`] with `env` added to the binary's environment.
    pub fn try_acquire_env(&self, config: &Path, command: &[&str], env: &[(&str, &str)]) -> Output {
        let args = self.acquire_args(config, command);
        cli::run_with_env(&self.kubeconfig, &args, env, None, CLI_LIMIT)
    }

    /// Acquires a lease and checks the answer: exit 0, the lease JSON, in
    /// this test's namespace.
    pub fn acquire(&self, config: &Path, command: &[&str]) -> Lease {
        self.lease_of(&self.try_acquire(config, command))
    }

    /// [`Case::acquire`] with `env` added to the binary's environment.
    pub fn acquire_env(&self, config: &Path, command: &[&str], env: &[(&str, &str)]) -> Lease {
        self.lease_of(&self.try_acquire_env(config, command, env))
    }

    /// Checks an `acquire` run: exit 0, the lease JSON, in this test's
    /// namespace.
    pub fn lease_of(&self, output: &Output) -> Lease {
        output.assert_code(0);
        let lease = Lease::parse(output.json(), output);
        assert_eq!(
            lease.namespace,
            self.namespace,
            "lease namespace\n{}",
            output.describe()
        );
        assert!(lease.id.starts_with("lb-"), "lease id {:?}", lease.id);
        lease
    }

    /// `exec --lease <id> --namespace <ns> <args>`.
    pub fn exec(&self, lease: &Lease, args: &[&str]) -> Output {
        self.exec_with(lease, args, None, CLI_LIMIT)
    }

    /// `exec` with stdin and a limit.
    pub fn exec_with(
        &self,
        lease: &Lease,
        args: &[&str],
        stdin: Option<Vec<u8>>,
        limit: Duration,
    ) -> Output {
        let mut full = vec![
            "exec",
            "--lease",
            lease.id.as_str(),
            "--namespace",
            lease.namespace.as_str(),
        ];
        full.extend_from_slice(args);
        self.cli_with(&full, stdin, limit)
    }

    /// `release --lease <id> --namespace <ns>`, checked: exit 0 and a JSON
    /// report, which is returned.
    pub fn release(&self, lease: &Lease) -> Value {
        let output = self.cli(&[
            "release",
            "--lease",
            lease.id.as_str(),
            "--namespace",
            lease.namespace.as_str(),
        ]);
        output.assert_code(0);
        output.json()
    }

    /// The check every test ends with: no leasebox lease object (pod, job,
    /// sandbox, secret, PVC) is left in the namespace. The failure says of
    /// each object whether leasebox deleted it (it is then the kubelet's or
    /// the collector's that it is still there).
    pub fn assert_no_lease_objects(&self) {
        let left = self
            .block_on(cluster::wait_no_lease_objects(
                &self.client,
                &self.namespace,
                GONE_LIMIT,
            ))
            .unwrap_or_else(|e| panic!("{e:#}"));
        let undeleted: Vec<_> = left.iter().filter(|o| !o.deleted()).collect();
        assert!(
            left.is_empty(),
            "leasebox objects left in {} after {GONE_LIMIT:?}: {left:?}; \
             not deleted by leasebox: {undeleted:?}",
            self.namespace
        );
    }

    /// Ends the test: asserts that no lease object is left (the namespace
    /// is deleted when the case is dropped).
    pub fn finish(self) {
        self.assert_no_lease_objects();
    }
}

impl Drop for Case {
    fn drop(&mut self) {
        self.reconciler = None;
        if let Err(e) = self.block_on(cluster::delete_namespace(&self.client, &self.namespace)) {
            eprintln!("cleanup: {e:#}");
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// JSON merge patch (RFC 7386) of `patch` into `target`.
fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    let Value::Object(object) = target else {
        return;
    };
    for (key, value) in patch {
        if value.is_null() {
            object.remove(key);
        } else {
            merge(object.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}
