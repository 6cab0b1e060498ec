//! What the tests of the calls about one lease's pod (terminals, detached
//! processes, files) start from: a `pod` lease, the fake cluster holding
//! its running pod, a job lease whose pod has ended, scripted execs.

use serde_json::json;

use crate::cluster::OutputStream;
use crate::fake_cluster::{ExecScript, FakeCluster};
use crate::lease::{Backend, Lease, ObjectRef, for_tests};

/// The lease's id, and the name of its Pod.
pub(crate) const LEASE: &str = "lb-01jd5z8k9m0000000000000000";
/// Its tenant namespace.
pub(crate) const NS: &str = "leasebox-acme";

/// A `pod` lease.
pub(crate) fn lease() -> Lease {
    let workload = ObjectRef {
        api_version: "v1".into(),
        kind: "Pod".into(),
        namespace: Some(NS.into()),
        name: LEASE.into(),
        uid: None,
    };
    for_tests(LEASE, Backend::Pod, workload, LEASE)
}

/// A cluster holding the lease's running pod with `annotations`.
pub(crate) fn cluster_with(annotations: serde_json::Value) -> FakeCluster {
    let fake = FakeCluster::new();
    fake.put(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": LEASE, "namespace": NS, "annotations": annotations},
        "status": {"phase": "Running"}
    }));
    fake
}

/// A job lease whose pod (in `fake`) ended in `phase`.
pub(crate) fn ended_job_lease(fake: &FakeCluster, phase: &str) -> Lease {
    fake.put(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "lb-job-pod", "namespace": NS},
        "status": {"phase": phase}
    }));
    let mut lease = lease();
    lease.backend = Backend::Job;
    lease.pod = "lb-job-pod".into();
    lease
}

/// The next exec prints `stdout` and exits `code`.
pub(crate) fn script(fake: &FakeCluster, code: i32, stdout: impl AsRef<[u8]>) {
    fake.script_exec(ExecScript {
        output: vec![(OutputStream::Stdout, stdout.as_ref().to_vec())],
        ..ExecScript::exits(code)
    });
}

/// Exec `index`'s script arguments: after the wrapper's `sh -c SCRIPT name
/// cwd mode token`.
pub(crate) fn script_argv(fake: &FakeCluster, index: usize) -> Vec<String> {
    fake.execs()[index].spec.argv[7..].to_vec()
}
