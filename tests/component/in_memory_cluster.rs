//! The guest crate's in-memory cluster
//! ([`leasebox_policy::fake_cluster::FakeCluster`]) as a [`ClusterIo`], so
//! that the real policy module runs in the host runtime against the same
//! fake as the guest's native tests.
//!
//! This adapter only converts: the host's generated records to the guest's
//! (JSON text to `serde_json::Value`, records field by field) and back,
//! wires the caller's streams into sessions that forward them, and turns
//! the fake clock's waits into real ones (a watch with nothing to deliver
//! waits its timeout, as a quiet server does). Store, selectors, scripts
//! and call records are the fake's; reach them through `Deref`. A
//! `hand-over-secret` is recorded here too, with the file the host would
//! write ([`InMemoryCluster::hand_overs`]).

use std::collections::BTreeMap;

use std::collections::HashMap;
use std::io::Read;
use std::ops::Deref;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use leasebox::cluster::io::{CallerIo, ClusterIo};
use leasebox::cluster::kube_client::hand_over_file;
use leasebox::cluster::manifest::Manifest;
use leasebox::contract::{
    DeleteOptions, Denial, EventType, ExecSpec, ExecStatus, ExecStream, HandOverRequest,
    HostSecretRequest, KubeError, LogFollow, LogsRequest, ObjectRef, OutputStream, Propagation,
    WatchEvent, WatchRequest, WatchStream,
};
use leasebox_policy::cluster::{self as guest, Cluster, ExecSession, LogStream, Watch};
use leasebox_policy::fake_cluster::{CallerStreams, FakeCluster, FakeExec, FakeLogs, FakeWatch};
use leasebox_policy::lease::{EnvVar as GuestEnvVar, ObjectRef as GuestObjectRef};
use serde_json::{Value, json};

/// `gitVersion` the in-memory server reports.
pub const SERVER_VERSION: &str = "v1.20.2";

/// The longest a watch waits on the fake before it looks again.
const WATCH_SLICE: Duration = Duration::from_millis(5);

/// `creationTimestamp` of every object the cluster creates.
pub const CREATION_TIMESTAMP: &str = "2025-01-02T03:04:05Z";

/// The fake cluster behind the host's [`ClusterIo`]. Share it as
/// `Arc<InMemoryCluster>` (and hand a clone to the
/// [`leasebox::runtime::CallEnv`]) to script and inspect it.
pub struct InMemoryCluster {
    fake: FakeCluster,
    hand_overs: Mutex<Vec<HandOver>>,
}

/// One `hand-over-secret` the cluster carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandOver {
    /// Namespace of the Secret and the pod.
    pub namespace: String,
    /// The Secret handed over.
    pub secret: String,
    /// The pod it went to.
    pub pod: String,
    /// The container the file was written from.
    pub container: String,
    /// The file's path in the pod.
    pub path: String,
    /// The file, as the host renders the stored Secret's values.
    pub file: Vec<u8>,
}

impl InMemoryCluster {
    /// An empty cluster; host keys of Secrets are filled from
    /// `host_values` (keys it lacks are left out).
    pub fn new(host_values: HashMap<String, String>) -> InMemoryCluster {
        let fake = FakeCluster::new();
        fake.set_now(CREATION_TIMESTAMP);
        fake.set_server_version(Ok(SERVER_VERSION.into()));
        fake.set_host_values(host_values.into_iter().collect());
        InMemoryCluster {
            fake,
            hand_overs: Mutex::new(Vec::new()),
        }
    }

    /// Every hand-over carried out, in order.
    pub fn hand_overs(&self) -> Vec<HandOver> {
        lock(&self.hand_overs).clone()
    }

