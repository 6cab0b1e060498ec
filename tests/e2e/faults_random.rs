//! Seeded random faults over whole lease lifecycles.
//!
//! Each cycle is acquire -> exec (`true`, then a command with output and
//! exit code 7) -> release, all through the fault proxy, with one or two
//! faults drawn from (request x fault class) by a splitmix64 generator.
//! `LEASEBOX_FAULT_SEED` replays a run (unset: a seed from the clock,
//! printed); `LEASEBOX_FAULT_CYCLES` sets the number of cycles (default
//! 6). The invariants are read from the cluster:
//!
//! - an acquire ends in a lease whose pod runs `true` with exit 0 (exec
//!   straight to the API server with kube-rs), or in exit 1 with a named
//!   error and no object of that lease left;
//! - an exec ends with the command's own exit code and its whole output,
//!   or with leasebox's typed error (exit 1 or 2, `error` on stderr); a cut
//!   stream is never the command's code;
//! - a release ends with every object of the lease gone, or with an error
//!   that names each object left (a release straight to the cluster then
//!   removes them).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::support::case::Case;
use crate::support::cli::Output;
use crate::support::cluster::{self, GONE_LIMIT};
use crate::support::fault_proxy::{Action, Rule};
use crate::support::faulted::{
    Armed, Faulted, error_line, exec_args, left_once_unnamed_gone, unnamed,
};

/// Replays a run: the seed of the fault draws.
const SEED_ENV: &str = "LEASEBOX_FAULT_SEED";
/// How many cycles to run.
const CYCLES_ENV: &str = "LEASEBOX_FAULT_CYCLES";
/// Cycles when [`CYCLES_ENV`] is unset (keeps the suite's time bounded).
const DEFAULT_CYCLES: usize = 6;

/// Limit of one exec straight to the cluster.
const DIRECT_EXEC_LIMIT: Duration = Duration::from_secs(30);

/// Lines the output command prints before it exits 7.
const OUTPUT_LINES: usize = 400;
/// Exit code of the output command.
const OUTPUT_CODE: i32 = 7;

/// splitmix64 (Steele, Lea, Flood 2014): a tiny generator whose sequence
/// depends only on its seed.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// When in a cycle a request is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Acquire,
    ExecTrue,
    ExecOutput,
    Release,
}

/// What kind of request: which fault classes fit it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Write,
    Watch,
    Upgrade,
    Delete,
}

/// A request of a cycle that a fault may hit.
struct Target {
    name: &'static str,
    phase: Phase,
    kind: Kind,
    method: &'static str,
    /// Substring of the path (`$`: suffix); `{ns}` is the namespace.
    path: &'static str,
    query: Option<&'static str>,
    not_query: Option<&'static str>,
}

const fn target(
    name: &'static str,
    phase: Phase,
    kind: Kind,
    method: &'static str,
    path: &'static str,
) -> Target {
    Target {
        name,
        phase,
        kind,
        method,
        path,
        query: None,
        not_query: None,
    }
}

/// Marker in the output command's script (selects its exec request).
const OUTPUT_MARKER: &str = "rndout";

