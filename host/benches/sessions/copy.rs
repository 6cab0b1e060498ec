//! S1 and S2: `leasebox cp` against `kubectl cp`, each way, of one 1 GiB
//! file (S1) and of a tree of 10,000 files of 300 bytes (S2). Each copy is
//! one whole process, timed from spawn to exit and reaped with `wait4`,
//! whose `rusage` gives its CPU time (user + system) and peak RSS
//! (`ru_maxrss`). Every copy is checked to have arrived whole: the file's
//! size (and on the first round its SHA-256), the tree's file count and
//! bytes; the checks are not timed.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::{AGENT_CONTAINER, Bench};
use crate::common::process::{Usage, run, run_with_usage};

/// Bytes of S1's file.
const BIG_BYTES: u64 = 1 << 30;
/// Files of S2's tree, in [`TREE_DIRS`] directories.
const TREE_FILES: usize = 10_000;
const TREE_DIRS: usize = 100;
/// Bytes of each file of the tree.
const TREE_FILE_BYTES: usize = 300;
/// Where the copies land in the pod (the workspace volume).
const REMOTE_DIR: &str = "/workspace";

/// Throughput at least kubectl's (time at most 1.0x), with less CPU and
/// less memory (the target).
pub(super) const TARGET: f64 = 1.0;

/// The local sources, made once per run.
pub(super) struct Sources {
    big: PathBuf,
    big_sha256: String,
    tree: PathBuf,
    tree_bytes: u64,
}

impl Sources {
    /// Writes the file (pseudo-random bytes, so a misplaced block shows in
    /// the checksum) and the tree under `dir`.
    pub(super) fn make(dir: &Path) -> Sources {
        let big = dir.join("big");
        let mut file = std::io::BufWriter::new(std::fs::File::create(&big).expect("create big"));
        let mut hash = Sha256::new();
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut block = vec![0u8; 1 << 20];
        for _ in 0..(BIG_BYTES >> 20) {
            for chunk in block.chunks_exact_mut(8) {
                // xorshift64
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                chunk.copy_from_slice(&state.to_le_bytes());
            }
            hash.update(&block);
            file.write_all(&block).expect("write big");
        }
        file.flush().expect("flush big");
        let tree = dir.join("tree");
        let mut tree_bytes = 0;
        for i in 0..TREE_FILES {
            let sub = tree.join(format!("d{:02}", i % TREE_DIRS));
            if i < TREE_DIRS {
                std::fs::create_dir_all(&sub).expect("mkdir in the tree");
            }
            let line = format!("file {i} of the tree\n");
            let text: String = line.chars().cycle().take(TREE_FILE_BYTES).collect();
            std::fs::write(sub.join(format!("f{i}")), &text).expect("write in the tree");
            tree_bytes += text.len() as u64;
        }
        Sources {
            big,
            big_sha256: hex(&hash.finalize()),
            tree,
            tree_bytes,
        }
    }
}

/// The four rows' series, each side's processes.
#[derive(Default)]
pub(super) struct Series {
    big_up: Sides,
    big_down: Sides,
    tree_up: Sides,
    tree_down: Sides,
}

#[derive(Default)]
struct Sides {
    leasebox: Vec<Usage>,
    kubectl: Vec<Usage>,
}

impl Sides {
    fn push(&mut self, leasebox: bool, usage: Usage) {
        if leasebox {
            self.leasebox.push(usage);
        } else {
            self.kubectl.push(usage);
        }
    }
}

/// The two sides of a row, `leasebox` first or not.
fn order(leasebox_first: bool) -> [bool; 2] {
    if leasebox_first {
        [true, false]
    } else {
        [false, true]
    }
}

fn side_name(leasebox: bool) -> &'static str {
    if leasebox { "leasebox" } else { "kubectl" }
}

