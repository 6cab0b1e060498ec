//! [`Cluster`] over the `kube` and `logging` imports: the only file that
//! calls them.

use serde_json::Value;

use crate::bindings::leasebox::provider::{kube, logging};
use crate::cluster::{
    Cluster, DeleteOptions, EventType, ExecSession, ExecSpec, ExitStatus, HostSecretRequest,
    KubeError, Level, LogStream, LogsRequest, Propagation, Stream, Watch, WatchEvent, WatchRequest,
};
use crate::lease::ObjectRef;

/// The cluster the host gives this instance.
pub struct WasmCluster;

fn error(e: kube::KubeError) -> KubeError {
    match e {
        kube::KubeError::NoCluster(m) => KubeError::NoCluster(m),
        kube::KubeError::Denied(m) => KubeError::Denied(m),
        kube::KubeError::NotFound(m) => KubeError::NotFound(m),
        kube::KubeError::Conflict(m) => KubeError::Conflict(m),
        kube::KubeError::Forbidden(m) => KubeError::Forbidden(m),
        kube::KubeError::Invalid(m) => KubeError::Invalid(m),
        kube::KubeError::Gone(m) => KubeError::Gone(m),
        kube::KubeError::TimedOut(m) => KubeError::TimedOut(m),
        kube::KubeError::Transport(m) => KubeError::Transport(m),
        kube::KubeError::BadArgument(m) => KubeError::BadArgument(m),
    }
}

/// Parses an object the host returned; a host that returns something else
/// than JSON is a host bug, reported as a transport error.
fn parse(text: &str) -> Result<Value, KubeError> {
    serde_json::from_str(text)
        .map_err(|e| KubeError::Transport(format!("host returned an object that is not JSON: {e}")))
}

fn object_ref(o: &ObjectRef) -> crate::bindings::leasebox::provider::types::ObjectRef {
    crate::bindings::leasebox::provider::types::ObjectRef {
        api_version: o.api_version.clone(),
        kind: o.kind.clone(),
        namespace: o.namespace.clone(),
        name: o.name.clone(),
        uid: o.uid.clone(),
    }
}

struct WasmWatch(kube::Watch);

impl Watch for WasmWatch {
    fn next(&mut self, timeout_ms: u64) -> Result<Option<WatchEvent>, KubeError> {
        let Some(event) = self.0.next(timeout_ms).map_err(error)? else {
            return Ok(None);
        };
        Ok(Some(WatchEvent {
            event_type: match event.event_type {
                kube::EventType::Added => EventType::Added,
                kube::EventType::Modified => EventType::Modified,
                kube::EventType::Deleted => EventType::Deleted,
            },
            object: parse(&event.object)?,
        }))
    }
}

struct WasmExec(kube::ExecSession);

impl ExecSession for WasmExec {
    fn write_stdin(&mut self, data: &[u8]) -> Result<(), KubeError> {
        self.0.write_stdin(data).map_err(error)
    }
    fn close_stdin(&mut self) -> Result<(), KubeError> {
        self.0.close_stdin().map_err(error)
    }
    fn read(&mut self, timeout_ms: u64) -> Result<Option<(Stream, Vec<u8>)>, KubeError> {
        Ok(self.0.read(timeout_ms).map_err(error)?.map(|chunk| {
            let stream = match chunk.source {
                kube::OutputStream::Stdout => Stream::Stdout,
                kube::OutputStream::Stderr => Stream::Stderr,
            };
            (stream, chunk.data)
        }))
    }
    fn wait(&mut self, timeout_ms: u64) -> Result<Option<ExitStatus>, KubeError> {
        Ok(self.0.wait(timeout_ms).map_err(error)?.map(|s| ExitStatus {
            code: s.code,
            signal: s.signal,
            stdout_truncated: s.stdout_truncated,
            stderr_truncated: s.stderr_truncated,
            message: s.message,
        }))
    }
    fn kill(&mut self) -> Result<(), KubeError> {
        self.0.kill().map_err(error)
    }
}

struct WasmLogs(kube::LogStream);

impl LogStream for WasmLogs {
    fn read(&mut self, timeout_ms: u64) -> Result<Option<Vec<u8>>, KubeError> {
        self.0.read(timeout_ms).map_err(error)
    }
    fn wait_end(&mut self, timeout_ms: u64) -> Result<bool, KubeError> {
        self.0.wait_end(timeout_ms).map_err(error)
    }
}