const TARGETS: &[Target] = &[
    target(
        "namespace apply",
        Phase::Acquire,
        Kind::Write,
        "PATCH",
        "/api/v1/namespaces/{ns}$",
    ),
    target(
        "serviceaccount apply",
        Phase::Acquire,
        Kind::Write,
        "PATCH",
        "/namespaces/{ns}/serviceaccounts/leasebox-agent",
    ),
    target(
        "role apply",
        Phase::Acquire,
        Kind::Write,
        "PATCH",
        "/namespaces/{ns}/roles/leasebox-agent",
    ),
    target(
        "deny-all apply",
        Phase::Acquire,
        Kind::Write,
        "PATCH",
        "/namespaces/{ns}/networkpolicies/leasebox-deny-all",
    ),
    target(
        "pod apply",
        Phase::Acquire,
        Kind::Write,
        "PATCH",
        "/namespaces/{ns}/pods/lb-",
    ),
    target(
        "egress policy apply",
        Phase::Acquire,
        Kind::Write,
        "PATCH",
        "/namespaces/{ns}/networkpolicies/lb-",
    ),
    target(
        "secret apply",
        Phase::Acquire,
        Kind::Write,
        "PATCH",
        "/namespaces/{ns}/secrets/lb-",
    ),
    Target {
        query: Some("watch=true"),
        ..target(
            "pod watch",
            Phase::Acquire,
            Kind::Watch,
            "GET",
            "/namespaces/{ns}/pods$",
        )
    },
    Target {
        query: Some("command=true"),
        ..target(
            "exec `true` upgrade",
            Phase::ExecTrue,
            Kind::Upgrade,
            "",
            "/exec",
        )
    },
    Target {
        query: Some(OUTPUT_MARKER),
        ..target(
            "exec output upgrade",
            Phase::ExecOutput,
            Kind::Upgrade,
            "",
            "/exec",
        )
    },
    target(
        "release: pod delete",
        Phase::Release,
        Kind::Delete,
        "DELETE",
        "/namespaces/{ns}/pods/lb-",
    ),
    target(
        "release: secret delete",
        Phase::Release,
        Kind::Delete,
        "DELETE",
        "/namespaces/{ns}/secrets/lb-",
    ),
];

/// A fault class: its name, action and how often it fires.
struct Class {
    name: &'static str,
    action: fn() -> Action,
    times: u32,
}

const fn class(name: &'static str, action: fn() -> Action, times: u32) -> Class {
    Class {
        name,
        action,
        times,
    }
}

const WRITE_FAULTS: &[Class] = &[
    class("429", || Action::Status(429), 1),
    class("500", || Action::Status(500), 1),
    class("503", || Action::Status(503), 1),
    class("reset", || Action::Reset, 1),
    class("lost answer", || Action::LoseAnswer, 1),
    class("delay 1s", || Action::Delay(Duration::from_secs(1)), 1),
    class("503 x5", || Action::Status(503), 5),
];

const WATCH_FAULTS: &[Class] = &[
    class("cut 1KiB", || Action::CutStreamAfterBytes(1024), 1),
    class(
        "cut after 1s",
        || Action::CutStreamAfter(Duration::from_secs(1)),
        1,
    ),
    class("410 gone", || Action::GoneOnWatch, 1),
    class("500", || Action::Status(500), 1),
    class("reset", || Action::Reset, 1),
];

const UPGRADE_FAULTS: &[Class] = &[
    class("429", || Action::Status(429), 1),
    class("500", || Action::Status(500), 1),
    class("reset", || Action::Reset, 1),
    class("cut 4 B", || Action::CutUpgradeAfterBytes(4), 1),
    class("cut 2KiB", || Action::CutUpgradeAfterBytes(2048), 1),
];

const DELETE_FAULTS: &[Class] = &[
    class("500", || Action::Status(500), 1),
    class("503", || Action::Status(503), 1),
    class("reset", || Action::Reset, 1),
    class("lost answer", || Action::LoseAnswer, 1),
    class("500 x5", || Action::Status(500), 5),
];

fn classes(kind: Kind) -> &'static [Class] {
    match kind {
        Kind::Write => WRITE_FAULTS,
        Kind::Watch => WATCH_FAULTS,
        Kind::Upgrade => UPGRADE_FAULTS,
        Kind::Delete => DELETE_FAULTS,
    }
}

/// One drawn fault: indices into [`TARGETS`] and the target's classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Draw {
    target: usize,
    class: usize,
}

