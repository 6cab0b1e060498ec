//! `leasebox serve` on the real cluster, driven as a platform would over
//! stdio: acquire, an exec with stdin and its output streamed as
//! notifications (stdout and stderr apart, bytes exact), a cancelled exec
//! whose command is gone from the pod, release, and a clean exit.

use std::io::{BufRead, BufReader, Write};
use std::process::{ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

use crate::support::case::{Case, NAMESPACE_PREFIX};

pub(crate) struct Client {
    pub(crate) stdin: ChildStdin,
    pub(crate) stdout: BufReader<ChildStdout>,
}

impl Client {
    /// The client of `child`'s stdin and stdout.
    pub(crate) fn of(child: &mut std::process::Child) -> Client {
        Client {
            stdin: child.stdin.take().expect("piped"),
            stdout: BufReader::new(child.stdout.take().expect("piped")),
        }
    }

    pub(crate) fn send(&mut self, message: Value) {
        writeln!(self.stdin, "{message}").expect("serve reads");
        self.stdin.flush().expect("serve reads");
    }

    /// The next message from serve.
    pub(crate) fn next_message(&mut self) -> Value {
        let mut line = String::new();
        let read = self.stdout.read_line(&mut line).expect("serve writes");
        assert!(read > 0, "serve closed its stdout");
        serde_json::from_str(&line).expect("one JSON message per line")
    }

    /// Reads until the answer to `id`; returns it and the notifications
    /// received before it.
    pub(crate) fn until(&mut self, id: u64) -> (Value, Vec<Value>) {
        let mut notes = Vec::new();
        loop {
            let mut line = String::new();
            let read = self.stdout.read_line(&mut line).expect("serve answers");
            assert!(read > 0, "serve closed its stdout before answering {id}");
            let message: Value = serde_json::from_str(&line).expect("one JSON message per line");
            if message["id"] == id {
                return (message, notes);
            }
            notes.push(message);
        }
    }

    /// Acquires a pod lease for `case` as request `id`; its lease id.
    pub(crate) fn acquire(&mut self, id: u64, case: &Case) -> String {
        let acquired = self.call(
            id,
            "acquire",
            json!({"config": pod_config(case), "companyId": case.company}),
        );
        acquired["result"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{acquired}"))
            .to_string()
    }

    pub(crate) fn call(&mut self, id: u64, method: &str, params: Value) -> Value {
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let (answer, _) = self.until(id);
        answer
    }
}

pub(crate) fn output_of(notes: &[Value], id: u64, stream: &str) -> Vec<u8> {
    notes
        .iter()
        .filter(|n| n["method"] == "exec/output" && n["params"]["id"] == id)
        .filter(|n| n["params"]["stream"] == stream)
        .flat_map(|n| {
            BASE64
                .decode(n["params"]["data"].as_str().unwrap_or_default())
                .expect("output is base64")
        })
        .collect()
}

#[test]
fn serve_runs_a_lease_life_over_stdio() {
    let Some(case) = Case::start("serve") else {
        return;
    };
    let config = pod_config(&case);
    let mut child = start_serve(&case, &[]);
    let mut client = Client::of(&mut child);

    let acquired = client.call(
        1,
        "acquire",
        json!({"config": config, "companyId": case.company}),
    );
    let lease = acquired["result"].clone();
    let id = lease["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{acquired}"))
        .to_string();
    assert_eq!(lease["namespace"], case.namespace.as_str());

    // Bytes exact: a NUL, invalid UTF-8 and a newline travel through.
    let input: &[u8] = b"bytes \x00\xff through stdin\n";
    client.send(
        json!({"jsonrpc": "2.0", "id": 2, "method": "exec", "params": {
        "leaseId": id, "command": ["sh", "-c", "cat; echo to-stderr >&2; exit 7"], "stdin": true}}),
    );
    client.send(json!({"jsonrpc": "2.0", "method": "exec/stdin",
        "params": {"id": 2, "data": BASE64.encode(input)}}));
    client.send(json!({"jsonrpc": "2.0", "method": "exec/stdinEnd", "params": {"id": 2}}));
    let (status, notes) = client.until(2);
    assert_eq!(status["result"]["exitCode"], 7, "{status}");
    assert_eq!(output_of(&notes, 2, "stdout"), input);
    assert_eq!(output_of(&notes, 2, "stderr"), b"to-stderr\n");

    let phase = client.call(3, "status", json!({"leaseId": id}));
    assert_eq!(phase["result"]["phase"], "ready", "{phase}");

    client.send(json!({"jsonrpc": "2.0", "id": 4, "method": "exec",
        "params": {"leaseId": id, "shell": "sleep 4000 & wait"}}));
    std::thread::sleep(Duration::from_secs(3));
    client.send(json!({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 4}}));
    let (cancelled, _) = client.until(4);
    assert_eq!(cancelled["error"]["code"], -32800, "{cancelled}");
    client.send(json!({"jsonrpc": "2.0", "id": 5, "method": "exec",
        "params": {"leaseId": id, "command": ["ps", "-o", "pid,args"]}}));
    let (_, notes) = client.until(5);
    let processes = String::from_utf8_lossy(&output_of(&notes, 5, "stdout")).into_owned();
    assert!(
        !processes.contains("sleep 4000"),
        "the cancelled command still runs:\n{processes}"
    );

    let released = client.call(6, "release", json!({"leaseId": id}));
    assert_pod_deleted(&released);
    drop(client);
    let status = child.wait().expect("serve exits");
    assert_eq!(status.code(), Some(0));
    case.finish();
}

