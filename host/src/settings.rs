//! Host settings: what the operator decides, never the policy configuration.
//!
//! Three parties, in order of trust: the operator (this file, flags and the
//! environment of the host), the configuration (edited by platform users),
//! the policy module (swappable code). The settings fix the ceiling of what
//! the other two may do: the namespace fence, the host secret keys a module
//! may ask for, the limits of every guest call, and the cluster connection.
//! The host never reads the policy configuration to decide any of this.
//!
//! The file is YAML (camelCase keys, unknown keys are an error):
//!
//! ```yaml
//! fence:
//!   namespacePrefix: leasebox-      # tenant namespaces must start with it
//! secrets:
//!   hostKeys: [ANTHROPIC_API_KEY]   # default: the built-in adapters' keys
//! guest:
//!   memoryMiB: 64                   # linear memory cap of a module
//!   cpuDeadlineMs: 5000             # guest CPU time of one call
//!   callTimeoutSec: 900             # wall clock of one call (acquire, release, ...)
//!   execTimeoutSec: 86400           # wall clock of one execute / upload
//!   parallelCalls: 2                # calls running module code at once, oldest
//!                                   # first (default: one per core; 0: no limit)
//! cluster:
//!   kubeconfig: /etc/leasebox/kubeconfig
//!   context: prod
//! serve:
//!   sweepIntervalSec: 60            # the elected replica sweeps this often (0: never)
//!   watchLingerSec: 30              # a shared watch stays open this long after its
//!                                   # last wait (0: closes with it)
//!   leaderElection:                 # the coordination.k8s.io/v1 Lease that elects it
//!     namespace: leasebox-system
//!     leaseName: leasebox-sweep
//!     leaseDurationSec: 15
//!   moduleDir: /var/lib/leasebox/modules  # where a client's policy.reload may load from
//!   reload:
//!     fromClients: false            # true: policy.reload may name a file in moduleDir
//! ```
//!
//! Where it is read from: `--settings FILE`, else `$LEASEBOX_SETTINGS`, else
//! [`DEFAULT_SETTINGS_PATH`] when that file exists, else the defaults.
//! Flags override the file.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod file;
mod reload;

use file::{File, PoolsFile, ServeFile};
pub use reload::{ReloadRefused, ReloadSettings};

/// Environment variable naming the settings file.
pub const SETTINGS_ENV: &str = "LEASEBOX_SETTINGS";

/// Settings file read when neither `--settings` nor [`SETTINGS_ENV`] names
/// one (and only if it exists).
pub const DEFAULT_SETTINGS_PATH: &str = "/etc/leasebox/settings.yaml";

/// Default namespace fence: tenant namespaces start with it.
pub const DEFAULT_NAMESPACE_PREFIX: &str = "leasebox-";

/// The host keys of the built-in adapters (`claude_local`, `codex_local`,
/// `gemini_local`, `cursor_local`, `opencode_local`, `pi_local`): what a
/// module may ask the host to fill when the operator names no keys. A test
/// checks this against the default policy's adapter table.
pub const BUILTIN_ADAPTER_KEYS: &[&str] = &[
    "ANTHROPIC_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "OPENAI_API_KEY",
    "OPENROUTER_API_KEY",
];

/// Default linear memory cap of a module: 64 MiB.
pub const DEFAULT_MEMORY_MIB: u32 = 64;

/// Default guest CPU time of one call: 5 s (time spent in host I/O does not
/// count).
pub const DEFAULT_CPU_DEADLINE_MS: u64 = 5_000;

/// Default wall-clock ceiling of one lifecycle call other than execute
/// (acquire, release, probe, sweep, ...): 15 minutes, host I/O included.
pub const DEFAULT_CALL_TIMEOUT_SEC: u64 = 900;

/// Default wall-clock ceiling of one execute or upload: 24 hours.
pub const DEFAULT_EXEC_TIMEOUT_SEC: u64 = 86_400;

/// Default interval of `serve`'s background sweep: a minute.
pub const DEFAULT_SWEEP_INTERVAL_SEC: u64 = 60;

