//! One company cannot reach another's tenant, and one lease id names one
//! lease (SPEC §6 "Tenants", the red team of issue 29): the hostile module
//! (`tests/guests/hostile/`) attacks from `acquire` (a call for its
//! company and a fresh lease, the strongest position a module gets) or
//! from `probe` (its company only), and the default module is handed
//! configurations and lease ids that reach for another company.
//!
//! Every test checks the cluster afterwards with its own client, not only
//! leasebox's answer, and uses companies of its own (`red-*`): the test's
//! company (its [`Case`] namespace) is the attacker, a second one the
//! victim, whose namespace [`OtherTenant`] deletes when the test ends.
//! Attacks that are refused create no pod, so the tests are quick.
//! Pods outside the restricted profile are in [`pods`], a decoy of another
//! lease in [`decoy`], configurations that reach for another tenant in
//! [`configs`].

mod configs;
mod decoy;
mod pods;
mod unscoped;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, Pod, ResourceQuota, Secret, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::Client;
use kube::api::{Api, ListParams, PostParams};
use serde_json::{Value, json};

use crate::hostile_module::hostile_module;
use crate::support::case::{CLI_LIMIT, Case, NAMESPACE_PREFIX};
use crate::support::cli::{self, Output};
use crate::support::cluster::{delete_namespace, remove_namespace};

/// The annotation naming the company of a tenant namespace (the host's
/// mark).
const COMPANY_MARK: &str = "leasebox.dev/company";

/// Label of every leasebox object.
const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "leasebox");

/// Label naming the lease of a lease object.
const LEASE_LABEL: &str = "leasebox.dev/lease";

/// The tenant's service account (the default module's), which the
/// restricted profile lets a pod run as.
const SERVICE_ACCOUNT: &str = "leasebox-agent";

/// The step of the error the hostile `acquire-lease` returns.
const ACQUIRE_STEP: &str = "hostile-attack";

/// How long a namespace of an earlier run may take to go away.
const STALE_LIMIT: Duration = Duration::from_secs(180);

/// The image of every pod the tests make.
const IMAGE: &str = "busybox:k8s-real";

/// Where the hostile module attacks from.
#[derive(Debug, Clone, Copy)]
enum Call {
    /// `leasebox acquire`: the call is for the company and a fresh lease.
    Acquire,
    /// `leasebox probe`: the call is for the company.
    Probe,
}

/// Attack files written so far, for unique names.
static ATTACK_FILES: AtomicU32 = AtomicU32::new(0);

/// Runs the hostile module with `attack` (its configuration document) for
/// the test's company, from `call`.
fn hostile(case: &Case, call: Call, attack: &Value) -> Output {
    let n = ATTACK_FILES.fetch_add(1, Ordering::Relaxed);
    let file = case.write_file(&format!("attack-{n}.json"), &attack.to_string());
    let (file, module) = (
        file.display().to_string(),
        hostile_module().display().to_string(),
    );
    let mut args = vec![
        match call {
            Call::Acquire => "acquire",
            Call::Probe => "probe",
        },
        "--policy",
        &module,
        "--config",
        &file,
        "--company-id",
        &case.company,
    ];
    if matches!(call, Call::Acquire) {
        args.extend(["--run-id", "e2e-red"]);
    }
    case.cli_with(&args, None, CLI_LIMIT)
}

/// The hostile module's one check, `(ok, detail)`: from the probe report
/// on stdout, or from the `hostile-attack failed (...)` error of an
/// acquire on stderr.
fn check(call: Call, output: &Output) -> Result<(bool, String), String> {
    let report: Value = match call {
        Call::Probe => serde_json::from_slice(&output.stdout)
            .map_err(|e| format!("no probe report on stdout ({e})\n{}", output.describe()))?,
        Call::Acquire => {
            let marker = format!("{ACQUIRE_STEP} failed (");
            let line = output
                .stderr
                .lines()
                .find(|line| line.contains(&marker))
                .ok_or_else(|| format!("no `{marker}...` on stderr\n{}", output.describe()))?;
            let json = line.find('{').map(|at| &line[at..]).unwrap_or_default();
            serde_json::from_str(json).map_err(|e| {
                format!(
                    "the attack's report is not JSON ({e})\n{}",
                    output.describe()
                )
            })?
        }
    };
    crate::trust::first_check(&report, output)
}

