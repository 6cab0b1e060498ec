//! What the commands that talk to a cluster share: the host settings and
//! the flags that override them, the `--policy` flag, connecting (always
//! through the capability guard), the call environment, and how a lease and
//! a policy refusal are printed.
//!
//! Nothing here reads the policy configuration: the fence, the host keys,
//! the guest limits and the cluster come from the operator (settings file,
//! flags, environment).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::anyhow;

use super::exit::CliError;
use super::module::{PolicyArgs, stderr_logger};
use crate::cluster::grants::Grants;
use crate::cluster::guard::{Audit, GuardedCluster};
use crate::cluster::io::{CallerIo, ClusterIo};
use crate::cluster::kube_client::KubeClusterIo;
use crate::contract::{Failure, Lease, ObjectRef, PolicyError};
use crate::lifecycle::{CallContext, Lifecycle, LifecycleError, Loaded, Target};
use crate::runtime::{Cancel, RuntimeError};
use crate::settings::{HostSettings, Overrides};

/// The operator's settings and the flags that override them.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SettingsArgs {
    /// The host settings file (YAML); default: `LEASEBOX_SETTINGS`, then
    /// `/etc/leasebox/settings.yaml` when it exists.
    #[arg(long, value_name = "FILE")]
    pub settings: Option<PathBuf>,
    /// The namespace fence: tenant namespaces must start with this prefix
    /// (overrides `fence.namespacePrefix`; default `leasebox-`).
    #[arg(long, value_name = "PREFIX")]
    pub namespace_prefix: Option<String>,
    /// A host key a module may ask the host to fill (repeatable; replaces
    /// `secrets.hostKeys`; default: the built-in adapters' keys).
    #[arg(long = "host-secret-key", value_name = "KEY")]
    pub host_secret_keys: Vec<String>,
    /// The kubeconfig file; default: `cluster.kubeconfig`, then
    /// `KUBECONFIG`, then the in-cluster service account.
    #[arg(long, value_name = "P")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context; default: `cluster.context`, then its current
    /// context.
    #[arg(long, value_name = "C")]
    pub context: Option<String>,
}

impl SettingsArgs {
    /// The settings: the file, overridden by the flags.
    pub fn load(&self) -> Result<HostSettings, CliError> {
        let overrides = Overrides {
            namespace_prefix: self.namespace_prefix.clone(),
            host_keys: (!self.host_secret_keys.is_empty()).then(|| self.host_secret_keys.clone()),
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
        };
        HostSettings::load(self.settings.as_deref(), &overrides).map_err(CliError::unusable)
    }
}

/// The flags that choose the host settings, the cluster and the policy
/// module.
#[derive(Debug, Clone, clap::Args)]
pub struct ClusterArgs {
    /// Host settings and their overrides.
    #[command(flatten)]
    pub host: SettingsArgs,
    /// Which policy module to run.
    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// Which lease a command acts on: found again by its id alone, from any
/// process (`resume-lease`).
#[derive(Debug, Clone, clap::Args)]
pub struct LeaseTarget {
    /// The lease id.
    #[arg(long, value_name = "ID")]
    pub lease: String,
    /// The lease's namespace; default: looked up by the lease id.
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
    /// The cluster and the policy module.
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

impl LeaseTarget {
    /// The lease this names, for the lifecycle.
    pub fn target(&self) -> Target {
        Target {
            lease_id: self.lease.clone(),
            namespace: self.namespace.clone(),
        }
    }

    /// Connects, and asks the module for the lease: the session, and the
    /// lease or why there is none (`lease-not-found`, ...).
    pub fn resume(&self) -> Result<(Session, Result<Lease, LifecycleError>), CliError> {
        let session = Session::open(&self.cluster)?;
        let lease = session
            .lifecycle()
            .resume(&session.context(), &self.target());
        Ok((session, lease))
    }
}

/// A loaded policy module with the guarded cluster it acts on, and the
/// operator's settings: what the lifecycle runs on.
#[derive(Clone)]
pub struct Session {
    /// The policy module and its guard.
    pub loaded: Loaded,
    /// The operator's settings.
    pub settings: HostSettings,
    /// Cancels the call in flight (Ctrl-C); shared by every call of the
    /// session.
    pub cancel: Cancel,
}

impl Session {
    /// Loads the settings and the module, and connects through the guard.
    pub fn open(args: &ClusterArgs) -> Result<Session, CliError> {
        let settings = args.host.load()?;
        let policy = args.policy.load()?;
        let inner = connect(&settings)?;
        let sink = stderr_logger();
        let audit = Audit::new(
            policy.sha256(),
            Arc::default(),
            Arc::new(move |line| sink(crate::contract::LogLevel::Warn, "guard", line)),
        );
        let guard = GuardedCluster::new(inner, Arc::new(Grants::from_settings(&settings)), audit);
        Ok(Session {
            loaded: Loaded {
                policy,
                guard: Some(guard),
            },
            settings,
            cancel: Cancel::new(),
        })
    }

