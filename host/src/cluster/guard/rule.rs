//! The rules behind the guard's refusals, how many each refused, and where
//! a refusal is reported.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::contract::Denial;
use crate::locks::lock;

/// The rule behind a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    /// `kube-*` and `default` are never touched.
    FenceSystem,
    /// The namespace does not start with the operator's prefix.
    FencePrefix,
    /// The namespace exists without leasebox's ownership label.
    FenceUnowned,
    /// The namespace is another company's tenant (or carries no company
    /// mark) and the call is for a company.
    TenantCompany,
    /// The object or pod belongs to no lease of this call, or the call
    /// names no lease and the step needs one.
    LeaseScope,
    /// A module set one of the marks the host owns (lease, company,
    /// module, ownership, Pod Security) to another value.
    IdentityMark,
    /// The kind, or this verb on it, is not in the grants table.
    KindNotGranted,
    /// Secrets are never read by modules.
    SecretRead,
    /// A Role rule beyond the ceiling.
    RoleCeiling,
    /// A RoleBinding to a ClusterRole or to foreign subjects.
    RoleBinding,
    /// A pod-bearing object outside the restricted pod profile.
    PodProfile,
    /// A pod referencing a Secret other than its lease's own.
    PodSecretRef,
    /// A claim that binds an existing volume (`volumeName`, `selector`).
    ClaimBinding,
    /// A network policy opening egress into a namespace the operator did
    /// not allow.
    EgressNamespace,
    /// Exec or logs into a pod that is not a lease pod.
    ExecTarget,
    /// A host key the operator did not grant.
    HostSecretKeys,
    /// A Secret written other than through the host-filled path, or not
    /// named for its lease.
    HostSecretShape,
    /// A pool pod beyond the operator's cap (host settings `pools`), or a
    /// pod made by a call for no lease that is not a pool pod.
    PoolCap,
    /// A claim of a pool pod that is not an unclaimed, ready-to-claim pool
    /// pod of this company made by the calling module, or a claim write
    /// that is more than a conditional relabel.
    PoolClaim,
    /// A Secret handed over to a pod that is not its lease's, or into a
    /// path that is not a memory-backed `emptyDir` of the container.
    HandOverTarget,
}

impl Rule {
    /// Every rule, for counters and documentation.
    pub const ALL: [Rule; 20] = [
        Rule::FenceSystem,
        Rule::FencePrefix,
        Rule::FenceUnowned,
        Rule::TenantCompany,
        Rule::LeaseScope,
        Rule::IdentityMark,
        Rule::KindNotGranted,
        Rule::SecretRead,
        Rule::RoleCeiling,
        Rule::RoleBinding,
        Rule::PodProfile,
        Rule::PodSecretRef,
        Rule::ClaimBinding,
        Rule::EgressNamespace,
        Rule::ExecTarget,
        Rule::HostSecretKeys,
        Rule::HostSecretShape,
        Rule::PoolCap,
        Rule::PoolClaim,
        Rule::HandOverTarget,
    ];

    /// The rule's name, as it appears in errors, logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Rule::FenceSystem => "fence-system",
            Rule::FencePrefix => "fence-prefix",
            Rule::FenceUnowned => "fence-unowned",
            Rule::TenantCompany => "tenant-company",
            Rule::LeaseScope => "lease-scope",
            Rule::IdentityMark => "identity-mark",
            Rule::KindNotGranted => "kind-not-granted",
            Rule::SecretRead => "secret-read",
            Rule::RoleCeiling => "role-ceiling",
            Rule::RoleBinding => "role-binding",
            Rule::PodProfile => "pod-profile",
            Rule::PodSecretRef => "pod-secret-ref",
            Rule::ClaimBinding => "claim-binding",
            Rule::EgressNamespace => "egress-namespace",
            Rule::ExecTarget => "exec-target",
            Rule::HostSecretKeys => "host-secret-keys",
            Rule::HostSecretShape => "host-secret-shape",
            Rule::PoolCap => "pool-cap",
            Rule::PoolClaim => "pool-claim",
            Rule::HandOverTarget => "hand-over-target",
        }
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How many calls each rule refused, since the counts were made.
#[derive(Debug, Default)]
pub struct DenialCounts {
    counts: [AtomicU64; Rule::ALL.len()],
}