impl Draw {
    fn target(&self) -> &'static Target {
        &TARGETS[self.target]
    }

    fn class(&self) -> &'static Class {
        &classes(self.target().kind)[self.class]
    }

    fn name(&self) -> String {
        format!("{} / {}", self.target().name, self.class().name)
    }

    fn rule(&self, namespace: &str) -> Rule {
        let (t, c) = (self.target(), self.class());
        let mut rule = Rule::new(
            &self.name(),
            t.method,
            &t.path.replace("{ns}", namespace),
            (c.action)(),
        )
        .times(c.times);
        if let Some(q) = t.query {
            rule = rule.query(q);
        }
        if let Some(q) = t.not_query {
            rule = rule.not_query(q);
        }
        rule
    }
}

/// The faults of every cycle: one or two per cycle, on distinct requests.
pub(crate) fn draw(seed: u64, cycles: usize) -> Vec<Vec<Draw>> {
    let mut rng = SplitMix64::new(seed);
    (0..cycles)
        .map(|_| {
            let count = 1 + rng.below(2);
            let mut faults: Vec<Draw> = Vec::new();
            while faults.len() < count {
                let target = rng.below(TARGETS.len());
                let class = rng.below(classes(TARGETS[target].kind).len());
                if faults.iter().all(|f| f.target != target) {
                    faults.push(Draw { target, class });
                }
            }
            faults
        })
        .collect()
}

/// The seed: [`SEED_ENV`], else one from the clock.
fn seed() -> u64 {
    match std::env::var(SEED_ENV) {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("{SEED_ENV}={text:?} is not a u64: {e}")),
        Err(_) => {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            SplitMix64::new(nanos as u64).next_u64()
        }
    }
}

fn cycles() -> usize {
    match std::env::var(CYCLES_ENV) {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("{CYCLES_ENV}={text:?} is not a count: {e}")),
        Err(_) => DEFAULT_CYCLES,
    }
}

/// What one cycle found.
#[derive(Default)]
struct Tally {
    leases: usize,
    acquire_errors: usize,
    exec_exact: usize,
    exec_typed_errors: usize,
    releases_clean: usize,
    releases_named: usize,
    injected: usize,
    not_reached: usize,
    violations: Vec<String>,
}

/// True when leasebox's output is its own typed failure: exit 1 or 2 and
/// an `error` line on stderr.
fn typed_error(output: &Output) -> bool {
    matches!(output.code, Some(1 | 2)) && output.stderr.contains("error")
}

/// Runs the phase's rules around `run`; returns its output and what the
/// proxy injected.
fn with_phase_rules(
    faulted: &Faulted,
    faults: &[Draw],
    phase: Phase,
    namespace: &str,
    tally: &mut Tally,
    run: impl FnOnce() -> Output,
) -> (Output, Vec<String>) {
    let rules: Vec<Rule> = faults
        .iter()
        .filter(|f| f.target().phase == phase)
        .map(|f| f.rule(namespace))
        .collect();
    let (output, Armed { injected, unfired }) = faulted.with_rules(rules, "    ", run);
    for name in &unfired {
        eprintln!("    not reached: {name}");
    }
    tally.injected += injected.len();
    tally.not_reached += unfired.len();
    (output, injected)
}

/// True when the proxy cut a stream (not merely armed a cut).
fn was_cut(injected: &[String]) -> bool {
    injected.iter().any(|i| i.contains(": cut the"))
}

fn describe(output: &Output) -> String {
    format!(
        "exit {:?} after {:.1?}: {}",
        output.code,
        output.elapsed,
        error_line(output)
    )
}

