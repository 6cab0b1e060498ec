//! What the fault tests share: the binary pointed at a fault proxy, the
//! line of stderr that names a failure, and the wait for what a failure
//! does not name to go.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::case::{CLI_LIMIT, Case};
use super::cli::{self, Output};
use super::cluster::{self, GONE_LIMIT, LeaseObject};
use super::fault_proxy::{FaultProxy, Rule};

/// A proxy in front of the case's cluster, the kubeconfig that names it,
/// and a configuration (the base one with `overrides` merged in) that uses
/// that kubeconfig.
pub struct Faulted {
    /// The proxy.
    pub proxy: FaultProxy,
    /// Kubeconfig pointing at the proxy.
    pub kubeconfig: PathBuf,
    /// Configuration pointing at the proxy.
    pub config: PathBuf,
}

impl Faulted {
    /// Starts a proxy for `case` with the configuration `overrides`.
    pub fn start(case: &Case, overrides: Value) -> Faulted {
        let proxy = FaultProxy::start(case.kubeconfig());
        let kubeconfig = case.write_file(
            &format!(
                "fault-proxy-{}.kubeconfig",
                proxy.url().rsplit(':').next().unwrap_or("0")
            ),
            &proxy.kubeconfig_yaml(),
        );
        let config = case.config_for(overrides, &kubeconfig);
        Faulted {
            proxy,
            kubeconfig,
            config,
        }
    }

    /// `leasebox <args>` through the proxy, with `stdin`.
    pub fn cli(&self, args: &[&str], stdin: Option<Vec<u8>>) -> Output {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        cli::run_with_env(&self.kubeconfig, &args, &[], stdin, CLI_LIMIT)
    }

    /// Arms `rules` (the proxy's records cleared first), runs `run`, and
    /// disarms them; prints each fault injected meanwhile, after `indent`.
    pub fn with_rules<T>(
        &self,
        rules: Vec<Rule>,
        indent: &str,
        run: impl FnOnce() -> T,
    ) -> (T, Armed) {
        self.proxy.clear_records();
        self.proxy.set_rules(rules);
        let output = run();
        let unfired = self.proxy.unfired();
        self.proxy.set_rules(Vec::new());
        let injected: Vec<String> = self
            .proxy
            .injected()
            .iter()
            .map(ToString::to_string)
            .collect();
        for line in &injected {
            eprintln!("{indent}injected: {line}");
        }
        (output, Armed { injected, unfired })
    }

    /// `acquire` of `case` through the proxy.
    pub fn acquire(&self, case: &Case) -> Output {
        let args = case.acquire_args(&self.config, &[]);
        cli::run_with_env(&self.kubeconfig, &args, &[], None, CLI_LIMIT)
    }
}

/// What the proxy did while rules were armed ([`Faulted::with_rules`]).
pub struct Armed {
    /// Each fault injected, as printed.
    pub injected: Vec<String>,
    /// The rules that never fired.
    pub unfired: Vec<String>,
}

/// The last line of stderr that says what failed (`error...` or
/// `[error]...`), else its last line.
pub fn error_line(output: &Output) -> String {
    output
        .stderr
        .lines()
        .rev()
        .find(|l| l.starts_with("error") || l.starts_with("[error]"))
        .or_else(|| output.stderr.lines().last())
        .unwrap_or("")
        .to_string()
}

/// `exec --lease <id> --namespace <ns> <args>` arguments.
pub fn exec_args<'a>(id: &'a str, namespace: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["exec", "--lease", id, "--namespace", namespace];
    args.extend_from_slice(rest);
    args
}

/// The objects of `left` (`Kind/name`) whose name `text` does not
/// mention as a whole word (letters, digits and `-`).
pub fn unnamed<'a>(left: &'a [LeaseObject], text: &str) -> Vec<&'a LeaseObject> {
    left.iter()
        .filter(|object| {
            let name = object
                .name
                .split_once('/')
                .map(|(_, n)| n)
                .unwrap_or(&object.name);
            !text
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .any(|word| word == name)
        })
        .collect()
}

/// How often the objects left are looked at meanwhile.
const SETTLE_POLL: Duration = Duration::from_millis(250);

/// The objects of `lease` left once every one that `text` does not name
/// has gone, or once [`GONE_LIMIT`] has passed (what a failed release or
/// sweep did delete may take that long to go, its dependents with it).
pub fn left_once_unnamed_gone(
    case: &Case,
    namespace: &str,
    lease: &str,
    text: &str,
) -> Vec<LeaseObject> {
    let until = Instant::now() + GONE_LIMIT;
    loop {
        let left = case
            .block_on(cluster::objects_of_lease(&case.client(), namespace, lease))
            .unwrap_or_else(|e| panic!("{e:#}"));
        if unnamed(&left, text).is_empty() || Instant::now() > until {
            return left;
        }
        std::thread::sleep(SETTLE_POLL);
    }
}
