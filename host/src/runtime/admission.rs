//! Oldest-first admission of guest code to the cores.
//!
//! `serve` runs every call on a thread of its own. With more calls running
//! guest code than there are cores, the OS shares the cores among all of
//! them: each call's guest code runs slower the more calls are in flight,
//! and which call finishes first is chance. [`Admission`] lets at most
//! `slots` calls run guest code at once and hands a freed slot to the call
//! that started first, so calls finish in about the order they came.
//!
//! A call holds a slot only while its guest code runs: it gives the slot
//! up for every host import that blocks (a cluster request, a wait on a
//! watch or an exec; see `HostState::timed`) and takes one again, in its
//! turn, when the import returns. The epoch callback checks in at each of
//! its checks (every 100 ms of a running guest): a guest that has run for
//! a whole such slice while others wait goes behind them, as if it had
//! just come, so a long computation takes turns instead of holding the
//! others back.
//!
//! The limit is soft where the guest cannot be interrupted: a holder that
//! has not checked in for [`STALL`] (blocked in a host call no slot is
//! given up for, such as a WASI clock wait a hostile module may ask for)
//! no longer counts, and a call whose time is up (its overall timeout, the
//! grace of its cancellation) stops waiting and runs, only to be stopped
//! at its next check.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::Thread;
use std::time::{Duration, Instant};

use crate::locks::lock;

/// How often a waiting call looks again: for holders gone stale and for
/// whether it should give up waiting.
const RECHECK: Duration = Duration::from_millis(100);

/// A holder that has not checked in for this long no longer counts
/// against the slots (three check intervals of the epoch callback).
pub const STALL: Duration = Duration::from_millis(300);

/// Admits guest code to at most `slots` cores at once, oldest call first.
#[derive(Debug)]
pub struct Admission {
    slots: usize,
    stall: Duration,
    state: Mutex<Queue>,
    next_seq: AtomicU64,
}

/// Who runs and who waits.
#[derive(Debug, Default)]
struct Queue {
    /// The calls holding a slot, by id: when each last checked in.
    holders: HashMap<u64, Instant>,
    /// The calls waiting, oldest first, each with its thread (woken alone
    /// when its turn may have come).
    waiting: BTreeMap<Age, Thread>,
}

impl Queue {
    /// Holders that checked in within `stall`.
    fn live(&self, stall: Duration) -> usize {
        self.holders
            .values()
            .filter(|at| at.elapsed() < stall)
            .count()
    }

    /// Wakes the oldest waiting call, if any.
    fn wake_oldest(&self) {
        if let Some((_, thread)) = self.waiting.first_key_value() {
            thread.unpark();
        }
    }
}

/// A call's place in the order: when it (last) came, then the order in
/// which calls that came in the same instant were seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Age {
    came: Instant,
    seq: u64,
}

impl Admission {
    /// Admits at most `slots` calls at once (at least one).
    pub fn new(slots: usize) -> Arc<Admission> {
        Admission::stalling_after(slots, STALL)
    }

    /// As [`new`](Self::new), a holder no longer counting once it has not
    /// checked in for `stall` (instead of [`STALL`]).
    pub fn stalling_after(slots: usize, stall: Duration) -> Arc<Admission> {
        Arc::new(Admission {
            slots: slots.max(1),
            stall,
            state: Mutex::new(Queue::default()),
            next_seq: AtomicU64::new(0),
        })
    }

    /// One slot per core this process may run on.
    pub fn per_core() -> Arc<Admission> {
        Admission::new(Admission::cores())
    }

    /// The cores this process may run on (its CPU affinity and cgroup
    /// quota counted; 1 when that cannot be told).
    pub fn cores() -> usize {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }

    /// The place in the order of a call that came at `came`.
    pub(crate) fn age(&self, came: Instant) -> Age {
        Age {
            came,
            seq: self.next_seq.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Waits until the call of `age` is the oldest waiting and a slot is
    /// free, or until `give_up` says so, and takes the slot for holder
    /// `id`. Returns how long it waited.
    pub(crate) fn enter(&self, age: Age, id: u64, give_up: &dyn Fn() -> bool) -> Duration {
        let queue = self.queue();
        self.wait_turn(queue, age, id, give_up)
    }

    /// Gives back the slot of holder `id`.
    pub(crate) fn leave(&self, id: u64) {
        let mut queue = self.queue();
        queue.holders.remove(&id);
        queue.wake_oldest();
    }

    /// For holder `id`: checks in, and when it has held its slot since
    /// `since` for `slice` or longer and others wait, gives the slot up
    /// and waits behind them under a new age (now). Returns the new age
    /// and how long it waited; nothing when it kept its slot.
    pub(crate) fn check_in(
        &self,
        id: u64,
        since: Instant,
        slice: Duration,
        give_up: &dyn Fn() -> bool,
    ) -> Option<(Age, Duration)> {
        let mut queue = self.queue();
        queue.holders.insert(id, Instant::now());
        if queue.waiting.is_empty() || since.elapsed() < slice {
            return None;
        }
        queue.holders.remove(&id);
        queue.wake_oldest();
        let age = self.age(Instant::now());
        Some((age, self.wait_turn(queue, age, id, give_up)))
    }

    fn wait_turn<'a>(
        &'a self,
        mut queue: MutexGuard<'a, Queue>,
        age: Age,
        id: u64,
        give_up: &dyn Fn() -> bool,
    ) -> Duration {
        if queue.waiting.is_empty() && queue.live(self.stall) < self.slots {
            queue.holders.insert(id, Instant::now());
            return Duration::ZERO;
        }
        let start = Instant::now();
        queue.waiting.insert(age, std::thread::current());
        while !(queue.live(self.stall) < self.slots
            && queue.waiting.first_key_value().map(|(first, _)| first) == Some(&age))
        {
            drop(queue);
            // Woken by `wake_oldest`, or to look for stale holders and
            // whether to give up; a wake-up that came first is kept.
            std::thread::park_timeout(RECHECK);
            if give_up() {
                queue = self.queue();
                break;
            }
            queue = self.queue();
        }
        queue.waiting.remove(&age);
        queue.holders.insert(id, Instant::now());
        if queue.live(self.stall) < self.slots {
            // The next oldest may take the slot still free.
            queue.wake_oldest();
        }
        start.elapsed()
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        lock(&self.state)
    }
}

/// A call's hold on the cores: its id, its age, and since when it holds a
/// slot (none: it holds none now). Dropping it gives the slot back.
#[derive(Debug)]
pub(crate) struct Admitted {
    admission: Arc<Admission>,
    id: u64,
    age: Age,
    holds_since: Option<Instant>,
}

impl Admitted {
    /// A call that came at `came`, not yet holding a slot.
    pub(crate) fn new(admission: Arc<Admission>, came: Instant) -> Admitted {
        let age = admission.age(came);
        Admitted {
            admission,
            id: age.seq,
            age,
            holds_since: None,
        }
    }

    /// Takes a slot in the call's turn, or when `give_up` says so
    /// (nothing when it holds one); returns how long it waited.
    pub(crate) fn resume(&mut self, give_up: &dyn Fn() -> bool) -> Duration {
        if self.holds_since.is_some() {
            return Duration::ZERO;
        }
        let waited = self.admission.enter(self.age, self.id, give_up);
        self.holds_since = Some(Instant::now());
        waited
    }

    /// Gives the slot back (nothing when it holds none).
    pub(crate) fn pause(&mut self) {
        if self.holds_since.take().is_some() {
            self.admission.leave(self.id);
        }
    }