/// One cycle: acquire, two execs, release, each checked on the cluster.
/// Returns the violations of the invariants.
fn run_cycle(case: &Case, faulted: &Faulted, faults: &[Draw], tally: &mut Tally) -> Vec<String> {
    let ns = &case.namespace;
    let client = case.client();
    let mut found: Vec<String> = Vec::new();

    // Acquire.
    let (acquired, _) = with_phase_rules(faulted, faults, Phase::Acquire, ns, tally, || {
        faulted.acquire(case)
    });
    eprintln!("  acquire: {}", describe(&acquired));
    if acquired.code != Some(0) {
        // The later phases do not run: their faults are not reached.
        for fault in faults.iter().filter(|f| f.target().phase != Phase::Acquire) {
            eprintln!("    not reached (no lease): {}", fault.name());
            tally.not_reached += 1;
        }
    }
    let lease: Value = serde_json::from_slice(&acquired.stdout).unwrap_or(Value::Null);
    let id = lease.get("id").and_then(Value::as_str).map(str::to_string);
    let id = match (acquired.code, id) {
        (Some(0), Some(id)) => {
            let pod = lease["pod"].as_str().unwrap_or_default().to_string();
            let container = lease["container"].as_str().unwrap_or_default().to_string();
            let check = case.block_on(cluster::exec_in_pod(
                &client,
                ns,
                &pod,
                &container,
                &["true"],
                DIRECT_EXEC_LIMIT,
            ));
            match check {
                Ok(done) if done.code == Some(0) => tally.leases += 1,
                other => found.push(format!(
                    "acquired {id}, but `true` in its pod gave {other:?}"
                )),
            }
            id
        }
        (Some(1), _) if acquired.stderr.contains("error") => {
            tally.acquire_errors += 1;
            let left = case
                .block_on(cluster::wait_no_lease_objects(&client, ns, GONE_LIMIT))
                .unwrap_or_else(|e| panic!("{e:#}"));
            if !left.is_empty() {
                found.push(format!(
                    "failed acquire left {left:?}; leasebox said: {}",
                    error_line(&acquired)
                ));
            }
            return found;
        }
        _ => {
            found.push(format!(
                "acquire ended neither in a lease nor in a named failure: {}",
                acquired.describe()
            ));
            return found;
        }
    };

    // Exec `true`, then a command with output and its own exit code.
    let script = format!(
        "i=0; while [ $i -lt {OUTPUT_LINES} ]; do echo {OUTPUT_MARKER}-$i-abcdefghijklmnop; i=$((i+1)); done; exit {OUTPUT_CODE}"
    );
    let execs: [(Phase, Vec<&str>, i32, usize); 2] = [
        (Phase::ExecTrue, vec!["--no-stdin", "--", "true"], 0, 0),
        (
            Phase::ExecOutput,
            vec!["--no-stdin", "--", "sh", "-c", &script],
            OUTPUT_CODE,
            OUTPUT_LINES,
        ),
    ];
    for (phase, rest, code, lines) in execs {
        let (output, injected) = with_phase_rules(faulted, faults, phase, ns, tally, || {
            faulted.cli(&exec_args(&id, ns, &rest), None)
        });
        eprintln!("  exec {phase:?}: {}", describe(&output));
        let cut = was_cut(&injected);
        let whole = output.stdout_text().lines().count() == lines;
        if output.code == Some(code) && !cut && whole {
            tally.exec_exact += 1;
        } else if typed_error(&output) {
            tally.exec_typed_errors += 1;
        } else if cut {
            found.push(format!(
                "exec {phase:?}: the stream was cut, yet {}",
                describe(&output)
            ));
        } else {
            found.push(format!(
                "exec {phase:?}: expected exit {code} with {lines} lines or a typed error, got {} with {} lines",
                describe(&output),
                output.stdout_text().lines().count()
            ));
        }
    }

    // Release.
    let (released, _) = with_phase_rules(faulted, faults, Phase::Release, ns, tally, || {
        faulted.cli(&["release", "--lease", &id, "--namespace", ns], None)
    });
    eprintln!("  release: {}", describe(&released));
    // After a failed release, what it does not name must go.
    let left = if released.code == Some(0) {
        case.block_on(cluster::wait_lease_gone(&client, ns, &id, GONE_LIMIT))
            .unwrap_or_else(|e| panic!("{e:#}"))
    } else {
        left_once_unnamed_gone(case, ns, &id, &released.stderr)
    };
    if released.code == Some(0) {
        if left.is_empty() {
            tally.releases_clean += 1;
        } else {
            found.push(format!("release said 0, but {left:?} is left"));
        }
    } else {
        // What is left must be named by the error.
        let unnamed = unnamed(&left, &released.stderr);
        if !unnamed.is_empty() {
            found.push(format!(
                "release failed ({}) without naming {unnamed:?}",
                describe(&released)
            ));
        } else {
            tally.releases_named += 1;
        }
        let again = case.cli(&["release", "--lease", &id, "--namespace", ns]);
        let still = case
            .block_on(cluster::wait_lease_gone(&client, ns, &id, GONE_LIMIT))
            .unwrap_or_else(|e| panic!("{e:#}"));
        if !still.is_empty() {
            found.push(format!(
                "a release straight to the cluster ({}) left {still:?}",
                describe(&again)
            ));
        }
    }
    found
}