/// Default of `serve.watchLingerSec`.
pub const DEFAULT_WATCH_LINGER_SEC: u64 = 30;

/// The longest `serve.watchLingerSec` may be.
const MAX_WATCH_LINGER_SEC: u64 = 3600;

/// Default namespace of the Lease that elects the sweeping replica.
pub const DEFAULT_LEADER_NAMESPACE: &str = "leasebox-system";

/// Default name of that Lease.
pub const DEFAULT_LEADER_LEASE_NAME: &str = "leasebox-sweep";

/// Default duration of that Lease: a replica that has not renewed it for
/// this long loses it to the next one that asks.
pub const DEFAULT_LEADER_LEASE_DURATION_SEC: u64 = 15;

/// Largest accepted memory cap (the host's own memory is the real bound).
const MAX_MEMORY_MIB: u32 = 4096;

/// Why the settings could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file could not be read.
    #[error(
        "failed to read the host settings file {path}: {source}; fix the path given by --settings or {SETTINGS_ENV}"
    )]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid settings YAML.
    #[error("the host settings file {path} is invalid: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong, with the field.
        message: String,
    },
    /// A value breaks a rule.
    #[error("host settings: `{field}` {message}")]
    Invalid {
        /// The field (`fence.namespacePrefix`, ...).
        field: &'static str,
        /// The rule and the fix.
        message: String,
    },
}

/// Values given on the command line; each replaces the file's.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Overrides {
    /// `--namespace-prefix`.
    pub namespace_prefix: Option<String>,
    /// `--host-secret-key` (repeatable): the whole list.
    pub host_keys: Option<Vec<String>>,
    /// `--kubeconfig`.
    pub kubeconfig: Option<PathBuf>,
    /// `--context`.
    pub context: Option<String>,
}

/// Limits of every guest call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestSettings {
    /// Linear memory cap, bytes.
    pub memory_cap_bytes: usize,
    /// Guest CPU time of one call.
    pub cpu_deadline: Duration,
    /// Wall-clock ceiling of a lifecycle call other than execute.
    pub call_timeout: Duration,
    /// Wall-clock ceiling of an execute or upload.
    pub exec_timeout: Duration,
    /// Calls that may run module code at once, oldest first (`usize::MAX`:
    /// no limit); see [`Admission`](crate::runtime::Admission).
    pub parallel_calls: usize,
}

/// How the host reaches the cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterSettings {
    /// Kubeconfig file; none: `KUBECONFIG`, `~/.kube/config`, in-cluster.
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context; none: its current context.
    pub context: Option<String>,
}

/// What `leasebox serve` does in the background.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeSettings {
    /// How often the elected replica sweeps expired leases; none: never.
    pub sweep_interval: Option<Duration>,
    /// How long a watch that waits share stays open after its last wait
    /// ([`crate::cluster::shared_watch`]).
    pub watch_linger: Duration,
    /// The Lease that elects the sweeping replica.
    pub leader: LeaderSettings,
    /// Whether a client's `policy.reload` may name a module file, and where.
    pub reload: ReloadSettings,
}

/// The `coordination.k8s.io/v1` Lease that elects one sweeping replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderSettings {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub lease_name: String,
    /// How long a holder that stopped renewing keeps it.
    pub lease_duration: Duration,
}

/// The largest `pools.maxPerTenant` and `pools.maxTotal`.
pub const MAX_POOL_PODS: u32 = 1000;

/// Warm pools (`pools`): how many unclaimed pool pods a tenant, and all
/// tenants together, may hold. Both 0 (the default): pools are off, and
/// every acquire starts its pod.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolSettings {
    /// Unclaimed pool pods one tenant may hold.
    pub max_per_tenant: u32,
    /// Unclaimed pool pods every tenant together may hold.
    pub max_total: u32,
}

impl PoolSettings {
    /// True when pools are on.
    pub fn enabled(&self) -> bool {
        self.max_per_tenant > 0 && self.max_total > 0
    }
}