    /// Queues, for the next watch of Pods, pod `name` of `namespace`
    /// running and Ready, each of its `containers` (name, image) started,
    /// as the kubelet reports a pod it has started.
    pub fn script_pod_ready<'a>(
        &self,
        name: &str,
        namespace: &str,
        containers: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) {
        let statuses: Vec<Value> = containers
            .into_iter()
            .map(|(name, image)| {
                json!({
                    "name": name,
                    "image": image,
                    "ready": true,
                    "started": true,
                    "state": {"running": {"startedAt": CREATION_TIMESTAMP}},
                })
            })
            .collect();
        self.fake.script_watch_event(
            "Pod",
            guest::EventType::Modified,
            json!({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name, "namespace": namespace},
                "status": {
                    "phase": "Running",
                    "conditions": [
                        {"type": "PodScheduled", "status": "True"},
                        {"type": "ContainersReady", "status": "True"},
                        {"type": "Ready", "status": "True"},
                    ],
                    "containerStatuses": statuses,
                },
            }),
        );
    }
}

impl Deref for InMemoryCluster {
    type Target = FakeCluster;

    fn deref(&self) -> &FakeCluster {
        &self.fake
    }
}

/// Locks `m`, poisoned or not (a test that panicked holding it has
/// already failed).
pub(crate) fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn parse(manifest: &str) -> Result<Value, KubeError> {
    serde_json::from_str(manifest)
        .map_err(|e| KubeError::BadArgument(format!("manifest is not JSON: {e}")))
}

fn error_up(error: guest::KubeError) -> KubeError {
    use guest::KubeError as G;
    match error {
        G::NoCluster(m) => KubeError::NoCluster(m),
        G::Denied(d) => KubeError::Denied(Denial {
            rule: d.rule,
            message: d.message,
        }),
        G::NotFound(m) => KubeError::NotFound(m),
        G::Conflict(m) => KubeError::Conflict(m),
        G::Forbidden(m) => KubeError::Forbidden(m),
        G::Invalid(m) => KubeError::Invalid(m),
        G::Gone(m) => KubeError::Gone(m),
        G::TimedOut(m) => KubeError::TimedOut(m),
        G::Transport(m) => KubeError::Transport(m),
        G::BadArgument(m) => KubeError::BadArgument(m),
        G::Cancelled(m) => KubeError::Cancelled(m),
    }
}

fn object_ref_down(r: &ObjectRef) -> GuestObjectRef {
    GuestObjectRef {
        api_version: r.api_version.clone(),
        kind: r.kind.clone(),
        namespace: r.namespace.clone(),
        name: r.name.clone(),
        uid: r.uid.clone(),
    }
}

fn stream_up(stream: guest::OutputStream) -> OutputStream {
    match stream {
        guest::OutputStream::Stdout => OutputStream::Stdout,
        guest::OutputStream::Stderr => OutputStream::Stderr,
    }
}

fn status_up(s: guest::ExecStatus) -> ExecStatus {
    ExecStatus {
        exit_code: s.exit_code,
        signal: s.signal,
        timed_out: s.timed_out,
        stdout_truncated: s.stdout_truncated,
        stderr_truncated: s.stderr_truncated,
        message: s.message,
    }
}

fn millis(timeout: Duration) -> u64 {
    u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX)
}

/// Runs one wait of a fake handle, then sleeps for as long as the fake
/// clock moved in it (at most `timeout`), so that the module's deadlines,
/// which run on the host's real clock, see the time pass.
fn paced<T>(
    fake: &FakeCluster,
    timeout: Duration,
    wait: impl FnOnce(u64) -> Result<T, guest::KubeError>,
) -> Result<T, KubeError> {
    let before = fake.clock_ms();
    let answer = wait(millis(timeout));
    let moved = fake.clock_ms().saturating_sub(before);
    std::thread::sleep(timeout.min(Duration::from_millis(moved)));
    answer.map_err(error_up)
}

/// The caller's streams of one call, as the fake's sessions use them.
struct Caller(CallerIo);

impl CallerStreams for Caller {
    fn output(&mut self, stream: guest::OutputStream, data: &[u8]) -> Result<(), guest::KubeError> {
        let sink = match stream {
            guest::OutputStream::Stdout => &self.0.stdout,
            guest::OutputStream::Stderr => &self.0.stderr,
        };
        lock(sink)
            .write_all(data)
            .map_err(|e| guest::KubeError::Transport(format!("forwarding output: {e}")))
    }