/// Ok when the host refused the attack with `denied`; else what it did.
fn denied(call: Call, attack: &Value, output: &Output) -> Result<(), String> {
    let (ok, detail) = check(call, output).map_err(|e| format!("{attack} from {call:?}: {e}"))?;
    if ok && detail.starts_with("denied:") {
        return Ok(());
    }
    Err(format!(
        "{attack} from {call:?}: not denied by the host: {detail}"
    ))
}

/// The names a read attack got (`... got <JSON list>` in its detail), or
/// why there are none: refused with `denied` is `Ok(vec![])`.
fn got(call: Call, attack: &Value, output: &Output) -> Result<Vec<String>, String> {
    let (ok, detail) = check(call, output).map_err(|e| format!("{attack} from {call:?}: {e}"))?;
    if ok && detail.starts_with("denied:") {
        return Ok(Vec::new());
    }
    detail
        .rsplit_once("got ")
        .and_then(|(_, list)| serde_json::from_str(list).ok())
        .ok_or_else(|| format!("{attack} from {call:?}: neither denied nor a list: {detail}"))
}

/// Marks `namespace` as leasebox marks a company's tenant (ownership
/// label, company annotation) and gives it the tenant's service account,
/// made with the test's own client.
fn make_tenant(case: &Case, namespace: &str, company: &str) {
    let client = case.client();
    let tenant: Namespace = serde_json::from_value(json!({
        "metadata": {
            "name": namespace,
            "labels": { (MANAGED_BY.0): MANAGED_BY.1 },
            "annotations": { COMPANY_MARK: company }
        }
    }))
    .expect("the namespace literal is a Namespace");
    case.block_on(Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &tenant))
        .unwrap_or_else(|e| panic!("creating namespace {namespace}: {e}"));
    let account: ServiceAccount = serde_json::from_value(json!({
        "metadata": { "name": SERVICE_ACCOUNT, "labels": { (MANAGED_BY.0): MANAGED_BY.1 } },
        "automountServiceAccountToken": false
    }))
    .expect("the literal is a ServiceAccount");
    case.block_on(
        Api::<ServiceAccount>::namespaced(client, namespace)
            .create(&PostParams::default(), &account),
    )
    .unwrap_or_else(|e| panic!("creating {namespace}/{SERVICE_ACCOUNT}: {e}"));
}

/// Another company's tenant namespace: removed when an earlier run left
/// it, deleted when dropped (drop it before the case).
struct OtherTenant {
    company: String,
    namespace: String,
    client: Client,
    handle: tokio::runtime::Handle,
}

impl OtherTenant {
    /// The namespace of `company`, which leasebox will make.
    fn reserve(case: &Case, company: &str) -> OtherTenant {
        let namespace = format!("{NAMESPACE_PREFIX}{company}");
        case.block_on(remove_namespace(&case.client(), &namespace, STALE_LIMIT))
            .unwrap_or_else(|e| panic!("{e:#}"));
        OtherTenant {
            company: company.to_string(),
            namespace,
            client: case.client(),
            handle: case.handle(),
        }
    }

    /// The namespace of `company`, made and marked by the test
    /// ([`make_tenant`]).
    fn make(case: &Case, company: &str) -> OtherTenant {
        let tenant = OtherTenant::reserve(case, company);
        make_tenant(case, &tenant.namespace, company);
        tenant
    }
}

impl Drop for OtherTenant {
    fn drop(&mut self) {
        if let Err(e) = self
            .handle
            .block_on(delete_namespace(&self.client, &self.namespace))
        {
            eprintln!("cleanup: {e:#}");
        }
    }
}