/// The operator's settings, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSettings {
    /// Tenant namespaces must start with this prefix (`kube-*` and `default`
    /// are refused whatever it is).
    pub namespace_prefix: String,
    /// Host keys a module may ask the host to fill into a Secret.
    pub host_keys: Vec<String>,
    /// Namespaces outside the fence a lease's egress may reach, for server
    /// callbacks (`fence.callbackNamespaces`; default none).
    pub callback_namespaces: Vec<String>,
    /// Company ids the operator declares to be another company id
    /// (`fence.companyAliases`, alias -> company id): a call for an alias
    /// is a call for that company, so both reach one tenant namespace.
    /// Default none: company ids that map to one namespace are refused.
    pub company_aliases: BTreeMap<String, String>,
    /// Guest limits.
    pub guest: GuestSettings,
    /// Cluster connection.
    pub cluster: ClusterSettings,
    /// `serve`'s background work.
    pub serve: ServeSettings,
    /// Warm pools.
    pub pools: PoolSettings,
    /// The file the settings came from, if any.
    pub source: Option<PathBuf>,
}

impl Default for HostSettings {
    /// The documented defaults (no file, no flags).
    fn default() -> Self {
        HostSettings::from_file(File::default(), &Overrides::default(), None)
            .expect("the built-in defaults are valid settings")
    }
}

impl HostSettings {
    /// Reads the settings file chosen by `path` (`--settings`), else
    /// [`SETTINGS_ENV`], else [`DEFAULT_SETTINGS_PATH`] if it exists, and
    /// applies `overrides`.
    pub fn load(path: Option<&Path>, overrides: &Overrides) -> Result<HostSettings, SettingsError> {
        let env = std::env::var_os(SETTINGS_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let default = Path::new(DEFAULT_SETTINGS_PATH);
        let chosen = path
            .map(Path::to_path_buf)
            .or(env)
            .or_else(|| default.exists().then(|| default.to_path_buf()));
        match chosen {
            None => HostSettings::from_file(File::default(), overrides, None),
            Some(path) => {
                let text =
                    std::fs::read_to_string(&path).map_err(|source| SettingsError::Read {
                        path: path.display().to_string(),
                        source,
                    })?;
                HostSettings::parse(&text, overrides, Some(path))
            }
        }
    }

    /// Parses settings YAML (for `source`, named in errors).
    pub fn parse(
        text: &str,
        overrides: &Overrides,
        source: Option<PathBuf>,
    ) -> Result<HostSettings, SettingsError> {
        let name = source
            .as_ref()
            .map_or("(inline)".to_string(), |p| p.display().to_string());
        let file: File = if text.trim().is_empty() {
            File::default()
        } else {
            serde_yaml::from_str(text).map_err(|e| SettingsError::Parse {
                path: name,
                message: e.to_string(),
            })?
        };
        HostSettings::from_file(file, overrides, source)
    }

    fn from_file(
        file: File,
        overrides: &Overrides,
        source: Option<PathBuf>,
    ) -> Result<HostSettings, SettingsError> {
        let namespace_prefix = overrides
            .namespace_prefix
            .clone()
            .or(file.fence.namespace_prefix)
            .unwrap_or_else(|| DEFAULT_NAMESPACE_PREFIX.to_string());
        check_prefix(&namespace_prefix)?;
        let callback_namespaces = file.fence.callback_namespaces.unwrap_or_default();
        for namespace in &callback_namespaces {
            check_callback_namespace(namespace)?;
        }
        let company_aliases = file.fence.company_aliases.unwrap_or_default();
        if let Some((alias, _)) = company_aliases.iter().find(|(alias, company)| {
            alias.is_empty() || company.is_empty() || company_aliases.contains_key(company.as_str())
        }) {
            return Err(SettingsError::Invalid {
                field: "fence.companyAliases",
                message: format!(
                    "`{alias}`: an alias and its company id are non-empty, and an alias names a \
                     company id, not another alias"
                ),
            });
        }

        let host_keys = overrides
            .host_keys
            .clone()
            .or(file.secrets.host_keys)
            .unwrap_or_else(|| BUILTIN_ADAPTER_KEYS.iter().map(|k| k.to_string()).collect());
        for key in &host_keys {
            check_key(key)?;
        }

        let memory_mib = within(
            file.guest.memory_mib,
            DEFAULT_MEMORY_MIB,
            1..=MAX_MEMORY_MIB,
            "",
            "guest.memoryMiB",
        )?;
        let positive = |value: Option<u64>, default: u64, field: &'static str| match value {
            Some(0) => Err(SettingsError::Invalid {
                field,
                message: format!("is 0; use a positive number (default {default})"),
            }),
            other => Ok(other.unwrap_or(default)),
        };
        let cpu_ms = positive(
            file.guest.cpu_deadline_ms,
            DEFAULT_CPU_DEADLINE_MS,
            "guest.cpuDeadlineMs",
        )?;
        let call_sec = positive(
            file.guest.call_timeout_sec,
            DEFAULT_CALL_TIMEOUT_SEC,
            "guest.callTimeoutSec",
        )?;
        let exec_sec = positive(
            file.guest.exec_timeout_sec,
            DEFAULT_EXEC_TIMEOUT_SEC,
            "guest.execTimeoutSec",
        )?;

        let serve = serve_settings(file.serve)?;
        let pools = pool_settings(&file.pools)?;

        Ok(HostSettings {
            namespace_prefix,
            host_keys,
            callback_namespaces,
            company_aliases,
            guest: GuestSettings {
                memory_cap_bytes: (memory_mib as usize) << 20,
                cpu_deadline: Duration::from_millis(cpu_ms),
                call_timeout: Duration::from_secs(call_sec),
                exec_timeout: Duration::from_secs(exec_sec),
                parallel_calls: match file.guest.parallel_calls {
                    None => crate::runtime::Admission::cores(),
                    Some(0) => usize::MAX,
                    Some(n) => n,
                },
            },
            cluster: ClusterSettings {
                kubeconfig: overrides.kubeconfig.clone().or(file.cluster.kubeconfig),
                context: overrides.context.clone().or(file.cluster.context),
            },
            serve,
            pools,
            source,
        })
    }
}

