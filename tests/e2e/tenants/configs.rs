//! Configurations and company ids that reach for another company's
//! tenant, with the default module: company ids that differ only in case
//! or punctuation slug to one namespace, `companySlug` names any
//! namespace, and `serverCallback` opens egress to any namespace. The
//! host refuses each (`tenant-company`, `egress-namespace`) and nothing of
//! the refused acquire is written.

use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Api, ListParams};
use serde_json::{Value, json};

use super::{COMPANY_MARK, OtherTenant};
use crate::support::case::{CLI_LIMIT, Case};
use crate::support::cli::{self, Output};
use crate::support::cluster::lease_objects;

/// `acquire` with the default module for `company` and the base
/// configuration with `overrides`.
fn acquire_as(case: &Case, company: &str, overrides: Value) -> Output {
    let config = case.config(overrides).display().to_string();
    cli::run(
        case.kubeconfig(),
        &acquire_args(&config, company),
        None,
        CLI_LIMIT,
    )
}

/// The arguments of `leasebox acquire` with `config` for `company`.
fn acquire_args(config: &str, company: &str) -> Vec<String> {
    [
        "acquire",
        "--config",
        config,
        "--company-id",
        company,
        "--run-id",
        "e2e-red",
    ]
    .map(str::to_string)
    .to_vec()
}

/// Ok when the acquire failed naming `rule`; else what it did.
fn refused_by(rule: &str, what: &str, output: &Output) -> Result<(), String> {
    if output.code != Some(0) && output.stderr.contains("denied") && output.stderr.contains(rule) {
        return Ok(());
    }
    Err(format!(
        "{what}: not refused by `{rule}`\n{}",
        output.describe()
    ))
}

/// The company annotation of `namespace`.
fn company_mark(case: &Case, namespace: &str) -> Option<String> {
    case.block_on(Api::<Namespace>::all(case.client()).get(namespace))
        .unwrap_or_else(|e| panic!("namespace {namespace}: {e}"))
        .metadata
        .annotations
        .and_then(|a| a.get(COMPANY_MARK).cloned())
}

/// The names of the lease objects of `namespace`.
fn lease_object_names(case: &Case, namespace: &str) -> Vec<String> {
    case.block_on(lease_objects(&case.client(), namespace))
        .unwrap_or_else(|e| panic!("{e:#}"))
        .into_iter()
        .map(|object| object.name)
        .collect()
}

#[test]
fn company_ids_differing_in_case_or_punctuation_do_not_share_a_tenant() {
    let Some(case) = Case::start("red-coll") else {
        return;
    };
    let config = json!({});
    let first = case.lease_of(&acquire_as(&case, &case.company, config.clone()));
    let mark = company_mark(&case, &case.namespace);
    let mut failures = Vec::new();
    for company in ["RED-COLL", "Red.Coll"] {
        let output = acquire_as(&case, company, config.clone());
        failures
            .extend(refused_by("tenant-company", &format!("acquire for {company}"), &output).err());
    }
    let foreign: Vec<String> = lease_object_names(&case, &case.namespace)
        .into_iter()
        .filter(|name| !name.contains(&first.id))
        .collect();
    if !foreign.is_empty() {
        failures.push(format!(
            "the other companies' leases were written into {}: {foreign:?}",
            case.namespace
        ));
    }
    let now = company_mark(&case, &case.namespace);
    if now != mark {
        failures.push(format!(
            "the company mark of {} changed: {mark:?} -> {now:?}",
            case.namespace
        ));
    }
    case.release(&first);
    assert!(
        failures.is_empty(),
        "company ids of one slug shared a tenant:\n\n{}",
        failures.join("\n\n")
    );
    case.finish();
}

/// Names of the objects of the tenant kinds in `namespace` (what an
/// acquire writes before its lease's objects).
fn tenant_object_names(case: &Case, namespace: &str) -> Vec<String> {
    let client = case.client();
    let params = ListParams::default();
    let names = |kind: &str, items: Vec<Option<String>>| -> Vec<String> {
        items
            .into_iter()
            .flatten()
            .map(|name| format!("{kind} {name}"))
            .collect()
    };
    let mut found = Vec::new();
    macro_rules! list {
        ($kind:ty) => {
            found.extend(names(
                stringify!($kind),
                case.block_on(Api::<$kind>::namespaced(client.clone(), namespace).list(&params))
                    .unwrap_or_else(|e| panic!("list {}: {e}", stringify!($kind)))
                    .items
                    .into_iter()
                    .map(|o| o.metadata.name)
                    .collect(),
            ))
        };
    }
    list!(ResourceQuota);
    list!(LimitRange);
    list!(NetworkPolicy);
    list!(Role);
    list!(RoleBinding);
    found
}

