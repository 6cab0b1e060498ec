//! The operator, not the configuration or the policy module, decides what a
//! lease may touch: a configuration cannot move the namespace fence or take
//! the host's environment, and a hostile module (`tests/guests/hostile/`)
//! cannot read another tenant's secrets, write outside its tenant, escalate,
//! exec into a pod that is no lease's, or hold the host. Leases of one
//! company have their own egress.
//!
//! Every test checks the cluster afterwards, not leasebox's report. Tests
//! that may change `kube-system` or `default` (when the host lets an attack
//! through) put them back when they end.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::core::v1::{
    LimitRange, Namespace, Pod, ResourceQuota, Secret, ServiceAccount,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::Client;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams,
};
use serde_json::{Value, json};

use crate::hostile_module::hostile_module;
use crate::support::case::{CLI_LIMIT, Case, Lease};
use crate::support::cli::{self, Output};
use crate::support::cluster::{GONE_LIMIT, eventually, is_not_found};

/// The namespace a configuration must never reach.
const KUBE_SYSTEM: &str = "kube-system";

/// The namespace `label-default` tries to label.
const DEFAULT_NAMESPACE: &str = "default";

/// Label of every leasebox object.
const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "leasebox");

/// Label naming the lease of a lease object.
const LEASE_LABEL: &str = "leasebox.dev/lease";

/// The tenant-wide deny-all NetworkPolicy (`guest/src/names.rs`).
const DENY_ALL_POLICY: &str = "leasebox-deny-all";

/// The tenant-wide allow policy that per-lease egress replaces.
const TENANT_EGRESS_POLICY: &str = "leasebox-egress";

/// A host key no configuration gets unless the host settings grant it.
const UNGRANTED_HOST_KEY: &str = "AWS_SECRET_ACCESS_KEY";

/// A host key granted by default (the agent adapters' key).
const DEFAULT_HOST_KEY: &str = "ANTHROPIC_API_KEY";

/// Host settings that grant [`UNGRANTED_HOST_KEY`].
const GRANT_HOST_KEY_SETTINGS: &str = "secrets:\n  hostKeys: [AWS_SECRET_ACCESS_KEY]\n";

/// Host settings with a 20 s overall guest call timeout.
const CALL_TIMEOUT_SETTINGS: &str = "guest:\n  callTimeoutSec: 20\n";

/// How long a resource attack may hold the host before it is stopped
/// (memory cap and cpu deadline at once, the 20 s call timeout with room).
const RESOURCE_ATTACK_LIMIT: Duration = Duration::from_secs(60);

/// How long the test's own plain pod may take to run.
const PLAIN_POD_LIMIT: Duration = Duration::from_secs(120);

/// The pod the test makes itself, without lease labels: no lease's pod.
const PLAIN_POD: &str = "plain-target";

/// Its container.
const PLAIN_CONTAINER: &str = "main";

/// The attacks that write, escalate or exec: each must be refused with
/// `denied`.
const WRITE_ATTACKS: &[&str] = &[
    "write-kube-system",
    "label-default",
    "cluster-role",
    "cluster-role-binding",
    "role-wildcard",
    "rolebinding-to-clusterrole",
    "privileged-pod",
    "hostpath-pod",
    "hostnetwork-pod",
    "exec-pod",
    "host-key",
];

/// The attacks on the host's resources, whether they need the short call
/// timeout, and what the error must name.
const RESOURCE_ATTACKS: &[(&str, bool, &str)] = &[
    ("alloc-4gib", false, "memory cap"),
    ("loop-forever", false, "cpu deadline"),
    ("block-in-watch", true, "overall timeout"),
];

/// A value nobody else has, to look for in output and Secrets.
pub(crate) fn sentinel() -> String {
    let random = |salt: u64| {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(salt);
        hasher.write_u32(std::process::id());
        hasher.finish()
    };
    format!("lbsentinel{:016x}{:016x}", random(1), random(2))
}

