//! What the commands that talk to a cluster share: the `--kubeconfig`,
//! `--context` and `--policy` flags, connecting (always through the
//! namespace guard), the call environment, and how a lease and a policy
//! refusal are printed.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use serde_json::{Value, json};

use super::exit::CliError;
use super::module::{PolicyArgs, read_config, stderr_logger};
use crate::cluster_io::{CallerIo, ClusterIo};
use crate::guard::GuardedCluster;
use crate::kube_client::KubeClusterIo;
use crate::runtime::types::{Backend, Lease, ObjectRef, PolicyError};
use crate::runtime::{CallEnv, DEFAULT_CPU_DEADLINE, Limits, Policy, RuntimeError};

/// Default tenant namespace prefix (the guard's fence when the configuration
/// names none).
const DEFAULT_PREFIX: &str = "leasebox-";

/// Environment variable naming the kubeconfig file(s).
const KUBECONFIG_ENV: &str = "KUBECONFIG";

/// The flags that choose the cluster and the policy module.
#[derive(Debug, Clone, clap::Args)]
pub struct ClusterArgs {
    /// The kubeconfig file; default: `KUBECONFIG`, then the configuration's
    /// `kubeconfig`, then the in-cluster service account.
    #[arg(long, value_name = "P")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context; default: its current context.
    #[arg(long, value_name = "C")]
    pub context: Option<String>,
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
    /// The configuration file (only its `namespacePrefix` and `kubeconfig`
    /// are used).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The cluster and the policy module.
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// Time `resume-lease` may take (a few lists), host I/O included.
const RESUME_BUDGET: Duration = Duration::from_secs(60);

impl LeaseTarget {
    /// Connects, and asks the module for the lease: the session, and the
    /// lease or the module's refusal (`lease-not-found`, ...).
    pub fn resume(&self) -> Result<(Session, Result<Lease, PolicyError>), CliError> {
        let config = optional_config(self.config.as_ref())?;
        let session = Session::open(&self.cluster, config.as_deref())?;
        let lease = session
            .policy
            .resume_lease(
                &session.env(RESUME_BUDGET),
                &self.lease,
                self.namespace.as_deref(),
            )
            .map_err(runtime_failed)?;
        Ok((session, lease))
    }
}

/// A loaded policy module and the guarded cluster it acts on.
#[derive(Clone)]
pub struct Session {
    /// The policy module.
    pub policy: Policy,
    /// The cluster, behind the namespace guard.
    pub cluster: Arc<dyn ClusterIo>,
}

impl Session {
    /// Loads the module and connects; `config` (JSON text) gives the
    /// namespace prefix and, when no flag or `KUBECONFIG` does, the cluster.
    pub fn open(args: &ClusterArgs, config: Option<&str>) -> Result<Session, CliError> {
        let config: Option<Value> = config.and_then(|text| serde_json::from_str(text).ok());
        let policy = args.policy.load()?;
        let inner = connect(args, config.as_ref())?;
        let cluster: Arc<dyn ClusterIo> = Arc::new(GuardedCluster::new(
            inner,
            namespace_prefix(config.as_ref()),
        ));
        Ok(Session { policy, cluster })
    }

