//! P5's streaming rows: 1 GiB of stdout from the lease's pod and a 256 MiB
//! stdin round trip (`cat`), through `leasebox exec` and through `kubectl
//! exec`, each a whole process with its stdout read and counted by the
//! bench; and the peak RSS of the `leasebox exec` process while it streams
//! the GiB, against the same process running `true`.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{AGENT_CONTAINER, Bench, LIMIT, Lease, Row, Watchdog, common};

/// Bytes of the stdout row.
const STDOUT_BYTES: u64 = 1 << 30;
/// Bytes of the stdin round trip.
const STDIN_BYTES: u64 = 256 << 20;
/// The targets of issue 11: leasebox's time / kubectl's at most this (its
/// throughput at least kubectl's), and the RSS growth at most this.
const TARGET_STREAM: f64 = 1.0;
const TARGET_RSS_GROWTH: u64 = 32 << 20;
/// How often the streaming process's peak RSS is read.
const RSS_POLL: Duration = Duration::from_millis(10);
/// Bytes written to stdin per write.
const WRITE_BLOCK: usize = 64 * 1024;

/// One streaming process: its wall clock, the bytes it wrote to stdout,
/// and its peak resident set.
struct Streamed {
    took: Duration,
    bytes: u64,
    peak_rss: u64,
}

/// The series of the streaming rows.
#[derive(Default)]
pub(super) struct Series {
    stdout: super::Pair,
    stdin: super::Pair,
    rss_streaming: Vec<u64>,
    rss_true: Vec<u64>,
    rss_kubectl: Vec<u64>,
}

impl Series {
    /// One round on `lease`: each row's two sides, `leasebox_first`
    /// deciding the order.
    pub(super) fn round(&mut self, bench: &Bench, lease: &Lease, leasebox_first: bool) {
        let count = STDOUT_BYTES.to_string();
        let head = ["head", "-c", count.as_str(), "/dev/zero"];
        let sides: [bool; 2] = if leasebox_first {
            [true, false]
        } else {
            [false, true]
        };
        for leasebox in sides {
            let streamed = if leasebox {
                stream(bench.leasebox_exec(lease, false, &head), None)
            } else {
                stream(bench.kubectl_exec_command(lease, false, &head), None)
            };
            assert_eq!(
                streamed.bytes, STDOUT_BYTES,
                "stdout bytes (leasebox: {leasebox})"
            );
            if leasebox {
                self.stdout.leasebox.push(streamed.took);
                self.rss_streaming.push(streamed.peak_rss);
            } else {
                self.stdout.peer.push(streamed.took);
                self.rss_kubectl.push(streamed.peak_rss);
            }
        }
        for leasebox in sides {
            let streamed = if leasebox {
                stream(
                    bench.leasebox_exec(lease, true, &["cat"]),
                    Some(STDIN_BYTES),
                )
            } else {
                stream(
                    bench.kubectl_exec_command(lease, true, &["cat"]),
                    Some(STDIN_BYTES),
                )
            };
            assert_eq!(
                streamed.bytes, STDIN_BYTES,
                "stdin round trip (leasebox: {leasebox})"
            );
            if leasebox {
                self.stdin.leasebox.push(streamed.took);
            } else {
                self.stdin.peer.push(streamed.took);
            }
        }
        let baseline = stream(bench.leasebox_exec(lease, false, &["true"]), None);
        self.rss_true.push(baseline.peak_rss);
    }

    /// The rows of the throughput figures.
    pub(super) fn rows(&self) -> [Row; 2] {
        [
            Row::new(
                "P5 stdout",
                "1 GiB of stdout (head -c): leasebox exec vs kubectl exec, whole process",
                &self.stdout.leasebox,
                &self.stdout.peer,
                TARGET_STREAM,
            ),
            Row::new(
                "P5 stdin",
                "256 MiB through stdin and back (cat): leasebox exec vs kubectl exec -i",
                &self.stdin.leasebox,
                &self.stdin.peer,
                TARGET_STREAM,
            ),
        ]
    }