/// True when `output` shows `secret` as it is or base64-encoded (as a
/// Secret's `data` carries it).
fn leaks(output: &Output, secret: &str) -> bool {
    let encoded = serde_json::to_value(k8s_openapi::ByteString(secret.as_bytes().to_vec()))
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| secret.to_string());
    let stdout = output.stdout_text();
    [secret, encoded.as_str()]
        .iter()
        .any(|form| stdout.contains(form) || output.stderr.contains(form))
}

/// `leasebox probe` of the hostile module with `attack` (merged into the
/// base configuration) for `company`, with host settings when given.
fn probe(case: &Case, company: &str, attack: Value, settings: Option<&Path>) -> Output {
    let config = case.config(attack).display().to_string();
    let module = hostile_module().display().to_string();
    let mut args = vec!["probe".to_string()];
    if let Some(settings) = settings {
        args.push("--settings".to_string());
        args.push(settings.display().to_string());
    }
    args.extend(
        [
            "--policy",
            &module,
            "--config",
            &config,
            "--company-id",
            company,
        ]
        .map(str::to_string),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    case.cli_env(&args, &[], None, CLI_LIMIT)
}

/// The hostile module's one check: `(ok, detail)`.
fn attack_check(attack: &str, output: &Output) -> Result<(bool, String), String> {
    let report: Value = serde_json::from_slice(&output.stdout).map_err(|e| {
        format!(
            "{attack}: no probe report on stdout ({e})\n{}",
            output.describe()
        )
    })?;
    first_check(&report, output).map_err(|e| format!("{attack}: {e}"))
}

/// The first check of a hostile module's report, `(ok, detail)`.
pub(crate) fn first_check(report: &Value, output: &Output) -> Result<(bool, String), String> {
    let check = report
        .pointer("/checks/0")
        .ok_or_else(|| format!("the report has no check\n{}", output.describe()))?;
    Ok((
        check.get("ok").and_then(Value::as_bool).unwrap_or(false),
        check
            .get("detail")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    ))
}

/// Ok when the host refused `attack` with `denied`; else what it did.
fn refused_as_denied(attack: &str, output: &Output) -> Result<(), String> {
    let (ok, detail) = attack_check(attack, output)?;
    if ok && detail.starts_with("denied:") {
        return Ok(());
    }
    Err(format!(
        "{attack}: not denied by the host: {detail}\n{}",
        output.describe()
    ))
}

/// The namespaced kinds a test must not leave in `kube-system`.
fn namespaced_kinds() -> Vec<ApiResource> {
    vec![
        ApiResource::erase::<NetworkPolicy>(&()),
        ApiResource::erase::<ResourceQuota>(&()),
        ApiResource::erase::<LimitRange>(&()),
        ApiResource::erase::<Role>(&()),
        ApiResource::erase::<RoleBinding>(&()),
        ApiResource::erase::<ServiceAccount>(&()),
        ApiResource::erase::<Pod>(&()),
        ApiResource::erase::<Secret>(&()),
    ]
}

/// The cluster-scoped kinds the hostile module tries to write.
fn cluster_kinds() -> Vec<ApiResource> {
    vec![
        ApiResource::erase::<ClusterRole>(&()),
        ApiResource::erase::<ClusterRoleBinding>(&()),
    ]
}

/// True for an object leasebox or the hostile module made: named
/// `leasebox*` or `hostile*`, or labelled as leasebox's.
fn is_intruder(object: &DynamicObject) -> bool {
    let name = object.metadata.name.as_deref().unwrap_or_default();
    let labelled = object
        .metadata
        .labels
        .as_ref()
        .and_then(|labels| labels.get(MANAGED_BY.0))
        .is_some_and(|value| value == MANAGED_BY.1);
    name.starts_with("leasebox") || name.starts_with("hostile") || labelled
}

/// One object found where it must not be.
struct Intruder {
    resource: ApiResource,
    namespace: Option<String>,
    name: String,
}

impl Intruder {
    fn describe(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.resource.kind, self.name),
            None => format!("{} {}", self.resource.kind, self.name),
        }
    }

    fn api(&self, client: &Client) -> Api<DynamicObject> {
        match &self.namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &self.resource),
            None => Api::all_with(client.clone(), &self.resource),
        }
    }
}

