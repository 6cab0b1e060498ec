//! The client against a real cluster (k8s-real, Kubernetes 1.20): apply a
//! namespace and a pod, watch it to Running, exec with a real exit code,
//! stdin, logs, delete with a uid precondition. Needs
//! `LEASEBOX_E2E_KUBECONFIG` (e.g. `eval "$(k8s-real/env)"` and point it at
//! `$KUBECONFIG`); run with `cargo test -p leasebox --test wire -- --ignored`.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use leasebox::cluster::io::{CallerIo, ClusterIo};
use leasebox::cluster::kube_client::KubeClusterIo;
use leasebox::contract::{
    DeleteOptions, EventType, ExecSpec, LogsRequest, ObjectRef, Propagation, WatchRequest,
};

use crate::objects::manifest;

const NS: &str = "leasebox-wire-e2e";

/// A writer the test can read back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().map(|v| v.clone()).unwrap_or_default()).into_owned()
    }
}

fn caller(stdin: &'static [u8]) -> (CallerIo, Captured, Captured) {
    let (out, err) = (Captured::default(), Captured::default());
    let io = CallerIo {
        stdout: Arc::new(Mutex::new(out.clone())),
        stderr: Arc::new(Mutex::new(err.clone())),
        stdin: Arc::new(Mutex::new(Some(Box::new(stdin)))),
        window_sizes: Arc::new(Mutex::new(None)),
    };
    (io, out, err)
}

fn exec_spec(argv: &[&str]) -> ExecSpec {
    ExecSpec {
        namespace: NS.into(),
        pod: "box".into(),
        container: "main".into(),
        argv: argv.iter().map(|s| s.to_string()).collect(),
        stdin: false,
        forward_output: true,
        forward_stdin: false,
        frame_stdin: false,
        tty: None,
        max_stdout_bytes: None,
        max_stderr_bytes: None,
    }
}

fn pod_ref(uid: Option<String>) -> ObjectRef {
    ObjectRef {
        api_version: "v1".into(),
        kind: "Pod".into(),
        namespace: Some(NS.into()),
        name: "box".into(),
        uid,
    }
}

