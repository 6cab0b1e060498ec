//! The bench's global allocator: the system allocator, with every live
//! byte counted against the party that allocated it: the host, the
//! in-memory cluster, or the bench's own client (all three run in one
//! process, so the process's memory alone cannot say which holds what).
//!
//! A thread's allocations are the host's unless a [`Scope`] is alive on
//! it (the fleet's cluster adapter holds one for each call into the fake,
//! the client for its own work). Each block carries its party in a header
//! in front of it, so a block freed by another party (an object the fake
//! built and the host dropped) is taken off the right count. A block
//! `realloc` moves is counted again against whoever grew it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicI64, Ordering};

/// The three parties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Party {
    Host = 0,
    Cluster = 1,
    Bench = 2,
}

impl Party {
    fn of(tag: u8) -> Party {
        match tag {
            1 => Party::Cluster,
            2 => Party::Bench,
            _ => Party::Host,
        }
    }
}

static LIVE: [AtomicI64; 3] = [AtomicI64::new(0), AtomicI64::new(0), AtomicI64::new(0)];

thread_local! {
    static PARTY: Cell<Party> = const { Cell::new(Party::Host) };
}

/// Bytes allocated by `party` and not yet freed.
pub fn live(party: Party) -> i64 {
    LIVE[party as usize].load(Ordering::Relaxed)
}

/// While alive, this thread's allocations are its party's.
pub struct Scope {
    was: Party,
}

impl Scope {
    pub fn enter(party: Party) -> Scope {
        let was = PARTY.with(|p| p.replace(party));
        Scope { was }
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        PARTY.with(|p| p.set(self.was));
    }
}

fn current() -> Party {
    // A thread being torn down has no locals left: its last frees and
    // allocations are the host's.
    PARTY.try_with(Cell::get).unwrap_or(Party::Host)
}

/// The allocator; install it with `#[global_allocator]`.
pub struct Attributed;

/// Room in front of a block for its party: a whole alignment unit, so
/// that the block keeps the alignment it asked for.
fn header(layout: Layout) -> usize {
    layout.align().max(16)
}

fn outer(layout: Layout) -> Option<Layout> {
    let size = layout.size().checked_add(header(layout))?;
    Layout::from_size_align(size, header(layout)).ok()
}

unsafe impl GlobalAlloc for Attributed {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(outer) = outer(layout) else {
            return std::ptr::null_mut();
        };
        // SAFETY: `outer` has a non-zero size (the header).
        let base = unsafe { System.alloc(outer) };
        if base.is_null() {
            return base;
        }
        let party = current();
        // SAFETY: the block is `header + size` bytes long, and the header
        // is at least 16 bytes, so both offsets are inside it.
        unsafe {
            let block = base.add(header(layout));
            block.sub(1).write(party as u8);
            LIVE[party as usize].fetch_add(layout.size() as i64, Ordering::Relaxed);
            block
        }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        // SAFETY: `block` came from `alloc` with this `layout`, so the
        // header in front of it is ours and `outer` is what was allocated.
        unsafe {
            let party = Party::of(block.sub(1).read()) as usize;
            LIVE[party].fetch_sub(layout.size() as i64, Ordering::Relaxed);
            let outer = outer(layout).expect("the layout was valid when allocated");
            System.dealloc(block.sub(header(layout)), outer);
        }
    }
}

/// Panics unless a block allocated as the cluster and freed as the host
/// moves the cluster's count up and back down by its size (the bench runs
/// this before it trusts the counts).
pub fn self_check() {
    const SIZE: usize = 1 << 20;
    let (host, cluster) = (live(Party::Host), live(Party::Cluster));
    let block = {
        let _scope = Scope::enter(Party::Cluster);
        vec![1u8; SIZE]
    };
    let grown = live(Party::Cluster) - cluster;
    drop(std::hint::black_box(block));
    let back = live(Party::Cluster) - cluster;
    assert!(
        grown >= SIZE as i64 && back.abs() < SIZE as i64 / 2,
        "the allocator's counts are off: the cluster's grew by {grown} for a {SIZE}-byte block \
         and are {back} off after it was freed (host moved by {})",
        live(Party::Host) - host
    );
}