/// Every object of `resource` (in `namespace`, or cluster-scoped) that
/// `keep` selects.
async fn find(
    client: &Client,
    resource: &ApiResource,
    namespace: Option<&str>,
    keep: fn(&DynamicObject) -> bool,
) -> Vec<Intruder> {
    let api: Api<DynamicObject> = match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, resource),
        None => Api::all_with(client.clone(), resource),
    };
    let list = api
        .list(&ListParams::default())
        .await
        .unwrap_or_else(|e| panic!("list {}: {e}", resource.kind));
    list.items
        .iter()
        .filter(|object| keep(object))
        .map(|object| Intruder {
            resource: resource.clone(),
            namespace: namespace.map(str::to_string),
            name: object.metadata.name.clone().unwrap_or_default(),
        })
        .collect()
}

/// Labels and annotations of a namespace.
type NamespaceMeta = (BTreeMap<String, String>, BTreeMap<String, String>);

async fn namespace_meta(client: &Client, name: &str) -> NamespaceMeta {
    let namespace = Api::<Namespace>::all(client.clone())
        .get(name)
        .await
        .unwrap_or_else(|e| panic!("namespace {name}: {e}"));
    (
        namespace.metadata.labels.unwrap_or_default(),
        namespace.metadata.annotations.unwrap_or_default(),
    )
}

