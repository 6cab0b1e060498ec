//! Warm pools on the real cluster, through `leasebox serve` as a platform
//! drives it (and `leasebox pool ensure`): warm acquires with their own
//! Secret and egress, the surplus of a burst going cold, two replicas
//! claiming from one pool, an unclaimed pool pod holding nothing, and a
//! module swap replacing the pool. Every check reads the cluster.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Pod, Secret};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::Api;
use kube::api::ListParams;
use serde_json::{Value, json};

use crate::serve::{Client, output_of, pod_config, start_serve};
use crate::support::case::{Case, NAMESPACE_PREFIX};
use crate::support::cluster::exec_in_pod;

/// The label of a pool pod naming its pool.
const POOL_LABEL: &str = "leasebox.dev/pool";

/// The label naming a pod's lease.
const LEASE_LABEL: &str = "leasebox.dev/lease";

/// How long pool pods may take to become ready on the test node.
const READY_LIMIT: Duration = Duration::from_secs(120);

/// The pod configuration of `case` with a warm pool of `size`, small
/// enough that 60 pods fit the node and the tenant's quota.
fn pool_config(case: &Case, size: u32) -> Value {
    let mut config = pod_config(case);
    config["warmPool"] = json!({ "size": size });
    config["defaultResources"] = json!({
        "requests": { "cpu": "10m", "memory": "16Mi" },
        "limits": { "cpu": "100m", "memory": "64Mi" }
    });
    for (key, value) in [
        ("pods", json!(70)),
        ("requestsCpu", json!("2")),
        ("requestsMemory", json!("4Gi")),
        ("limitsCpu", json!("16")),
        ("limitsMemory", json!("8Gi")),
    ] {
        config["quota"][key] = value;
    }
    config
}

/// Host settings turning pools on (and the e2e fence), plus `extra` YAML.
fn pool_settings(case: &Case, per_tenant: u32, total: u32, extra: &str) -> PathBuf {
    case.write_file(
        "settings.yaml",
        &format!(
            "fence:\n  namespacePrefix: {NAMESPACE_PREFIX}\npools:\n  maxPerTenant: \
             {per_tenant}\n  maxTotal: {total}\n{extra}"
        ),
    )
}

/// `leasebox serve` of `case` with `settings` (and `extra` flags).
fn serve_with(case: &Case, settings: &std::path::Path) -> (std::process::Child, Client) {
    serve_with_flags(case, settings, &[])
}

fn serve_with_flags(
    case: &Case,
    settings: &std::path::Path,
    extra: &[&str],
) -> (std::process::Child, Client) {
    let settings = settings.display().to_string();
    let mut flags = vec!["--settings", settings.as_str()];
    flags.extend_from_slice(extra);
    let mut child = start_serve(case, &flags);
    let client = Client::of(&mut child);
    (child, client)
}

/// The value of the metric line that starts with `series` in serve's
/// `/metrics` at `addr` (0 when absent).
fn metric(addr: &str, series: &str) -> f64 {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("the metrics endpoint answers");
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    answer
        .lines()
        .find_map(|line| line.strip_prefix(series))
        .and_then(|rest| rest.trim().parse().ok())
        .unwrap_or(0.0)
}

/// The pods of the tenant matching `selector`.
fn pods(case: &Case, selector: &str) -> Vec<Pod> {
    let api: Api<Pod> = Api::namespaced(case.client(), &case.namespace);
    case.block_on(api.list(&ListParams::default().labels(selector)))
        .map(|list| list.items)
        .unwrap_or_else(|e| panic!("list pods {selector}: {e}"))
}