#[test]
fn draws_depend_only_on_the_seed() {
    // The published splitmix64 sequence for seed 0.
    let mut rng = SplitMix64::new(0);
    assert_eq!(
        [rng.next_u64(), rng.next_u64(), rng.next_u64()],
        [
            0xe220_a839_7b1d_cdaf,
            0x6e78_9e6a_a1b9_65f4,
            0x06c4_5d18_8009_454f
        ]
    );
    let seed = 0x5eed_1234;
    assert_eq!(draw(seed, 50), draw(seed, 50), "same seed, same faults");
    assert_eq!(
        draw(seed, 50)[..10],
        draw(seed, 10)[..],
        "more cycles extend the sequence"
    );
    assert_ne!(
        draw(seed, 20),
        draw(seed + 1, 20),
        "another seed, other faults"
    );
    let all = draw(7, 500);
    assert!(all.iter().all(|c| (1..=2).contains(&c.len())));
    // Over many cycles every target and every class is drawn.
    for (t, target) in TARGETS.iter().enumerate() {
        for c in 0..classes(target.kind).len() {
            assert!(
                all.iter().flatten().any(|d| *d
                    == Draw {
                        target: t,
                        class: c
                    }),
                "{} / {} never drawn",
                target.name,
                classes(target.kind)[c].name
            );
        }
    }
}

#[test]
fn random_faults_over_lease_lifecycles() {
    let Some(case) = Case::start("faults-random") else {
        return;
    };
    let seed = seed();
    let cycles = cycles();
    eprintln!(
        "fault seed {seed}, {cycles} cycles (replay: {SEED_ENV}={seed} {CYCLES_ENV}={cycles})"
    );
    let started = Instant::now();
    let faulted = Faulted::start(&case, json!({ "backend": "pod" }));
    // Warm the tenant first, so every cycle is an acquire of a warm tenant.
    let warm = faulted.acquire(&case);
    let lease = case.lease_of(&warm);
    case.release(&lease);

    let mut tally = Tally::default();
    for (n, faults) in draw(seed, cycles).iter().enumerate() {
        let names: Vec<String> = faults.iter().map(Draw::name).collect();
        eprintln!("cycle {n}: {}", names.join(", "));
        let cycle_started = Instant::now();
        for what in run_cycle(&case, &faulted, faults, &mut tally) {
            eprintln!("  VIOLATION: {what}");
            tally.violations.push(format!("cycle {n}: {what}"));
        }
        eprintln!("  cycle {n} took {:.1?}", cycle_started.elapsed());
    }
    eprintln!(
        "seed {seed}, {cycles} cycles in {:.1?}: {} leases, {} clean acquire errors; execs: {} exact, {} typed errors; releases: {} clean, {} named what was left; {} faults injected, {} drawn faults not reached; {} violations",
        started.elapsed(),
        tally.leases,
        tally.acquire_errors,
        tally.exec_exact,
        tally.exec_typed_errors,
        tally.releases_clean,
        tally.releases_named,
        tally.injected,
        tally.not_reached,
        tally.violations.len()
    );
    assert!(
        tally.violations.is_empty(),
        "seed {seed} (replay with {SEED_ENV}={seed} {CYCLES_ENV}={cycles}):\n{}",
        tally.violations.join("\n")
    );
    drop(faulted);
    case.finish();
}
