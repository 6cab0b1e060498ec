//! Reading and cleaning the cluster with kube-rs, independently of the
//! binary under test: which leasebox objects are left, and the test
//! namespaces.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Namespace, PersistentVolumeClaim, Pod, Secret};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::{GroupVersionKind, NamespaceResourceScope};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;

/// Label selector of every object leasebox makes.
pub const MANAGED_BY_LEASEBOX: &str = "app.kubernetes.io/managed-by=leasebox";

/// Label every lease object carries (its value: the lease id).
pub const LEASE_LABEL: &str = "leasebox.dev/lease";

/// How long a deleted lease object may take to disappear from the cluster
/// once leasebox has deleted it: the pod stops (5 s grace), the kubelet
/// removes its container and sandbox and writes its final status, then the
/// garbage collector removes the pod's egress policy.
///
/// The kubelet's part is slow at times. On this 1.20 node a deleted
/// leasebox pod went 5–16 s after its release in 14 of 16 timed runs and
/// stayed 47 s and 64 s in the other two, stopped (phase Failed) and with
/// its volumes unmounted: the kubelet had left its stopped sandbox to the
/// container garbage collection, which runs once a minute (containerd's
/// log: RemovePodSandbox 53 s after StopPodSandbox; the pod object went
/// 10 s later). It is the kubelet's, not leasebox's pod's: of 44 pods made
/// by kubectl (shared process namespace, 5 s grace, with and without
/// emptyDirs, `restartPolicy: Never`, an envFrom Secret), 43 went in 5–16 s
/// and one stayed 40 s. The kubelet's status writes are also
/// rate-limited (5 a second), and the collector backs off on a busy
/// control plane. 60 s was missed in CI this way; the limit is about twice
/// the worst run seen. What leasebox owes is checked apart from this wait:
/// see [`LeaseObject::deleted`].
pub const GONE_LIMIT: Duration = Duration::from_secs(120);

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

/// A lease object found in the cluster, with what says whose turn it is to
/// remove it.
#[derive(Clone)]
pub struct LeaseObject {
    /// `Kind/name`.
    pub name: String,
    /// `metadata.deletionTimestamp`: when it was marked for deletion.
    pub deleting_since: Option<String>,
    /// The kinds of its owners: the garbage collector removes it after them.
    pub owners: Vec<String>,
    /// A pod's phase.
    pub phase: Option<String>,
}

impl LeaseObject {
    fn of(kind: &str, meta: &ObjectMeta, phase: Option<String>) -> LeaseObject {
        LeaseObject {
            name: format!("{kind}/{}", meta.name.clone().unwrap_or_default()),
            deleting_since: meta.deletion_timestamp.as_ref().map(|t| t.0.to_string()),
            owners: meta
                .owner_references
                .iter()
                .flatten()
                .map(|o| o.kind.clone())
                .collect(),
            phase,
        }
    }

    /// True when what is left is the cluster's to do: the object is marked
    /// for deletion (the kubelet stops and removes a pod), or it has an
    /// owner (the garbage collector removes it after the owner).
    pub fn deleted(&self) -> bool {
        self.deleting_since.is_some() || !self.owners.is_empty()
    }
}

impl std::fmt::Display for LeaseObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.name)?;
        let mut state = Vec::new();
        match &self.deleting_since {
            Some(at) => state.push(format!("deleting since {at}")),
            None if self.owners.is_empty() => state.push("not deleted".to_string()),
            None => state.push(format!("owned by {}", self.owners.join(", "))),
        }
        if let Some(phase) = &self.phase {
            state.push(format!("phase {phase}"));
        }
        write!(f, " ({})", state.join(", "))
    }
}

/// Shown as in messages: the name and its state.
impl std::fmt::Debug for LeaseObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// The objects `api` lists with `labels`, as `kind`, each with its
/// `phase`.
async fn listed<K>(
    api: Api<K>,
    kind: &str,
    labels: &str,
    phase: impl Fn(&K) -> Option<String>,
) -> anyhow::Result<Vec<LeaseObject>>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let list = api
        .list(&ListParams::default().labels(labels))
        .await
        .with_context(|| format!("failed to list {kind} objects"))?;
    Ok(list
        .items
        .iter()
        .map(|o| LeaseObject::of(kind, o.meta(), phase(o)))
        .collect())
}

/// The phase of an object that has none.
fn no_phase<K>(_: &K) -> Option<String> {
    None
}

/// The objects of the typed kind `K` in `namespace` that carry `labels`,
/// their kind named by the type.
async fn typed<K>(
    client: &Client,
    namespace: &str,
    labels: &str,
    phase: impl Fn(&K) -> Option<String>,
) -> anyhow::Result<Vec<LeaseObject>>
where
    K: Resource<Scope = NamespaceResourceScope> + Clone + DeserializeOwned + std::fmt::Debug,
    K::DynamicType: Default,
{
    let kind = K::kind(&Default::default()).into_owned();
    let api = Api::<K>::namespaced(client.clone(), namespace);
    listed(api, &kind, labels, phase).await
}

/// Every leasebox lease object (pods, jobs, sandboxes, secrets, PVCs, the
/// per-lease egress NetworkPolicies) in `namespace`.
pub async fn lease_objects(client: &Client, namespace: &str) -> anyhow::Result<Vec<LeaseObject>> {
    let made = MANAGED_BY_LEASEBOX;
    let mut found = Vec::new();
    // The tenant's deny-all carries no lease label; a lease's policy does.
    let lease_policies = format!("{MANAGED_BY_LEASEBOX},{LEASE_LABEL}");
    found.extend(typed::<NetworkPolicy>(client, namespace, &lease_policies, no_phase).await?);
    let phase = |pod: &Pod| pod.status.as_ref().and_then(|s| s.phase.clone());
    found.extend(typed(client, namespace, made, phase).await?);
    found.extend(typed::<Job>(client, namespace, made, no_phase).await?);
    found.extend(typed::<Secret>(client, namespace, made, no_phase).await?);
    found.extend(typed::<PersistentVolumeClaim>(client, namespace, made, no_phase).await?);
    let sandbox = sandbox_resource();
    let sandboxes = Api::<DynamicObject>::namespaced_with(client.clone(), namespace, &sandbox);
    found.extend(listed(sandboxes, &sandbox.kind, made, no_phase).await?);
    Ok(found)
}

/// Waits until `namespace` holds no lease object; returns what is still
/// there after `limit`.
pub async fn wait_no_lease_objects(
    client: &Client,
    namespace: &str,
    limit: Duration,
) -> anyhow::Result<Vec<LeaseObject>> {
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
) -> anyhow::Result<Vec<LeaseObject>> {
    Ok(lease_objects(client, namespace)
        .await?
        .into_iter()
        .filter(|o| o.name.contains(lease))
        .collect())
}

/// Waits until no object of `lease` is left; returns what is still there
/// after `limit`.
pub async fn wait_lease_gone(
    client: &Client,
    namespace: &str,
    lease: &str,
    limit: Duration,
) -> anyhow::Result<Vec<LeaseObject>> {
    let started = Instant::now();
    loop {
        let left = objects_of_lease(client, namespace, lease).await?;
        if left.is_empty() || started.elapsed() > limit {
            return Ok(left);
        }
        tokio::time::sleep(POLL).await;
    }
}
