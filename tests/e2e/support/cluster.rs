//! Reading and cleaning the cluster with kube-rs, independently of the
//! binary under test: which leasebox objects are left, and the test
//! namespaces.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Namespace, PersistentVolumeClaim, Pod, Secret};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::GroupVersionKind;
use kube::{Client, Resource};
use serde::de::DeserializeOwned;

/// Label selector of every object leasebox makes.
pub const MANAGED_BY_LEASEBOX: &str = "app.kubernetes.io/managed-by=leasebox";

/// Label every lease object carries (its value: the lease id).
pub const LEASE_LABEL: &str = "leasebox.dev/lease";

/// How long a released lease's owned dependents (its egress policy) may
/// take to go: the pod's stop (5 s grace), the kubelet's final status
/// write (rate-limited to 5 requests a second by default, so it queues
/// behind other pods' writes on a busy node), then the garbage collector,
/// which backs off on a busy single-node control plane. 30 s was once
/// missed in CI with the collector retrying another object; with 60 s, a
/// test waiting on it failed once in a clean-clone CI rehearsal whose
/// message was lost with its machine (so the egress test now says which
/// step lagged).
pub const GC_LIMIT: Duration = Duration::from_secs(120);

/// How often a condition on the cluster is checked again.
const POLL: Duration = Duration::from_millis(250);

/// The agent-sandbox `Sandbox` resource leasebox writes.
pub fn sandbox_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("agents.x-k8s.io", "v1beta1", "Sandbox"),
        "sandboxes",
    )
}

/// A client for the cluster of the kubeconfig at `path`.
pub async fn connect(path: &Path) -> anyhow::Result<Client> {
    let kubeconfig = Kubeconfig::read_from(path)
        .with_context(|| format!("failed to read the kubeconfig {}", path.display()))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .with_context(|| format!("failed to use the kubeconfig {}", path.display()))?;
    Client::try_from(config).context("failed to build a kube client")
}

/// True when the error is the apiserver's 404.
pub fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.is_not_found())
}

async fn names<K>(api: Api<K>, kind: &str) -> anyhow::Result<Vec<String>>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let list = api
        .list(&ListParams::default().labels(MANAGED_BY_LEASEBOX))
        .await
        .with_context(|| format!("failed to list {kind} objects"))?;
    Ok(list
        .items
        .iter()
        .map(|o| format!("{kind}/{}", o.meta().name.clone().unwrap_or_default()))
        .collect())
}

/// Every leasebox lease object (pods, jobs, sandboxes, secrets, PVCs, the
/// per-lease egress NetworkPolicies) in `namespace`, as `Kind/name`.
pub async fn lease_objects(client: &Client, namespace: &str) -> anyhow::Result<Vec<String>> {
    let mut found = Vec::new();
    // The tenant's deny-all carries no lease label; a lease's policy does.
    let policies = Api::<NetworkPolicy>::namespaced(client.clone(), namespace)
        .list(&ListParams::default().labels(&format!("{MANAGED_BY_LEASEBOX},{LEASE_LABEL}")))
        .await
        .context("failed to list NetworkPolicy objects")?;
    found.extend(policies.items.iter().map(|p| {
        format!(
            "NetworkPolicy/{}",
            p.metadata.name.clone().unwrap_or_default()
        )
    }));
    found.extend(names(Api::<Pod>::namespaced(client.clone(), namespace), "Pod").await?);
    found.extend(names(Api::<Job>::namespaced(client.clone(), namespace), "Job").await?);
    found.extend(
        names(
            Api::<Secret>::namespaced(client.clone(), namespace),
            "Secret",
        )
        .await?,
    );
    found.extend(
        names(
            Api::<PersistentVolumeClaim>::namespaced(client.clone(), namespace),
            "PersistentVolumeClaim",
        )
        .await?,
    );
    found.extend(
        names(
            Api::<DynamicObject>::namespaced_with(client.clone(), namespace, &sandbox_resource()),
            "Sandbox",
        )
        .await?,
    );
    Ok(found)
}