    fn take_stdin(&mut self) -> Result<Option<Vec<u8>>, guest::KubeError> {
        let Some(mut source) = lock(&self.0.stdin).take() else {
            return Ok(None);
        };
        let mut input = Vec::new();
        source
            .read_to_end(&mut input)
            .map_err(|e| guest::KubeError::Transport(format!("reading the caller's stdin: {e}")))?;
        Ok(Some(input))
    }
}

impl ClusterIo for InMemoryCluster {
    fn apply(&self, manifest: Manifest) -> Result<String, KubeError> {
        let stored = self.fake.apply(&manifest.value).map_err(error_up)?;
        Ok(stored.to_string())
    }

    fn create(&self, manifest: Manifest) -> Result<String, KubeError> {
        let answer = self.fake.create(&manifest.value).map_err(error_up)?;
        Ok(answer.to_string())
    }

    fn server_version(&self) -> Result<String, KubeError> {
        self.fake.server_version().map_err(error_up)
    }

    fn get(&self, target: &ObjectRef) -> Result<Option<String>, KubeError> {
        let object = self.fake.get(&object_ref_down(target)).map_err(error_up)?;
        Ok(object.map(|o| o.to_string()))
    }

    fn list(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        label_selector: &str,
    ) -> Result<Vec<String>, KubeError> {
        let objects = Cluster::list(&self.fake, api_version, kind, namespace, label_selector)
            .map_err(error_up)?;
        Ok(objects.iter().map(Value::to_string).collect())
    }

    fn delete(&self, target: &ObjectRef, options: &DeleteOptions) -> Result<bool, KubeError> {
        let options = guest::DeleteOptions {
            propagation: match options.propagation {
                Propagation::Foreground => guest::Propagation::Foreground,
                Propagation::Background => guest::Propagation::Background,
                Propagation::Orphan => guest::Propagation::Orphan,
            },
            precondition_uid: options.precondition_uid.clone(),
            grace_period_seconds: options.grace_period_seconds,
        };
        Cluster::delete(&self.fake, &object_ref_down(target), &options).map_err(error_up)
    }

    fn watch(&self, request: &WatchRequest) -> Result<Box<dyn WatchStream>, KubeError> {
        let request = guest::WatchRequest {
            api_version: request.api_version.clone(),
            kind: request.kind.clone(),
            namespace: request.namespace.clone(),
            label_selector: request.label_selector.clone(),
            field_selector: request.field_selector.clone(),
        };
        let watch = self.fake.open_watch(&request).map_err(error_up)?;
        Ok(Box::new(Handle(self.fake.clone(), watch)))
    }

    fn exec(&self, spec: &ExecSpec, caller: &CallerIo) -> Result<Box<dyn ExecStream>, KubeError> {
        let spec = guest::ExecSpec {
            namespace: spec.namespace.clone(),
            pod: spec.pod.clone(),
            container: spec.container.clone(),
            argv: spec.argv.clone(),
            stdin: spec.stdin,
            forward_output: spec.forward_output,
            forward_stdin: spec.forward_stdin,
            frame_stdin: spec.frame_stdin,
            tty: spec.tty.map(|size| leasebox_policy::lease::WindowSize {
                rows: size.rows,
                cols: size.cols,
            }),
            max_stdout_bytes: spec.max_stdout_bytes,
            max_stderr_bytes: spec.max_stderr_bytes,
        };
        let caller = Box::new(Caller(caller.clone()));
        let session = self.fake.open_exec(&spec, Some(caller)).map_err(error_up)?;
        Ok(Box::new(Handle(self.fake.clone(), session)))
    }

    fn logs(
        &self,
        request: &LogsRequest,
        caller: &CallerIo,
    ) -> Result<Box<dyn LogFollow>, KubeError> {
        let request = guest::LogsRequest {
            namespace: request.namespace.clone(),
            pod: request.pod.clone(),
            container: request.container.clone(),
            follow: request.follow,
            forward_output: request.forward_output,
            max_bytes: request.max_bytes,
        };
        let caller = Box::new(Caller(caller.clone()));
        let stream = self
            .fake
            .open_logs(&request, Some(caller))
            .map_err(error_up)?;
        Ok(Box::new(Handle(self.fake.clone(), stream)))
    }

