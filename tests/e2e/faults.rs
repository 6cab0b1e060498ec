//! Acquire and exec with faults injected between leasebox and the API
//! server (`support/fault_proxy.rs`).
//!
//! The acquire matrix: for every API step of a `pod` acquire and every
//! fault class, one `leasebox acquire` through the proxy, with the fault
//! firing once on that step. The invariant is read from the cluster, not
//! from leasebox's report: either the acquire succeeded and the lease
//! works (`exec -- true` answers 0; then it is released), or it failed
//! with a named error and no lease object of it is left.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::{Patch, PatchParams};
use leasebox_policy::names::ANNOTATION_TENANT_APPLIED;
use serde_json::{Value, json};

use crate::support::case::{CLI_LIMIT, Case};
use crate::support::cli::{self, Output};
use crate::support::cluster::{self, GONE_LIMIT, LeaseObject};
use crate::support::fault_proxy::{Action, Rule};
use crate::support::faulted::{Armed, Faulted, error_line, exec_args};

/// One API step of an acquire: the requests a rule selects.
struct Step {
    name: &'static str,
    method: &'static str,
    /// Substring of the path; `{ns}` is the tenant namespace.
    path: &'static str,
    /// Substring of the query, if any.
    query: Option<&'static str>,
    /// A query substring the request must not have.
    not_query: Option<&'static str>,
    /// A watch (streaming answer).
    watch: bool,
    /// Which matching request the fault hits (1 for the first).
    nth: u32,
    /// A write of the tenant objects, made only when the tenant's record
    /// is missing or stale: the cell removes the record first.
    tenant: bool,
}

/// A step of every acquire, matched on method and path.
const fn step(name: &'static str, method: &'static str, path: &'static str) -> Step {
    Step {
        name,
        method,
        path,
        query: None,
        not_query: None,
        watch: false,
        nth: 1,
        tenant: false,
    }
}

/// A step of an acquire that converges the tenant objects.
const fn tenant_step(name: &'static str, method: &'static str, path: &'static str) -> Step {
    Step {
        tenant: true,
        ..step(name, method, path)
    }
}

/// The API steps of a `pod` acquire, in the order leasebox makes them
/// (the first acquire of the test prints them). On a warm tenant an
/// acquire reads the Namespace (the tenant's record) and writes only the
/// lease's objects; the tenant steps run when the record is missing, so
/// their cells remove it first. Role and RoleBinding share one code path;
/// the Role stands for both, as the legacy NetworkPolicy delete stands for
/// the legacy CiliumNetworkPolicy one.
const STEPS: &[Step] = &[
    step("namespace read", "GET", "/api/v1/namespaces/{ns}$"),
    tenant_step("namespace apply", "PATCH", "/api/v1/namespaces/{ns}$"),
    tenant_step(
        "serviceaccount",
        "PATCH",
        "/namespaces/{ns}/serviceaccounts/leasebox-agent",
    ),
    tenant_step("role", "PATCH", "/namespaces/{ns}/roles/leasebox-agent"),
    tenant_step(
        "resourcequota",
        "PATCH",
        "/namespaces/{ns}/resourcequotas/leasebox-quota",
    ),
    tenant_step(
        "limitrange",
        "PATCH",
        "/namespaces/{ns}/limitranges/leasebox-limits",
    ),
    tenant_step(
        "deny-all policy",
        "PATCH",
        "/namespaces/{ns}/networkpolicies/leasebox-deny-all",
    ),
    tenant_step(
        "stale policy delete",
        "DELETE",
        "/namespaces/{ns}/networkpolicies/leasebox-egress$",
    ),
    Step {
        nth: 2,
        ..tenant_step("tenant record", "PATCH", "/api/v1/namespaces/{ns}$")
    },
    step("secret", "PATCH", "/namespaces/{ns}/secrets/lb-"),
    step("pod", "PATCH", "/namespaces/{ns}/pods/lb-"),
    Step {
        nth: 2,
        ..step("secret owner", "PATCH", "/namespaces/{ns}/secrets/lb-")
    },
    step(
        "egress policy",
        "PATCH",
        "/namespaces/{ns}/networkpolicies/lb-",
    ),
    Step {
        not_query: Some("watch=true"),
        ..step("pod list (watch)", "GET", "/namespaces/{ns}/pods$")
    },
    Step {
        query: Some("watch=true"),
        watch: true,
        ..step("pod watch", "GET", "/namespaces/{ns}/pods$")
    },
];

