//! What the benches share: the `--quick` flag, the summary of a series
//! of timings (median with min and max, a percentile) and of a pair of
//! interleaved series, and a process's memory and page faults as `/proc`
//! gives them; for the cluster benches, running a process to its end
//! (`process`), the two programs on the bench's tenant (`tenant`) and
//! the table of rows (`table`).

#![allow(dead_code)]

pub mod process;
pub mod serve;
pub mod table;
pub mod tenant;

use std::time::Duration;

/// How many rounds a bench runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `cargo bench`: the full count.
    Full,
    /// `--quick`: a smoke run of few rounds.
    Quick,
}

impl Mode {
    /// `full` or `quick` rounds; `--rounds N` overrides both.
    pub fn rounds(self, full: usize, quick: usize) -> usize {
        if let Some(n) = rounds_flag() {
            return n;
        }
        match self {
            Mode::Full => full,
            Mode::Quick => quick,
        }
    }
}

/// `--rounds N` (N >= 1), if given.
fn rounds_flag() -> Option<usize> {
    let args: Vec<String> = std::env::args().collect();
    let at = args.iter().position(|a| a == "--rounds")?;
    let n = args.get(at + 1).and_then(|n| n.parse::<usize>().ok());
    match n {
        Some(n) if n >= 1 => Some(n),
        _ => panic!("--rounds takes a whole number >= 1"),
    }
}

/// The mode of this run: `--quick` (e.g. `cargo bench -- --quick`) is a
/// smoke run; `--bench`, which `cargo bench` passes, the full run. Without
/// either the binary was started by `cargo test --benches` or
/// `--all-targets` (an unoptimised build, where timings mean nothing): it
/// says so and `None` tells `main` to return.
pub fn mode(bench: &str) -> Option<Mode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--quick") {
        Some(Mode::Quick)
    } else if args.iter().any(|a| a == "--bench") {
        Some(Mode::Full)
    } else {
        println!(
            "{bench}: skipped (not started by `cargo bench`); run `cargo bench -p leasebox --bench {bench}`, or pass --quick"
        );
        None
    }
}

/// Median, min and max of one series of timings.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub median: Duration,
    pub min: Duration,
    pub max: Duration,
    pub samples: usize,
}

impl Summary {
    /// The summary of `samples` (not empty). The median of an even count is
    /// the mean of the two middle samples.
    pub fn of(samples: &[Duration]) -> Summary {
        assert!(!samples.is_empty(), "no samples");
        let mut sorted = samples.to_vec();
        sorted.sort();
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2
        };
        Summary {
            median,
            min: sorted[0],
            max: sorted[n - 1],
            samples: n,
        }
    }

    /// `median [min–max]` in a unit fitting the median.
    pub fn display(&self) -> String {
        format!(
            "{} [{}–{}]",
            human(self.median),
            human(self.min),
            human(self.max)
        )
    }
}

/// The ratio of two medians (`a / b`).
pub fn ratio(a: &Summary, b: &Summary) -> f64 {
    a.median.as_secs_f64() / b.median.as_secs_f64()
}

/// A duration with three significant digits in µs, ms or s.
pub fn human(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 1e-3 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{:.1} µs", s * 1e6)
    }
}

/// Median, min and max of the per-round ratios `a[i] / b[i]` of two
/// interleaved series of the same length.
pub fn paired_ratios(a: &[Duration], b: &[Duration]) -> (f64, f64, f64) {
    assert_eq!(a.len(), b.len(), "paired series differ in length");
    assert!(!a.is_empty(), "no samples");
    let mut ratios: Vec<f64> = a
        .iter()
        .zip(b)
        .map(|(a, b)| a.as_secs_f64() / b.as_secs_f64())
        .collect();
    ratios.sort_by(f64::total_cmp);
    let n = ratios.len();
    let median = if n % 2 == 1 {
        ratios[n / 2]
    } else {
        (ratios[n / 2 - 1] + ratios[n / 2]) / 2.0
    };
    (median, ratios[0], ratios[n - 1])
}

/// The `p`-th percentile (0–100) of `samples`, by nearest rank.
pub fn percentile(samples: &[Duration], p: f64) -> Duration {
    assert!(!samples.is_empty(), "no samples");
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// A memory field of process `pid`'s `/proc/PID/status` (`VmRSS`, the
/// resident set now; `VmHWM`, its peak so far), in bytes; none once the
/// process is gone.
pub fn proc_status_bytes(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let value = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?;
    let kib: u64 = value.split_whitespace().next()?.parse().ok()?;
    Some(kib * 1024)
}

/// Writes `text` to `path`, or panics naming the file.
pub fn write(path: &std::path::Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// Minor page faults this process has taken so far (`minflt` of
/// `/proc/self/stat`); none where `/proc` does not give it.
pub fn minor_faults() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command, which is in parentheses and may hold
    // spaces: state, ppid, pgrp, session, tty, tpgid, flags, minflt.
    let after_command = stat.get(stat.rfind(')')? + 1..)?;
    after_command.split_whitespace().nth(7)?.parse().ok()
}