    fn apply_host_secret(
        &self,
        request: &HostSecretRequest,
    ) -> Result<(String, Vec<String>), KubeError> {
        let request = guest::HostSecretRequest {
            manifest: parse(&request.manifest)?,
            random_keys: request.random_keys.clone(),
            host_keys: request.host_keys.clone(),
            literal: (request.literal.iter())
                .map(|v| GuestEnvVar {
                    name: v.name.clone(),
                    value: v.value.clone(),
                })
                .collect(),
        };
        let (stored, filled) = self.fake.apply_host_secret(&request).map_err(error_up)?;
        Ok((stored.to_string(), filled))
    }

    fn hand_over_secret(&self, request: &HandOverRequest) -> Result<(), KubeError> {
        let HandOverRequest {
            namespace,
            secret,
            pod,
            container,
            path,
        } = request.clone();
        Cluster::hand_over_secret(
            &self.fake,
            &guest::HandOverRequest {
                namespace: namespace.clone(),
                secret: secret.clone(),
                pod: pod.clone(),
                container: container.clone(),
                path: path.clone(),
            },
        )
        .map_err(error_up)?;
        let values: BTreeMap<String, String> = self.fake.secret_values(&namespace, &secret);
        let stored = Secret {
            string_data: Some(values),
            ..Secret::default()
        };
        lock(&self.hand_overs).push(HandOver {
            file: hand_over_file(&stored),
            namespace,
            secret,
            pod,
            container,
            path,
        });
        Ok(())
    }
}

/// A fake handle, with the cluster whose clock paces its waits.
struct Handle<H>(FakeCluster, H);

impl WatchStream for Handle<FakeWatch> {
    /// Waits in slices of at most [`WATCH_SLICE`], so that a change another
    /// thread scripts meanwhile is delivered within one, as a server
    /// delivers an event when it happens.
    fn next(&mut self, timeout: Duration) -> Result<Option<WatchEvent>, KubeError> {
        let mut left = timeout;
        let event = loop {
            let slice = left.min(WATCH_SLICE);
            let event = paced(&self.0, slice, |ms| self.1.next(ms))?;
            left -= slice;
            if event.is_some() || left.is_zero() {
                break event;
            }
        };
        Ok(event.map(|e| WatchEvent {
            event_type: match e.event_type {
                guest::EventType::Added => EventType::Added,
                guest::EventType::Modified => EventType::Modified,
                guest::EventType::Deleted => EventType::Deleted,
            },
            object: e.object.to_string(),
        }))
    }
}

impl ExecStream for Handle<FakeExec> {
    fn write_stdin(&mut self, data: &[u8]) -> Result<(), KubeError> {
        self.1.write_stdin(data).map_err(error_up)
    }

    fn close_stdin(&mut self) -> Result<(), KubeError> {
        self.1.close_stdin().map_err(error_up)
    }

    fn read(&mut self, timeout: Duration) -> Result<Option<(OutputStream, Vec<u8>)>, KubeError> {
        let chunk = paced(&self.0, timeout, |ms| self.1.read(ms))?;
        Ok(chunk.map(|(stream, data)| (stream_up(stream), data)))
    }

    fn wait(&mut self, timeout: Duration) -> Result<Option<ExecStatus>, KubeError> {
        Ok(paced(&self.0, timeout, |ms| self.1.wait(ms))?.map(status_up))
    }

    fn kill(&mut self) -> Result<(), KubeError> {
        self.1.kill().map_err(error_up)
    }
}

impl LogFollow for Handle<FakeLogs> {
    fn read(&mut self, timeout: Duration) -> Result<Option<Vec<u8>>, KubeError> {
        paced(&self.0, timeout, |ms| self.1.read(ms))
    }

    fn wait_end(&mut self, timeout: Duration) -> Result<bool, KubeError> {
        paced(&self.0, timeout, |ms| self.1.wait_end(ms))
    }
}
