//! The memory allocator of the policy module: size classes cut from chunks,
//! for an instance that lives for one call.
//!
//! The host runs every call in a fresh instance and drops the instance,
//! its whole linear memory with it, when the call returns. The default
//! allocator of `wasm32-wasip2` (wasi-libc's dlmalloc) is built for memory
//! that lives on: it splits and coalesces blocks to keep fragmentation low,
//! and in a `plan` it took about a third of the guest's time (perf, P1 in
//! `BENCHMARKS.md`). Here, instead:
//!
//! - a request of at most [`LARGEST_CLASS`] bytes, aligned to at most
//!   [`CLASS_ALIGN`], is rounded up to its class (a power of two from 16
//!   bytes), and taken from that class's free list, or else cut from the
//!   current chunk ([`CHUNK`] bytes, from the system allocator);
//! - a freed block goes to the front of its class's list, for the next
//!   request of that class; blocks are never split nor merged;
//! - a larger or more aligned request goes to the system allocator;
//! - a reallocation within one class keeps its block.
//!
//! So a call holds at most about twice its live small blocks, plus what it
//! freed and has not asked for again in the same class; a call that keeps
//! allocating and freeing (a watch loop) reuses its blocks. The rest of a
//! chunk, when a request no longer fits, is left unused.
//!
//! [`Classes`] is the plain logic, over any chunk source (tested natively);
//! [`CallAllocator`] is the `GlobalAlloc` of the module, which may assume a
//! single thread: a `wasm32-wasip2` component has one.

use std::alloc::{GlobalAlloc, Layout, System};
use std::ptr;

/// The smallest class, bytes (it holds the free list's link).
pub const SMALLEST_CLASS: usize = 16;
/// The largest class, bytes; larger requests go to the system allocator.
pub const LARGEST_CLASS: usize = 4096;
/// The alignment every class block has.
pub const CLASS_ALIGN: usize = 16;
/// Bytes asked of the system allocator at a time.
pub const CHUNK: usize = 64 * 1024;
/// Number of classes: 16, 32, ..., [`LARGEST_CLASS`].
const CLASS_COUNT: usize =
    (LARGEST_CLASS.trailing_zeros() - SMALLEST_CLASS.trailing_zeros()) as usize + 1;

/// The class of a request (`None`: not a class request), as (index, size).
fn class_of(layout: Layout) -> Option<(usize, usize)> {
    if layout.size() > LARGEST_CLASS || layout.align() > CLASS_ALIGN {
        return None;
    }
    let size = layout.size().max(SMALLEST_CLASS).next_power_of_two();
    let index = (size.trailing_zeros() - SMALLEST_CLASS.trailing_zeros()) as usize;
    Some((index, size))
}

/// A freed block: the link to the next one of its class.
struct FreeBlock {
    next: *mut FreeBlock,
}

/// The free lists and the current chunk.
pub struct Classes {
    free: [*mut FreeBlock; CLASS_COUNT],
    /// Next unused byte of the current chunk.
    cursor: *mut u8,
    /// End of the current chunk.
    end: *mut u8,
}

impl Default for Classes {
    fn default() -> Self {
        Classes::new()
    }
}

impl Classes {
    /// No chunk yet, every list empty.
    pub const fn new() -> Classes {
        Classes {
            free: [ptr::null_mut(); CLASS_COUNT],
            cursor: ptr::null_mut(),
            end: ptr::null_mut(),
        }
    }

    /// A block for `layout`, or null when `layout` is not a class request
    /// (the caller then uses its system allocator) or `chunk` had no more
    /// memory. `chunk` gives [`CHUNK`] bytes aligned to [`CLASS_ALIGN`], or
    /// null.
    ///
    /// # Safety
    ///
    /// Every block this returns must be given back only through
    /// [`Classes::dealloc`] of the same `Classes` with the same layout, and
    /// the chunks must stay valid as long as this `Classes` is used.
    pub unsafe fn alloc(&mut self, layout: Layout, chunk: impl FnOnce() -> *mut u8) -> *mut u8 {
        let Some((index, size)) = class_of(layout) else {
            return ptr::null_mut();
        };
        let head = self.free[index];
        if !head.is_null() {
            // SAFETY: a listed block is a freed block of this class, at
            // least SMALLEST_CLASS bytes and aligned for a FreeBlock.
            self.free[index] = unsafe { (*head).next };
            return head.cast();
        }
        let left = self.end as usize - self.cursor as usize;
        if self.cursor.is_null() || left < size {
            let fresh = chunk();
            if fresh.is_null() {
                return ptr::null_mut();
            }
            self.cursor = fresh;
            // SAFETY: the chunk is CHUNK bytes long.
            self.end = unsafe { fresh.add(CHUNK) };
        }
        let block = self.cursor;
        // SAFETY: `size` bytes are left in the chunk (checked above, and
        // CHUNK >= LARGEST_CLASS).
        self.cursor = unsafe { self.cursor.add(size) };
        block
    }

