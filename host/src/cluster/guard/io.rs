//! The guarded calls: each [`ClusterIo`] call checked against the grants
//! and the call's scope before it reaches the cluster.

use std::sync::Arc;

use serde_json::Value;

use super::rule::Rule;
use super::{
    GuardedCluster, NamespaceFacts, cluster_scoped, is_workload, lease_of, parse,
    secret_names_only, str_at, target_of, watch,
};
use super::{marks, pool};
use crate::cluster::grants::{LEASE_LABEL, Verb};
use crate::cluster::io::{CallScope, CallerIo, ClusterIo};
use crate::cluster::manifest::Manifest;
use crate::contract::{
    DeleteOptions, ExecSpec, ExecStream, HandOverRequest, HostSecretRequest, KubeError, LogFollow,
    LogsRequest, ObjectRef, WatchRequest, WatchStream,
};

impl ClusterIo for GuardedCluster {
    fn scoped(&self, scope: &CallScope) -> Option<Arc<dyn ClusterIo>> {
        Some(Arc::new(self.for_call(scope)))
    }

    fn apply(&self, mut manifest: Manifest) -> Result<String, KubeError> {
        let kind = manifest.kind.clone();
        self.check_kind(&manifest.api_version, &kind, Verb::Apply)?;
        if kind == "Namespace" {
            return self.apply_namespace(manifest);
        }
        let value = &manifest.value;
        // Where it goes first, then what it holds.
        let name = str_at(value, "/metadata/name").unwrap_or("");
        let what = format!("apply of {kind} `{name}`");
        let facts = self.check_write(&what, str_at(value, "/metadata/namespace"))?;
        let workload = is_workload(&kind);
        if workload && self.scope.lease.is_none() {
            return self.deny(
                Rule::LeaseScope,
                format!("{what}: a workload is applied only by a call about its lease"),
            );
        }
        if workload
            && let Some(lease) = self.scope.lease.as_deref()
            && marks::lease_in_name(&target_of(value).name) != Some(lease)
        {
            if pool::is_claim(&kind, value) {
                return self.apply_claim(manifest);
            }
            return self.deny(
                Rule::LeaseScope,
                format!("{what}: a workload is named for its lease (`{lease}` or `{lease}-...`)"),
            );
        }
        let live = self.check_lease_write(&what, &target_of(value))?;
        self.check_manifest(value, live.as_ref())?;
        let marks = self.marks_for(&kind, &facts, live.as_ref());
        if let Err((rule, message)) = marks::check(value, &kind, &marks) {
            return self.deny(rule, format!("{what}: {message}"));
        }
        if workload {
            self.check_service_account(&what, &kind, value)?;
            marks::stamp(&mut manifest.value, &kind, &marks);
        }
        self.inner.apply(manifest)
    }

    fn create(&self, manifest: Manifest) -> Result<String, KubeError> {
        self.check_kind(&manifest.api_version, &manifest.kind, Verb::Create)?;
        if is_workload(&manifest.kind) {
            return self.create_pool_pod(manifest);
        }
        self.inner.create(manifest)
    }

    fn server_version(&self) -> Result<String, KubeError> {
        self.inner.server_version()
    }

    fn get(&self, target: &ObjectRef) -> Result<Option<String>, KubeError> {
        self.check_kind(&target.api_version, &target.kind, Verb::Get)?;
        let what = format!("get of {} `{}`", target.kind, target.name);
        if target.kind != "Namespace" {
            self.check_read(&what, target.namespace.as_deref().unwrap_or(""))?;
            let found = self.inner.get(target)?;
            let shown = found
                .as_deref()
                .and_then(|text| serde_json::from_str::<Value>(text).ok())
                .is_none_or(|object| self.object_shown(&object));
            if !shown {
                return self.deny_lease_read(&what);
            }
            return Ok(found);
        }
        self.check_fence(&what, Some(&target.name))?;
        if self.lease_only().is_some() {
            return self.deny_lease_read(&what);
        }
        let found = self.inner.get(target)?;
        let object = found
            .as_deref()
            .and_then(|text| serde_json::from_str::<Value>(text).ok());
        // The cluster's answer, read by the host itself: the writes of this
        // call into the namespace need no second read.
        let facts = object.as_ref().map(NamespaceFacts::of);
        self.remember(&target.name, facts.clone());
        if let Some(facts) = facts.filter(|f| f.owned) {
            self.check_company(&what, &target.name, &facts)?;
        }
        Ok(found)
    }

    fn list(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        label_selector: &str,
    ) -> Result<Vec<String>, KubeError> {
        self.check_kind(api_version, kind, Verb::List)?;
        if let Some(ns) = namespace
            && !cluster_scoped(kind)
        {
            self.check_read(&format!("list of {kind}"), ns)?;
            let items = self
                .inner
                .list(api_version, kind, namespace, label_selector)?;
            return Ok(items
                .into_iter()
                .filter(|item| {
                    serde_json::from_str::<Value>(item)
                        .is_ok_and(|object| self.object_shown(&object))
                })
                .collect());
        }
        // A cluster-wide list (and any list of a cluster-scoped kind,
        // whatever namespace was asked for) is narrowed to what this call
        // may read.
        let items = self.inner.list(api_version, kind, None, label_selector)?;
        let mut shown = Vec::with_capacity(items.len());
        for item in items {
            let Ok(v) = serde_json::from_str::<Value>(&item) else {
                continue;
            };
            let keep = if cluster_scoped(kind) {
                let name = str_at(&v, "/metadata/name").unwrap_or("");
                namespace.is_none_or(|ns| ns == name) && self.namespace_shown(name)?
            } else {
                match str_at(&v, "/metadata/namespace") {
                    Some(ns) => self.readable(ns)? && self.object_shown(&v),
                    None => false,
                }
            };
            if keep {
                shown.push(item);
            }
        }
        Ok(shown)
    }