    /// Throughputs, and the RSS row.
    pub(super) fn print(&self) {
        let mib_s =
            |bytes: u64, took: Duration| bytes as f64 / (1 << 20) as f64 / took.as_secs_f64();
        let median = |series: &[Duration]| common::Summary::of(series).median;
        println!(
            "P5 stdout throughput: leasebox {:.0} MiB/s, kubectl {:.0} MiB/s (medians); stdin round trip: leasebox {:.0} MiB/s, kubectl {:.0} MiB/s",
            mib_s(STDOUT_BYTES, median(&self.stdout.leasebox)),
            mib_s(STDOUT_BYTES, median(&self.stdout.peer)),
            mib_s(STDIN_BYTES, median(&self.stdin.leasebox)),
            mib_s(STDIN_BYTES, median(&self.stdin.peer)),
        );
        let mib = |bytes: u64| bytes as f64 / (1 << 20) as f64;
        let growths: Vec<u64> = self
            .rss_streaming
            .iter()
            .zip(&self.rss_true)
            .map(|(streaming, baseline)| streaming.saturating_sub(*baseline))
            .collect();
        let worst = growths.iter().copied().max().unwrap_or_default();
        println!(
            "P5 RSS    | peak RSS of `leasebox exec` streaming 1 GiB: {} MiB; running `true`: {} MiB; growth at most {:.1} MiB over {} rounds | kubectl exec streaming: {} MiB | <= {} MiB | {}",
            list(&self.rss_streaming, mib),
            list(&self.rss_true, mib),
            mib(worst),
            growths.len(),
            list(&self.rss_kubectl, mib),
            TARGET_RSS_GROWTH >> 20,
            if worst <= TARGET_RSS_GROWTH {
                "yes"
            } else {
                "no"
            }
        );
    }
}

/// `values` in MiB, one decimal, comma-separated.
fn list(values: &[u64], mib: impl Fn(u64) -> f64) -> String {
    values
        .iter()
        .map(|v| format!("{:.1}", mib(*v)))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Bench {
    /// `leasebox exec` of `argv` in `lease`'s pod, stdin forwarded when
    /// `stdin`.
    fn leasebox_exec(&self, lease: &Lease, stdin: bool, argv: &[&str]) -> Command {
        let mut args = vec![
            "exec",
            "--lease",
            &lease.id,
            "--namespace",
            &lease.namespace,
        ];
        if !stdin {
            args.push("--no-stdin");
        }
        args.push("--");
        args.extend_from_slice(argv);
        self.leasebox(&args)
    }

    /// `kubectl exec` of `argv` in `lease`'s pod, `-i` when `stdin`.
    fn kubectl_exec_command(&self, lease: &Lease, stdin: bool, argv: &[&str]) -> Command {
        let mut args = vec!["-n", &lease.namespace, "exec"];
        if stdin {
            args.push("-i");
        }
        args.extend_from_slice(&[&lease.pod, "-c", AGENT_CONTAINER, "--"]);
        args.extend_from_slice(argv);
        self.kubectl(&args)
    }
}

/// Runs `command`, writing `stdin` bytes of zeros to it (or closing its
/// stdin), counting its stdout, and reading its peak RSS (`VmHWM`) every
/// [`RSS_POLL`] until it exits; panics when it fails.
fn stream(mut command: Command, stdin: Option<u64>) -> Streamed {
    let what = format!("{command:?}");
    let started = Instant::now();
    let mut child = command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let watchdog = Watchdog::arm(child.id());
    let pid = child.id();
    let writer = child.stdin.take().map(|mut input| {
        let total = stdin.unwrap_or_default();
        std::thread::spawn(move || {
            let block = vec![0u8; WRITE_BLOCK];
            let mut left = total;
            while left > 0 {
                let n = left.min(WRITE_BLOCK as u64) as usize;
                if input.write_all(&block[..n]).is_err() {
                    return;
                }
                left -= n as u64;
            }
            // Dropping `input` closes the child's stdin: `cat` ends.
        })
    });
    let mut output = child.stdout.take().expect("stdout is piped");
    let reader = std::thread::spawn(move || {
        let mut block = vec![0u8; 1 << 20];
        let mut bytes = 0u64;
        loop {
            match output.read(&mut block) {
                Ok(0) | Err(_) => return bytes,
                Ok(n) => bytes += n as u64,
            }
        }
    });
    let mut errors = child.stderr.take().expect("stderr is piped");
    let error_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = errors.read_to_string(&mut text);
        text
    });
    let mut peak_rss = 0;
    let status = loop {
        if let Some(rss) = peak_rss_of(pid) {
            peak_rss = peak_rss.max(rss);
        }
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => std::thread::sleep(RSS_POLL),
            Err(e) => panic!("waiting for {what}: {e}"),
        }
        assert!(
            started.elapsed() < LIMIT + RSS_POLL,
            "{what} outlived {LIMIT:?}"
        );
    };
    let took = started.elapsed();
    watchdog.disarm();
    let bytes = reader.join().expect("the stdout reader does not panic");
    if let Some(writer) = writer {
        writer.join().expect("the stdin writer does not panic");
    }
    let stderr = error_reader.join().unwrap_or_default();
    assert!(
        status.success(),
        "{what}: {status}\n--- stderr ---\n{stderr}"
    );
    Streamed {
        took,
        bytes,
        peak_rss,
    }
}

/// The peak resident set of process `pid` so far (`VmHWM`), bytes.
fn peak_rss_of(pid: u32) -> Option<u64> {
    common::proc_status_bytes(pid, "VmHWM")
}
