//! The bounds of the `kube` imports as a module meets them: through the
//! import functions themselves, on a call's state, against a cluster that
//! counts what reaches it. A refused manifest is never handed on, and a
//! handle past the cap is never opened.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

use super::{Host, HostWatch, MAX_HANDLES_PER_CALL, MAX_MANIFEST_BYTES};
use crate::cluster::io::ClusterIo;
use crate::cluster::manifest::Manifest;
use crate::contract::{
    DeleteOptions, ExecSpec, ExecStream, HandOverRequest, HostSecretRequest, KubeError, LogFollow,
    LogsRequest, ObjectRef, WatchEvent, WatchRequest, WatchStream,
};
use crate::runtime::instance::HostState;
use crate::runtime::{Admission, CallEnv};

/// A cluster that counts the manifests and watches that reach it.
#[derive(Default)]
struct Counting {
    applied: AtomicUsize,
    watches: AtomicUsize,
}

struct Quiet;

impl WatchStream for Quiet {
    fn next(&mut self, _: Duration) -> Result<Option<WatchEvent>, KubeError> {
        Ok(None)
    }
}

impl ClusterIo for Counting {
    fn apply(&self, manifest: Manifest) -> Result<String, KubeError> {
        self.applied.fetch_add(1, Ordering::SeqCst);
        Ok(manifest.value.to_string())
    }
    fn create(&self, manifest: Manifest) -> Result<String, KubeError> {
        self.apply(manifest)
    }
    fn server_version(&self) -> Result<String, KubeError> {
        Ok("v1.20.2".into())
    }
    fn get(&self, _: &ObjectRef) -> Result<Option<String>, KubeError> {
        Ok(None)
    }
    fn list(&self, _: &str, _: &str, _: Option<&str>, _: &str) -> Result<Vec<String>, KubeError> {
        Ok(Vec::new())
    }
    fn delete(&self, _: &ObjectRef, _: &DeleteOptions) -> Result<bool, KubeError> {
        Ok(false)
    }
    fn watch(&self, _: &WatchRequest) -> Result<Box<dyn WatchStream>, KubeError> {
        self.watches.fetch_add(1, Ordering::SeqCst);
        Ok(Box::new(Quiet))
    }
    fn exec(
        &self,
        _: &ExecSpec,
        _: &crate::cluster::io::CallerIo,
    ) -> Result<Box<dyn ExecStream>, KubeError> {
        Err(KubeError::Forbidden("no exec here".into()))
    }
    fn logs(
        &self,
        _: &LogsRequest,
        _: &crate::cluster::io::CallerIo,
    ) -> Result<Box<dyn LogFollow>, KubeError> {
        Err(KubeError::Forbidden("no logs here".into()))
    }
    fn apply_host_secret(
        &self,
        request: &HostSecretRequest,
    ) -> Result<(String, Vec<String>), KubeError> {
        let manifest = Manifest::parse("apply-host-secret", &request.manifest)?;
        self.apply(manifest).map(|m| (m, Vec::new()))
    }
    fn hand_over_secret(&self, _: &HandOverRequest) -> Result<(), KubeError> {
        Err(KubeError::Forbidden("no hand-over here".into()))
    }
}

fn state_on(cluster: Arc<Counting>) -> HostState {
    let mut env = CallEnv::offline(CallEnv::silent_logger());
    env.cluster = cluster;
    HostState::new(&env, &Admission::new(1), MemoryOutputPipe::new(1024))
}

fn watch_request() -> WatchRequest {
    WatchRequest {
        api_version: "v1".into(),
        kind: "Pod".into(),
        namespace: "leasebox-acme".into(),
        label_selector: String::new(),
        field_selector: String::new(),
    }
}

#[test]
fn a_16_mib_manifest_is_bad_argument_and_never_reaches_the_cluster() {
    let cluster = Arc::new(Counting::default());
    let mut state = state_on(cluster.clone());
    let huge = format!(
        "{{\"kind\":\"ConfigMap\",\"data\":\"{}\"}}",
        "x".repeat(16 << 20)
    );
    for answer in [
        Host::apply(&mut state, huge.clone()),
        Host::create(&mut state, huge.clone()),
    ] {
        match answer.expect("no trap") {
            Err(KubeError::BadArgument(message)) => {
                assert!(message.contains(&format!("cap of {MAX_MANIFEST_BYTES} bytes")));
            }
            other => panic!("expected bad-argument, got {other:?}"),
        }
    }
    assert_eq!(cluster.applied.load(Ordering::SeqCst), 0);
    assert!(
        Host::apply(&mut state, "{}".into())
            .expect("no trap")
            .is_ok()
    );
}

#[test]
fn watches_past_the_cap_are_bad_argument_and_never_opened() {
    let cluster = Arc::new(Counting::default());
    let mut state = state_on(cluster.clone());
    let mut held = Vec::new();
    for _ in 0..MAX_HANDLES_PER_CALL {
        let watch = Host::open_watch(&mut state, watch_request()).expect("no trap");
        held.push(watch.expect("within the cap"));
    }
    for _ in 0..3_000 {
        match Host::open_watch(&mut state, watch_request()).expect("no trap") {
            Err(KubeError::BadArgument(message)) => {
                assert!(message.contains("MAX_HANDLES_PER_CALL = 64"), "{message}");
            }
            other => panic!("expected bad-argument, got {other:?}"),
        }
    }
    assert_eq!(cluster.watches.load(Ordering::SeqCst), MAX_HANDLES_PER_CALL);

    let dropped = held.pop().expect("one held");
    HostWatch::drop(&mut state, dropped).expect("dropped");
    let again = Host::open_watch(&mut state, watch_request()).expect("no trap");
    assert!(again.is_ok(), "a dropped watch frees its place");
}
