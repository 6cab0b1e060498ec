//! `leasebox serve` without a cluster, as a platform drives it: protocol
//! errors are typed and the server keeps serving, an overlong message is
//! refused without being held in memory, many clients call at once while
//! the module is swapped, and the transcript of `docs/serve.md` replays.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::scratch;

/// A running `leasebox serve` on stdio, without a cluster.
pub(super) struct Serve {
    pub(super) child: Child,
    pub(super) stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

pub(super) fn serve_command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_leasebox"));
    command
        .arg("serve")
        .args(args)
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env(
            "LEASEBOX_CACHE_DIR",
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("leasebox-cache"),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    command
}

impl Serve {
    pub(super) fn start(args: &[&str]) -> Serve {
        let mut child = serve_command(args).spawn().expect("leasebox serve starts");
        let stdin = child.stdin.take().expect("piped");
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        Serve {
            child,
            stdin,
            stdout,
        }
    }

    pub(super) fn send_raw(&mut self, line: &[u8]) {
        self.stdin.write_all(line).expect("serve reads");
        self.stdin.write_all(b"\n").expect("serve reads");
        self.stdin.flush().expect("serve reads");
    }

    pub(super) fn receive(&mut self) -> Value {
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("serve answers");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"))
    }

    /// Sends `request` and returns the answer with its id.
    pub(super) fn call(&mut self, request: Value) -> Value {
        self.send_raw(request.to_string().as_bytes());
        let id = request["id"].clone();
        loop {
            let answer = self.receive();
            if answer["id"] == id {
                return answer;
            }
        }
    }

    /// Peak resident memory of the server, in KiB (`VmHWM`).
    pub(super) fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("/proc is readable");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM is reported")
    }