    /// The environment of one call: the guarded cluster, the process's
    /// streams, the module's messages on stderr, the default guest CPU
    /// deadline, and `budget` as the overall (wall-clock, host I/O
    /// included) timeout of the call.
    pub fn env(&self, budget: Duration) -> CallEnv {
        CallEnv {
            cluster: self.cluster.clone(),
            caller: CallerIo::process(),
            logger: stderr_logger(),
            limits: Limits::with_cpu_deadline(DEFAULT_CPU_DEADLINE)
                .with_overall_timeout(budget.max(DEFAULT_CPU_DEADLINE)),
        }
    }
}

/// Reads `--config` when given.
pub fn optional_config(path: Option<&PathBuf>) -> Result<Option<String>, CliError> {
    path.map(|p| read_config(p)).transpose()
}

/// Where the cluster is, in order: `--kubeconfig`, `KUBECONFIG`, the
/// configuration's `kubeconfig` path, then kube-rs inference (in-cluster).
fn connect(args: &ClusterArgs, config: Option<&Value>) -> Result<Arc<dyn ClusterIo>, CliError> {
    let from_env = std::env::var(KUBECONFIG_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty());
    let from_config = config
        .and_then(|c| c.get("kubeconfig"))
        .and_then(Value::as_str);
    let (path, source) = if let Some(path) = &args.kubeconfig {
        (Some(path.clone()), "--kubeconfig".to_string())
    } else if let Some(value) = from_env {
        // Several files (`a:b`): let kube-rs merge them.
        let single = (!value.contains(':')).then(|| PathBuf::from(&value));
        (single, format!("KUBECONFIG={value}"))
    } else if let Some(value) = from_config {
        if value.contains('\n') {
            let client = KubeClusterIo::connect_inline(value, args.context.clone()).map_err(|e| {
                CliError::unusable(anyhow!(
                    "cannot connect to a cluster (using the configuration's inline kubeconfig): \
                     {e}; fix `kubeconfig` or pass --kubeconfig FILE"
                ))
            })?;
            return Ok(Arc::new(client));
        }
        (
            Some(PathBuf::from(value)),
            "the configuration's kubeconfig".to_string(),
        )
    } else {
        (
            None,
            "the in-cluster service account or ~/.kube/config".to_string(),
        )
    };
    let client = KubeClusterIo::connect(path, args.context.clone()).map_err(|e| {
        CliError::unusable(anyhow!(
            "cannot connect to a cluster (using {source}): {e}; pass --kubeconfig FILE or set \
             KUBECONFIG to a readable kubeconfig"
        ))
    })?;
    Ok(Arc::new(client))
}

/// The configuration's `namespacePrefix`, or the default.
fn namespace_prefix(config: Option<&Value>) -> String {
    config
        .and_then(|c| c.get("namespacePrefix"))
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_PREFIX)
        .to_string()
}

/// A runtime failure (trap, deadline, memory cap): exit 2.
pub fn runtime_failed(error: RuntimeError) -> CliError {
    CliError::unusable(error)
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
        PolicyError::Failed(failure) => {
            let mut text = format!(
                "{} failed ({}): {}",
                failure.step, failure.reason, failure.message
            );
            for (label, objects) in [
                ("rolled back", &failure.rolled_back),
                ("left behind", &failure.left_behind),
            ] {
                if !objects.is_empty() {
                    let names = objects.iter().map(object_name).collect::<Vec<_>>();
                    text.push_str(&format!("\n  {label}: {}", names.join(", ")));
                }
            }
            CliError::rejected(anyhow!(text))
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

/// An object as `{apiVersion,kind,namespace,name,uid}`.
pub fn object_json(object: &ObjectRef) -> Value {
    json!({
        "apiVersion": object.api_version,
        "kind": object.kind,
        "namespace": object.namespace,
        "name": object.name,
        "uid": object.uid,
    })
}

/// The lease as the JSON document `acquire` prints.
pub fn lease_json(lease: &Lease) -> Value {
    let backend = match lease.backend {
        Backend::SandboxCr => "sandbox-cr",
        Backend::Job => "job",
        Backend::Pod => "pod",
    };
    json!({
        "id": lease.id,
        "namespace": lease.namespace,
        "backend": backend,
        "pod": lease.pod,
        "container": lease.container,
        "secret": lease.secret,
        "workload": object_json(&lease.workload),
        "companyId": lease.company_id,
        "runId": lease.run_id,
        "adapterType": lease.adapter_type,
        "image": lease.image,
        "createdAt": lease.created_at,
        "expiresAt": lease.expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_defaults_when_the_configuration_names_none() {
        assert_eq!(
            namespace_prefix(Some(&json!({"inCluster": true}))),
            "leasebox-"
        );
        assert_eq!(namespace_prefix(None), "leasebox-");
    }

    #[test]
    fn prefix_comes_from_the_configuration() {
        assert_eq!(
            namespace_prefix(Some(&json!({"namespacePrefix": "acme-"}))),
            "acme-"
        );
    }
}