impl Series {
    /// One round: the four rows, each with both sides in `leasebox_first`
    /// order; the file's checksum is compared when `checksum`.
    pub(super) fn round(
        &mut self,
        bench: &Bench,
        sources: &Sources,
        leasebox_first: bool,
        checksum: bool,
    ) {
        let sides = order(leasebox_first);
        let local = bench.dir.join("down");
        let remote =
            |leasebox: bool, what: &str| format!("{REMOTE_DIR}/{what}.{}", side_name(leasebox));
        bench.in_pod(&format!("rm -rf {REMOTE_DIR}/big.* {REMOTE_DIR}/tree.*"));

        for leasebox in sides {
            let to = remote(leasebox, "big");
            let usage = bench.copy_up(leasebox, &sources.big, &to);
            let size = bench.in_pod(&format!("stat -c %s {to}"));
            assert_eq!(
                size.trim(),
                BIG_BYTES.to_string(),
                "size of {to} after the upload"
            );
            if checksum {
                let sum = bench.in_pod(&format!("sha256sum {to}"));
                assert!(
                    sum.starts_with(&sources.big_sha256),
                    "{to}: {sum} after the upload, {} here",
                    sources.big_sha256
                );
            }
            report("1 GiB up", leasebox, &usage);
            self.big_up.push(leasebox, usage);
        }
        for leasebox in sides {
            let _ = std::fs::remove_dir_all(&local);
            let _ = std::fs::remove_file(&local);
            let usage = bench.copy_down(leasebox, &remote(leasebox, "big"), &local);
            let size = std::fs::metadata(&local)
                .expect("the downloaded file")
                .len();
            assert_eq!(
                size,
                BIG_BYTES,
                "size of the downloaded file ({})",
                side_name(leasebox)
            );
            if checksum {
                assert_eq!(
                    sha256_of(&local),
                    sources.big_sha256,
                    "checksum of the downloaded file ({})",
                    side_name(leasebox)
                );
            }
            let _ = std::fs::remove_file(&local);
            report("1 GiB down", leasebox, &usage);
            self.big_down.push(leasebox, usage);
        }
        bench.in_pod(&format!("rm -rf {REMOTE_DIR}/big.*"));

        for leasebox in sides {
            let to = remote(leasebox, "tree");
            let usage = bench.copy_up(leasebox, &sources.tree, &to);
            let counted = bench.in_pod(&format!(
                "find {to} -type f | wc -l; find {to} -type f | xargs cat | wc -c"
            ));
            let counted: Vec<&str> = counted.split_whitespace().collect();
            assert_eq!(
                counted,
                [TREE_FILES.to_string(), sources.tree_bytes.to_string()],
                "files and bytes of {to} after the upload"
            );
            report("tree up", leasebox, &usage);
            self.tree_up.push(leasebox, usage);
        }
        for leasebox in sides {
            let _ = std::fs::remove_dir_all(&local);
            let usage = bench.copy_down(leasebox, &remote(leasebox, "tree"), &local);
            let (files, bytes) = count_files(&local);
            assert_eq!(
                (files, bytes),
                (TREE_FILES, sources.tree_bytes),
                "files and bytes of the downloaded tree ({})",
                side_name(leasebox)
            );
            let _ = std::fs::remove_dir_all(&local);
            report("tree down", leasebox, &usage);
            self.tree_down.push(leasebox, usage);
        }
        bench.in_pod(&format!("rm -rf {REMOTE_DIR}/tree.*"));
    }

    /// The table's rows, wall time.
    pub(super) fn rows(&self) -> [super::Row; 4] {
        let row = |id, what, sides: &Sides| {
            super::Row::new(
                id,
                what,
                &took(&sides.leasebox),
                &took(&sides.kubectl),
                TARGET,
            )
        };
        [
            row(
                "S1 up",
                "1 GiB file, local -> pod: leasebox cp vs kubectl cp",
                &self.big_up,
            ),
            row(
                "S1 down",
                "1 GiB file, pod -> local: leasebox cp vs kubectl cp",
                &self.big_down,
            ),
            row(
                "S2 up",
                "10,000 files of 300 B, local -> pod: leasebox cp vs kubectl cp",
                &self.tree_up,
            ),
            row(
                "S2 down",
                "10,000 files of 300 B, pod -> local: leasebox cp vs kubectl cp",
                &self.tree_down,
            ),
        ]
    }

    /// Throughput, CPU and peak RSS per row.
    pub(super) fn print_costs(&self) {
        /// A row's id, its two sides, its rate (from a side's time) and
        /// the rate's unit.
        type CostRow<'a> = (&'a str, &'a Sides, fn(Duration) -> f64, &'a str);
        let rows: [CostRow<'_>; 4] = [
            ("S1 up", &self.big_up, mib_s, "MiB/s"),
            ("S1 down", &self.big_down, mib_s, "MiB/s"),
            ("S2 up", &self.tree_up, files_s, "files/s"),
            ("S2 down", &self.tree_down, files_s, "files/s"),
        ];
        for (id, sides, rate, unit) in rows {
            let lb = Costs::of(&sides.leasebox);
            let kc = Costs::of(&sides.kubectl);
            let throughput = |c: &Costs| {
                format!(
                    "{:.1} {unit} [{:.1}–{:.1}]",
                    rate(c.took.median),
                    rate(c.took.max),
                    rate(c.took.min)
                )
            };
            let ratio = |a: f64, b: f64| a / b;
            println!(
                "{id:<8} | throughput leasebox {} vs kubectl {}: {:.2}x | CPU (user+sys) leasebox {} vs kubectl {}: {:.2}x | peak RSS (ru_maxrss) leasebox {} vs kubectl {}: {:.2}x | met? throughput {}, CPU {}, RSS {}",
                throughput(&lb),
                throughput(&kc),
                ratio(rate(lb.took.median), rate(kc.took.median)),
                lb.cpu.display(),
                kc.cpu.display(),
                crate::common::ratio(&lb.cpu, &kc.cpu),
                lb.rss,
                kc.rss,
                lb.rss_median / kc.rss_median,
                yes(rate(lb.took.median) >= rate(kc.took.median) * TARGET),
                yes(lb.cpu.median < kc.cpu.median),
                yes(lb.rss_median < kc.rss_median),
            );
        }
    }
}