    /// Closes stdin and waits for the server to exit; its exit code.
    pub(super) fn finish(mut self) -> Option<i32> {
        drop(self.stdin);
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("poll serve") {
                return status.code();
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "serve did not exit after stdin closed"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

pub(super) fn error_code(answer: &Value) -> i64 {
    answer["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("not an error: {answer}"))
}

#[test]
fn protocol_errors_are_typed_and_the_server_keeps_serving() {
    let mut serve = Serve::start(&[]);
    serve.send_raw(b"{not json");
    let parse = serve.receive();
    assert_eq!(error_code(&parse), -32700);
    assert_eq!(parse["id"], Value::Null);

    let unknown = serve.call(json!({"jsonrpc": "2.0", "id": 1, "method": "fly"}));
    assert_eq!(error_code(&unknown), -32601);
    assert!(
        unknown["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("validate")),
        "{unknown}"
    );

    let missing =
        serve.call(json!({"jsonrpc": "2.0", "id": 2, "method": "validate", "params": {}}));
    assert_eq!(error_code(&missing), -32602);
    assert!(
        missing["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("`config`")),
        "the error names the field: {missing}"
    );

    let extra = serve.call(json!({"jsonrpc": "2.0", "id": 3, "method": "status",
        "params": {"leaseId": "lb-x", "lease": "typo"}}));
    assert_eq!(error_code(&extra), -32602);
    assert!(
        extra["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("`lease`")),
        "{extra}"
    );

    let no_cluster = serve.call(json!({"jsonrpc": "2.0", "id": 4, "method": "list"}));
    assert_eq!(error_code(&no_cluster), -32003);
    assert_eq!(no_cluster["error"]["data"]["reason"], "no-cluster");

    let invalid = serve.call(json!({"jsonrpc": "2.0", "id": 5, "method": "validate",
        "params": {"config": {"inCluster": true, "backend": "vm"}}}));
    assert_eq!(invalid["result"]["ok"], false, "{invalid}");

    let health = serve.call(json!({"jsonrpc": "2.0", "id": 6, "method": "health"}));
    assert_eq!(health["result"]["ok"], true, "{health}");
    assert_eq!(health["result"]["module"]["contract"], "0.4.0");
    assert_eq!(serve.finish(), Some(0));
}

#[test]
fn a_100_mb_line_is_refused_without_growing_memory() {
    let mut serve = Serve::start(&[]);
    let before = serve.call(json!({"jsonrpc": "2.0", "id": 1, "method": "health"}));
    assert_eq!(before["result"]["ok"], true);
    let baseline = serve.peak_rss_kib();

    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..100 {
        serve.stdin.write_all(&chunk).expect("serve reads");
    }
    serve.send_raw(b"");
    let refused = serve.receive();
    assert_eq!(error_code(&refused), -32600, "{refused}");
    assert_eq!(refused["error"]["data"]["reason"], "too-large");

    let after = serve.call(json!({"jsonrpc": "2.0", "id": 2, "method": "health"}));
    assert_eq!(after["result"]["ok"], true);
    let growth = serve.peak_rss_kib().saturating_sub(baseline);
    assert!(
        growth < 40 * 1024,
        "peak memory grew by {growth} KiB reading a 100 MB line (at most 16 MiB may be held)"
    );
    assert_eq!(serve.finish(), Some(0));
}

pub(super) fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

/// One client on the Unix socket.
pub(super) fn connect(socket: &Path) -> (UnixStream, BufReader<UnixStream>) {
    let started = Instant::now();
    loop {
        match UnixStream::connect(socket) {
            Ok(stream) => {
                let reader = BufReader::new(stream.try_clone().expect("clone the socket"));
                return (stream, reader);
            }
            Err(_) if started.elapsed() < Duration::from_secs(60) => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("cannot connect to {}: {e}", socket.display()),
        }
    }
}

/// The manifests of a plan as a sorted list of their JSON texts (none: not
/// a list).
fn as_set(manifests: &Value) -> Option<Vec<String>> {
    let mut texts: Vec<String> = manifests.as_array()?.iter().map(Value::to_string).collect();
    texts.sort();
    Some(texts)
}

pub(super) fn call_on(
    stream: &mut UnixStream,
    reader: &mut BufReader<UnixStream>,
    request: &Value,
) -> Value {
    writeln!(stream, "{request}").expect("serve reads");
    let mut line = String::new();
    reader.read_line(&mut line).expect("serve answers");
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"))
}

/// 1,000 validate and plan calls from 8 clients while the module file is
/// swapped 20 times, good and broken modules alternating: no call fails,
/// every broken module is refused, and every plan is a whole module's (the
/// 0.1.0 and 0.2.0 default modules plan the same manifests, the 0.1.0 one
/// with the Secret at another place in the list, so plans are compared as
/// sets).
#[test]
fn calls_from_eight_clients_survive_twenty_swaps_good_and_broken() {
    let dir = scratch("serve_swaps");
    let socket = dir.join("serve.sock");
    let module = dir.join("policy.wasm");
    let current = workspace().join("target/guest-wasm/wasm32-wasip2/policy/leasebox_policy.wasm");
    let previous = workspace().join("tests/fixtures/modules/leasebox-policy-0.1.0.wasm");
    let good = [
        std::fs::read(&current).expect("the default module was built"),
        std::fs::read(&previous).expect("the 0.1.0 fixture"),
    ];
    let broken: [&[u8]; 2] = [b"not wasm at all", b"\0asm\x0d\0\x01\0"];
    std::fs::write(&module, &good[0]).expect("write the module");

    let mut server = serve_command(&[
        "--listen",
        &format!("unix:{}", socket.display()),
        "--policy",
        module.to_str().expect("utf-8 path"),
        "--no-watch",
    ])
    .stdin(Stdio::null())
    .spawn()
    .expect("leasebox serve starts");

    let plan_request = |id: u64| {
        json!({"jsonrpc": "2.0", "id": id, "method": "plan", "params": {
            "config": {"inCluster": true, "backend": "pod"},
            "companyId": "acme", "leaseId": "lb-01jd5z8k9m0000000000000000",
            "now": "2025-01-02T03:04:05Z"}})
    };
    let (mut admin, mut admin_reader) = connect(&socket);
    let reference = call_on(&mut admin, &mut admin_reader, &plan_request(0));
    let reference = reference["result"]["manifests"].clone();
    assert!(reference.is_array(), "{reference}");
    let reference = as_set(&reference);

    let clients = (0..8)
        .map(|client| {
            let socket = socket.clone();
            let reference = reference.clone();
            std::thread::spawn(move || {
                let (mut stream, mut reader) = connect(&socket);
                let mut failures = Vec::new();
                for n in 0..125u64 {
                    let id = client * 1000 + n + 1;
                    let request = if n % 2 == 0 {
                        plan_request(id)
                    } else {
                        json!({"jsonrpc": "2.0", "id": id, "method": "validate",
                            "params": {"config": {"inCluster": true}}})
                    };
                    let answer = call_on(&mut stream, &mut reader, &request);
                    let whole = if n % 2 == 0 {
                        as_set(&answer["result"]["manifests"]) == reference
                    } else {
                        answer["result"]["ok"] == true
                    };
                    if !whole {
                        failures.push(answer);
                    }
                }
                failures
            })
        })
        .collect::<Vec<_>>();

    let mut refused = 0;
    for swap in 0..20 {
        let bytes: &[u8] = if swap % 2 == 0 {
            &good[(swap / 2) % 2]
        } else {
            broken[(swap / 2) % 2]
        };
        std::fs::write(&module, bytes).expect("write the module");
        let answer = call_on(
            &mut admin,
            &mut admin_reader,
            &json!({"jsonrpc": "2.0", "id": 100_000 + swap, "method": "policy.reload"}),
        );
        if swap % 2 == 1 {
            assert_eq!(
                error_code(&answer),
                -32004,
                "a broken module is refused: {answer}"
            );
            refused += 1;
        } else {
            assert!(answer["result"]["sha256"].is_string(), "{answer}");
        }
    }
    let failures = clients
        .into_iter()
        .flat_map(|c| c.join().expect("a client thread"))
        .collect::<Vec<_>>();
    assert!(
        failures.is_empty(),
        "{} calls failed: {:?}",
        failures.len(),
        failures.first()
    );
    let health = call_on(
        &mut admin,
        &mut admin_reader,
        &json!({"jsonrpc": "2.0", "id": 200_000, "method": "health"}),
    );
    assert_eq!(health["result"]["swaps"], 10, "{health}");
    assert_eq!(health["result"]["refusedModules"], refused, "{health}");
    let _ = server.kill();
    let _ = server.wait();
}

/// The transcript of `docs/serve.md` (`-->` sent, `<--` received), replayed
/// line by line.
#[test]
fn the_documented_transcript_replays() {
    let doc = std::fs::read_to_string(workspace().join("docs/serve.md")).expect("docs/serve.md");
    let block = doc
        .split("```transcript")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("docs/serve.md has a ```transcript block");
    let mut serve = Serve::start(&[]);
    let mut replayed = 0;
    for line in block.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(sent) = line.strip_prefix("--> ") {
            serve.send_raw(sent.as_bytes());
        } else if let Some(expected) = line.strip_prefix("<-- ") {
            let expected: Value = serde_json::from_str(expected)
                .unwrap_or_else(|e| panic!("transcript line is not JSON ({e}): {expected}"));
            assert_eq!(serve.receive(), expected);
            replayed += 1;
        }
    }
    assert!(replayed >= 5, "only {replayed} answers in the transcript");
    assert_eq!(serve.finish(), Some(0));
}