    /// The module alone, no cluster and no settings file: for validate,
    /// schema and plan, which reach no cluster.
    pub fn offline(policy: &PolicyArgs) -> Result<Session, CliError> {
        Ok(Session {
            loaded: Loaded {
                policy: policy.load()?,
                guard: None,
            },
            settings: HostSettings::default(),
            cancel: Cancel::new(),
        })
    }

    /// The same session with a cancellation flag of its own: for the
    /// release that follows a cancelled call.
    pub fn uncancelled(&self) -> Session {
        Session {
            cancel: Cancel::new(),
            ..self.clone()
        }
    }

    /// The lifecycle calls of this module, cluster and settings.
    pub fn lifecycle(&self) -> Lifecycle<'_> {
        Lifecycle::new(&self.loaded, &self.settings)
    }

    /// A call from this process: its streams, the module's messages on
    /// stderr, the session's cancellation.
    pub fn context(&self) -> CallContext {
        CallContext {
            cancel: self.cancel.clone(),
            caller: CallerIo::process(),
            logger: stderr_logger(),
        }
    }
}

/// Connects to the cluster the settings name: the kubeconfig and context of
/// the settings (or their flags), else `KUBECONFIG`, `~/.kube/config` or the
/// in-cluster service account. Only reads the configuration: no request is
/// made yet.
pub(super) fn connect(settings: &HostSettings) -> Result<Arc<dyn ClusterIo>, CliError> {
    Ok(Arc::new(connect_kube(settings)?))
}

/// [`connect`], as the kube-rs client itself (for `serve`, which also
/// elects its sweep leader with it).
pub(super) fn connect_kube(settings: &HostSettings) -> Result<KubeClusterIo, CliError> {
    let cluster = &settings.cluster;
    let source = match &cluster.kubeconfig {
        Some(path) => format!("kubeconfig {}", path.display()),
        None => match std::env::var("KUBECONFIG") {
            Ok(value) if !value.trim().is_empty() => format!("KUBECONFIG={value}"),
            _ => "the in-cluster service account or ~/.kube/config".to_string(),
        },
    };
    let client = KubeClusterIo::connect(cluster.kubeconfig.clone(), cluster.context.clone())
        .map_err(|e| {
            CliError::unusable(anyhow!(
                "cannot connect to a cluster (using {source}): {}; pass --kubeconfig FILE, \
                     set cluster.kubeconfig in the host settings, or set KUBECONFIG",
                e.describe()
            ))
        })?;
    Ok(client)
}

/// A lifecycle error as the CLI's: a runtime failure (trap, deadline,
/// memory cap) exits 2, a cancelled call that ran out of its grace period
/// 130, a refusal as [`refused`] says.
pub fn failed(error: LifecycleError) -> CliError {
    match error {
        LifecycleError::Policy(refusal) => refused(*refusal),
        LifecycleError::Runtime(RuntimeError::Cancelled { .. }) => CliError::interrupted(error),
        other => CliError::unusable(other),
    }
}

/// A policy refusal as an error: exit 2 for a bad request, 1 otherwise;
/// a failed step lists what was rolled back and what was left behind.
pub fn refused(error: PolicyError) -> CliError {
    match error {
        PolicyError::BadRequest(message) => CliError::unusable(anyhow!("bad request: {message}")),
        PolicyError::InvalidConfig(issues) => CliError::rejected(anyhow!(
            "invalid configuration: {}",
            issues
                .iter()
                .map(|i| format!("{}: {}", i.path, i.message))
                .collect::<Vec<_>>()
                .join("; ")
        )),
        PolicyError::NotAllowed(message) => CliError::rejected(anyhow!("not allowed: {message}")),
        PolicyError::LeaseNotFound(message) => {
            CliError::rejected(anyhow!("lease not found: {message}"))
        }
        PolicyError::Cancelled(failure) => {
            let mut text = format!("cancelled during {}: {}", failure.step, failure.message);
            append_objects(&mut text, &failure);
            CliError::interrupted(anyhow!(text))
        }
        PolicyError::Failed(failure) => {
            let mut text = format!(
                "{} failed ({}): {}",
                failure.step, failure.reason, failure.message
            );
            append_objects(&mut text, &failure);
            CliError::rejected(anyhow!(text))
        }
    }
}

/// The objects a failed or cancelled call rolled back and left behind, one
/// line each.
fn append_objects(text: &mut String, failure: &Failure) {
    for (label, objects) in [
        ("rolled back", &failure.rolled_back),
        ("left behind", &failure.left_behind),
    ] {
        if !objects.is_empty() {
            let names = objects.iter().map(object_name).collect::<Vec<_>>();
            text.push_str(&format!("\n  {label}: {}", names.join(", ")));
        }
    }
}

/// `Kind namespace/name` of an object.
pub fn object_name(object: &ObjectRef) -> String {
    match &object.namespace {
        Some(ns) => format!("{} {ns}/{}", object.kind, object.name),
        None => format!("{} {}", object.kind, object.name),
    }
}

pub use crate::contract::lease_json::to_json as lease_json;