    fn delete(&self, target: &ObjectRef, options: &DeleteOptions) -> Result<bool, KubeError> {
        self.check_kind(&target.api_version, &target.kind, Verb::Delete)?;
        let what = format!("delete of {} `{}`", target.kind, target.name);
        self.check_write(&what, target.namespace.as_deref())?;
        if self.scope.pool_max.is_some() {
            self.check_pool_delete(&what, target)?;
        }
        self.check_lease_object(&what, target, true)?;
        self.inner.delete(target, options)
    }

    fn watch(&self, request: &WatchRequest) -> Result<Box<dyn WatchStream>, KubeError> {
        self.check_kind(&request.api_version, &request.kind, Verb::Watch)?;
        if cluster_scoped(&request.kind) {
            let inner = self.inner.watch(request)?;
            return Ok(Box::new(watch::FilteredWatch {
                inner,
                guard: self.clone(),
                shown: watch::Shown::Namespaces,
            }));
        }
        self.check_read(&format!("watch of {}", request.kind), &request.namespace)?;
        let inner = self.inner.watch(request)?;
        if self.lease_only().is_none() {
            return Ok(inner);
        }
        Ok(Box::new(watch::FilteredWatch {
            inner,
            guard: self.clone(),
            shown: watch::Shown::Objects,
        }))
    }

    fn exec(&self, spec: &ExecSpec, caller: &CallerIo) -> Result<Box<dyn ExecStream>, KubeError> {
        self.check_lease_pod(
            &format!("exec in pod `{}`", spec.pod),
            &spec.namespace,
            &spec.pod,
        )?;
        self.inner.exec(spec, caller)
    }

    fn logs(
        &self,
        request: &LogsRequest,
        caller: &CallerIo,
    ) -> Result<Box<dyn LogFollow>, KubeError> {
        self.check_lease_pod(
            &format!("logs of pod `{}`", request.pod),
            &request.namespace,
            &request.pod,
        )?;
        self.inner.logs(request, caller)
    }

    fn apply_host_secret(
        &self,
        request: &HostSecretRequest,
    ) -> Result<(String, Vec<String>), KubeError> {
        let manifest = parse("apply-host-secret", &request.manifest)?;
        let api_version = str_at(&manifest, "/apiVersion").unwrap_or("");
        let kind = str_at(&manifest, "/kind").unwrap_or("");
        if (api_version, kind) != ("v1", "Secret") {
            return self.deny(
                Rule::HostSecretShape,
                format!(
                    "apply-host-secret of {api_version} {kind}: a host-filled secret must be a v1 \
                     Secret"
                ),
            );
        }
        self.check_kind(api_version, kind, Verb::FillSecret)?;
        let name = str_at(&manifest, "/metadata/name").unwrap_or("");
        let what = format!("apply-host-secret of Secret `{name}`");
        let ungranted: Vec<&str> = request
            .host_keys
            .iter()
            .filter(|k| !self.grants.host_keys.contains(k.as_str()))
            .map(String::as_str)
            .collect();
        if !ungranted.is_empty() {
            return self.deny(
                Rule::HostSecretKeys,
                format!(
                    "{what}: host key(s) {} are not granted to policy modules; an operator grants \
                     them in the host settings (secrets.hostKeys or --host-secret-key)",
                    ungranted.join(", ")
                ),
            );
        }
        let Some(lease) = self.scope.lease.as_deref() else {
            return self.deny(
                Rule::LeaseScope,
                format!("{what}: a host-filled Secret is written only by a call about its lease"),
            );
        };
        let own = format!("{lease}-env");
        if name != own || lease_of(&manifest) != Some(lease) {
            return self.deny(
                Rule::HostSecretShape,
                format!(
                    "{what}: a host-filled Secret is named `{own}` and labelled with its lease \
                     ({LEASE_LABEL}={lease})"
                ),
            );
        }
        if let Some(kind) = str_at(&manifest, "/type").filter(|t| *t != "Opaque") {
            return self.deny(
                Rule::HostSecretShape,
                format!(
                    "{what}: type `{kind}`: a host-filled Secret is Opaque (other types are filled \
                     by controllers, a service-account token among them)"
                ),
            );
        }
        let facts = self.check_write(&what, str_at(&manifest, "/metadata/namespace"))?;
        self.check_lease_write(&what, &target_of(&manifest))?;
        if let Err((rule, message)) =
            marks::check(&manifest, "Secret", &self.marks_for("Secret", &facts, None))
        {
            return self.deny(rule, format!("{what}: {message}"));
        }
        let (stored, filled) = self.inner.apply_host_secret(request)?;
        Ok((secret_names_only(&stored)?, filled))
    }

    fn hand_over_secret(&self, request: &HandOverRequest) -> Result<(), KubeError> {
        self.check_kind("v1", "Secret", Verb::FillSecret)?;
        self.check_hand_over(request)?;
        self.inner.hand_over_secret(request)
    }
}
