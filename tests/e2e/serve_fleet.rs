//! `leasebox serve` as a platform's fleet uses it, on the real cluster:
//! many leases and execs through one process, a replica killed with
//! `kill -9` whose lease another replica resumes, and the sweep leader
//! handing over to the surviving replica. Every check reads the cluster.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease as CoordinationLease;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use serde_json::{Value, json};

use crate::serve::{Client, assert_pod_deleted, output_of, pod_config, start_serve};
use crate::support::case::Case;
use crate::support::cluster::GONE_LIMIT;

/// Reads until every id in `ids` is answered; the answers by id and every
/// notification.
fn answers(client: &mut Client, ids: &[u64]) -> (BTreeMap<u64, Value>, Vec<Value>) {
    let mut answered = BTreeMap::new();
    let mut notes = Vec::new();
    while answered.len() < ids.len() {
        let mut line = String::new();
        let read =
            std::io::BufRead::read_line(&mut client.stdout, &mut line).expect("serve answers");
        assert!(
            read > 0,
            "serve closed its stdout with {} answers missing",
            ids.len() - answered.len()
        );
        let message: Value = serde_json::from_str(&line).expect("one JSON message per line");
        match message["id"].as_u64() {
            Some(id) if ids.contains(&id) => {
                answered.insert(id, message);
            }
            _ => notes.push(message),
        }
    }
    (answered, notes)
}

/// A free `127.0.0.1:PORT`.
fn free_local_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").to_string()
}

/// The body of `GET /metrics` at `addr`.
fn scrape(addr: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("the metrics endpoint answers");
    write!(stream, "GET /metrics HTTP/1.1\r\nHost: {addr}\r\n\r\n").expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    answer
}

/// Resident memory of process `pid`, KiB (Linux).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc status")
}

/// Pods of the case's namespace, by name.
fn pods(case: &Case) -> Vec<String> {
    let api: Api<Pod> = Api::namespaced(case.client(), &case.namespace);
    case.block_on(api.list(&Default::default()))
        .expect("list pods")
        .items
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect()
}