/// Differences between two string maps, as `key: before -> after`.
fn map_changes(
    what: &str,
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> Vec<String> {
    let keys: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    keys.into_iter()
        .filter(|key| before.get(*key) != after.get(*key))
        .map(|key| {
            format!(
                "{what} `{key}`: {:?} -> {:?}",
                before.get(key),
                after.get(key)
            )
        })
        .collect()
}

/// The JSON merge patch that turns `after` back into `before`.
fn restore_patch(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) -> Value {
    let mut patch = serde_json::Map::new();
    for key in after.keys().filter(|key| !before.contains_key(*key)) {
        patch.insert(key.clone(), Value::Null);
    }
    for (key, value) in before {
        if after.get(key) != Some(value) {
            patch.insert(key.clone(), Value::String(value.clone()));
        }
    }
    Value::Object(patch)
}

/// The namespaces a test must leave as they were: recorded at the start,
/// compared with [`ClusterRestore::changes`], and put back (labels,
/// annotations, intruding objects in `kube-system`, cluster-scoped
/// `hostile*` objects) when dropped.
struct ClusterRestore {
    client: Client,
    handle: tokio::runtime::Handle,
    namespaces: Vec<(String, NamespaceMeta)>,
}

impl ClusterRestore {
    fn record(case: &Case, namespaces: &[&str]) -> ClusterRestore {
        let client = case.client();
        let namespaces = namespaces
            .iter()
            .map(|name| {
                (
                    name.to_string(),
                    case.block_on(namespace_meta(&client, name)),
                )
            })
            .collect();
        ClusterRestore {
            client,
            handle: case.handle(),
            namespaces,
        }
    }

    async fn intruders(&self) -> Vec<Intruder> {
        let mut found = Vec::new();
        for resource in namespaced_kinds() {
            found.extend(find(&self.client, &resource, Some(KUBE_SYSTEM), is_intruder).await);
        }
        for resource in cluster_kinds() {
            found.extend(
                find(&self.client, &resource, None, |o| {
                    o.metadata
                        .name
                        .as_deref()
                        .is_some_and(|n| n.starts_with("hostile"))
                })
                .await,
            );
        }
        found
    }

    /// What differs from the recording, in words; empty when nothing.
    fn changes(&self) -> Vec<String> {
        self.handle.block_on(async {
            let mut changes = Vec::new();
            for (name, (labels, annotations)) in &self.namespaces {
                let (now_labels, now_annotations) = namespace_meta(&self.client, name).await;
                changes.extend(map_changes(
                    &format!("namespace {name}: label"),
                    labels,
                    &now_labels,
                ));
                changes.extend(map_changes(
                    &format!("namespace {name}: annotation"),
                    annotations,
                    &now_annotations,
                ));
            }
            changes.extend(
                self.intruders()
                    .await
                    .iter()
                    .map(|i| format!("{} exists", i.describe())),
            );
            changes
        })
    }
}

impl Drop for ClusterRestore {
    fn drop(&mut self) {
        self.handle.block_on(async {
            for intruder in self.intruders().await {
                let api = intruder.api(&self.client);
                let params = DeleteParams {
                    grace_period_seconds: Some(0),
                    ..DeleteParams::background()
                };
                match api.delete(&intruder.name, &params).await {
                    Ok(_) => eprintln!("cleanup: deleted {}", intruder.describe()),
                    Err(e) if is_not_found(&e) => {}
                    Err(e) => eprintln!("cleanup: deleting {}: {e}", intruder.describe()),
                }
            }
            let api = Api::<Namespace>::all(self.client.clone());
            for (name, (labels, annotations)) in &self.namespaces {
                let (now_labels, now_annotations) = namespace_meta(&self.client, name).await;
                if now_labels == *labels && now_annotations == *annotations {
                    continue;
                }
                let patch = json!({ "metadata": {
                    "labels": restore_patch(labels, &now_labels),
                    "annotations": restore_patch(annotations, &now_annotations),
                } });
                match api
                    .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                {
                    Ok(_) => eprintln!("cleanup: restored the labels of namespace {name}"),
                    Err(e) => eprintln!("cleanup: restoring namespace {name}: {e}"),
                }
            }
        });
    }
}

/// Secrets of `namespace` any of whose values contains `needle`.
fn secrets_holding(case: &Case, namespace: &str, needle: &str) -> Vec<String> {
    let secrets = case
        .block_on(Api::<Secret>::namespaced(case.client(), namespace).list(&ListParams::default()))
        .unwrap_or_else(|e| panic!("list secrets of {namespace}: {e}"));
    secrets
        .items
        .iter()
        .filter(|secret| {
            let data = secret.data.iter().flatten().map(|(_, v)| v.0.clone());
            let string_data = secret
                .string_data
                .iter()
                .flatten()
                .map(|(_, v)| v.clone().into_bytes());
            data.chain(string_data)
                .any(|value| String::from_utf8_lossy(&value).contains(needle))
        })
        .map(|secret| secret.metadata.name.clone().unwrap_or_default())
        .collect()
}

/// Objects named `hostile*` in `namespace` (pods, roles, bindings,
/// secrets, network policies).
fn hostile_objects_in(case: &Case, namespace: &str) -> Vec<String> {
    let kinds = [
        ApiResource::erase::<Pod>(&()),
        ApiResource::erase::<Role>(&()),
        ApiResource::erase::<RoleBinding>(&()),
        ApiResource::erase::<Secret>(&()),
        ApiResource::erase::<NetworkPolicy>(&()),
    ];
    let client = case.client();
    kinds
        .iter()
        .flat_map(|resource| {
            case.block_on(find(&client, resource, Some(namespace), |o| {
                o.metadata
                    .name
                    .as_deref()
                    .is_some_and(|n| n.starts_with("hostile"))
            }))
        })
        .map(|i| format!("{} exists", i.describe()))
        .collect()
}

/// Starts a busybox pod without lease labels in the test's namespace and
/// waits until it runs.
fn start_plain_pod(case: &Case) {
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": { "name": PLAIN_POD, "labels": { "leasebox.dev/e2e": "plain" } },
        "spec": {
            "terminationGracePeriodSeconds": 0,
            "containers": [{
                "name": PLAIN_CONTAINER,
                "image": "busybox:k8s-real",
                "command": ["sleep", "3600"]
            }]
        }
    }))
    .expect("the pod literal is a Pod");
    let api = Api::<Pod>::namespaced(case.client(), &case.namespace);
    case.block_on(api.create(&PostParams::default(), &pod))
        .unwrap_or_else(|e| panic!("creating pod {PLAIN_POD}: {e}"));
    let running = case.block_on(eventually(PLAIN_POD_LIMIT, || async {
        api.get(PLAIN_POD)
            .await
            .ok()
            .and_then(|p| p.status)
            .and_then(|s| s.phase)
            .is_some_and(|phase| phase == "Running")
    }));
    assert!(
        running,
        "pod {PLAIN_POD} not Running after {PLAIN_POD_LIMIT:?}"
    );
}