    /// Gives back a block of `layout`; false when `layout` is not a class
    /// request (the block is then the system allocator's).
    ///
    /// # Safety
    ///
    /// `block` came from [`Classes::alloc`] of this `Classes` with the same
    /// layout and is not used after this.
    pub unsafe fn dealloc(&mut self, block: *mut u8, layout: Layout) -> bool {
        let Some((index, _)) = class_of(layout) else {
            return false;
        };
        let freed = block.cast::<FreeBlock>();
        // SAFETY: the block is at least SMALLEST_CLASS bytes, aligned to
        // CLASS_ALIGN, and no longer used by its owner.
        unsafe {
            freed.write(FreeBlock {
                next: self.free[index],
            })
        };
        self.free[index] = freed;
        true
    }

    /// True when a block of `old` can be kept for `new_size` bytes (the same
    /// class).
    pub fn same_class(old: Layout, new_size: usize) -> bool {
        let Ok(new) = Layout::from_size_align(new_size, old.align()) else {
            return false;
        };
        match (class_of(old), class_of(new)) {
            (Some((a, _)), Some((b, _))) => a == b,
            _ => false,
        }
    }
}

/// The module's global allocator: [`Classes`] for small requests, the
/// system allocator for the rest and for the chunks.
pub struct CallAllocator {
    classes: std::cell::UnsafeCell<Classes>,
}

// SAFETY: a wasm32 module without the `atomics` feature has no shared
// memory and runs one thread; elsewhere the type is not `Sync` and cannot
// be a global allocator.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
unsafe impl Sync for CallAllocator {}

impl Default for CallAllocator {
    fn default() -> Self {
        CallAllocator::new()
    }
}

impl CallAllocator {
    /// An allocator with no chunk yet.
    pub const fn new() -> CallAllocator {
        CallAllocator {
            classes: std::cell::UnsafeCell::new(Classes::new()),
        }
    }
}

/// The layout of a chunk.
const CHUNK_LAYOUT: Layout = match Layout::from_size_align(CHUNK, CLASS_ALIGN) {
    Ok(layout) => layout,
    Err(_) => panic!("CHUNK and CLASS_ALIGN make a layout"),
};

