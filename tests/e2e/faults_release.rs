//! `release` and `sweep` with faults on their deletes (500, a reset
//! connection, a lost answer; once, and on all five attempts) of the
//! workload and of its Secret. For each cell, read from the cluster: the
//! lease's objects are all gone, or the command failed (exit 1) naming
//! every object that is left, and a release straight to the cluster then
//! removes them.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::case::{Case, Lease};
use crate::support::cli::Output;
use crate::support::cluster::{self, GONE_LIMIT, LeaseObject};
use crate::support::fault_proxy::{Action, Rule};
use crate::support::faulted::{Faulted, error_line, left_once_unnamed_gone, unnamed};

/// The TTL of the leases `sweep` removes.
const SHORT_TTL_SECS: u64 = 2;

/// Which delete a cell faults.
#[derive(Clone, Copy)]
enum Delete {
    Workload,
    Secret,
}

impl Delete {
    fn name(self) -> &'static str {
        match self {
            Delete::Workload => "pod delete",
            Delete::Secret => "secret delete",
        }
    }

    fn path(self, lease: &Lease) -> String {
        match self {
            Delete::Workload => format!("/namespaces/{}/pods/{}", lease.namespace, lease.id),
            Delete::Secret => format!("/namespaces/{}/secrets/{}", lease.namespace, lease.id),
        }
    }
}

/// The fault classes: name, action, how often.
fn classes() -> Vec<(&'static str, Action, u32)> {
    vec![
        ("500", Action::Status(500), 1),
        ("reset", Action::Reset, 1),
        ("lost answer", Action::LoseAnswer, 1),
        // Every attempt fails (a reset on every attempt takes the same
        // path: a transport failure after five attempts).
        ("500 x5", Action::Status(500), 5),
    ]
}

/// How a cell ended.
enum Outcome {
    /// Exit 0 and every object gone.
    Gone,
    /// Exit 1 naming every object left; a straight release removed them.
    NamedLeft(Vec<LeaseObject>),
    Violation(String),
}

impl Outcome {
    fn cell(&self) -> String {
        match self {
            Outcome::Gone => "gone".into(),
            Outcome::NamedLeft(left) => format!("error named {} left", left.len()),
            Outcome::Violation(_) => "VIOLATION".into(),
        }
    }
}

/// Judges a release or sweep of `lease` that ended with `output`, except
/// for the named objects' disappearance (checked for every cell at the end,
/// so that pods terminate in parallel). A failure's leftovers are released
/// straight to the cluster with `cleanup`.
fn judge(case: &Case, lease: &Lease, output: &Output, cleanup: &[&str]) -> Outcome {
    if output.code == Some(0) {
        return Outcome::Gone;
    }
    // What the error does not name must go.
    let left = left_once_unnamed_gone(case, &lease.namespace, &lease.id, &output.stderr);
    let outcome = if output.code != Some(1) || !output.stderr.contains("error") {
        Outcome::Violation(format!(
            "neither exit 0 nor a named failure: {}",
            output.describe()
        ))
    } else {
        let missing = unnamed(&left, &output.stderr);
        if missing.is_empty() {
            Outcome::NamedLeft(left.clone())
        } else {
            Outcome::Violation(format!(
                "{left:?} is left, but the error does not name {missing:?}: {}",
                error_line(output)
            ))
        }
    };
    let again = case.cli(cleanup);
    if again.code != Some(0) {
        return Outcome::Violation(format!(
            "`{}` straight to the cluster failed\n{}",
            cleanup.join(" "),
            again.describe()
        ));
    }
    outcome
}