#[test]
fn config_prefix_cannot_move_the_fence_into_kube_system() {
    let Some(case) = Case::start("trust-prefix") else {
        return;
    };
    let restore = ClusterRestore::record(&case, &[KUBE_SYSTEM]);
    let config = case.config(json!({ "namespacePrefix": "kube-" }));
    let config = config.display().to_string();
    // prefix `kube-` + company `system` = `kube-system`.
    let output = case.cli(&[
        "run",
        "--config",
        &config,
        "--company-id",
        "system",
        "--run-id",
        "e2e-run",
        "--",
        "true",
    ]);
    let changes = restore.changes();
    assert!(
        changes.is_empty(),
        "a configuration with namespacePrefix `kube-` changed kube-system:\n{}\n{}",
        changes.join("\n"),
        output.describe()
    );
    assert_ne!(
        output.code,
        Some(0),
        "the run in kube-system must fail\n{}",
        output.describe()
    );
    assert!(
        output.stderr.contains("denied") && output.stderr.contains("fence"),
        "stderr names the denial by the fence\n{}",
        output.describe()
    );
    drop(restore);
    case.finish();
}

#[test]
fn config_cannot_exfiltrate_host_environment() {
    let Some(case) = Case::start("trust-host-env") else {
        return;
    };
    let sentinel = sentinel();
    let config = case.config(json!({
        "adapterType": "aws",
        "adapters": [{ "adapterType": "aws", "image": "busybox:k8s-real", "envKeys": [UNGRANTED_HOST_KEY] }]
    }));
    let config = config.display().to_string();
    let script = format!("echo \"${UNGRANTED_HOST_KEY}\"");
    let env = [(UNGRANTED_HOST_KEY, sentinel.as_str())];
    let run_args = |settings: Option<&str>| -> Vec<String> {
        let mut args = vec!["run".to_string()];
        if let Some(settings) = settings {
            args.push("--settings".to_string());
            args.push(settings.to_string());
        }
        args.extend(
            [
                "--config",
                &config,
                "--company-id",
                &case.company,
                "--run-id",
                "e2e-run",
                "--",
                "sh",
                "-c",
                &script,
            ]
            .map(str::to_string),
        );
        args
    };

    let args = run_args(None);
    let output = cli::run_with_env(case.kubeconfig(), &args, &env, None, CLI_LIMIT);
    let holders = secrets_holding(&case, &case.namespace, &sentinel);
    assert!(
        holders.is_empty(),
        "Secrets of {} hold the host's {UNGRANTED_HOST_KEY}: {holders:?}\n{}",
        case.namespace,
        output.describe()
    );
    assert!(
        !leaks(&output, &sentinel),
        "the host's {UNGRANTED_HOST_KEY} reached the output\n{}",
        output.describe()
    );
    assert_ne!(
        output.code,
        Some(0),
        "a configuration asking for an ungranted host key must fail\n{}",
        output.describe()
    );
    assert!(
        output.stderr.contains("denied") && output.stderr.contains("host-secret-keys"),
        "stderr names the denied host-secret-keys\n{}",
        output.describe()
    );

    // The operator grants the key: now the same run may use it.
    let settings = case.write_file("settings-host-key.yaml", GRANT_HOST_KEY_SETTINGS);
    let args = run_args(Some(&settings.display().to_string()));
    let output = cli::run_with_env(case.kubeconfig(), &args, &env, None, CLI_LIMIT);
    output.assert_code(0);
    assert!(
        output.stdout_text().contains(&sentinel),
        "with {UNGRANTED_HOST_KEY} granted by the host settings the command sees it\n{}",
        output.describe()
    );
    case.finish();
}