/// Ten leases held by one serve, fifty execs on them at once: every
/// command's stdout and stderr arrive whole, in order, tagged with its own
/// request id; memory per held lease is measured.
#[test]
fn fifty_concurrent_execs_on_ten_leases_keep_every_byte_with_its_call() {
    let Some(case) = Case::start("serve-fleet") else {
        return;
    };
    let metrics_addr = free_local_addr();
    // A shared watch closes with its last wait, so that the scrape below
    // can tell that none is left open.
    let settings = case.write_file("serve-settings.yaml", "serve:\n  watchLingerSec: 0\n");
    let settings = settings.display().to_string();
    let mut serve = start_serve(
        &case,
        &["--metrics-addr", &metrics_addr, "--settings", &settings],
    );
    let pid = serve.id();
    let mut client = Client::of(&mut serve);
    let mut config = pod_config(&case);
    config["quota"]["pods"] = json!(12);
    config["quota"]["limitsCpu"] = json!("8");
    config["quota"]["limitsMemory"] = json!("4Gi");

    let health = client.call(1, "health", json!({}));
    assert_eq!(health["result"]["ok"], true, "{health}");
    let before = rss_kib(pid);

    let acquires: Vec<u64> = (100..110).collect();
    for id in &acquires {
        client.send(json!({"jsonrpc": "2.0", "id": id, "method": "acquire",
            "params": {"config": config, "companyId": case.company}}));
    }
    let (acquired, _) = answers(&mut client, &acquires);
    let leases: Vec<String> = acquired
        .values()
        .map(|a| {
            a["result"]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{a}"))
                .to_string()
        })
        .collect();
    assert_eq!(pods(&case).len(), 10, "ten lease pods in the cluster");
    let held = rss_kib(pid);
    let per_lease = held.saturating_sub(before) / 10;
    eprintln!(
        "serve memory: {before} KiB before, {held} KiB holding 10 leases: {per_lease} KiB per held lease"
    );
    assert!(per_lease < 2048, "memory per held lease: {per_lease} KiB");

    // Five execs per lease, all sent before any answer is read; each writes
    // its own tag to both streams, interleaved with the others.
    let execs: Vec<u64> = (200..250).collect();
    for (n, id) in execs.iter().enumerate() {
        let lease = &leases[n % leases.len()];
        let script = format!(
            "for i in 1 2 3 4 5 6 7 8; do echo out-{id}-$i; echo err-{id}-$i >&2; sleep 0.05; done; exit {}",
            n % 4
        );
        client.send(json!({"jsonrpc": "2.0", "id": id, "method": "exec",
            "params": {"leaseId": lease, "shell": script}}));
    }
    let (done, notes) = answers(&mut client, &execs);
    for (n, id) in execs.iter().enumerate() {
        let answer = &done[id];
        assert_eq!(answer["result"]["exitCode"], n % 4, "{answer}");
        let expect = |stream: &str| -> Vec<u8> {
            (1..=8)
                .flat_map(|i| format!("{stream}-{id}-{i}\n").into_bytes())
                .collect()
        };
        assert_eq!(
            String::from_utf8_lossy(&output_of(&notes, *id, "stdout")),
            String::from_utf8_lossy(&expect("out")),
            "stdout of call {id}"
        );
        assert_eq!(
            String::from_utf8_lossy(&output_of(&notes, *id, "stderr")),
            String::from_utf8_lossy(&expect("err")),
            "stderr of call {id}"
        );
    }

    // The metrics saw the same: ten acquires, every byte of output.
    let stdout_bytes: usize = execs
        .iter()
        .map(|id| {
            (1..=8)
                .map(|i| format!("out-{id}-{i}\n").len())
                .sum::<usize>()
        })
        .sum();
    let metrics = scrape(&metrics_addr);
    for line in [
        "leasebox_acquire_duration_seconds_count{backend=\"pod\",outcome=\"ok\"} 10".to_string(),
        format!("leasebox_exec_output_bytes_total{{stream=\"stdout\"}} {stdout_bytes}"),
        "leasebox_calls_total{method=\"exec\",outcome=\"ok\"} 50".to_string(),
        "leasebox_watches_open 0".to_string(),
    ] {
        assert!(metrics.contains(&line), "missing {line:?} in\n{metrics}");
    }

    let releases: Vec<u64> = (300..310).collect();
    for (id, lease) in releases.iter().zip(&leases) {
        client.send(json!({"jsonrpc": "2.0", "id": id, "method": "release",
            "params": {"leaseId": lease}}));
    }
    let (released, _) = answers(&mut client, &releases);
    for answer in released.values() {
        assert!(answer["result"]["deleted"].is_array(), "{answer}");
    }
    drop(client);
    assert_eq!(serve.wait().expect("serve exits").code(), Some(0));
    case.finish();
}

/// `kill -9` of serve during a long exec: the lease lives in the cluster,
/// so a new serve resumes it by id, runs a command in it and releases it.
#[test]
fn a_new_serve_resumes_and_releases_the_lease_of_a_killed_one() {
    let Some(case) = Case::start("serve-kill") else {
        return;
    };
    let mut first = start_serve(&case, &[]);
    let mut client = Client::of(&mut first);
    let id = client.acquire(1, &case);
    client.send(json!({"jsonrpc": "2.0", "id": 2, "method": "exec",
        "params": {"leaseId": id, "shell": "sleep 300"}}));
    std::thread::sleep(Duration::from_secs(2));
    first.kill().expect("kill -9 serve");
    first.wait().expect("reaped");
    drop(client);

    let mut second = start_serve(&case, &[]);
    let mut client = Client::of(&mut second);
    let status = client.call(1, "status", json!({"leaseId": id}));
    assert_eq!(status["result"]["phase"], "ready", "{status}");
    let (ran, notes) = {
        client.send(json!({"jsonrpc": "2.0", "id": 2, "method": "exec",
            "params": {"leaseId": id, "command": ["echo", "resumed"]}}));
        client.until(2)
    };
    assert_eq!(ran["result"]["exitCode"], 0, "{ran}");
    assert_eq!(output_of(&notes, 2, "stdout"), b"resumed\n");
    let released = client.call(3, "release", json!({"leaseId": id}));
    assert_pod_deleted(&released);
    drop(client);
    assert_eq!(second.wait().expect("serve exits").code(), Some(0));
    case.finish();
}