    /// Checks in (see [`Admission::check_in`]): after holding its slot for
    /// `slice` or longer, goes behind the calls that wait, if any; returns
    /// how long it then waited.
    pub(crate) fn check_in(&mut self, slice: Duration, give_up: &dyn Fn() -> bool) -> Duration {
        let Some(since) = self.holds_since else {
            return Duration::ZERO;
        };
        match self.admission.check_in(self.id, since, slice, give_up) {
            Some((age, waited)) => {
                self.age = age;
                self.holds_since = Some(Instant::now());
                waited
            }
            None => Duration::ZERO,
        }
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.pause();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// Long enough that no holder of a test goes stale.
    const NO_STALL: Duration = Duration::from_secs(3600);

    fn never() -> bool {
        false
    }

    /// Starts a thread that takes a slot as holder `id` in the turn of
    /// `age`, reports `name` when it has it, then holds it until told to
    /// leave.
    fn waiter(
        admission: &Arc<Admission>,
        (age, id): (Age, u64),
        name: &'static str,
        admitted: &mpsc::Sender<&'static str>,
    ) -> (mpsc::Sender<()>, std::thread::JoinHandle<()>) {
        let (leave, told) = mpsc::channel::<()>();
        let (admission, admitted) = (admission.clone(), admitted.clone());
        let thread = std::thread::spawn(move || {
            admission.enter(age, id, &never);
            admitted.send(name).expect("the test listens");
            let _ = told.recv();
            admission.leave(id);
        });
        (leave, thread)
    }

    /// A call that came `after` the start, and its holder id.
    fn call(admission: &Admission, t0: Instant, after_ms: u64) -> (Age, u64) {
        let age = admission.age(t0 + Duration::from_millis(after_ms));
        (age, age.seq)
    }

    /// The name of the next call admitted; fails the test when none is
    /// within 10 s (a holder of a test never goes stale, so a wrong order
    /// would otherwise wait for `NO_STALL`).
    fn next_admitted(admitted: &mpsc::Receiver<&'static str>) -> &'static str {
        admitted
            .recv_timeout(Duration::from_secs(10))
            .expect("a call is admitted within 10 s")
    }

    /// Waits until `n` calls wait in the queue.
    fn until_waiting(admission: &Admission, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while admission.queue().waiting.len() < n {
            assert!(Instant::now() < deadline, "{n} calls never queued");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn a_freed_slot_goes_to_the_oldest_waiting_call_not_the_first_to_ask() {
        let admission = Admission::stalling_after(1, NO_STALL);
        let t0 = Instant::now();
        let (holder, holder_id) = call(&admission, t0, 0);
        admission.enter(holder, holder_id, &never);
        let (tx, rx) = mpsc::channel();
        // The youngest asks first, the oldest last.
        let mut threads = Vec::new();
        for (n, (after_ms, name)) in [(30, "young"), (20, "middle"), (10, "old")]
            .into_iter()
            .enumerate()
        {
            threads.push(waiter(
                &admission,
                call(&admission, t0, after_ms),
                name,
                &tx,
            ));
            until_waiting(&admission, n + 1);
        }
        admission.leave(holder_id);
        let mut order = Vec::new();
        for (leave, _) in [&threads[2], &threads[1], &threads[0]] {
            order.push(next_admitted(&rx));
            leave.send(()).expect("the call waits to be told");
        }
        for (_, thread) in threads {
            thread.join().expect("no waiter panics");
        }
        assert_eq!(order, ["old", "middle", "young"]);
    }

    #[test]
    fn no_more_calls_than_slots_run_at_once() {
        let admission = Admission::stalling_after(2, NO_STALL);
        let t0 = Instant::now();
        let (first, second) = (call(&admission, t0, 0), call(&admission, t0, 0));
        admission.enter(first.0, first.1, &never);
        admission.enter(second.0, second.1, &never);
        // Two slots, both taken: a third call waits until one is given back.
        let (tx, rx) = mpsc::channel();
        let (leave, thread) = waiter(&admission, call(&admission, t0, 1), "third", &tx);
        until_waiting(&admission, 1);
        assert!(
            rx.recv_timeout(Duration::from_millis(200)).is_err(),
            "a third call ran while two held both slots"
        );
        admission.leave(first.1);
        assert_eq!(next_admitted(&rx), "third");
        leave.send(()).expect("the call waits to be told");
        thread.join().expect("no waiter panics");
        admission.leave(second.1);
        assert!(admission.queue().holders.is_empty());
    }

    #[test]
    fn a_call_that_ran_a_whole_slice_goes_behind_the_calls_that_wait() {
        let admission = Admission::stalling_after(1, NO_STALL);
        let t0 = Instant::now();
        let mut long = Admitted::new(admission.clone(), t0);
        long.resume(&never);
        assert_eq!(
            long.check_in(Duration::ZERO, &never),
            Duration::ZERO,
            "nobody waits: it keeps its slot"
        );
        assert_eq!(admission.queue().holders.len(), 1);

        let (tx, rx) = mpsc::channel();
        // Both came in the long call's instant but were seen after it, so
        // are younger than it; and the long call's new age (now, seen
        // later still) is younger than both however fast the test runs.
        let (leave_first, first) = waiter(&admission, call(&admission, t0, 0), "first", &tx);
        until_waiting(&admission, 1);
        let (leave_second, second) = waiter(&admission, call(&admission, t0, 0), "second", &tx);
        until_waiting(&admission, 2);
        assert_eq!(
            long.check_in(NO_STALL, &never),
            Duration::ZERO,
            "within its slice it keeps its slot"
        );
        assert!(rx.try_recv().is_err());

        let long = std::thread::spawn(move || {
            long.check_in(Duration::ZERO, &never);
            long
        });
        assert_eq!(next_admitted(&rx), "first");
        leave_first.send(()).expect("told");
        assert_eq!(
            next_admitted(&rx),
            "second",
            "the long call went behind both"
        );
        assert!(!long.is_finished());
        leave_second.send(()).expect("told");
        let long = long.join().expect("the long call gets its slot back");
        assert_eq!(admission.queue().holders.len(), 1);
        drop(long);
        assert!(admission.queue().holders.is_empty());
        first.join().expect("no panic");
        second.join().expect("no panic");
    }

    #[test]
    fn a_holder_that_stops_checking_in_no_longer_counts() {
        let stall = Duration::from_millis(200);
        let admission = Admission::stalling_after(1, stall);
        let t0 = Instant::now();
        // Holds its slot and never checks in (blocked outside the guest).
        let (blocked, blocked_id) = call(&admission, t0, 0);
        admission.enter(blocked, blocked_id, &never);
        let (next, next_id) = call(&admission, t0, 1);
        let waited = admission.enter(next, next_id, &never);
        assert!(waited >= stall / 2, "admitted after {waited:?}");
        let queue = admission.queue();
        assert_eq!(queue.holders.len(), 2, "it runs beside the stalled holder");
        assert_eq!(queue.live(stall), 1, "only the new holder counts");
    }

    #[test]
    fn a_call_whose_time_is_up_stops_waiting_and_runs_over_the_limit() {
        let admission = Admission::stalling_after(1, NO_STALL);
        let t0 = Instant::now();
        let (holder, holder_id) = call(&admission, t0, 0);
        admission.enter(holder, holder_id, &never);
        let (late, late_id) = call(&admission, t0, 1);
        let time_up = Instant::now() + Duration::from_millis(300);
        let waited = admission.enter(late, late_id, &|| Instant::now() >= time_up);
        assert!(
            waited >= Duration::from_millis(200),
            "gave up after {waited:?}"
        );
        let queue = admission.queue();
        assert_eq!(queue.holders.len(), 2, "it runs over the limit");
        assert!(queue.waiting.is_empty(), "it no longer waits");
    }

    #[test]
    fn dropping_a_hold_gives_its_slot_back() {
        let admission = Admission::new(1);
        let mut hold = Admitted::new(admission.clone(), Instant::now());
        hold.resume(&never);
        assert_eq!(admission.queue().holders.len(), 1);
        drop(hold);
        assert!(admission.queue().holders.is_empty());
        let mut paused = Admitted::new(admission.clone(), Instant::now());
        paused.resume(&never);
        paused.pause();
        paused.pause();
        assert!(admission.queue().holders.is_empty());
        drop(paused);
        assert!(admission.queue().holders.is_empty(), "given back once");
    }
}