impl DenialCounts {
    fn add(&self, rule: Rule) {
        if let Some(i) = Rule::ALL.iter().position(|r| *r == rule) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The count of `rule`.
    pub fn get(&self, rule: Rule) -> u64 {
        Rule::ALL
            .iter()
            .position(|r| *r == rule)
            .map_or(0, |i| self.counts[i].load(Ordering::Relaxed))
    }

    /// Every non-zero count, by rule name.
    pub fn snapshot(&self) -> BTreeMap<&'static str, u64> {
        Rule::ALL
            .iter()
            .map(|r| (r.name(), self.get(*r)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// All refusals.
    pub fn total(&self) -> u64 {
        Rule::ALL.iter().map(|r| self.get(*r)).sum()
    }
}

/// The longest denial message, in bytes: a message repeats names and values
/// the module chose, and a module can choose them as long as its memory
/// allows; the rest is cut and marked.
pub const MAX_DENIAL_MESSAGE: usize = 1024;

/// Log lines of refusals per [`LOG_WINDOW`]; past it refusals are only
/// counted, and the next window's first line says how many were not logged.
pub const MAX_DENIAL_LINES: u32 = 20;

/// The window of [`MAX_DENIAL_LINES`].
pub const LOG_WINDOW: Duration = Duration::from_secs(1);

/// `message` cut to [`MAX_DENIAL_MESSAGE`] bytes (on a character boundary),
/// marked with how much was cut.
pub fn capped(message: String) -> String {
    if message.len() <= MAX_DENIAL_MESSAGE {
        return message;
    }
    let mut end = MAX_DENIAL_MESSAGE;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}... ({} more bytes cut)",
        &message[..end],
        message.len() - end
    )
}

/// How many lines the current window has logged, and how many refusals
/// were not logged since the last line.
#[derive(Debug)]
struct LogBudget {
    window_start: Instant,
    lines: u32,
    unlogged: u64,
}

impl Default for LogBudget {
    fn default() -> Self {
        LogBudget {
            window_start: Instant::now(),
            lines: 0,
            unlogged: 0,
        }
    }
}

/// Where refusals are reported: the module they were made for, the
/// counters, and a sink for one log line each (at most
/// [`MAX_DENIAL_LINES`] a second; the rest are counted and summed up in the
/// next line).
#[derive(Clone)]
pub struct Audit {
    /// SHA-256 of the module (hex).
    pub module_sha256: String,
    /// The counters.
    pub counts: Arc<DenialCounts>,
    /// Receives one line per logged refusal.
    pub sink: Arc<dyn Fn(&str) + Send + Sync>,
    /// The log's rate limit, shared by clones.
    budget: Arc<Mutex<LogBudget>>,
}

impl Audit {
    /// Reports refusals for `module_sha256` to `counts` and `sink`.
    pub fn new(
        module_sha256: impl Into<String>,
        counts: Arc<DenialCounts>,
        sink: Arc<dyn Fn(&str) + Send + Sync>,
    ) -> Audit {
        Audit {
            module_sha256: module_sha256.into(),
            counts,
            sink,
            budget: Arc::default(),
        }
    }

    /// Counts refusals for `module_sha256` without logging them.
    pub fn counting(module_sha256: impl Into<String>) -> Audit {
        Audit::new(module_sha256, Arc::default(), Arc::new(|_| {}))
    }

    pub(super) fn record(&self, rule: Rule, denial: &Denial) {
        self.counts.add(rule);
        let unlogged = {
            let mut budget = lock(&self.budget);
            if budget.window_start.elapsed() >= LOG_WINDOW {
                budget.window_start = Instant::now();
                budget.lines = 0;
            }
            if budget.lines >= MAX_DENIAL_LINES {
                budget.unlogged += 1;
                return;
            }
            budget.lines += 1;
            std::mem::take(&mut budget.unlogged)
        };
        let mut line = format!(
            "denied for module sha256:{}: {}",
            self.module_sha256,
            denial.describe()
        );
        if unlogged > 0 {
            line.push_str(&format!(
                " ({unlogged} earlier refusals were counted but not logged: at most \
                 {MAX_DENIAL_LINES} lines a second)"
            ));
        }
        (self.sink)(&line);
    }
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audit")
            .field("module_sha256", &self.module_sha256)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn rule_names_are_unique() {
        let names: HashSet<&str> = Rule::ALL.iter().map(|r| r.name()).collect();
        assert_eq!(names.len(), Rule::ALL.len());
    }

    #[test]
    fn a_long_message_is_cut_and_marked() {
        let message = capped("é".repeat(2000));
        assert!(message.len() < MAX_DENIAL_MESSAGE + 40, "{}", message.len());
        assert!(message.ends_with("more bytes cut)"), "{message}");
        assert_eq!(capped("short".into()), "short");
    }

    #[test]
    fn a_flood_of_refusals_logs_at_most_the_budget_and_says_what_it_skipped() {
        let lines: Arc<Mutex<Vec<String>>> = Arc::default();
        let sink_lines = lines.clone();
        let audit = Audit::new(
            "f00d",
            Arc::default(),
            Arc::new(move |line| lock(&sink_lines).push(line.to_string())),
        );
        let denial = Denial {
            rule: "secret-read".into(),
            message: "m".into(),
        };
        for _ in 0..1000 {
            audit.record(Rule::SecretRead, &denial);
        }
        assert_eq!(audit.counts.get(Rule::SecretRead), 1000);
        assert_eq!(lock(&lines).len(), MAX_DENIAL_LINES as usize);
        lock(&audit.budget).window_start = Instant::now() - LOG_WINDOW;
        audit.record(Rule::SecretRead, &denial);
        let lines = lock(&lines);
        let last = lines.last().expect("a line");
        assert!(last.contains("980 earlier refusals"), "{last}");
    }
}