#[test]
fn module_cannot_read_secrets_of_another_tenant() {
    let Some(case) = Case::start("trust-victim") else {
        return;
    };
    let sentinel = sentinel();
    let config = case.config(json!({
        "adapterType": "keyed",
        "adapters": [{ "adapterType": "keyed", "image": "busybox:k8s-real", "envKeys": [DEFAULT_HOST_KEY] }]
    }));
    let victim = case.acquire_env(&config, &[], &[(DEFAULT_HOST_KEY, &sentinel)]);
    let secret = victim
        .json
        .get("secret")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("the lease names no secret: {}", victim.json))
        .to_string();
    assert_eq!(
        secrets_holding(&case, &case.namespace, &sentinel),
        vec![secret.clone()],
        "the victim's Secret holds its {DEFAULT_HOST_KEY} (else the test proves nothing)"
    );

    let attacks = [
        json!({ "attack": "read-secret", "namespace": case.namespace, "name": secret }),
        json!({ "attack": "list-secrets" }),
        json!({ "attack": "watch-secrets", "namespace": case.namespace }),
    ];
    let mut failures = Vec::new();
    for attack in attacks {
        let name = attack["attack"].as_str().unwrap_or_default().to_string();
        let output = probe(&case, "trust-attacker", attack, None);
        if let Err(failure) = refused_as_denied(&name, &output) {
            failures.push(failure);
        }
        if leaks(&output, &sentinel) {
            failures.push(format!(
                "{name}: the victim's {DEFAULT_HOST_KEY} reached the attacker's output"
            ));
        }
    }
    case.release(&victim);
    assert!(
        failures.is_empty(),
        "a module read another tenant's secrets:\n\n{}",
        failures.join("\n\n")
    );
    case.finish();
}

#[test]
fn hostile_module_attacks_are_refused_and_leave_nothing() {
    let Some(case) = Case::start("trust-attacker") else {
        return;
    };
    let restore = ClusterRestore::record(&case, &[KUBE_SYSTEM, DEFAULT_NAMESPACE]);
    // A normal acquire makes (and marks) the attacker's tenant namespace.
    let lease = case.acquire(&case.config(json!({})), &[]);
    case.release(&lease);
    start_plain_pod(&case);

    let mut failures = Vec::new();
    for attack in WRITE_ATTACKS {
        let output = probe(
            &case,
            &case.company,
            json!({
                "attack": attack,
                "namespace": case.namespace,
                "pod": PLAIN_POD,
                "container": PLAIN_CONTAINER
            }),
            None,
        );
        if let Err(failure) = refused_as_denied(attack, &output) {
            failures.push(failure);
        }
    }
    failures.extend(restore.changes());
    failures.extend(hostile_objects_in(&case, &case.namespace));

    let timeout_settings = case.write_file("settings-call-timeout.yaml", CALL_TIMEOUT_SETTINGS);
    for (attack, short_timeout, named) in RESOURCE_ATTACKS {
        let settings = short_timeout.then_some(timeout_settings.as_path());
        let output = probe(
            &case,
            &case.company,
            json!({ "attack": attack, "namespace": case.namespace }),
            settings,
        );
        if output.code != Some(2)
            || !output.stderr.contains(named)
            || output.elapsed > RESOURCE_ATTACK_LIMIT
        {
            failures.push(format!(
                "{attack}: expected exit 2 naming the {named} within {RESOURCE_ATTACK_LIMIT:?}\n{}",
                output.describe()
            ));
        }
    }

    // The host serves the next normal call.
    let output = probe(&case, &case.company, json!({ "attack": "none" }), None);
    match attack_check("none", &output) {
        Ok((true, _)) if output.code == Some(0) => {}
        _ => failures.push(format!(
            "none: a normal call after the attacks failed\n{}",
            output.describe()
        )),
    }

    assert!(
        failures.is_empty(),
        "{} hostile module attack(s) got through or left something:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    drop(restore);
    case.finish();
}

/// The per-lease egress policy of `lease`: present, selecting exactly the
/// lease's pods, owned by its workload. Describes what is wrong.
fn lease_egress_problems(case: &Case, lease: &Lease) -> Vec<String> {
    let name = format!("{}-egress", lease.id);
    let api = Api::<NetworkPolicy>::namespaced(case.client(), &case.namespace);
    let Some(policy) = case
        .block_on(api.get_opt(&name))
        .unwrap_or_else(|e| panic!("NetworkPolicy {name}: {e}"))
    else {
        return vec![format!("lease {}: no NetworkPolicy {name}", lease.id)];
    };
    let mut problems = Vec::new();
    let selector = policy.spec.as_ref().and_then(|s| s.pod_selector.clone());
    let expected = BTreeMap::from([(LEASE_LABEL.to_string(), lease.id.clone())]);
    let labels = selector.as_ref().and_then(|s| s.match_labels.clone());
    let expressions = selector
        .as_ref()
        .and_then(|s| s.match_expressions.clone())
        .unwrap_or_default();
    if labels.as_ref() != Some(&expected) || !expressions.is_empty() {
        problems.push(format!(
            "{name}: podSelector is {selector:?}, expected exactly matchLabels {expected:?}"
        ));
    }
    let uid = lease.workload("uid");
    let owned = policy
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|owner| owner.uid == uid);
    if !owned {
        problems.push(format!(
            "{name}: not owned by the workload (uid {uid}); owners {:?}",
            policy.metadata.owner_references
        ));
    }
    problems
}