/// A lease the default module acquired for another company.
struct OtherLease {
    id: String,
    namespace: String,
    pod: String,
    container: String,
}

/// Acquires a lease with the default module for `tenant`'s company, the
/// base configuration with `overrides`, `env` added to the binary's
/// environment.
fn acquire_for(
    case: &Case,
    tenant: &OtherTenant,
    overrides: Value,
    env: &[(&str, &str)],
) -> OtherLease {
    let config = case.config(overrides).display().to_string();
    let args: Vec<String> = [
        "acquire",
        "--config",
        &config,
        "--company-id",
        &tenant.company,
        "--run-id",
        "e2e-red-victim",
    ]
    .map(str::to_string)
    .to_vec();
    let output = cli::run_with_env(case.kubeconfig(), &args, env, None, CLI_LIMIT);
    output.assert_code(0);
    let lease = output.json();
    let field = |name: &str| {
        lease
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("the lease has no `{name}`\n{}", output.describe()))
            .to_string()
    };
    let lease = OtherLease {
        id: field("id"),
        namespace: field("namespace"),
        pod: field("pod"),
        container: field("container"),
    };
    assert_eq!(lease.namespace, tenant.namespace, "{}", output.describe());
    lease
}

/// `release --lease <id> --namespace <ns>` of another company's lease;
/// what is left of it goes with its namespace anyway.
fn release_other(case: &Case, lease: &OtherLease) -> Output {
    case.cli(&[
        "release",
        "--lease",
        &lease.id,
        "--namespace",
        &lease.namespace,
    ])
}

/// What a foreign write would change of the victim's tenant, per object:
/// the quota's and the deny-all's spec, the Secret's data, the lease pod's
/// uid and whether it is being deleted (statuses change on their own).
async fn tenant_state(
    client: &Client,
    namespace: &str,
    lease: &OtherLease,
) -> BTreeMap<String, String> {
    fn shown<T: serde::Serialize>(read: Result<T, kube::Error>) -> String {
        match read {
            Ok(part) => serde_json::to_string(&part).unwrap_or_default(),
            Err(e) => format!("unreadable: {e}"),
        }
    }
    let secret = format!("{}-env", lease.id);
    let quota = Api::<ResourceQuota>::namespaced(client.clone(), namespace)
        .get("leasebox-quota")
        .await
        .map(|o| o.spec);
    let deny_all = Api::<NetworkPolicy>::namespaced(client.clone(), namespace)
        .get("leasebox-deny-all")
        .await
        .map(|o| o.spec);
    let data = Api::<Secret>::namespaced(client.clone(), namespace)
        .get(&secret)
        .await
        .map(|o| o.data);
    let pod = Api::<Pod>::namespaced(client.clone(), namespace)
        .get(&lease.pod)
        .await
        .map(|o| (o.metadata.uid, o.metadata.deletion_timestamp.is_some()));
    BTreeMap::from([
        (
            "ResourceQuota leasebox-quota spec".to_string(),
            shown(quota),
        ),
        (
            "NetworkPolicy leasebox-deny-all spec".to_string(),
            shown(deny_all),
        ),
        (format!("Secret {secret} data"), shown(data)),
        (format!("Pod {} (uid, deleting)", lease.pod), shown(pod)),
    ])
}

/// The values of `keys` of Secret `name` in `namespace`, as text.
fn secret_values(case: &Case, namespace: &str, name: &str, keys: &[&str]) -> Vec<String> {
    let secret = case
        .block_on(Api::<Secret>::namespaced(case.client(), namespace).get(name))
        .unwrap_or_else(|e| panic!("Secret {namespace}/{name}: {e}"));
    secret
        .data
        .unwrap_or_default()
        .into_iter()
        .filter(|(key, _)| keys.contains(&key.as_str()))
        .map(|(_, v)| String::from_utf8_lossy(&v.0).into_owned())
        .filter(|v| !v.is_empty())
        .collect()
}