/// Asserts that the answer to a `release` lists the lease's Pod as deleted.
pub(crate) fn assert_pod_deleted(released: &Value) {
    assert!(
        released["result"]["deleted"]
            .as_array()
            .is_some_and(|d| d.iter().any(|o| o["kind"] == "Pod")),
        "{released}"
    );
}

/// Starts `leasebox serve` for `case` with `extra` flags.
pub(crate) fn start_serve(case: &Case, extra: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_leasebox"))
        .args([
            "serve",
            "--namespace-prefix",
            NAMESPACE_PREFIX,
            "--kubeconfig",
        ])
        .arg(case.kubeconfig())
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("leasebox serve starts")
}

/// The pod configuration of `case`, as serve takes it (in-cluster: the
/// server's own connection is used).
pub(crate) fn pod_config(case: &Case) -> Value {
    let mut config: Value = serde_json::from_str(
        &std::fs::read_to_string(case.config(json!({"backend": "pod"}))).expect("the config file"),
    )
    .expect("the config is JSON");
    config["inCluster"] = json!(true);
    config.as_object_mut().map(|c| c.remove("kubeconfig"));
    config
}

/// SIGTERM: the server takes no new call, lets the exec in flight finish
/// with its own exit code and output, and exits 0.
#[test]
fn serve_drains_in_flight_calls_on_sigterm() {
    let Some(case) = Case::start("serve-drain") else {
        return;
    };
    let mut child = start_serve(&case, &[]);
    let mut client = Client::of(&mut child);
    let id = client.acquire(1, &case);

    client.send(json!({"jsonrpc": "2.0", "id": 2, "method": "exec",
        "params": {"leaseId": id, "shell": "sleep 4; echo finished"}}));
    std::thread::sleep(Duration::from_secs(2));
    let signalled = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill on this machine");
    assert!(signalled.success());
    std::thread::sleep(Duration::from_millis(300));
    let refused = client.call(3, "health", json!({}));
    assert_eq!(refused["error"]["code"], -32005, "{refused}");

    let (finished, notes) = client.until(2);
    assert_eq!(finished["result"]["exitCode"], 0, "{finished}");
    assert_eq!(output_of(&notes, 2, "stdout"), b"finished\n");
    let status = child.wait().expect("serve exits");
    assert_eq!(status.code(), Some(0), "exit code after SIGTERM");

    let release = case.cli(&["release", "--lease", &id, "--namespace", &case.namespace]);
    release.assert_code(0);
    case.finish();
}