/// Waits until `namespace` holds no lease object; returns what is still
/// there after `limit`.
pub async fn wait_no_lease_objects(
    client: &Client,
    namespace: &str,
    limit: Duration,
) -> anyhow::Result<Vec<String>> {
    let started = Instant::now();
    loop {
        let left = lease_objects(client, namespace).await?;
        if left.is_empty() || started.elapsed() > limit {
            return Ok(left);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until `check` returns true; false after `limit`.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return true;
        }
        if started.elapsed() > limit {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Starts deleting `namespace` (absent is fine).
pub async fn delete_namespace(client: &Client, namespace: &str) -> anyhow::Result<()> {
    let api = Api::<Namespace>::all(client.clone());
    match api.delete(namespace, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(e).with_context(|| format!("failed to delete namespace {namespace}")),
    }
}

/// Deletes `namespace` when it exists and waits until it is gone, so a
/// test starts without objects of an earlier run.
pub async fn remove_namespace(
    client: &Client,
    namespace: &str,
    limit: Duration,
) -> anyhow::Result<()> {
    let api = Api::<Namespace>::all(client.clone());
    if api.get_opt(namespace).await?.is_none() {
        return Ok(());
    }
    delete_namespace(client, namespace).await?;
    let gone = eventually(limit, || async {
        matches!(api.get_opt(namespace).await, Ok(None))
    })
    .await;
    anyhow::ensure!(
        gone,
        "namespace {namespace} of an earlier run is still there after {limit:?}; delete it by hand"
    );
    Ok(())
}

/// How a command run straight on the cluster (kube-rs exec, not leasebox)
/// ended.
#[derive(Debug, Clone)]
pub struct DirectExec {
    /// Everything the command wrote to stdout.
    pub stdout: String,
    /// The exit code from the API server's status (0 for `Success`);
    /// `None` when no status arrived or it named no code.
    pub code: Option<i32>,
}

/// Runs `argv` in `pod`/`container` straight on the cluster, without stdin,
/// and waits up to `limit` for its end.
pub async fn exec_in_pod(
    client: &Client,
    namespace: &str,
    pod: &str,
    container: &str,
    argv: &[&str],
    limit: Duration,
) -> anyhow::Result<DirectExec> {
    use kube::api::AttachParams;
    use tokio::io::AsyncReadExt;

    let pods = Api::<Pod>::namespaced(client.clone(), namespace);
    let params = AttachParams::default()
        .container(container)
        .stdin(false)
        .stdout(true)
        .stderr(false);
    let run = async {
        let mut process = pods
            .exec(pod, argv.iter().copied(), &params)
            .await
            .with_context(|| format!("failed to exec {argv:?} in {namespace}/{pod}"))?;
        let status = process.take_status();
        let mut stdout = String::new();
        if let Some(mut out) = process.stdout() {
            out.read_to_string(&mut stdout)
                .await
                .context("failed to read the exec's stdout")?;
        }
        let status = match status {
            Some(status) => status.await,
            None => None,
        };
        let code = status.and_then(|s| {
            if s.status.as_deref() == Some("Success") {
                return Some(0);
            }
            s.details
                .and_then(|d| d.causes)
                .unwrap_or_default()
                .iter()
                .find(|c| c.reason.as_deref() == Some("ExitCode"))
                .and_then(|c| c.message.as_deref()?.parse().ok())
        });
        anyhow::Ok(DirectExec { stdout, code })
    };
    tokio::time::timeout(limit, run)
        .await
        .with_context(|| format!("exec {argv:?} in {namespace}/{pod} did not end in {limit:?}"))?
}

/// The lease objects (as [`lease_objects`]) whose name contains `lease`.
pub async fn objects_of_lease(
    client: &Client,
    namespace: &str,
    lease: &str,
) -> anyhow::Result<Vec<String>> {
    Ok(lease_objects(client, namespace)
        .await?
        .into_iter()
        .filter(|o| o.contains(lease))
        .collect())
}

/// Waits until no object of `lease` is left; returns what is still there
/// after `limit`.
pub async fn wait_lease_gone(
    client: &Client,
    namespace: &str,
    lease: &str,
    limit: Duration,
) -> anyhow::Result<Vec<String>> {
    let started = Instant::now();
    loop {
        let left = objects_of_lease(client, namespace, lease).await?;
        if left.is_empty() || started.elapsed() > limit {
            return Ok(left);
        }
        tokio::time::sleep(POLL).await;
    }
}