/// MiB per second of S1's file copied in `d`.
fn mib_s(d: Duration) -> f64 {
    (BIG_BYTES >> 20) as f64 / d.as_secs_f64()
}

/// Files per second of S2's tree copied in `d`.
fn files_s(d: Duration) -> f64 {
    TREE_FILES as f64 / d.as_secs_f64()
}

fn yes(met: bool) -> &'static str {
    if met { "yes" } else { "no" }
}

/// A side's processes summarised.
struct Costs {
    took: crate::common::Summary,
    cpu: crate::common::Summary,
    /// `median [min–max]` in MiB.
    rss: String,
    rss_median: f64,
}

impl Costs {
    fn of(usages: &[Usage]) -> Costs {
        let mut rss: Vec<f64> = usages
            .iter()
            .map(|u| u.peak_rss as f64 / (1 << 20) as f64)
            .collect();
        rss.sort_by(f64::total_cmp);
        let n = rss.len();
        let median = if n % 2 == 1 {
            rss[n / 2]
        } else {
            (rss[n / 2 - 1] + rss[n / 2]) / 2.0
        };
        Costs {
            took: crate::common::Summary::of(&took(usages)),
            cpu: crate::common::Summary::of(&usages.iter().map(|u| u.cpu).collect::<Vec<_>>()),
            rss: format!("{median:.1} MiB [{:.1}–{:.1}]", rss[0], rss[n - 1]),
            rss_median: median,
        }
    }
}

fn took(usages: &[Usage]) -> Vec<Duration> {
    usages.iter().map(|u| u.took).collect()
}

/// One line per copy as it happens.
fn report(what: &str, leasebox: bool, usage: &Usage) {
    println!(
        "sessions:   {what:<10} {:<8} {} (CPU {}, peak RSS {:.1} MiB)",
        side_name(leasebox),
        crate::common::human(usage.took),
        crate::common::human(usage.cpu),
        usage.peak_rss as f64 / (1 << 20) as f64
    );
}

impl Bench {
    /// `leasebox cp LOCAL LEASE:REMOTE` or `kubectl cp LOCAL NS/POD:REMOTE`,
    /// whole process.
    fn copy_up(&self, leasebox: bool, local: &Path, remote: &str) -> Usage {
        let local = local.display().to_string();
        let command = if leasebox {
            let to = format!("{}:{remote}", self.lease.id);
            self.tools
                .leasebox(&["cp", "--namespace", &self.lease.namespace, &local, &to])
        } else {
            let to = format!("{}/{}:{remote}", self.lease.namespace, self.lease.pod);
            self.tools
                .kubectl(&["cp", "-c", AGENT_CONTAINER, &local, &to])
        };
        run_with_usage(command).0
    }

    /// The other way.
    fn copy_down(&self, leasebox: bool, remote: &str, local: &Path) -> Usage {
        let local = local.display().to_string();
        let command = if leasebox {
            let from = format!("{}:{remote}", self.lease.id);
            self.tools
                .leasebox(&["cp", "--namespace", &self.lease.namespace, &from, &local])
        } else {
            let from = format!("{}/{}:{remote}", self.lease.namespace, self.lease.pod);
            self.tools
                .kubectl(&["cp", "-c", AGENT_CONTAINER, &from, &local])
        };
        run_with_usage(command).0
    }

    /// `sh -c SCRIPT` in the lease's pod through kubectl, untimed; its
    /// stdout.
    pub(super) fn in_pod(&self, script: &str) -> String {
        run(self.tools.kubectl(&[
            "-n",
            &self.lease.namespace,
            "exec",
            &self.lease.pod,
            "-c",
            AGENT_CONTAINER,
            "--",
            "sh",
            "-c",
            script,
        ]))
        .1
    }
}

/// Regular files under `root` and their bytes.
fn count_files(root: &Path) -> (usize, u64) {
    let mut files = 0;
    let mut bytes = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in
            std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        {
            let entry = entry.expect("a directory entry");
            let kind = entry.file_type().expect("a file type");
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                files += 1;
                bytes += entry.metadata().expect("metadata").len();
            }
        }
    }
    (files, bytes)
}

fn sha256_of(path: &Path) -> String {
    let mut file = std::fs::File::open(path).expect("open the downloaded file");
    let mut hash = Sha256::new();
    let mut block = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut block).expect("read the downloaded file");
        if n == 0 {
            return hex(&hash.finalize());
        }
        hash.update(&block[..n]);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