/// The `pools` section: both caps 0 (off) or both positive, each at most
/// [`MAX_POOL_PODS`], the tenant's no more than the total.
fn pool_settings(file: &PoolsFile) -> Result<PoolSettings, SettingsError> {
    let per_tenant = within(
        file.max_per_tenant,
        0,
        0..=MAX_POOL_PODS,
        " pods",
        "pools.maxPerTenant",
    )?;
    let total = within(
        file.max_total,
        0,
        0..=MAX_POOL_PODS,
        " pods",
        "pools.maxTotal",
    )?;
    if per_tenant > 0 && total == 0 {
        return Err(SettingsError::Invalid {
            field: "pools.maxTotal",
            message: format!(
                "is 0 while pools.maxPerTenant is {per_tenant}: no pool pod could exist; set                  pools.maxTotal to at least {per_tenant}, or pools.maxPerTenant to 0 to keep                  pools off"
            ),
        });
    }
    if per_tenant > total {
        return Err(SettingsError::Invalid {
            field: "pools.maxPerTenant",
            message: format!(
                "is {per_tenant}, more than pools.maxTotal ({total}); lower it or raise                  pools.maxTotal"
            ),
        });
    }
    Ok(PoolSettings {
        max_per_tenant: per_tenant,
        max_total: total,
    })
}