fn ready(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none()
        && pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Waits until the tenant holds `count` ready, unclaimed pool pods; their
/// uids.
fn wait_pool_ready(case: &Case, count: usize) -> BTreeSet<String> {
    let started = Instant::now();
    loop {
        let unclaimed: Vec<Pod> = pods(case, &format!("{POOL_LABEL},!{LEASE_LABEL}"))
            .into_iter()
            .filter(ready)
            .collect();
        if unclaimed.len() >= count {
            return unclaimed
                .iter()
                .filter_map(|p| p.metadata.uid.clone())
                .collect();
        }
        assert!(
            started.elapsed() < READY_LIMIT,
            "{} of {count} pool pods ready after {READY_LIMIT:?}",
            unclaimed.len()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The value of `key` in the Secret `name`, read from the cluster.
fn secret_value(case: &Case, name: &str, key: &str) -> String {
    let api: Api<Secret> = Api::namespaced(case.client(), &case.namespace);
    let secret = case
        .block_on(api.get(name))
        .unwrap_or_else(|e| panic!("Secret {name}: {e}"));
    let bytes = secret
        .data
        .and_then(|d| d.get(key).cloned())
        .unwrap_or_else(|| panic!("Secret {name} has no {key}"));
    String::from_utf8(bytes.0).expect("UTF-8")
}

/// The names of the pods the egress policy of `lease` selects.
fn selected_by_egress(case: &Case, lease: &str) -> Vec<String> {
    let api: Api<NetworkPolicy> = Api::namespaced(case.client(), &case.namespace);
    let policy = case
        .block_on(api.get(&format!("{lease}-egress")))
        .unwrap_or_else(|e| panic!("egress policy of {lease}: {e}"));
    let labels = policy
        .spec
        .and_then(|s| s.pod_selector)
        .and_then(|s| s.match_labels)
        .unwrap_or_default();
    assert!(
        !labels.is_empty(),
        "the egress policy of {lease} selects every pod"
    );
    let selector = labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    pods(case, &selector)
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter_map(|p| p.metadata.name)
        .collect()
}

/// Sends every request of `requests` (id, method, params) and reads until
/// each is answered; the answers by id.
fn all_answered(client: &mut Client, requests: &[(u64, &str, Value)]) -> BTreeMap<u64, Value> {
    for (id, method, params) in requests {
        client.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
    }
    let mut answers = BTreeMap::new();
    while answers.len() < requests.len() {
        let message = client.next_message();
        if let Some(id) = message["id"].as_u64() {
            answers.insert(id, message);
        }
    }
    answers
}

/// Releases every lease of `ids` through `client` (request ids from
/// `first`).
fn release_all(client: &mut Client, first: u64, ids: &[String]) {
    let requests: Vec<(u64, &str, Value)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (first + i as u64, "release", json!({ "leaseId": id })))
        .collect();
    for (id, answer) in all_answered(client, &requests) {
        assert!(answer.get("result").is_some(), "release #{id}: {answer}");
    }
}

/// Empties the pool of `config` (`pool.ensure` with `warmPool.size` 0, as
/// after a configuration change) and checks that nothing of leasebox is
/// left: no lease object and no pool pod.
fn drain(case: &Case, client: &mut Client, id: u64, config: &Value) {
    let mut empty = config.clone();
    empty["warmPool"] = json!({ "size": 0 });
    let drained = client.call(
        id,
        "pool.ensure",
        json!({"config": empty, "companyId": case.company}),
    );
    assert_eq!(drained["result"]["size"], 0, "{drained}");
    case.assert_no_lease_objects();
}

#[test]
fn a_pool_of_eight_serves_eight_warm_acquires_each_with_its_own_secret_and_egress() {
    let Some(case) = Case::start("pool-warm") else {
        return;
    };
    let settings = pool_settings(&case, 8, 16, "");
    let (mut child, mut client) = serve_with(&case, &settings);
    let config = pool_config(&case, 8);
    let ensured = client.call(
        1,
        "pool.ensure",
        json!({"config": config, "companyId": case.company}),
    );
    assert_eq!(ensured["result"]["size"], 8, "{ensured}");
    assert_eq!(ensured["result"]["namespace"], case.namespace.as_str());
    wait_pool_ready(&case, 8);

    let mut leases = Vec::new();
    for i in 0..8u64 {
        let answer = client.call(
            10 + i,
            "acquire",
            json!({"config": config, "companyId": case.company}),
        );
        let lease = answer["result"].clone();
        assert_eq!(
            lease["warm"], true,
            "acquire #{i} was not from the pool: {answer}"
        );
        leases.push(lease);
    }
    let pods_of: BTreeSet<&str> = leases.iter().filter_map(|l| l["pod"].as_str()).collect();
    assert_eq!(pods_of.len(), 8, "eight leases, eight pods: {pods_of:?}");

    let mut tokens = BTreeSet::new();
    for (i, lease) in leases.iter().enumerate() {
        let id = lease["id"].as_str().expect("id");
        let request = 100 + i as u64;
        client.send(
            json!({"jsonrpc": "2.0", "id": request, "method": "exec", "params": {
            "leaseId": id, "command": ["sh", "-c", "printf %s \"$BOOTSTRAP_TOKEN\""]}}),
        );
        let (status, notes) = client.until(request);
        assert_eq!(status["result"]["exitCode"], 0, "{status}");
        let seen = String::from_utf8(output_of(&notes, request, "stdout")).expect("UTF-8");
        let stored = secret_value(&case, &format!("{id}-env"), "BOOTSTRAP_TOKEN");
        assert_eq!(
            seen, stored,
            "lease {id}: the command sees its own Secret's value"
        );
        assert_eq!(seen.len(), 64, "a random key: {seen}");
        tokens.insert(seen);
        let pod = lease["pod"].as_str().expect("pod");
        assert_eq!(
            selected_by_egress(&case, id),
            [pod],
            "lease {id}: its egress policy selects its pod alone"
        );
    }
    assert_eq!(tokens.len(), 8, "every lease has its own token");

    let ids: Vec<String> = leases
        .iter()
        .filter_map(|l| l["id"].as_str().map(str::to_string))
        .collect();
    release_all(&mut client, 200, &ids);
    drain(&case, &mut client, 300, &config);
    let _ = child.kill();
    let _ = child.wait();
    case.finish();
}

#[test]
fn a_burst_beyond_the_pool_goes_cold_and_none_fails() {
    let Some(case) = Case::start("pool-burst") else {
        return;
    };
    let settings = pool_settings(&case, 8, 16, "");
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").to_string()
    };
    let (mut child, mut client) = serve_with_flags(&case, &settings, &["--metrics-addr", &addr]);
    let config = pool_config(&case, 8);
    let ensured = client.call(
        1,
        "pool.ensure",
        json!({"config": config, "companyId": case.company}),
    );
    assert_eq!(ensured["result"]["size"], 8, "{ensured}");
    wait_pool_ready(&case, 8);

    // 32 acquires, never more than 8 in flight: a new one each time one
    // is answered.
    let acquire = |id: u64| {
        json!({"jsonrpc": "2.0", "id": id, "method": "acquire",
            "params": {"config": config, "companyId": case.company}})
    };
    let (total, in_flight) = (32u64, 8u64);
    for id in 0..in_flight {
        client.send(acquire(id));
    }
    let mut next = in_flight;
    let mut answers = BTreeMap::new();
    while answers.len() < total as usize {
        let message = client.next_message();
        let Some(id) = message["id"].as_u64() else {
            continue;
        };
        answers.insert(id, message);
        if next < total {
            client.send(acquire(next));
            next += 1;
        }
    }
    let failed: Vec<&Value> = answers
        .values()
        .filter(|a| a.get("result").is_none())
        .collect();
    assert!(failed.is_empty(), "acquires failed: {failed:?}");
    let warm = answers
        .values()
        .filter(|a| a["result"]["warm"] == true)
        .count();
    let cold = answers.len() - warm;
    eprintln!("pool burst: {warm} warm, {cold} cold of {total}");
    assert!(warm >= 1, "no acquire came from the pool");
    assert!(
        cold >= 1,
        "32 acquires against a pool of 8: the surplus goes cold"
    );
    let counted = |source: &str| {
        metric(
            &addr,
            &format!("leasebox_pool_acquires_total{{source=\"{source}\"}}"),
        )
    };
    assert_eq!(
        counted("warm"),
        warm as f64,
        "the metrics count the warm acquires"
    );
    assert_eq!(
        counted("cold"),
        cold as f64,
        "the metrics count the cold fallbacks"
    );
    let size = metric(
        &addr,
        &format!(
            "leasebox_pool_pods{{namespace=\"{}\",pool=\"{}\",state=\"size\"}}",
            case.namespace,
            ensured["result"]["pool"].as_str().unwrap_or_default()
        ),
    );
    assert_eq!(size, 8.0, "the pool's size is shown");
    let uids: BTreeSet<&str> = answers
        .values()
        .filter_map(|a| a["result"]["workload"]["uid"].as_str())
        .collect();
    assert_eq!(uids.len(), total as usize, "one pod per lease");

    let ids: Vec<String> = answers
        .values()
        .filter_map(|a| a["result"]["id"].as_str().map(str::to_string))
        .collect();
    release_all(&mut client, 1000, &ids);
    drain(&case, &mut client, 2000, &config);
    let _ = child.kill();
    let _ = child.wait();
    case.finish();
}

#[test]
fn two_replicas_claiming_from_one_pool_never_bind_a_pod_twice() {
    let Some(case) = Case::start("pool-replicas") else {
        return;
    };
    let settings = pool_settings(&case, 10, 20, "");
    let (mut first, mut a) = serve_with(&case, &settings);
    let (mut second, mut b) = serve_with(&case, &settings);
    let config = pool_config(&case, 10);
    let ensured = a.call(
        1,
        "pool.ensure",
        json!({"config": config, "companyId": case.company}),
    );
    assert_eq!(ensured["result"]["size"], 10, "{ensured}");
    wait_pool_ready(&case, 10);

    // 40 acquires at once, 20 to each replica.
    let requests: Vec<(u64, &str, Value)> = (0..20u64)
        .map(|i| {
            (
                10 + i,
                "acquire",
                json!({"config": config, "companyId": case.company}),
            )
        })
        .collect();
    for (id, method, params) in &requests {
        a.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        b.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
    }
    let mut answers = Vec::new();
    for client in [&mut a, &mut b] {
        let mut got = BTreeMap::new();
        while got.len() < requests.len() {
            let message = client.next_message();
            if let Some(id) = message["id"].as_u64() {
                got.insert(id, message);
            }
        }
        answers.extend(got.into_values());
    }
    let failed: Vec<&Value> = answers
        .iter()
        .filter(|a| a.get("result").is_none())
        .collect();
    assert!(failed.is_empty(), "acquires failed: {failed:?}");
    let warm = answers
        .iter()
        .filter(|a| a["result"]["warm"] == true)
        .count();
    eprintln!("two replicas: {warm} warm, {} cold of 40", 40 - warm);
    assert!(warm >= 1, "no acquire came from the pool");

    // On the cluster: every lease's pod (by uid) is bound to that lease
    // alone, and no uid serves two leases.
    let mut bound: BTreeMap<String, String> = BTreeMap::new();
    for answer in &answers {
        let lease = answer["result"]["id"].as_str().expect("id").to_string();
        let uid = answer["result"]["workload"]["uid"]
            .as_str()
            .expect("uid")
            .to_string();
        if let Some(other) = bound.insert(uid.clone(), lease.clone()) {
            panic!("pod {uid} is bound to {other} and {lease}");
        }
    }
    let on_cluster: BTreeMap<String, String> = pods(&case, LEASE_LABEL)
        .into_iter()
        .filter_map(|p| {
            let lease = p.metadata.labels.as_ref()?.get(LEASE_LABEL)?.clone();
            Some((p.metadata.uid?, lease))
        })
        .collect();
    for (uid, lease) in &bound {
        assert_eq!(
            on_cluster.get(uid),
            Some(lease),
            "pod {uid} on the cluster does not carry the lease label of {lease}"
        );
    }

    let ids: Vec<String> = bound.values().cloned().collect();
    let (first_half, second_half) = ids.split_at(20);
    release_all(&mut a, 500, first_half);
    release_all(&mut b, 500, second_half);
    drain(&case, &mut a, 600, &config);
    for child in [&mut first, &mut second] {
        let _ = child.kill();
        let _ = child.wait();
    }
    case.finish();
}

#[test]
fn an_unclaimed_pool_pod_holds_no_secret_and_refuses_exec_through_leasebox() {
    let Some(case) = Case::start("pool-unclaimed") else {
        return;
    };
    let settings = pool_settings(&case, 2, 4, "");
    let mut config = pool_config(&case, 1);
    config["inCluster"] = json!(false);
    config["kubeconfig"] = json!(case.kubeconfig().display().to_string());
    let config_path = case.write_file("pool.json", &config.to_string());
    let settings_arg = settings.display().to_string();
    let config_arg = config_path.display().to_string();
    let ensured = case.cli(&[
        "pool",
        "ensure",
        "--config",
        &config_arg,
        "--company-id",
        &case.company,
        "--settings",
        &settings_arg,
    ]);
    ensured.assert_code(0);
    assert_eq!(ensured.json()["size"], 1, "{}", ensured.describe());
    wait_pool_ready(&case, 1);
    let pod = pods(&case, POOL_LABEL).pop().expect("a pool pod");
    let name = pod.metadata.name.clone().expect("name");

    // No Secret referenced: no env from one, no volume of one, no token.
    let text = serde_json::to_string(&pod.spec).expect("JSON");
    for reference in [
        "secretRef",
        "secretKeyRef",
        "\"secret\"",
        "serviceAccountToken",
    ] {
        assert!(
            !text.contains(reference),
            "pool pod spec references {reference}: {text}"
        );
    }
    assert_eq!(
        pod.spec
            .as_ref()
            .and_then(|s| s.automount_service_account_token),
        Some(false)
    );
    let secrets: Api<Secret> = Api::namespaced(case.client(), &case.namespace);
    let lease_secrets: Vec<String> = case
        .block_on(secrets.list(&ListParams::default().labels(LEASE_LABEL)))
        .expect("list Secrets")
        .items
        .into_iter()
        .filter_map(|s| s.metadata.name)
        .collect();
    assert!(
        lease_secrets.is_empty(),
        "a lease Secret exists before any claim: {lease_secrets:?}"
    );
    // Inside the pod, read as the cluster's administrator: no lease env,
    // no token, nothing mounted from a Secret.
    let inside = case
        .block_on(exec_in_pod(
            &case.client(),
            &case.namespace,
            &name,
            "agent",
            &[
                "sh",
                "-c",
                "ls -A /run/leasebox; env | grep -c BOOTSTRAP_TOKEN; ls /var/run/secrets 2>&1",
            ],
            Duration::from_secs(30),
        ))
        .expect("exec as administrator");
    assert!(
        inside.stdout.starts_with("0\n") && inside.stdout.contains("No such file"),
        "an unclaimed pool pod holds something: {:?}",
        inside.stdout
    );

    // Exec through leasebox: a module trying it is refused by the guard,
    // naming the rule.
    let mut attack = config.clone();
    attack["attack"] = json!("exec-pod");
    attack["namespace"] = json!(case.namespace);
    attack["pod"] = json!(name);
    attack["container"] = json!("agent");
    let attack_path = case.write_file("attack.json", &attack.to_string());
    let module = crate::hostile_module::hostile_module()
        .display()
        .to_string();
    let attack_arg = attack_path.display().to_string();
    let probed = case.cli(&[
        "probe",
        "--policy",
        &module,
        "--config",
        &attack_arg,
        "--company-id",
        &case.company,
        "--settings",
        &settings_arg,
    ]);
    let report = probed.json();
    let detail = report["checks"][0]["detail"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(report["checks"][0]["ok"], true, "{}", probed.describe());
    assert!(
        detail.contains("exec-target") && detail.contains("unclaimed"),
        "not refused by the guard's exec-target rule: {detail}"
    );
    // An idle pool whose configuration nobody asks for any more: a sweep
    // past the pods' idle deadline deletes them (and nothing before it).
    let sweep = |now: &str| {
        case.cli(&[
            "sweep",
            "--now",
            now,
            "--namespace",
            &case.namespace,
            "--settings",
            &settings_arg,
        ])
        .assert_code(0)
        .json()
    };
    sweep("2000-01-01T00:00:00Z");
    assert_eq!(
        pods(&case, POOL_LABEL).len(),
        1,
        "a sweep before the deadline kept the pod"
    );
    let swept = sweep("2099-01-01T00:00:00Z");
    assert!(
        swept["expired"]
            .as_array()
            .is_some_and(|e| e.iter().any(|o| o["name"] == name.as_str())),
        "{swept}"
    );
    let started = Instant::now();
    while pods(&case, POOL_LABEL)
        .iter()
        .any(|p| p.metadata.deletion_timestamp.is_none())
    {
        assert!(
            started.elapsed() < READY_LIMIT,
            "the idle pool pod is still there"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    case.finish();
}

/// `module` with a custom section appended: the same policy, another
/// SHA-256.
fn another_module(module: &[u8]) -> Vec<u8> {
    let name = b"leasebox-e2e";
    let payload = b"swapped";
    let mut bytes = module.to_vec();
    bytes.push(0);
    let size = 1 + name.len() + payload.len();
    bytes.push(u8::try_from(size).expect("a short section"));
    bytes.push(u8::try_from(name.len()).expect("a short name"));
    bytes.extend_from_slice(name);
    bytes.extend_from_slice(payload);
    bytes
}

#[test]
fn a_module_swap_replaces_the_pool_and_no_claim_gets_an_old_pod() {
    let Some(case) = Case::start("pool-swap") else {
        return;
    };
    let swapped = case.dir().join("modules").join("swapped.wasm");
    std::fs::create_dir_all(swapped.parent().expect("dir")).expect("module dir");
    std::fs::write(&swapped, another_module(leasebox::runtime::DEFAULT_MODULE)).expect("module");
    let settings = pool_settings(
        &case,
        2,
        4,
        &format!(
            "serve:\n  moduleDir: {}\n  reload:\n    fromClients: true\n",
            swapped.parent().expect("dir").display()
        ),
    );
    let (mut child, mut client) = serve_with(&case, &settings);
    let config = pool_config(&case, 2);
    let params = json!({"config": config, "companyId": case.company});
    client.call(1, "pool.ensure", params.clone());
    let old = wait_pool_ready(&case, 2);

    let info = client.call(
        2,
        "policy.reload",
        json!({"path": swapped.display().to_string()}),
    );
    let sha = info["result"]["sha256"]
        .as_str()
        .unwrap_or_else(|| panic!("{info}"))
        .to_string();

    // Right after the swap the pool holds only the old module's pods: the
    // acquire goes cold.
    let first = client.call(3, "acquire", params.clone());
    let lease = &first["result"];
    assert_eq!(
        lease["warm"], false,
        "a claim after the swap took an old pod: {first}"
    );
    assert!(!old.contains(lease["workload"]["uid"].as_str().unwrap_or("")));
    assert_eq!(lease["moduleSha256"], sha.as_str());

    // The refill replaces them; the next warm claim is a new pod.
    let ensured = client.call(4, "pool.ensure", params.clone());
    let replaced: BTreeSet<&str> = ensured["result"]["replaced"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["uid"].as_str())
        .collect();
    let new = wait_pool_ready(&case, 2);
    assert!(
        new.is_disjoint(&old),
        "old pool pods still ready: {new:?} {old:?}"
    );
    assert!(
        old.iter().all(|uid| replaced.contains(uid.as_str()))
            || old
                .iter()
                .all(|uid| !pods(&case, POOL_LABEL)
                    .iter()
                    .any(|p| p.metadata.uid.as_deref() == Some(uid))),
        "the old pool pods were neither replaced nor gone: {ensured}"
    );
    let second = client.call(5, "acquire", params);
    let lease2 = &second["result"];
    assert_eq!(lease2["warm"], true, "{second}");
    assert!(!old.contains(lease2["workload"]["uid"].as_str().unwrap_or("")));
    let pod: Api<Pod> = Api::namespaced(case.client(), &case.namespace);
    let claimed = case
        .block_on(pod.get(lease2["pod"].as_str().expect("pod")))
        .expect("the claimed pod");
    assert_eq!(
        claimed
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("leasebox.dev/module-sha256"))
            .map(String::as_str),
        Some(sha.as_str()),
        "the claimed pod was made by the swapped-in module"
    );

    let ids: Vec<String> = [lease, lease2]
        .iter()
        .filter_map(|l| l["id"].as_str().map(str::to_string))
        .collect();
    release_all(&mut client, 10, &ids);
    drain(&case, &mut client, 20, &config);
    let _ = child.kill();
    let _ = child.wait();
    case.finish();
}