/// A client that disconnects has its calls cancelled (its command is killed
/// in the pod); another client of the same server is not affected.
#[test]
fn a_client_that_leaves_has_its_calls_cancelled_and_others_go_on() {
    use std::os::unix::net::UnixStream;
    let Some(case) = Case::start("serve-leave") else {
        return;
    };
    let socket =
        std::env::temp_dir().join(format!("leasebox-e2e-serve-{}.sock", std::process::id()));
    let listen = format!("unix:{}", socket.display());
    let mut server = start_serve(&case, &["--listen", &listen]);
    let connect = || {
        for _ in 0..600 {
            if let Ok(stream) = UnixStream::connect(&socket) {
                return stream;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("cannot connect to {}", socket.display());
    };
    let call = |stream: &mut UnixStream,
                reader: &mut BufReader<UnixStream>,
                id: u64,
                method: &str,
                params: Value| {
        writeln!(
            stream,
            "{}",
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
        )
        .expect("serve reads");
        let mut notes = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("serve answers");
            let message: Value = serde_json::from_str(&line).expect("JSON");
            if message["id"] == id {
                return (message, notes);
            }
            notes.push(message);
        }
    };

    let mut stay = connect();
    let mut stay_reader = BufReader::new(stay.try_clone().expect("clone"));
    let (acquired, _) = call(
        &mut stay,
        &mut stay_reader,
        1,
        "acquire",
        json!({"config": pod_config(&case), "companyId": case.company}),
    );
    let id = acquired["result"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{acquired}"))
        .to_string();

    let mut leave = connect();
    writeln!(
        leave,
        "{}",
        json!({"jsonrpc": "2.0", "id": 1, "method": "exec",
        "params": {"leaseId": id, "shell": "sleep 5000 & wait"}})
    )
    .expect("serve reads");
    let mut ps = |n: u64| {
        let (answer, notes) = call(
            &mut stay,
            &mut stay_reader,
            100 + n,
            "exec",
            json!({"leaseId": id, "command": ["ps", "-o", "pid,args"]}),
        );
        assert_eq!(answer["result"]["exitCode"], 0, "{answer}");
        String::from_utf8_lossy(&output_of(&notes, 100 + n, "stdout")).into_owned()
    };
    let started = (0..100).any(|n| {
        let running = ps(n).contains("sleep 5000");
        if !running {
            std::thread::sleep(Duration::from_millis(200));
        }
        running
    });
    assert!(started, "the leaving client's command never started");
    drop(leave);
    let gone = (200..300).any(|n| {
        let running = ps(n).contains("sleep 5000");
        if running {
            std::thread::sleep(Duration::from_millis(300));
        }
        !running
    });
    assert!(gone, "the command of the client that left still runs");

    let (released, _) = call(
        &mut stay,
        &mut stay_reader,
        2,
        "release",
        json!({"leaseId": id}),
    );
    assert!(released["result"]["deleted"].is_array(), "{released}");
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_file(&socket);
    case.finish();
}

/// Peak resident memory of process `pid`, in KiB (`VmHWM`).
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("/proc is readable")
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM is reported")
}

/// A client that ignores its stdin credit and pours 64 MiB into a command
/// that never reads it (issue 29: 1.5 GiB sent to a `sleep` grew serve to
/// 1.5 GiB). Serve holds at most its window of that stdin: what the exec
/// stream takes on moves on towards the pod (a container runtime may then
/// hold the session open until its stdin is read, as `kubectl exec -i`
/// sees too), and a chunk past the credit stops the call with
/// `stdin-overflow`; which happens depends on how fast the node takes stdin
/// in. Either way serve's memory stays flat, `$/cancelRequest` still gets
/// through, and the connection goes on.
#[test]
fn stdin_poured_past_the_credit_leaves_serve_memory_flat() {
    let Some(case) = Case::start("serve-stdin") else {
        return;
    };
    let mut child = start_serve(&case, &[]);
    let pid = child.id();
    let mut client = Client::of(&mut child);
    let lease = client.acquire(1, &case);
    let baseline = peak_rss_kib(pid);

    client.send(
        json!({"jsonrpc": "2.0", "id": 2, "method": "exec", "params": {
        "leaseId": lease, "command": ["sleep", "3600"], "stdin": true}}),
    );
    let chunk = BASE64.encode(vec![b'x'; 1 << 20]);
    for _ in 0..64 {
        client.send(json!({"jsonrpc": "2.0", "method": "exec/stdin",
            "params": {"id": 2, "data": chunk}}));
    }
    std::thread::sleep(Duration::from_secs(5));
    let growth = peak_rss_kib(pid).saturating_sub(baseline);
    client.send(json!({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 2}}));
    let (answer, notes) = client.until(2);
    assert!(
        notes.iter().any(|n| n["method"] == "exec/stdinCredit"
            && n["params"]["id"] == 2
            && n["params"]["bytes"] == 4_194_304),
        "the call's initial credit was announced"
    );
    let reason = answer["error"]["data"]["reason"]
        .as_str()
        .unwrap_or_default();
    assert!(
        ["stdin-overflow", "cancelled"].contains(&reason),
        "{answer}"
    );
    eprintln!(
        "64 MiB of stdin poured past the credit: the call answered {reason}; serve's peak \
         memory grew by {growth} KiB"
    );
    assert!(
        growth < 32 * 1024,
        "serve's peak memory grew by {growth} KiB for 64 MiB of stdin"
    );

    let echoed = client.call(
        3,
        "exec",
        json!({"leaseId": lease, "command": ["echo", "still here"]}),
    );
    assert_eq!(echoed["result"]["exitCode"], 0, "{echoed}");
    let released = client.call(4, "release", json!({"leaseId": lease}));
    assert_pod_deleted(&released);
    drop(client);
    let status = child.wait().expect("serve exits");
    assert_eq!(status.code(), Some(0));
    case.finish();
}