/// The `serve` section: a DNS-label namespace and Lease name, a lease
/// duration of 2 s to 10 minutes, a watch linger of up to an hour.
fn serve_settings(file: ServeFile) -> Result<ServeSettings, SettingsError> {
    let leader = file.leader_election;
    let namespace = leader
        .namespace
        .unwrap_or_else(|| DEFAULT_LEADER_NAMESPACE.to_string());
    check_object_name(&namespace, "serve.leaderElection.namespace")?;
    let lease_name = leader
        .lease_name
        .unwrap_or_else(|| DEFAULT_LEADER_LEASE_NAME.to_string());
    check_object_name(&lease_name, "serve.leaderElection.leaseName")?;
    let duration = within(
        leader.lease_duration_sec,
        DEFAULT_LEADER_LEASE_DURATION_SEC,
        2..=600,
        " seconds",
        "serve.leaderElection.leaseDurationSec",
    )?;
    let interval = file
        .sweep_interval_sec
        .unwrap_or(DEFAULT_SWEEP_INTERVAL_SEC);
    let linger = within(
        file.watch_linger_sec,
        DEFAULT_WATCH_LINGER_SEC,
        0..=MAX_WATCH_LINGER_SEC,
        " seconds",
        "serve.watchLingerSec",
    )?;
    let reload = reload::reload_settings(file.reload, file.module_dir)?;
    Ok(ServeSettings {
        reload,
        sweep_interval: (interval > 0).then(|| Duration::from_secs(interval)),
        watch_linger: Duration::from_secs(linger),
        leader: LeaderSettings {
            namespace,
            lease_name,
            lease_duration: Duration::from_secs(duration),
        },
    })
}

/// `value` (`default` when unset), refused outside `range`, naming `field`;
/// `unit` follows the bounds in the message (" seconds").
fn within<T: Copy + PartialOrd + std::fmt::Display>(
    value: Option<T>,
    default: T,
    range: RangeInclusive<T>,
    unit: &str,
    field: &'static str,
) -> Result<T, SettingsError> {
    let value = value.unwrap_or(default);
    if range.contains(&value) {
        return Ok(value);
    }
    Err(SettingsError::Invalid {
        field,
        message: format!(
            "is {value}; use {} to {}{unit} (default {default})",
            range.start(),
            range.end()
        ),
    })
}

/// A Kubernetes object name usable as a namespace: 1-63 characters of
/// `a-z`, `0-9`, `-`, starting and ending with a letter or digit.
fn check_object_name(name: &str, field: &'static str) -> Result<(), SettingsError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(SettingsError::Invalid {
            field,
            message: format!(
                "is {name:?}; use 1-63 characters of a-z, 0-9 and '-', starting and ending \
                 with a letter or digit"
            ),
        })
    }
}

/// A namespace a server callback may reach: a DNS-1123 label.
fn check_callback_namespace(namespace: &str) -> Result<(), SettingsError> {
    let label = !namespace.is_empty()
        && namespace.len() <= 63
        && namespace
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !namespace.starts_with('-')
        && !namespace.ends_with('-');
    if label {
        Ok(())
    } else {
        Err(SettingsError::Invalid {
            field: "fence.callbackNamespaces",
            message: format!(
                "`{namespace}` is not a namespace name (a DNS-1123 label: 1-63 characters of \
                 a-z, 0-9 and '-', starting and ending with a letter or digit)"
            ),
        })
    }
}

/// A fence prefix: 1-32 characters of `a-z`, `0-9`, `-`, starting with a
/// letter or digit, and never one that reaches the system namespaces.
fn check_prefix(prefix: &str) -> Result<(), SettingsError> {
    let invalid = |message: String| SettingsError::Invalid {
        field: "fence.namespacePrefix",
        message,
    };
    let shape = !prefix.is_empty()
        && prefix.len() <= 32
        && prefix
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !prefix.starts_with('-');
    if !shape {
        return Err(invalid(format!(
            "is {prefix:?}; use 1-32 characters of a-z, 0-9 and '-', not starting with '-' \
             (default {DEFAULT_NAMESPACE_PREFIX:?})"
        )));
    }
    if prefix.starts_with("kube") || "default".starts_with(prefix) || prefix.starts_with("default")
    {
        return Err(invalid(format!(
            "is {prefix:?}, which reaches the system namespaces (`kube-*`, `default`); pick a \
             prefix of your own such as {DEFAULT_NAMESPACE_PREFIX:?}"
        )));
    }
    Ok(())
}

/// A host key: an environment variable name.
fn check_key(key: &str) -> Result<(), SettingsError> {
    let mut chars = key.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Ok(());
    }
    Err(SettingsError::Invalid {
        field: "secrets.hostKeys",
        message: format!(
            "contains {key:?}, which is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)"
        ),
    })
}

#[cfg(test)]
mod tests;