// SAFETY: class blocks are distinct ranges of chunks that are never freed;
// every other request is the system allocator's, and the two are told
// apart by the layout, which the caller passes back unchanged.
unsafe impl GlobalAlloc for CallAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: one thread, and no allocation happens inside `alloc` of
        // the classes but the chunk's, which goes to System.
        let classes = unsafe { &mut *self.classes.get() };
        if class_of(layout).is_none() {
            return unsafe { System.alloc(layout) };
        }
        unsafe { classes.alloc(layout, || System.alloc(CHUNK_LAYOUT)) }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        // SAFETY: as in `alloc`.
        let classes = unsafe { &mut *self.classes.get() };
        if !unsafe { classes.dealloc(block, layout) } {
            unsafe { System.dealloc(block, layout) }
        }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if Classes::same_class(layout, new_size) {
            return block;
        }
        if class_of(layout).is_none()
            && Layout::from_size_align(new_size, layout.align())
                .ok()
                .and_then(class_of)
                .is_none()
        {
            // Both sides are the system allocator's: it may grow in place.
            return unsafe { System.realloc(block, layout, new_size) };
        }
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return ptr::null_mut();
        };
        // SAFETY: `new_layout` is valid; the old block is live for
        // `layout.size()` bytes.
        unsafe {
            let moved = self.alloc(new_layout);
            if !moved.is_null() {
                ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size));
                self.dealloc(block, layout);
            }
            moved
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `Classes` over chunks of the test's own, freed at the end.
    struct Arena {
        classes: Classes,
        chunks: Vec<*mut u8>,
    }

    impl Arena {
        fn new() -> Arena {
            Arena {
                classes: Classes::new(),
                chunks: Vec::new(),
            }
        }

        fn alloc(&mut self, size: usize, align: usize) -> *mut u8 {
            let layout = Layout::from_size_align(size, align).expect("layout");
            let chunks = &mut self.chunks;
            // SAFETY: blocks go back through `free` with the same layout;
            // chunks live until the arena is dropped.
            unsafe {
                self.classes.alloc(layout, || {
                    let chunk = System.alloc(CHUNK_LAYOUT);
                    chunks.push(chunk);
                    chunk
                })
            }
        }

        fn free(&mut self, block: *mut u8, size: usize, align: usize) -> bool {
            let layout = Layout::from_size_align(size, align).expect("layout");
            // SAFETY: `block` came from `alloc` with this layout.
            unsafe { self.classes.dealloc(block, layout) }
        }
    }

    impl Drop for Arena {
        fn drop(&mut self) {
            for chunk in self.chunks.drain(..) {
                // SAFETY: every chunk came from System with CHUNK_LAYOUT.
                unsafe { System.dealloc(chunk, CHUNK_LAYOUT) };
            }
        }
    }

    #[test]
    fn a_request_is_rounded_up_to_its_power_of_two_class() {
        let class = |size, align| {
            class_of(Layout::from_size_align(size, align).expect("layout")).map(|(_, s)| s)
        };
        assert_eq!(class(0, 1), Some(16));
        assert_eq!(class(1, 1), Some(16));
        assert_eq!(class(16, 8), Some(16));
        assert_eq!(class(17, 1), Some(32));
        assert_eq!(class(4096, 16), Some(4096));
        assert_eq!(class(4097, 1), None, "larger than the largest class");
        assert_eq!(class(64, 32), None, "aligned beyond CLASS_ALIGN");
    }

    #[test]
    fn a_freed_block_is_the_next_block_of_its_class() {
        let mut arena = Arena::new();
        let a = arena.alloc(24, 8);
        let b = arena.alloc(24, 8);
        assert_ne!(a, b);
        assert!(arena.free(a, 24, 8));
        assert_eq!(arena.alloc(30, 4), a, "same class (32): reused");
        assert_ne!(arena.alloc(100, 8), a, "another class: not reused");
    }

    #[test]
    fn blocks_are_aligned_and_never_overlap() {
        let mut arena = Arena::new();
        let mut live: Vec<(*mut u8, usize, u8)> = Vec::new();
        // A deterministic mix of sizes, frees and refills, each block filled
        // with its own byte and checked before it is freed.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for step in 0..20_000u32 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let size = (state % 3000) as usize + 1;
            if step % 3 == 2 && !live.is_empty() {
                let (block, size, fill) = live.swap_remove((state as usize / 7) % live.len());
                // SAFETY: the block is live and `size` bytes long.
                let bytes = unsafe { std::slice::from_raw_parts(block, size) };
                assert!(bytes.iter().all(|b| *b == fill), "block overwritten");
                assert!(arena.free(block, size, 8));
                continue;
            }
            let block = arena.alloc(size, 8);
            assert!(!block.is_null());
            assert_eq!(block as usize % CLASS_ALIGN, 0, "aligned");
            let fill = (step % 251) as u8;
            // SAFETY: the block is at least `size` bytes and ours.
            unsafe { ptr::write_bytes(block, fill, size) };
            live.push((block, size, fill));
        }
        for (block, size, fill) in live {
            // SAFETY: as above.
            let bytes = unsafe { std::slice::from_raw_parts(block, size) };
            assert!(bytes.iter().all(|b| *b == fill), "block overwritten");
        }
    }

    #[test]
    fn a_request_outside_the_classes_is_left_to_the_system_allocator() {
        let mut arena = Arena::new();
        assert!(arena.alloc(LARGEST_CLASS + 1, 8).is_null());
        assert!(arena.alloc(64, 64).is_null());
        assert!(arena.chunks.is_empty(), "no chunk taken for them");
        assert!(!arena.free(ptr::null_mut(), LARGEST_CLASS + 1, 8));
    }

    #[test]
    fn a_chunk_that_cannot_hold_a_request_is_replaced() {
        let mut arena = Arena::new();
        let per_chunk = CHUNK / LARGEST_CLASS;
        for _ in 0..per_chunk {
            arena.alloc(LARGEST_CLASS, 16);
        }
        assert_eq!(arena.chunks.len(), 1);
        arena.alloc(LARGEST_CLASS, 16);
        assert_eq!(arena.chunks.len(), 2);
    }

    #[test]
    fn steady_allocating_and_freeing_takes_no_new_chunk() {
        let mut arena = Arena::new();
        for _ in 0..100_000 {
            let block = arena.alloc(200, 8);
            assert!(arena.free(block, 200, 8));
        }
        assert_eq!(arena.chunks.len(), 1);
    }

    #[test]
    fn reallocation_within_a_class_keeps_the_block() {
        let layout = Layout::from_size_align(40, 8).expect("layout");
        assert!(Classes::same_class(layout, 64));
        assert!(!Classes::same_class(layout, 65));
        assert!(
            !Classes::same_class(layout, 8),
            "shrinking to another class moves"
        );
        let large = Layout::from_size_align(8000, 8).expect("layout");
        assert!(!Classes::same_class(large, 9000));
    }

    #[test]
    fn the_global_allocator_round_trips_small_large_and_reallocated_blocks() {
        let allocator = CallAllocator::new();
        for (size, grown) in [(10, 20), (10, 5000), (5000, 10), (6000, 9000)] {
            let layout = Layout::from_size_align(size, 8).expect("layout");
            // SAFETY: each block is used within its size and freed with its
            // final layout.
            unsafe {
                let block = allocator.alloc(layout);
                assert!(!block.is_null());
                ptr::write_bytes(block, 7, size);
                let moved = allocator.realloc(block, layout, grown);
                assert!(!moved.is_null());
                let kept = std::slice::from_raw_parts(moved, size.min(grown));
                assert!(
                    kept.iter().all(|b| *b == 7),
                    "{size} -> {grown}: contents kept"
                );
                allocator.dealloc(moved, Layout::from_size_align(grown, 8).expect("layout"));
            }
        }
    }
}