/// Where a fault class is tried.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rows {
    /// Every step.
    All,
    /// Steps after the first lease object exists (a failure there must
    /// roll back).
    LeaseObjects,
    /// The writes of lease objects.
    LeaseWrites,
    /// The watch only.
    Watch,
}

/// A fault class of the matrix.
struct Fault {
    name: &'static str,
    action: Action,
    /// How often it fires (once, or enough to exhaust leasebox's retries).
    times: u32,
    rows: Rows,
}

/// The fault classes of the matrix.
fn faults() -> Vec<Fault> {
    let once = |name, action| Fault {
        name,
        action,
        times: 1,
        rows: Rows::All,
    };
    vec![
        once("429", Action::Status(429)),
        once("500", Action::Status(500)),
        once("503", Action::Status(503)),
        once("reset", Action::Reset),
        once("lost answer", Action::LoseAnswer),
        once("delay 2s", Action::Delay(Duration::from_secs(2))),
        // Five attempts in all: every one of them fails.
        Fault {
            times: 5,
            rows: Rows::LeaseObjects,
            ..once("503 x5", Action::Status(503))
        },
        Fault {
            times: 5,
            rows: Rows::LeaseWrites,
            ..once("lost x5", Action::LoseAnswer)
        },
        Fault {
            rows: Rows::Watch,
            ..once("cut 1KiB", Action::CutStreamAfterBytes(1024))
        },
        Fault {
            rows: Rows::Watch,
            ..once(
                "cut after 1s",
                Action::CutStreamAfter(Duration::from_secs(1)),
            )
        },
        Fault {
            rows: Rows::Watch,
            ..once("410 gone", Action::GoneOnWatch)
        },
    ]
}

/// Steps where a lease object exists or is being written.
const LEASE_OBJECT_STEPS: &[&str] = &[
    "secret",
    "pod",
    "secret owner",
    "egress policy",
    "pod watch",
];

impl Fault {
    fn applies(&self, step: &Step) -> bool {
        match self.rows {
            Rows::All => true,
            Rows::LeaseObjects => LEASE_OBJECT_STEPS.contains(&step.name),
            Rows::LeaseWrites => LEASE_OBJECT_STEPS.contains(&step.name) && !step.watch,
            Rows::Watch => step.watch,
        }
    }
}

/// The row of the cold tenant's namespace create.
const COLD_CREATE: &str = "namespace create (cold)";

/// Cells known to violate the invariant (step, fault), reported and not
/// failed on; see the report of the test.
const KNOWN_VIOLATIONS: &[(&str, &str)] = &[];

/// How one cell ended.
#[derive(Debug, Clone)]
enum Outcome {
    /// Acquired, `exec -- true` answered 0, released.
    Lease,
    /// Failed with exit 1, a named error, nothing of it left.
    CleanError(String),
    /// The invariant does not hold.
    Violation(String),
    /// The rule never fired: the step was not reached (a test problem).
    NotHit,
}

impl Outcome {
    fn cell(&self) -> &'static str {
        match self {
            Outcome::Lease => "lease",
            Outcome::CleanError(_) => "clean error",
            Outcome::Violation(_) => "VIOLATION",
            Outcome::NotHit => "NOT HIT",
        }
    }
}