impl Cluster for WasmCluster {
    fn apply(&self, manifest: &Value) -> Result<Value, KubeError> {
        parse(&kube::apply(&manifest.to_string()).map_err(error)?)
    }

    fn create(&self, manifest: &Value) -> Result<Value, KubeError> {
        parse(&kube::create(&manifest.to_string()).map_err(error)?)
    }

    fn server_version(&self) -> Result<String, KubeError> {
        kube::server_version().map_err(error)
    }

    fn monotonic_ms(&self) -> u64 {
        kube::monotonic_ms()
    }

    fn get(&self, target: &ObjectRef) -> Result<Option<Value>, KubeError> {
        match kube::get(&object_ref(target)).map_err(error)? {
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
        kube::list_objects(api_version, kind, namespace, label_selector)
            .map_err(error)?
            .iter()
            .map(|t| parse(t))
            .collect()
    }

    fn delete(&self, target: &ObjectRef, options: &DeleteOptions) -> Result<bool, KubeError> {
        let options = kube::DeleteOptions {
            propagation: match options.propagation {
                Propagation::Foreground => kube::Propagation::Foreground,
                Propagation::Background => kube::Propagation::Background,
                Propagation::Orphan => kube::Propagation::Orphan,
            },
            precondition_uid: options.precondition_uid.clone(),
            grace_period_seconds: options.grace_period_seconds,
        };
        kube::delete(&object_ref(target), &options).map_err(error)
    }

    fn watch(&self, request: &WatchRequest) -> Result<Box<dyn Watch>, KubeError> {
        let request = kube::WatchRequest {
            api_version: request.api_version.clone(),
            kind: request.kind.clone(),
            namespace: request.namespace.clone(),
            label_selector: request.label_selector.clone(),
            field_selector: request.field_selector.clone(),
        };
        Ok(Box::new(WasmWatch(
            kube::open_watch(&request).map_err(error)?,
        )))
    }

    fn exec(&self, spec: &ExecSpec) -> Result<Box<dyn ExecSession>, KubeError> {
        let spec = kube::ExecSpec {
            namespace: spec.namespace.clone(),
            pod: spec.pod.clone(),
            container: spec.container.clone(),
            argv: spec.argv.clone(),
            stdin: spec.stdin,
            forward_output: spec.forward_output,
            forward_stdin: spec.forward_stdin,
            frame_stdin: spec.frame_stdin,
            max_stdout_bytes: spec.max_stdout_bytes,
            max_stderr_bytes: spec.max_stderr_bytes,
        };
        Ok(Box::new(WasmExec(kube::exec(&spec).map_err(error)?)))
    }

    fn logs(&self, request: &LogsRequest) -> Result<Box<dyn LogStream>, KubeError> {
        let request = kube::LogsRequest {
            namespace: request.namespace.clone(),
            pod: request.pod.clone(),
            container: request.container.clone(),
            follow: request.follow,
            forward_output: request.forward_output,
            max_bytes: request.max_bytes,
        };
        Ok(Box::new(WasmLogs(kube::logs(&request).map_err(error)?)))
    }

    fn apply_host_secret(
        &self,
        request: &HostSecretRequest,
    ) -> Result<(Value, Vec<String>), KubeError> {
        let request = kube::HostSecretRequest {
            manifest: request.manifest.to_string(),
            random_keys: request.random_keys.clone(),
            host_keys: request.host_keys.clone(),
            literal: request
                .literal
                .iter()
                .map(|e| crate::bindings::leasebox::provider::types::EnvVar {
                    name: e.name.clone(),
                    value: e.value.clone(),
                })
                .collect(),
        };
        let (text, keys) = kube::apply_host_secret(&request).map_err(error)?;
        Ok((parse(&text)?, keys))
    }

    fn log(&self, level: Level, context: &str, message: &str) {
        let level = match level {
            Level::Debug => logging::Level::Debug,
            Level::Info => logging::Level::Info,
            Level::Warn => logging::Level::Warn,
            Level::Error => logging::Level::Error,
        };
        logging::log(level, context, message);
    }
}
