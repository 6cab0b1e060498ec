//! A stand-in for the agent-sandbox controller, which the test cluster
//! does not run: for every `agents.x-k8s.io/v1beta1` Sandbox in one
//! namespace it creates a Pod named like the Sandbox from
//! `spec.podTemplate`, owned by the Sandbox (so deleting the Sandbox
//! removes the pod by garbage collection), and sets the Sandbox's `Ready`
//! condition once the pod is Ready.
//!
//! It reacts to watch events on Sandboxes and Pods, and lists all
//! Sandboxes every [`RESYNC`] so that a failed step (a pod rejected in a
//! brand-new namespace, say) is retried.

use std::time::Duration;

use anyhow::Context;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::{Value, json};
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

use crate::support::cluster::sandbox_resource;

/// How often every Sandbox is reconciled even without an event.
const RESYNC: Duration = Duration::from_secs(2);

/// A running reconciler; stops when dropped.
pub struct Reconciler {
    task: JoinHandle<()>,
}

impl Reconciler {
    /// Starts reconciling the Sandboxes of `namespace` on `runtime`.
    pub fn spawn(runtime: &Runtime, client: Client, namespace: &str) -> Reconciler {
        let namespace = namespace.to_string();
        Reconciler {
            task: runtime.spawn(run(client, namespace)),
        }
    }
}

impl Drop for Reconciler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Apis {
    sandboxes: Api<DynamicObject>,
    pods: Api<DynamicObject>,
    namespace: String,
}

async fn run(client: Client, namespace: String) {
    let apis = Apis {
        sandboxes: Api::namespaced_with(client.clone(), &namespace, &sandbox_resource()),
        pods: Api::namespaced_with(client, &namespace, &ApiResource::erase::<Pod>(&())),
        namespace,
    };
    let mut sandbox_events = std::pin::pin!(
        watcher(apis.sandboxes.clone(), watcher::Config::default()).default_backoff()
    );
    let mut pod_events =
        std::pin::pin!(watcher(apis.pods.clone(), watcher::Config::default()).default_backoff());
    let mut resync = tokio::time::interval(RESYNC);
    loop {
        let todo: Vec<String> = tokio::select! {
            Some(event) = sandbox_events.next() => match event {
                Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => {
                    o.metadata.name.into_iter().collect()
                }
                _ => Vec::new(),
            },
            Some(event) = pod_events.next() => match event {
                Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => owning_sandbox(&o),
                _ => Vec::new(),
            },
            _ = resync.tick() => match apis.sandboxes.list(&ListParams::default()).await {
                Ok(list) => list.items.into_iter().filter_map(|o| o.metadata.name).collect(),
                Err(e) => {
                    eprintln!("test reconciler: listing sandboxes in {}: {e}", apis.namespace);
                    Vec::new()
                }
            },
        };
        for name in todo {
            if let Err(e) = reconcile(&apis, &name).await {
                eprintln!("test reconciler: Sandbox {}/{name}: {e:#}", apis.namespace);
            }
        }
    }
}

/// The Sandbox that controls `pod`, if any.
fn owning_sandbox(pod: &DynamicObject) -> Vec<String> {
    pod.metadata
        .owner_references
        .iter()
        .flatten()
        .filter(|r| r.kind == "Sandbox" && r.api_version.starts_with("agents.x-k8s.io/"))
        .map(|r| r.name.clone())
        .collect()
}

async fn reconcile(apis: &Apis, name: &str) -> anyhow::Result<()> {
    let Some(sandbox) = apis.sandboxes.get_opt(name).await? else {
        return Ok(());
    };
    if sandbox.metadata.deletion_timestamp.is_some() {
        return Ok(());
    }
    let pod = match apis.pods.get_opt(name).await? {
        Some(pod) => pod,
        None => {
            let pod = pod_for(&sandbox, &apis.namespace)?;
            apis.pods
                .create(&PostParams::default(), &pod)
                .await
                .context("failed to create the pod")?
        }
    };
    if condition_true(&pod.data, "Ready") && !condition_true(&sandbox.data, "Ready") {
        let now = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second())
            .context("the clock is out of range")?
            .to_string();
        let status = json!({
            "status": {
                "conditions": [{
                    "type": "Ready",
                    "status": "True",
                    "reason": "DependenciesReady",
                    "message": format!("pod {name} is ready"),
                    "lastTransitionTime": now,
                    "observedGeneration": sandbox.metadata.generation.unwrap_or(0),
                }]
            }
        });
        apis.sandboxes
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
            .await
            .context("failed to set the Ready condition")?;
    }
    Ok(())
}

/// The pod the controller makes for `sandbox`: the template's labels,
/// annotations and spec, named like the Sandbox and owned by it.
fn pod_for(sandbox: &DynamicObject, namespace: &str) -> anyhow::Result<DynamicObject> {
    let name = sandbox
        .metadata
        .name
        .clone()
        .context("the Sandbox has no name")?;
    let uid = sandbox
        .metadata
        .uid
        .clone()
        .context("the Sandbox has no uid")?;
    let template = sandbox
        .data
        .pointer("/spec/podTemplate")
        .context("the Sandbox has no spec.podTemplate")?;
    let spec = template
        .get("spec")
        .cloned()
        .context("spec.podTemplate has no spec")?;
    let labels = template
        .pointer("/metadata/labels")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let annotations = template
        .pointer("/metadata/annotations")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [{
                "apiVersion": "agents.x-k8s.io/v1beta1",
                "kind": "Sandbox",
                "name": name,
                "uid": uid,
                "controller": true,
                "blockOwnerDeletion": true,
            }],
        },
        "spec": spec,
    });
    serde_json::from_value(pod).context("the pod built from spec.podTemplate is not an object")
}

fn condition_true(object: &Value, type_: &str) -> bool {
    object
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| {
            c.get("type").and_then(Value::as_str) == Some(type_)
                && c.get("status").and_then(Value::as_str) == Some("True")
        })
}