/// Polls `health` on `client` (ids from `next_id`) until `check` holds or
/// `limit` passes; the last answer.
fn health_until(
    client: &mut Client,
    next_id: &mut u64,
    limit: Duration,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let start = Instant::now();
    loop {
        *next_id += 1;
        let health = client.call(*next_id, "health", json!({}));
        if check(&health["result"]["sweep"]) || start.elapsed() > limit {
            return health["result"]["sweep"].clone();
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Two replicas: the first holds the sweep Lease, the second follows; after
/// `kill -9` of the first, the second takes the Lease over within its
/// duration (plus a round) and its sweep deletes an expired lease.
#[test]
fn surviving_replica_takes_the_sweep_over_and_sweeps() {
    let Some(case) = Case::start("serve-sweep") else {
        return;
    };
    let settings = case.write_file(
        "serve-settings.yaml",
        &format!(
            "serve:\n  sweepIntervalSec: 2\n  leaderElection:\n    namespace: {}\n    leaseName: leasebox-sweep\n    leaseDurationSec: 4\n",
            case.namespace
        ),
    );
    let settings = settings.display().to_string();
    let mut first = start_serve(&case, &["--settings", &settings]);
    let mut one = Client::of(&mut first);
    // The lease's namespace is where the election Lease lives.
    let id = one.acquire(1, &case);
    let mut n1 = 10;
    let sweep1 = health_until(&mut one, &mut n1, Duration::from_secs(20), |s| {
        s["leading"] == true
    });
    assert_eq!(sweep1["leading"], true, "the first replica leads: {sweep1}");

    let mut second = start_serve(&case, &["--settings", &settings]);
    let mut two = Client::of(&mut second);
    let mut n2 = 10;
    let sweep2 = health_until(&mut two, &mut n2, Duration::from_secs(6), |s| {
        s["holder"] == sweep1["identity"]
    });
    assert_eq!(sweep2["leading"], false, "{sweep2}");
    assert_eq!(sweep2["holder"], sweep1["identity"], "{sweep2}");

    let leases: Api<CoordinationLease> = Api::namespaced(case.client(), &case.namespace);
    let holder = |case: &Case| {
        case.block_on(leases.get("leasebox-sweep"))
            .expect("the election Lease exists")
            .spec
            .and_then(|s| s.holder_identity)
    };
    assert_eq!(holder(&case).as_deref(), sweep1["identity"].as_str());

    first.kill().expect("kill -9 the leader");
    first.wait().expect("reaped");
    drop(one);
    let killed = Instant::now();
    let sweep2 = health_until(&mut two, &mut n2, Duration::from_secs(20), |s| {
        s["leading"] == true
    });
    let took = killed.elapsed();
    eprintln!("sweep takeover after kill -9 of the leader: {took:?} (lease duration 4 s)");
    assert_eq!(
        sweep2["leading"], true,
        "the second replica took over: {sweep2}"
    );
    // Lease duration 4 s, a round every 4/3 s, plus a health poll.
    assert!(took < Duration::from_secs(8), "takeover took {took:?}");
    assert_eq!(
        holder(&case).as_deref(),
        sweep2["identity"].as_str(),
        "the cluster's Lease names the survivor"
    );

    // Expire the lease (its clock an hour back, one second to live): the
    // new leader's sweep deletes its pod.
    let past = (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1)).to_string();
    n2 += 1;
    let renewed = two.call(
        n2,
        "renew",
        json!({"leaseId": id, "ttlSeconds": 1, "now": past}),
    );
    assert!(renewed["result"]["expiresAt"].is_string(), "{renewed}");
    let start = Instant::now();
    while !pods(&case).is_empty() && start.elapsed() < GONE_LIMIT {
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(
        pods(&case).is_empty(),
        "the expired lease's pod is still there after {GONE_LIMIT:?}"
    );
    let swept = health_until(&mut two, &mut n2, Duration::from_secs(10), |s| {
        s["expiredTotal"].as_u64() > Some(0)
    });
    assert!(swept["expiredTotal"].as_u64() > Some(0), "{swept}");
    drop(two);
    assert_eq!(second.wait().expect("serve exits").code(), Some(0));
    case.finish();
}