/// Runs every (delete x class) cell of `command`; prints the table and
/// returns the violations.
fn run_cells(
    case: &Case,
    faulted: &Faulted,
    what: &str,
    acquire: &dyn Fn() -> Lease,
    command: &dyn Fn(&Lease) -> Vec<String>,
) -> Vec<String> {
    let mut table: BTreeMap<String, (Outcome, Duration, Lease)> = BTreeMap::new();
    for delete in [Delete::Workload, Delete::Secret] {
        for (class, action, times) in classes() {
            let cell = format!("{what} / {} / {class}", delete.name());
            let lease = acquire();
            faulted.proxy.clear_records();
            faulted.proxy.set_rules(vec![
                Rule::new(&cell, "DELETE", &delete.path(&lease), action).times(times),
            ]);
            let args = command(&lease);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let output = faulted.cli(&args, None);
            let unfired = faulted.proxy.unfired();
            faulted.proxy.set_rules(Vec::new());
            eprintln!("cell {cell}:");
            for line in faulted.proxy.injected() {
                eprintln!("    injected: {line}");
            }
            eprintln!(
                "    exit {:?} after {:.1?}: {}",
                output.code,
                output.elapsed,
                error_line(&output)
            );
            let cleanup = [
                "release",
                "--lease",
                &lease.id,
                "--namespace",
                &lease.namespace,
            ];
            let outcome = if unfired.is_empty() {
                judge(case, &lease, &output, &cleanup)
            } else {
                let _ = case.cli(&cleanup);
                Outcome::Violation(format!("the rule never fired: {unfired:?}"))
            };
            if let Outcome::Violation(why) = &outcome {
                eprintln!("    VIOLATION: {why}");
            }
            table.insert(cell, (outcome, output.elapsed, lease));
        }
    }
    // Every lease is gone in the end: after exit 0 by the command itself,
    // after a failure by the release straight to the cluster.
    let deadline = Instant::now() + GONE_LIMIT;
    for (outcome, _, lease) in table.values_mut() {
        let left = case
            .block_on(cluster::wait_lease_gone(
                &case.client(),
                &lease.namespace,
                &lease.id,
                deadline.saturating_duration_since(Instant::now()),
            ))
            .unwrap_or_else(|e| panic!("{e:#}"));
        if !left.is_empty() && !matches!(outcome, Outcome::Violation(_)) {
            *outcome = Outcome::Violation(match outcome {
                Outcome::Gone => format!("exit 0, but {left:?} is left after {GONE_LIMIT:?}"),
                _ => format!("after the release straight to the cluster, {left:?} is left"),
            });
        }
    }
    eprintln!("\n{what} under delete faults (outcome, command wall time):");
    let mut violations = Vec::new();
    for (cell, (outcome, elapsed, _)) in &table {
        eprintln!(
            "  {cell:40} {} {:.1}s",
            outcome.cell(),
            elapsed.as_secs_f64()
        );
        if let Outcome::Violation(why) = outcome {
            violations.push(format!("{cell}: {why}"));
        }
    }
    violations
}

#[test]
fn release_under_delete_faults_ends_gone_or_names_what_is_left() {
    let Some(case) = Case::start("faults-release") else {
        return;
    };
    let started = Instant::now();
    let faulted = Faulted::start(&case, json!({ "backend": "pod" }));
    let straight = case.config(json!({ "backend": "pod" }));
    let violations = run_cells(
        &case,
        &faulted,
        "release",
        &|| case.acquire(&straight, &[]),
        &|lease| {
            [
                "release",
                "--lease",
                &lease.id,
                "--namespace",
                &lease.namespace,
            ]
            .iter()
            .map(|a| a.to_string())
            .collect()
        },
    );
    eprintln!("release cells took {:.1?}", started.elapsed());
    assert!(violations.is_empty(), "{}", violations.join("\n"));
    drop(faulted);
    case.finish();
}

#[test]
fn sweep_under_delete_faults_ends_gone_or_names_what_is_left() {
    let Some(case) = Case::start("faults-sweep") else {
        return;
    };
    let started = Instant::now();
    let faulted = Faulted::start(&case, json!({ "backend": "pod" }));
    let short = case.config(json!({ "backend": "pod", "leaseMaxAgeSec": SHORT_TTL_SECS }));
    let namespace = case.namespace.clone();
    let violations = run_cells(
        &case,
        &faulted,
        "sweep",
        &|| {
            let acquired = Instant::now();
            let lease = case.acquire(&short, &[]);
            // Past its deadline before the sweep.
            let expired = Duration::from_secs(SHORT_TTL_SECS) + Duration::from_millis(500);
            if let Some(wait) = expired.checked_sub(acquired.elapsed()) {
                std::thread::sleep(wait);
            }
            lease
        },
        &|_| {
            ["sweep", "--namespace", &namespace]
                .iter()
                .map(|a| a.to_string())
                .collect()
        },
    );
    eprintln!("sweep cells took {:.1?}", started.elapsed());
    assert!(violations.is_empty(), "{}", violations.join("\n"));
    drop(faulted);
    case.finish();
}
