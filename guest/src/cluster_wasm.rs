//! [`Cluster`] over the `kube` and `logging` imports: the only file that
//! calls them.

use serde_json::Value;

use crate::bindings::leasebox::provider::{kube, logging};
use crate::cluster::{
    Cluster, DeleteOptions, ExecSession, ExecSpec, ExecStatus, HandOverRequest, HostSecretRequest,
    KubeError, Level, LogStream, LogsRequest, OutputStream, Watch, WatchEvent, WatchRequest,
};
use crate::json_text::json_text;
use crate::lease::ObjectRef;

/// The cluster the host gives this instance.
pub struct WasmCluster;

/// Parses an object the host returned; a host that returns something else
/// than JSON is a host bug, reported as a transport error.
fn parse(text: &str) -> Result<Value, KubeError> {
    serde_json::from_str(text)
        .map_err(|e| KubeError::Transport(format!("host returned an object that is not JSON: {e}")))
}

struct WasmWatch(kube::Watch);

impl Watch for WasmWatch {
    fn next(&mut self, timeout_ms: u64) -> Result<Option<WatchEvent>, KubeError> {
        let Some(event) = self.0.next(timeout_ms)? else {
            return Ok(None);
        };
        Ok(Some(WatchEvent {
            event_type: event.event_type,
            object: parse(&event.object)?,
        }))
    }
}

struct WasmExec(kube::ExecSession);

impl ExecSession for WasmExec {
    fn write_stdin(&mut self, data: &[u8]) -> Result<(), KubeError> {
        self.0.write_stdin(data)
    }
    fn close_stdin(&mut self) -> Result<(), KubeError> {
        self.0.close_stdin()
    }
    fn read(&mut self, timeout_ms: u64) -> Result<Option<(OutputStream, Vec<u8>)>, KubeError> {
        Ok(self
            .0
            .read(timeout_ms)?
            .map(|chunk| (chunk.source, chunk.data)))
    }
    fn wait(&mut self, timeout_ms: u64) -> Result<Option<ExecStatus>, KubeError> {
        self.0.wait(timeout_ms)
    }
    fn kill(&mut self) -> Result<(), KubeError> {
        self.0.kill()
    }
}

struct WasmLogs(kube::LogStream);

impl LogStream for WasmLogs {
    fn read(&mut self, timeout_ms: u64) -> Result<Option<Vec<u8>>, KubeError> {
        self.0.read(timeout_ms)
    }
    fn wait_end(&mut self, timeout_ms: u64) -> Result<bool, KubeError> {
        self.0.wait_end(timeout_ms)
    }
}

impl Cluster for WasmCluster {
    fn apply(&self, manifest: &Value) -> Result<Value, KubeError> {
        parse(&kube::apply(&json_text(manifest))?)
    }

    fn create(&self, manifest: &Value) -> Result<Value, KubeError> {
        parse(&kube::create(&json_text(manifest))?)
    }

    fn server_version(&self) -> Result<String, KubeError> {
        kube::server_version()
    }

    fn monotonic_ms(&self) -> u64 {
        kube::monotonic_ms()
    }

    fn get(&self, target: &ObjectRef) -> Result<Option<Value>, KubeError> {
        match kube::get(target)? {
            Some(text) => parse(&text).map(Some),
            None => Ok(None),
        }
    }

    fn list(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        label_selector: &str,
    ) -> Result<Vec<Value>, KubeError> {
        kube::list_objects(api_version, kind, namespace, label_selector)?
            .iter()
            .map(|t| parse(t))
            .collect()
    }

    fn delete(&self, target: &ObjectRef, options: &DeleteOptions) -> Result<bool, KubeError> {
        kube::delete(target, options)
    }

    fn watch(&self, request: &WatchRequest) -> Result<Box<dyn Watch>, KubeError> {
        Ok(Box::new(WasmWatch(kube::open_watch(request)?)))
    }

    fn exec(&self, spec: &ExecSpec) -> Result<Box<dyn ExecSession>, KubeError> {
        Ok(Box::new(WasmExec(kube::exec(spec)?)))
    }

    fn logs(&self, request: &LogsRequest) -> Result<Box<dyn LogStream>, KubeError> {
        Ok(Box::new(WasmLogs(kube::logs(request)?)))
    }

    fn apply_host_secret(
        &self,
        request: &HostSecretRequest,
    ) -> Result<(Value, Vec<String>), KubeError> {
        let request = kube::HostSecretRequest {
            manifest: json_text(&request.manifest),
            random_keys: request.random_keys.clone(),
            host_keys: request.host_keys.clone(),
            literal: request.literal.clone(),
        };
        let (text, keys) = kube::apply_host_secret(&request)?;
        Ok((parse(&text)?, keys))
    }

    fn hand_over_secret(&self, request: &HandOverRequest) -> Result<(), KubeError> {
        kube::hand_over_secret(request)
    }

    fn log(&self, level: Level, context: &str, message: &str) {
        logging::log(level, context, message);
    }
}
