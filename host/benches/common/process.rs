//! Running one process of a bench to its end: its wall clock from spawn to
//! exit, its output, and (for [`run_with_usage`]) the CPU time and peak
//! resident set the kernel accounted to it, from `wait4`.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Longest run of one process; a process that outlives it is killed.
pub const LIMIT: Duration = Duration::from_secs(240);

/// Runs `command` to its end, stdout and stderr captured; its wall clock
/// from spawn to exit and its stdout. Panics when it fails or outlives
/// [`LIMIT`] (it is killed then).
pub fn run(command: Command) -> (Duration, String) {
    let (took, stdout, _) = run_full(command);
    (took, stdout)
}

/// [`run`], with the process's stderr too.
pub fn run_full(mut command: Command) -> (Duration, String, String) {
    let what = format!("{command:?}");
    let started = Instant::now();
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let watchdog = Watchdog::arm(child.id());
    let output = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting for {what}: {e}"));
    let took = started.elapsed();
    watchdog.disarm();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "{what}: {}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        output.status,
    );
    (took, stdout, stderr)
}

/// What one process cost, as the kernel accounted it when it was reaped.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    /// Spawn to exit.
    pub took: Duration,
    /// User plus system CPU time (`ru_utime + ru_stime`).
    pub cpu: Duration,
    /// Peak resident set (`ru_maxrss`), bytes.
    pub peak_rss: u64,
}

/// Runs `command` to its end like [`run_full`], but reaps it with `wait4`,
/// whose `rusage` is the child's own (and that of any child of its it
/// reaped): CPU time and peak RSS. Panics when it fails or outlives
/// [`LIMIT`].
pub fn run_with_usage(mut command: Command) -> (Usage, String) {
    let what = format!("{command:?}");
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let pid = child.id();
    let watchdog = Watchdog::arm(pid);
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let out_reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stdout.read_to_end(&mut text);
        text
    });
    let err_reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stderr.read_to_end(&mut text);
        text
    });
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero `rusage` is a valid value of the plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our own child, not yet reaped (`child` is never
        // waited for through std); both pointers are to live locals.
        let reaped = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
        if reaped == pid as libc::pid_t {
            break;
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            panic!("wait4 for {what}: {error}");
        }
    }
    let took = started.elapsed();
    watchdog.disarm();
    // `child` was reaped above; dropping it neither waits nor kills.
    drop(child);
    let stdout = String::from_utf8_lossy(&out_reader.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).into_owned();
    let exited_zero = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    assert!(
        exited_zero,
        "{what}: wait status {status:#x}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
    );
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    let usage = Usage {
        took,
        cpu: time(usage.ru_utime) + time(usage.ru_stime),
        // Linux gives `ru_maxrss` in KiB.
        peak_rss: usage.ru_maxrss as u64 * 1024,
    };
    (usage, stdout)
}

/// Kills a process that outlives [`LIMIT`], from another thread, so the
/// waiting thread measures the exit without polling.
pub struct Watchdog(mpsc::Sender<()>);

impl Watchdog {
    pub fn arm(pid: u32) -> Watchdog {
        let (sender, receiver) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            if receiver.recv_timeout(LIMIT) == Err(mpsc::RecvTimeoutError::Timeout) {
                eprintln!("bench: process {pid} outlived {LIMIT:?}; killing it");
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
        });
        Watchdog(sender)
    }

    pub fn disarm(self) {
        let _ = self.0.send(());
    }
}