/// Names of the NetworkPolicies of the test's namespace.
fn network_policies(case: &Case) -> Vec<String> {
    let api = Api::<NetworkPolicy>::namespaced(case.client(), &case.namespace);
    let mut names: Vec<String> = case
        .block_on(api.list(&ListParams::default()))
        .unwrap_or_else(|e| panic!("list NetworkPolicies: {e}"))
        .items
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect();
    names.sort();
    names
}

#[test]
fn leases_of_one_company_have_their_own_egress() {
    let Some(case) = Case::start("trust-egress") else {
        return;
    };
    let config = case.config(json!({
        "adapterType": "egress-a",
        "adapters": [
            { "adapterType": "egress-a", "image": "busybox:k8s-real", "envKeys": [], "allowFqdns": ["api.github.com"] },
            { "adapterType": "egress-b", "image": "busybox:k8s-real", "envKeys": [], "allowFqdns": [] }
        ]
    }));
    let acquire = |adapter: &str| {
        let mut args = case.acquire_args(&config, &[]);
        args.extend(["--adapter-type".to_string(), adapter.to_string()]);
        let kubeconfig = case.kubeconfig().to_path_buf();
        std::thread::spawn(move || cli::run(&kubeconfig, &args, None, CLI_LIMIT))
    };
    let (first, second) = (acquire("egress-a"), acquire("egress-b"));
    let first = case.lease_of(&first.join().expect("the acquire thread ends"));
    let second = case.lease_of(&second.join().expect("the acquire thread ends"));

    let mut problems = lease_egress_problems(&case, &first);
    problems.extend(lease_egress_problems(&case, &second));
    let mut expected = vec![
        DENY_ALL_POLICY.to_string(),
        format!("{}-egress", first.id),
        format!("{}-egress", second.id),
    ];
    expected.sort();
    let policies = network_policies(&case);
    if policies.contains(&TENANT_EGRESS_POLICY.to_string()) || policies != expected {
        problems.push(format!(
            "the tenant's NetworkPolicies are {policies:?}; expected only {expected:?} \
             (no tenant-wide {TENANT_EGRESS_POLICY})"
        ));
    }
    if !problems.is_empty() {
        case.release(&first);
        case.release(&second);
        panic!("per-lease egress:\n{}", problems.join("\n"));
    }

    case.release(&first);
    let first_policy = format!("{}-egress", first.id);
    let api = Api::<NetworkPolicy>::namespaced(case.client(), &case.namespace);
    let gone = case.block_on(eventually(GONE_LIMIT, || async {
        matches!(api.get_opt(&first_policy).await, Ok(None))
    }));
    assert!(
        gone,
        "{first_policy} still there {GONE_LIMIT:?} after its lease was released"
    );
    assert!(
        lease_egress_problems(&case, &second).is_empty(),
        "the second lease's egress policy survives the first's release: {:?}",
        lease_egress_problems(&case, &second)
    );
    case.release(&second);
    case.finish();
}