#[test]
#[ignore = "needs cluster: set LEASEBOX_E2E_KUBECONFIG"]
fn real_cluster_pod_lifecycle_with_exec_and_logs() {
    let Ok(path) = std::env::var("LEASEBOX_E2E_KUBECONFIG") else {
        eprintln!("skipped: LEASEBOX_E2E_KUBECONFIG is not set");
        return;
    };
    let io =
        KubeClusterIo::connect(Some(path.into()), None).unwrap_or_else(|e| panic!("connect: {e}"));
    let version = io
        .server_version()
        .unwrap_or_else(|e| panic!("version: {e}"));
    assert!(version.starts_with("v1."), "{version}");

    io.apply(manifest(&format!(
        r#"{{"apiVersion":"v1","kind":"Namespace","metadata":{{"name":"{NS}"}}}}"#
    )))
    .unwrap_or_else(|e| panic!("apply namespace: {e}"));
    let pod = format!(
        r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"box","namespace":"{NS}","labels":{{"app":"wire"}}}},
        "spec":{{"terminationGracePeriodSeconds":1,"containers":[{{"name":"main","image":"busybox:k8s-real","imagePullPolicy":"IfNotPresent",
        "command":["sh","-c","echo started; sleep 3600"]}}]}}}}"#
    );
    // A brand-new namespace may not have its service account yet.
    let deadline = Instant::now() + Duration::from_secs(30);
    let stored = loop {
        match io.apply(manifest(&pod)) {
            Ok(s) => break s,
            Err(e) if Instant::now() < deadline && e.to_string().contains("serviceaccount") => {
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(e) => panic!("apply pod: {e}"),
        }
    };
    let uid =
        serde_json::from_str::<serde_json::Value>(&stored).unwrap_or_default()["metadata"]["uid"]
            .as_str()
            .map(str::to_string);
    assert!(uid.is_some());

    let mut watch = io
        .watch(&WatchRequest {
            api_version: "v1".into(),
            kind: "Pod".into(),
            namespace: NS.into(),
            label_selector: "app=wire".into(),
            field_selector: "metadata.name=box".into(),
        })
        .unwrap_or_else(|e| panic!("watch: {e}"));
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut running = false;
    while !running && Instant::now() < deadline {
        if let Some(event) = watch
            .next(Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("watch next: {e}"))
        {
            let v: serde_json::Value = serde_json::from_str(&event.object).unwrap_or_default();
            running = event.event_type != EventType::Deleted && v["status"]["phase"] == "Running";
        }
    }
    assert!(running, "the pod did not reach Running");

    let listed = io
        .list("v1", "Pod", Some(NS), "app=wire")
        .unwrap_or_else(|e| panic!("list: {e}"));
    assert_eq!(listed.len(), 1);
    assert!(listed[0].contains(r#""kind":"Pod""#));

    // Exit code and separated streams.
    let (caller_io, out, err) = caller(b"");
    let mut exec = io
        .exec(
            &exec_spec(&["sh", "-c", "echo out; echo err >&2; exit 42"]),
            &caller_io,
        )
        .unwrap_or_else(|e| panic!("exec: {e}"));
    let status = exec
        .wait(Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("wait: {e}"));
    let status = status.unwrap_or_else(|| panic!("exec did not end"));
    assert_eq!(
        (status.exit_code, status.signal),
        (Some(42), None),
        "{status:?}"
    );
    assert_eq!(out.text(), "out\n");
    assert_eq!(err.text(), "err\n");

    // A signal death.
    let (caller_io, _, _) = caller(b"");
    let mut exec = io
        .exec(&exec_spec(&["sh", "-c", "kill -9 $$"]), &caller_io)
        .unwrap_or_else(|e| panic!("exec: {e}"));
    let status = exec
        .wait(Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("wait: {e}"));
    assert_eq!(
        status.map(|s| (s.exit_code, s.signal)),
        Some((Some(137), Some(9)))
    );

    // Output queued for read, with a cap.
    let mut spec = exec_spec(&["sh", "-c", "echo 0123456789; exit 0"]);
    spec.forward_output = false;
    spec.max_stdout_bytes = Some(4);
    let mut exec = io
        .exec(&spec, &caller_io)
        .unwrap_or_else(|e| panic!("exec: {e}"));
    let status = exec
        .wait(Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("wait: {e}"));
    let status = status.unwrap_or_else(|| panic!("exec did not end"));
    assert_eq!((status.exit_code, status.stdout_truncated), (Some(0), true));
    let mut read = Vec::new();
    while let Ok(Some((_, chunk))) = exec.read(Duration::from_millis(200)) {
        read.extend(chunk);
    }
    assert_eq!(read, b"0123");

    // Stdin written by the guest, then the caller's stdin forwarded.
    let (caller_io, out, _) = caller(b"from caller\n");
    let mut spec = exec_spec(&["sh", "-c", "head -c 22"]);
    spec.stdin = true;
    spec.forward_stdin = true;
    let mut exec = io
        .exec(&spec, &caller_io)
        .unwrap_or_else(|e| panic!("exec: {e}"));
    exec.write_stdin(b"from guest\n")
        .unwrap_or_else(|e| panic!("stdin: {e}"));
    exec.close_stdin()
        .unwrap_or_else(|e| panic!("close stdin: {e}"));
    let status = exec
        .wait(Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("wait: {e}"));
    eprintln!("stdin exec: {status:?} out={:?}", out.text());
    assert_eq!(status.map(|s| s.exit_code), Some(Some(0)));
    assert_eq!(out.text(), "from guest\nfrom caller");

    // Logs (not following).
    let (caller_io, out, _) = caller(b"");
    let request = LogsRequest {
        namespace: NS.into(),
        pod: "box".into(),
        container: "main".into(),
        follow: false,
        forward_output: true,
        max_bytes: None,
    };
    let mut logs = io
        .logs(&request, &caller_io)
        .unwrap_or_else(|e| panic!("logs: {e}"));
    assert_eq!(logs.wait_end(Duration::from_secs(10)), Ok(true));
    assert_eq!(out.text(), "started\n");

    // Delete: a wrong uid is a conflict, the right one deletes, then gone.
    let options = |uid: Option<String>| DeleteOptions {
        propagation: Propagation::Background,
        precondition_uid: uid,
        grace_period_seconds: Some(0),
    };
    let wrong = io.delete(&pod_ref(None), &options(Some("not-the-uid".into())));
    assert!(
        matches!(wrong, Err(leasebox::contract::KubeError::Conflict(_))),
        "{wrong:?}"
    );
    assert_eq!(
        io.delete(&pod_ref(uid.clone()), &options(uid.clone())),
        Ok(true)
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while io.get(&pod_ref(None)).ok().flatten().is_some() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(io.get(&pod_ref(None)), Ok(None));
    assert_eq!(io.delete(&pod_ref(None), &options(None)), Ok(false));
    let ns = ObjectRef {
        api_version: "v1".into(),
        kind: "Namespace".into(),
        namespace: None,
        name: NS.into(),
        uid: None,
    };
    assert_eq!(io.delete(&ns, &options(None)), Ok(true));
}

/// An exec whose output the module reads (not forwarded), with stdin
/// written and closed: every chunk, then the end of the output as soon as
/// the command has ended, not a read's whole timeout later.
#[test]
#[ignore = "needs cluster: set LEASEBOX_E2E_KUBECONFIG"]
fn real_cluster_read_output_ends_when_the_command_does() {
    let Ok(path) = std::env::var("LEASEBOX_E2E_KUBECONFIG") else {
        eprintln!("skipped: LEASEBOX_E2E_KUBECONFIG is not set");
        return;
    };
    let namespace = std::env::var("LEASEBOX_WIRE_NAMESPACE").unwrap_or_else(|_| NS.into());
    let pod = std::env::var("LEASEBOX_WIRE_POD").unwrap_or_else(|_| "box".into());
    let container = std::env::var("LEASEBOX_WIRE_CONTAINER").unwrap_or_else(|_| "main".into());
    let io =
        KubeClusterIo::connect(Some(path.into()), None).unwrap_or_else(|e| panic!("connect: {e}"));
    let spec = ExecSpec {
        namespace,
        pod,
        container,
        argv: vec!["sh".into(), "-c".into(), "cat >/dev/null; echo out".into()],
        stdin: true,
        forward_output: false,
        forward_stdin: false,
        frame_stdin: false,
        tty: None,
        max_stdout_bytes: Some(1 << 20),
        max_stderr_bytes: Some(1 << 20),
    };
    let (caller, _, _) = caller(b"");
    let started = Instant::now();
    let mut session = io
        .exec(&spec, &caller)
        .unwrap_or_else(|e| panic!("exec: {e}"));
    session.write_stdin(b"in\n").expect("stdin");
    session.close_stdin().expect("close");
    let mut out = Vec::new();
    while let Some((_, data)) = session
        .read(Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("read: {e}"))
    {
        out.extend_from_slice(&data);
    }
    let ended = started.elapsed();
    let status = session.wait(Duration::from_secs(10)).expect("wait");
    assert_eq!(out, b"out\n");
    assert_eq!(status.and_then(|s| s.exit_code), Some(0));
    assert!(
        ended < Duration::from_secs(5),
        "the end of the output came {ended:?} after the start"
    );
}
