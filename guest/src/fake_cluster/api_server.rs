//! How the fake answers each call of the [`Cluster`] trait, as an API
//! server would: from the store, with the faults a test injected.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::FakeCluster;
use super::calls::{Call, target_of};
use super::selector::{labels_of, matches_label_selector};
use super::state::{DEFAULT_VERSION, Key, key_of, key_of_ref};
use crate::cluster::{
    Cluster, DeleteOptions, ExecSession, ExecSpec, HandOverRequest, HostSecretRequest, KubeError,
    Level, LogStream, LogsRequest, Watch, WatchRequest,
};
use crate::lease::ObjectRef;

impl Cluster for FakeCluster {
    fn apply(&self, manifest: &Value) -> Result<Value, KubeError> {
        let mut state = self.record(Call::Apply(target_of(manifest)));
        let kind = manifest["kind"].as_str().unwrap_or_default();
        let api_version = manifest["apiVersion"].as_str().unwrap_or_default();
        state.faults.check_writable()?;
        state.faults.check("apply", kind)?;
        state.faults.check_served(api_version, kind)?;
        state.store_applied(manifest.clone())
    }

    fn create(&self, manifest: &Value) -> Result<Value, KubeError> {
        let kind = manifest["kind"].as_str().unwrap_or_default().to_string();
        if kind == "SelfSubjectAccessReview" {
            let attrs = &manifest["spec"]["resourceAttributes"];
            let verb = attrs["verb"].as_str().unwrap_or_default().to_string();
            let mut resource = attrs["resource"].as_str().unwrap_or_default().to_string();
            if let Some(sub) = attrs["subresource"].as_str().filter(|s| !s.is_empty()) {
                resource = format!("{resource}/{sub}");
            }
            let mut state = self.record(Call::Create {
                target: target_of(manifest),
                review: Some(format!("{verb} {resource}")),
            });
            state.faults.check_writable()?;
            state.faults.check("create", &kind)?;
            let allowed = !state.denied_access.contains(&(verb, resource));
            let mut answer = manifest.clone();
            answer["status"] = if allowed {
                json!({"allowed": true, "reason": "RBAC: allowed by ClusterRoleBinding \"leasebox-host\""})
            } else {
                json!({"allowed": false})
            };
            state.reviews.push(answer.clone());
            return Ok(answer);
        }
        let target = target_of(manifest);
        let mut state = self.record(Call::Create {
            target: target.clone(),
            review: None,
        });
        state.faults.check_writable()?;
        state.faults.check("create", &kind)?;
        let key = key_of(manifest)?;
        if state.objects.contains_key(&key) {
            return Err(KubeError::Conflict(format!(
                "{} already exists",
                target.display()
            )));
        }
        state.store(manifest.clone())
    }

    fn server_version(&self) -> Result<String, KubeError> {
        let state = self.record(Call::ServerVersion);
        match &state.version {
            Some(v) => v.clone(),
            None => Ok(DEFAULT_VERSION.into()),
        }
    }

    fn monotonic_ms(&self) -> u64 {
        self.clock_ms()
    }

    fn get(&self, target: &ObjectRef) -> Result<Option<Value>, KubeError> {
        let state = self.record(Call::Get(target.clone()));
        state.faults.check("get", &target.kind)?;
        Ok(state.objects.get(&key_of_ref(target)).cloned())
    }

    fn list(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        label_selector: &str,
    ) -> Result<Vec<Value>, KubeError> {
        let state = self.record(Call::List {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: namespace.map(str::to_string),
            label_selector: label_selector.into(),
        });
        state.faults.check("list", kind)?;
        state.faults.check_served(api_version, kind)?;
        let mut out = Vec::new();
        for object in state.of_kind(api_version, kind, namespace) {
            if matches_label_selector(label_selector, &labels_of(object))? {
                out.push(object.clone());
            }
        }
        Ok(out)
    }

    fn delete(&self, target: &ObjectRef, options: &DeleteOptions) -> Result<bool, KubeError> {
        let mut state = self.record(Call::Delete {
            target: target.clone(),
            options: options.clone(),
        });
        state.faults.check("delete", &target.kind)?;
        let key = key_of_ref(target);
        let Some(existing) = state.objects.get(&key) else {
            return Ok(false);
        };
        if let Some(want) = &options.precondition_uid {
            let have = existing["metadata"]["uid"].as_str().unwrap_or_default();
            if have != want {
                return Err(KubeError::Conflict(format!(
                    "Precondition failed: UID in precondition: {want}, UID in object meta: {have}"
                )));
            }
        }
        state.objects.remove(&key);
        state.secret_values.remove(&key);
        Ok(true)
    }

    fn watch(&self, request: &WatchRequest) -> Result<Box<dyn Watch>, KubeError> {
        Ok(Box::new(self.open_watch(request)?))
    }

    fn exec(&self, spec: &ExecSpec) -> Result<Box<dyn ExecSession>, KubeError> {
        Ok(Box::new(self.open_exec(spec, None)?))
    }

    fn logs(&self, request: &LogsRequest) -> Result<Box<dyn LogStream>, KubeError> {
        Ok(Box::new(self.open_logs(request, None)?))
    }

    fn apply_host_secret(
        &self,
        request: &HostSecretRequest,
    ) -> Result<(Value, Vec<String>), KubeError> {
        let mut state = self.record(Call::ApplyHostSecret(request.clone()));
        state.faults.check_writable()?;
        state.faults.check("apply", "Secret")?;
        let mut manifest = request.manifest.clone();
        if let Some(map) = manifest.as_object_mut() {
            map.remove("data");
            map.remove("stringData");
        }
        let stored = state.store(manifest)?;
        let key = key_of(&stored)?;
        let mut values = BTreeMap::new();
        let mut filled = Vec::new();
        for name in &request.random_keys {
            values.insert(name.clone(), random_value(&key, name));
            filled.push(name.clone());
        }
        for name in &request.host_keys {
            if state.missing_host_keys.contains(name) {
                continue;
            }
            let value = match &state.host_values {
                Some(host) => host.get(name).cloned(),
                None => Some(format!("host:{name}")),
            };
            if let Some(value) = value {
                values.insert(name.clone(), value);
                filled.push(name.clone());
            }
        }
        for literal in &request.literal {
            values.insert(literal.name.clone(), literal.value.clone());
            filled.push(literal.name.clone());
        }
        state.secret_values.insert(key, values);
        Ok((stored, filled))
    }

    fn hand_over_secret(&self, request: &HandOverRequest) -> Result<(), KubeError> {
        let state = self.record(Call::HandOverSecret(request.clone()));
        state.faults.check_writable()?;
        state.faults.check("hand-over", "Secret")?;
        for (kind, name) in [("Secret", &request.secret), ("Pod", &request.pod)] {
            let key = super::state::key("v1", kind, Some(&request.namespace), name);
            if !state.objects.contains_key(&key) {
                return Err(KubeError::NotFound(format!("{kind} {name} does not exist")));
            }
        }
        Ok(())
    }

    fn log(&self, level: Level, context: &str, message: &str) {
        self.lock()
            .messages
            .push((level, context.into(), message.into()));
    }
}

/// The value the fake host generates for a random key: 64 hex digits,
/// fixed per Secret and key.
fn random_value(key: &Key, name: &str) -> String {
    let digest = Sha256::digest(format!("{}/{}/{name}", key.2, key.3).as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