#[test]
fn company_slug_cannot_name_another_companys_tenant() {
    let Some(case) = Case::start("red-slug-a") else {
        return;
    };
    let victim = OtherTenant::make(&case, "red-slug-v");
    let output = acquire_as(
        &case,
        &case.company,
        json!({ "companySlug": victim.company }),
    );
    let mut failures: Vec<String> =
        refused_by("tenant-company", "acquire with companySlug", &output)
            .err()
            .into_iter()
            .collect();
    let written: Vec<String> = lease_object_names(&case, &victim.namespace)
        .into_iter()
        .chain(tenant_object_names(&case, &victim.namespace))
        .collect();
    if !written.is_empty() {
        failures.push(format!(
            "the acquire wrote into {}: {written:?}",
            victim.namespace
        ));
    }
    let mark = company_mark(&case, &victim.namespace);
    if mark.as_deref() != Some(victim.company.as_str()) {
        failures.push(format!(
            "the company mark of {} is now {mark:?}",
            victim.namespace
        ));
    }
    assert!(
        failures.is_empty(),
        "a configuration's companySlug reached another company's tenant:\n\n{}",
        failures.join("\n\n")
    );
    drop(victim);
    case.finish();
}

/// The egress rules of the test namespace's NetworkPolicies that reach
/// into `kube-system` other than to kube-dns on port 53.
fn egress_into_kube_system(case: &Case) -> Vec<String> {
    let policies = case
        .block_on(
            Api::<NetworkPolicy>::namespaced(case.client(), &case.namespace)
                .list(&ListParams::default()),
        )
        .unwrap_or_else(|e| panic!("list NetworkPolicies: {e}"))
        .items;
    let mut found = Vec::new();
    for policy in policies {
        let name = policy.metadata.name.clone().unwrap_or_default();
        let Ok(policy) = serde_json::to_value(&policy) else {
            continue;
        };
        let empty = Vec::new();
        let rules = policy
            .pointer("/spec/egress")
            .and_then(Value::as_array)
            .unwrap_or(&empty);
        for rule in rules {
            let to = rule.get("to").and_then(Value::as_array).unwrap_or(&empty);
            let only_dns_ports = rule
                .get("ports")
                .and_then(Value::as_array)
                .is_some_and(|ports| {
                    ports
                        .iter()
                        .all(|p| p.get("port").and_then(Value::as_i64) == Some(53))
                });
            let beyond_dns = to.iter().any(|peer| {
                let into_kube_system = peer
                    .get("namespaceSelector")
                    .is_some_and(|selector| selector.to_string().contains("kube-system"));
                let to_dns = peer
                    .pointer("/podSelector/matchLabels/k8s-app")
                    .and_then(Value::as_str)
                    == Some("kube-dns");
                into_kube_system && !(to_dns && only_dns_ports)
            });
            if beyond_dns {
                found.push(format!("NetworkPolicy {name}: egress {rule}"));
            }
        }
    }
    found
}

#[test]
fn server_callback_cannot_open_egress_into_kube_system() {
    let Some(case) = Case::start("red-callback") else {
        return;
    };
    let output = acquire_as(
        &case,
        &case.company,
        json!({ "serverCallback": {
            "namespace": "kube-system",
            "podLabels": { "component": "etcd" },
            "port": 2379
        } }),
    );
    let mut failures: Vec<String> =
        refused_by("egress-namespace", "acquire with serverCallback", &output)
            .err()
            .into_iter()
            .collect();
    failures.extend(egress_into_kube_system(&case));
    assert!(
        failures.is_empty(),
        "a configuration opened egress into kube-system:\n\n{}",
        failures.join("\n\n")
    );
    case.finish();
}

#[test]
fn company_ids_of_one_slug_acquiring_at_once_get_one_tenant_for_one_company() {
    let Some(case) = Case::start("red-race") else {
        return;
    };
    let acquire = |company: &'static str| {
        let config = case.config(json!({})).display().to_string();
        let kubeconfig = case.kubeconfig().to_path_buf();
        std::thread::spawn(move || {
            (
                company,
                cli::run(
                    &kubeconfig,
                    &acquire_args(&config, company),
                    None,
                    CLI_LIMIT,
                ),
            )
        })
    };
    let racers = [acquire("red-race"), acquire("RED-RACE")];
    let outcomes: Vec<(&str, Output)> = racers
        .into_iter()
        .map(|racer| racer.join().expect("the acquire thread ends"))
        .collect();
    let mark = company_mark(&case, &case.namespace);
    let winners: Vec<&str> = outcomes
        .iter()
        .filter(|(_, output)| output.code == Some(0))
        .map(|(company, _)| *company)
        .collect();
    let mut failures = Vec::new();
    if winners.len() != 1 || mark.as_deref() != winners.first().copied() {
        failures.push(format!(
            "winners {winners:?}, company mark {mark:?}: expected one winner, marking the tenant"
        ));
    }
    for (company, output) in &outcomes {
        if output.code == Some(0) {
            let lease = case.lease_of(output);
            case.release(&lease);
        } else if let Err(failure) =
            refused_by("tenant-company", &format!("acquire for {company}"), output)
        {
            failures.push(failure);
        }
    }
    assert!(
        failures.is_empty(),
        "two companies of one slug raced for a tenant:\n\n{}",
        failures.join("\n\n")
    );
    case.finish();
}