/// The rule of `fault` on `step`, for the namespace `ns`.
fn rule(step: &Step, fault: &Fault, ns: &str) -> Rule {
    let mut r = Rule::new(
        &format!("{} / {}", step.name, fault.name),
        step.method,
        &step.path.replace("{ns}", ns),
        fault.action.clone(),
    )
    .nth(step.nth)
    .times(fault.times);
    if let Some(q) = step.query {
        r = r.query(q);
    }
    if let Some(q) = step.not_query {
        r = r.not_query(q);
    }
    r
}

/// Lease objects in the namespace that belong to none of `released`
/// (waits up to `limit` for them to go).
fn strays(case: &Case, released: &[String], limit: Duration) -> Vec<LeaseObject> {
    let client = case.client();
    let started = Instant::now();
    loop {
        let left: Vec<LeaseObject> = case
            .block_on(cluster::lease_objects(&client, &case.namespace))
            .unwrap_or_else(|e| panic!("{e:#}"))
            .into_iter()
            .filter(|o| !released.iter().any(|id| o.name.contains(id.as_str())))
            .collect();
        if left.is_empty() || started.elapsed() > limit {
            return left;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Removes the tenant's record from its Namespace, so that the next
/// acquire converges the tenant objects again.
fn forget_tenant_record(case: &Case) {
    let namespaces: Api<Namespace> = Api::all(case.client());
    let patch = json!({ "metadata": { "annotations": { ANNOTATION_TENANT_APPLIED: null } } });
    case.block_on(namespaces.patch(
        &case.namespace,
        &PatchParams::default(),
        &Patch::Merge(&patch),
    ))
    .unwrap_or_else(|e| panic!("removing the tenant record of {}: {e}", case.namespace));
}

/// Releases run in the background while the next cell runs.
pub(crate) type Releases = Vec<(String, std::thread::JoinHandle<Output>)>;

/// `release --lease <id>` straight to the cluster, in the background.
pub(crate) fn release_in_background(case: &Case, id: &str, releases: &mut Releases) {
    let kubeconfig = case.kubeconfig().to_path_buf();
    let args: Vec<String> = ["release", "--lease", id, "--namespace", &case.namespace]
        .iter()
        .map(|a| a.to_string())
        .collect();
    let handle =
        std::thread::spawn(move || cli::run_with_env(&kubeconfig, &args, &[], None, CLI_LIMIT));
    releases.push((id.to_string(), handle));
}

/// Waits for the releases started so far; each must exit 0.
pub(crate) fn join_releases(releases: &mut Releases) {
    for (id, release) in releases.drain(..) {
        release
            .join()
            .unwrap_or_else(|_| panic!("the release of {id} panicked"))
            .assert_code(0);
    }
}

/// Runs one cell: the fault on the step, the acquire, the invariant.
fn run_cell(
    case: &Case,
    faulted: &Faulted,
    rule: Rule,
    released: &mut Vec<String>,
    releases: &mut Releases,
) -> (Outcome, Duration) {
    let proxy = &faulted.proxy;
    let (output, Armed { unfired, .. }) =
        faulted.with_rules(vec![rule], "    ", || faulted.acquire(case));
    // How long leasebox waited before it tried the faulted request again.
    let seen = proxy.seen();
    if let Some(hit) = seen.iter().position(|r| r.rule.is_some()) {
        let again = seen[hit + 1..]
            .iter()
            .find(|r| r.method == seen[hit].method && r.path == seen[hit].path);
        match again {
            Some(next) => eprintln!(
                "    the request came again {} ms later",
                next.at.duration_since(seen[hit].at).as_millis()
            ),
            None => eprintln!("    the request did not come again"),
        }
    }
    let outcome = match output.code {
        Some(0) => {
            let lease: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
            match lease.get("id").and_then(Value::as_str) {
                None => Outcome::Violation(format!(
                    "exit 0 without a lease on stdout: {}",
                    error_line(&output)
                )),
                Some(id) => {
                    let lease = case.lease_of(&output);
                    released.push(id.to_string());
                    // Straight to the cluster: the lease must work.
                    let check = case.exec(&lease, &["--no-stdin", "--", "true"]);
                    release_in_background(case, id, releases);
                    if check.code == Some(0) {
                        Outcome::Lease
                    } else {
                        Outcome::Violation(format!(
                            "acquired {id}, but `exec -- true` answered {:?}: {}",
                            check.code,
                            error_line(&check)
                        ))
                    }
                }
            }
        }
        Some(1) => Outcome::CleanError(error_line(&output)),
        other => Outcome::Violation(format!(
            "exit {other:?}, not 0 (lease) or 1 (named failure): {}",
            error_line(&output)
        )),
    };
    // Whatever happened, nothing but released leases may be left.
    let left = strays(case, released, GONE_LIMIT);
    let outcome = if !left.is_empty() {
        let said = match &outcome {
            Outcome::CleanError(line) | Outcome::Violation(line) => line.clone(),
            _ => format!("exit {:?}", output.code),
        };
        Outcome::Violation(format!(
            "left after {GONE_LIMIT:?}: {left:?}; leasebox said: {said}"
        ))
    } else if !unfired.is_empty() {
        Outcome::NotHit
    } else {
        outcome
    };
    let slow = output.elapsed > Duration::from_secs(8);
    if slow
        || matches!(
            outcome,
            Outcome::Violation(_) | Outcome::NotHit | Outcome::CleanError(_)
        )
    {
        eprintln!(
            "    acquire: exit {:?} after {:.1?}; stderr:\n      {}",
            output.code,
            output.elapsed,
            output.stderr.trim_end().replace('\n', "\n      ")
        );
    }
    (outcome, output.elapsed)
}

#[test]
fn acquire_under_api_faults_leases_or_fails_clean() {
    let Some(case) = Case::start("faults") else {
        return;
    };
    let started = Instant::now();
    let faulted = Faulted::start(&case, json!({ "backend": "pod" }));
    let proxy = &faulted.proxy;
    eprintln!("fault proxy at {}", proxy.url());
    let mut releases = Releases::new();

    let faults = faults();
    let lost_answer = faults
        .iter()
        .position(|f| f.name == "lost answer")
        .expect("the matrix has a lost-answer fault");
    let mut table: BTreeMap<(usize, usize), (Outcome, Duration)> = BTreeMap::new();
    let mut released = Vec::new();

    // The first acquire makes the tenant (cold): the namespace is created
    // with a POST, the one write that is not idempotent. Its answer is
    // lost once; then the tenant is warm for the matrix. Its requests are
    // every step of an acquire.
    eprintln!("cell {COLD_CREATE} / lost answer:");
    let cold = Rule::new(
        &format!("{COLD_CREATE} / lost answer"),
        "POST",
        "/api/v1/namespaces$",
        Action::LoseAnswer,
    );
    let result = run_cell(&case, &faulted, cold, &mut released, &mut releases);
    eprintln!("    -> {} in {:.1?}", result.0.cell(), result.1);
    eprintln!("requests of the first acquire (cold tenant; the rule's request marked):");
    for seen in proxy.seen() {
        eprintln!("  {seen}");
    }
    table.insert((0, lost_answer), result);

    for (s, step) in STEPS.iter().enumerate() {
        let s = s + 1;
        for (f, fault) in faults.iter().enumerate() {
            if !fault.applies(step) {
                continue;
            }
            eprintln!("cell {} / {}:", step.name, fault.name);
            if step.tenant {
                forget_tenant_record(&case);
            }
            let result = run_cell(
                &case,
                &faulted,
                rule(step, fault, &case.namespace),
                &mut released,
                &mut releases,
            );
            eprintln!(
                "    -> {} in {:.1?}{}",
                result.0.cell(),
                result.1,
                match &result.0 {
                    Outcome::CleanError(line) | Outcome::Violation(line) => format!(": {line}"),
                    _ => String::new(),
                }
            );
            table.insert((s, f), result);
        }
    }
    join_releases(&mut releases);

    // The table, then what failed.
    let rows: Vec<&str> = std::iter::once(COLD_CREATE)
        .chain(STEPS.iter().map(|s| s.name))
        .collect();
    let width = rows.iter().map(|r| r.len()).max().unwrap_or(10) + 2;
    let mut text = format!("{:width$}", "step \\ fault");
    for fault in &faults {
        text.push_str(&format!("| {:16}", fault.name));
    }
    text.push('\n');
    for (s, row) in rows.iter().enumerate() {
        text.push_str(&format!("{row:width$}"));
        for f in 0..faults.len() {
            let cell = match table.get(&(s, f)) {
                Some((outcome, elapsed)) => {
                    format!("{} {:.1}s", outcome.cell(), elapsed.as_secs_f64())
                }
                None => "-".to_string(),
            };
            text.push_str(&format!("| {cell:16}"));
        }
        text.push('\n');
    }
    eprintln!("\nacquire under faults (outcome, acquire wall time; - not tried):\n{text}");

    let mut known = Vec::new();
    let mut failing = Vec::new();
    for ((s, f), (outcome, _)) in &table {
        let (step, fault) = (rows[*s], faults[*f].name);
        match outcome {
            Outcome::Violation(what) if KNOWN_VIOLATIONS.contains(&(step, fault)) => {
                known.push(format!("{step} / {fault}: {what}"))
            }
            Outcome::Violation(what) => failing.push(format!("{step} / {fault}: {what}")),
            Outcome::NotHit => failing.push(format!(
                "{step} / {fault}: the rule never fired (the step's request was not seen)"
            )),
            _ if KNOWN_VIOLATIONS.contains(&(step, fault)) => eprintln!(
                "known violation {step} / {fault} no longer happens: remove it from KNOWN_VIOLATIONS"
            ),
            _ => {}
        }
    }
    eprintln!(
        "known violations (reported, not failed on): {}",
        known.len()
    );
    for line in &known {
        eprintln!("  {line}");
    }
    eprintln!("matrix wall time: {:.1?}", started.elapsed());
    assert!(
        failing.is_empty(),
        "cells violating the invariant:\n{}",
        failing.join("\n")
    );
    drop(faulted);
    case.finish();
}

#[test]
fn exec_stream_cut_mid_output_is_a_typed_error() {
    let Some(case) = Case::start("faults-exec") else {
        return;
    };
    let faulted = Faulted::start(&case, json!({ "backend": "pod" }));
    let proxy = &faulted.proxy;
    let lease = case.lease_of(&faulted.acquire(&case));

    // About 60 KiB of output, then exit 0: a cut stream must not look like
    // that exit.
    let script = "i=0; while [ $i -lt 3000 ]; do echo line-$i-abcdefghij; i=$((i+1)); done; exit 0";
    proxy.clear_records();
    proxy.set_rules(vec![
        Rule::new(
            "exec cut",
            "",
            "/exec",
            Action::CutUpgradeAfterBytes(8 * 1024),
        )
        .query("command="),
    ]);
    let args = exec_args(
        &lease.id,
        &lease.namespace,
        &["--no-stdin", "--", "sh", "-c", script],
    );
    let cut = faulted.cli(&args, None);
    let injected = proxy.injected();
    proxy.set_rules(Vec::new());
    for line in &injected {
        eprintln!("injected: {line}");
    }
    eprintln!(
        "exec with its stream cut: exit {:?} after {:.1?}, {} bytes of stdout; leasebox said:\n{}",
        cut.code,
        cut.elapsed,
        cut.stdout.len(),
        cut.stderr
    );
    assert!(
        injected.iter().any(|i| i.what.starts_with("cut")),
        "the proxy cut the exec stream: {injected:?}"
    );
    assert_ne!(
        cut.code,
        Some(0),
        "a cut stream is not exit 0\n{}",
        cut.describe()
    );
    assert!(
        matches!(cut.code, Some(1 | 2)) && cut.stderr.contains("error"),
        "a cut stream is leasebox's own failure (exit 1 or 2) with a named reason, never a guessed exit code\n{}",
        cut.describe()
    );

    // The same command without a fault ends with its own exit code.
    let whole = faulted.cli(&args, None);
    whole.assert_code(0);
    assert_eq!(
        whole.stdout_text().lines().count(),
        3000,
        "{}",
        whole.describe()
    );

    case.release(&lease);
    drop(faulted);
    case.finish();
}

/// The lease id an acquire's log names (`acquire: lease lb-... for ...`).
fn lease_in_log(stderr: &str) -> String {
    stderr
        .split_whitespace()
        .find(|word| word.starts_with("lb-") && word.len() == 29)
        .unwrap_or_else(|| panic!("no lease id in:\n{stderr}"))
        .to_string()
}

#[test]
fn rollback_retries_its_deletes_and_names_what_it_could_not_delete() {
    let Some(case) = Case::start("faults-rollback") else {
        return;
    };
    let faulted = Faulted::start(&case, json!({ "backend": "pod" }));
    // A warm tenant: the failures below are the lease's.
    let warm = case.lease_of(&faulted.acquire(&case));
    case.release(&warm);
    let ns = case.namespace.clone();
    let pods = format!("/namespaces/{ns}/pods/lb-");
    let secrets = format!("/namespaces/{ns}/secrets/lb-");
    // A 403 is an answer, not retried: the acquire fails after the pod
    // and its Secret exist, and rolls them back.
    let refuse = Rule::new(
        "refuse the egress policy",
        "PATCH",
        &format!("/namespaces/{ns}/networkpolicies/lb-"),
        Action::Status(403),
    );

    // Each delete of the rollback fails once: retried, nothing is left.
    let (retried, Armed { unfired, .. }) = faulted.with_rules(
        vec![
            refuse.clone(),
            Rule::new("pod delete 500", "DELETE", &pods, Action::Status(500)),
            Rule::new("secret delete reset", "DELETE", &secrets, Action::Reset),
        ],
        "",
        || faulted.acquire(&case),
    );
    eprintln!("{}", retried.stderr);
    assert!(unfired.is_empty(), "rules that never fired: {unfired:?}");
    assert_eq!(retried.code, Some(1), "{}", retried.describe());
    assert!(
        retried.stderr.contains("rolled back") && !retried.stderr.contains("left behind"),
        "{}",
        retried.describe()
    );
    let left = strays(&case, &[], GONE_LIMIT);
    assert!(left.is_empty(), "left after a retried rollback: {left:?}");

    // The pod's delete fails on every attempt: the pod is left, and the
    // error names it.
    let (failed, _) = faulted.with_rules(
        vec![
            refuse,
            Rule::new("pod delete 500 x5", "DELETE", &pods, Action::Status(500)).times(5),
        ],
        "",
        || faulted.acquire(&case),
    );
    eprintln!("{}", failed.stderr);
    assert_eq!(failed.code, Some(1), "{}", failed.describe());
    let id = lease_in_log(&failed.stderr);
    let named = failed
        .stderr
        .lines()
        .any(|l| l.contains("left behind") && l.contains(&format!("Pod {ns}/{id}")));
    assert!(named, "the error names the pod it left:\n{}", failed.stderr);
    let on_cluster = strays(&case, &[], Duration::ZERO);
    let names: Vec<&str> = on_cluster.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(
        names,
        [format!("Pod/{id}")],
        "only the pod the error names is left: {on_cluster:?}"
    );

    // What the error names, a release removes.
    let mut releases = Releases::new();
    release_in_background(&case, &id, &mut releases);
    join_releases(&mut releases);
    let left = strays(&case, &[], GONE_LIMIT);
    assert!(left.is_empty(), "left after the release: {left:?}");
    drop(faulted);
    case.finish();
}