/// The Secrets `pod` takes values from (volumes, projected sources, CSI
/// and CephFS secret references, `envFrom`, `env`).
fn secrets_of(pod: &Pod) -> Vec<String> {
    let Ok(pod) = serde_json::to_value(pod) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let text = |v: &Value, pointer: &str| {
        v.pointer(pointer)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let empty = Vec::new();
    let list = |v: &Value, pointer: &str| {
        v.pointer(pointer)
            .and_then(Value::as_array)
            .unwrap_or(&empty)
            .clone()
    };
    for volume in list(&pod, "/spec/volumes") {
        found.extend(text(&volume, "/secret/secretName"));
        found.extend(text(&volume, "/csi/nodePublishSecretRef/name"));
        found.extend(text(&volume, "/cephfs/secretRef/name"));
        for source in list(&volume, "/projected/sources") {
            found.extend(text(&source, "/secret/name"));
        }
    }
    for containers in ["/spec/containers", "/spec/initContainers"] {
        for container in list(&pod, containers) {
            for from in list(&container, "/envFrom") {
                found.extend(text(&from, "/secretRef/name"));
            }
            for env in list(&container, "/env") {
                found.extend(text(&env, "/valueFrom/secretKeyRef/name"));
            }
        }
    }
    found
}

/// Every pod of the cluster, as `namespace/name` with the pod.
fn all_pods(case: &Case) -> Vec<(String, Pod)> {
    case.block_on(Api::<Pod>::all(case.client()).list(&ListParams::default()))
        .unwrap_or_else(|e| panic!("list pods: {e}"))
        .items
        .into_iter()
        .map(|pod| {
            let name = format!(
                "{}/{}",
                pod.metadata.namespace.as_deref().unwrap_or_default(),
                pod.metadata.name.as_deref().unwrap_or_default()
            );
            (name, pod)
        })
        .collect()
}

#[test]
fn module_cannot_mount_or_read_another_companys_secret() {
    let Some(case) = Case::start("red-secret-a") else {
        return;
    };
    let victim = OtherTenant::reserve(&case, "red-secret-b");
    let sentinel = crate::trust::sentinel();
    let lease = acquire_for(
        &case,
        &victim,
        json!({
            "adapterType": "keyed",
            "adapters": [{ "adapterType": "keyed", "image": IMAGE, "envKeys": ["ANTHROPIC_API_KEY"] }]
        }),
        &[("ANTHROPIC_API_KEY", &sentinel)],
    );
    let secret = format!("{}-env", lease.id);
    let values = secret_values(
        &case,
        &victim.namespace,
        &secret,
        &["ANTHROPIC_API_KEY", "BOOTSTRAP_TOKEN"],
    );
    assert!(
        values.iter().any(|v| v == &sentinel),
        "the victim's Secret holds its key (else the test proves nothing): {} values",
        values.len()
    );

    let attacks = [
        (
            Call::Acquire,
            json!({ "attack": "foreign-secret-pod", "namespace": victim.namespace, "lease": lease.id }),
        ),
        (
            Call::Probe,
            json!({ "attack": "exec-foreign-lease", "namespace": victim.namespace,
                    "pod": lease.pod, "container": lease.container }),
        ),
        (
            Call::Acquire,
            json!({ "attack": "exec-foreign-lease", "namespace": victim.namespace,
                    "pod": lease.pod, "container": lease.container }),
        ),
    ];
    let mut failures = Vec::new();
    for (call, attack) in &attacks {
        let output = hostile(&case, *call, attack);
        failures.extend(denied(*call, attack, &output).err());
        let text = format!("{}{}", output.stdout_text(), output.stderr);
        if values.iter().any(|v| text.contains(v.as_str())) {
            failures.push(format!(
                "{attack} from {call:?}: a value of the victim's {secret} reached the attacker"
            ));
        }
    }
    for (name, pod) in all_pods(&case) {
        let takes = secrets_of(&pod).contains(&secret);
        let is_the_lease = name == format!("{}/{}", victim.namespace, lease.pod);
        if takes && !is_the_lease {
            failures.push(format!("pod {name} takes the victim's Secret {secret}"));
        }
        if name.starts_with(&format!("{}/", victim.namespace)) && !is_the_lease {
            failures.push(format!("pod {name} was made in the victim's tenant"));
        }
    }
    release_other(&case, &lease);
    assert!(
        failures.is_empty(),
        "a module reached another company's Secret:\n\n{}",
        failures.join("\n\n")
    );
    drop(victim);
    case.finish();
}

#[test]
fn module_cannot_write_into_another_companys_tenant() {
    let Some(case) = Case::start("red-write-a") else {
        return;
    };
    let victim = OtherTenant::reserve(&case, "red-write-b");
    let lease = acquire_for(&case, &victim, json!({}), &[]);
    let client = case.client();
    let before = case.block_on(tenant_state(&client, &victim.namespace, &lease));

    let attacks = [
        json!({ "attack": "foreign-quota", "namespace": victim.namespace }),
        json!({ "attack": "foreign-deny-all", "namespace": victim.namespace }),
        json!({ "attack": "foreign-host-secret", "namespace": victim.namespace, "lease": lease.id }),
        json!({ "attack": "delete-foreign-pod", "namespace": victim.namespace, "pod": lease.pod }),
    ];
    let mut failures = Vec::new();
    for attack in &attacks {
        let output = hostile(&case, Call::Acquire, attack);
        failures.extend(denied(Call::Acquire, attack, &output).err());
    }
    let after = case.block_on(tenant_state(&client, &victim.namespace, &lease));
    for (part, was) in &before {
        let now = after.get(part).cloned().unwrap_or_default();
        if &now != was {
            failures.push(format!("the victim's {part} changed: {was} -> {now}"));
        }
    }
    release_other(&case, &lease);
    assert!(
        failures.is_empty(),
        "a module wrote into another company's tenant:\n\n{}",
        failures.join("\n\n")
    );
    drop(victim);
    case.finish();
}

#[test]
fn namespace_reads_show_only_the_callers_tenant() {
    let Some(case) = Case::start("red-reads-a") else {
        return;
    };
    make_tenant(&case, &case.namespace, &case.company);
    let other = OtherTenant::make(&case, "red-reads-b");
    let attacks = [
        (
            Call::Probe,
            json!({ "attack": "list-namespaces", "namespace": case.namespace }),
        ),
        (
            Call::Probe,
            json!({ "attack": "watch-namespaces", "namespace": case.namespace }),
        ),
        (
            Call::Acquire,
            json!({ "attack": "list-namespaces", "namespace": case.namespace }),
        ),
        (
            Call::Acquire,
            json!({ "attack": "watch-namespaces", "namespace": case.namespace }),
        ),
        (
            Call::Probe,
            json!({ "attack": "list-namespaces", "mine": [case.namespace] }),
        ),
        (
            Call::Probe,
            json!({ "attack": "list-pods", "mine": [case.namespace] }),
        ),
    ];
    let mut failures = Vec::new();
    for (call, attack) in &attacks {
        let output = hostile(&case, *call, attack);
        match got(*call, attack, &output) {
            Err(failure) => failures.push(failure),
            Ok(names) => {
                let outside: Vec<&String> = names
                    .iter()
                    .filter(|name| {
                        let namespace = name.split_once('/').map_or(name.as_str(), |(ns, _)| ns);
                        namespace != case.namespace
                    })
                    .collect();
                if !outside.is_empty() {
                    let shown = outside
                        .iter()
                        .take(20)
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>();
                    failures.push(format!(
                        "{attack} from {call:?}: got {} outside {} (e.g. {}){}",
                        outside.len(),
                        case.namespace,
                        shown.join(", "),
                        if outside.iter().any(|n| n.starts_with(&other.namespace)) {
                            format!("; among them the other company's {}", other.namespace)
                        } else {
                            String::new()
                        }
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "a module read outside its company's tenant:\n\n{}",
        failures.join("\n\n")
    );
    drop(other);
    case.finish();
}
