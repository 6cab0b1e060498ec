//! The process's heap in use, as the C allocator counts it: glibc's
//! `mallinfo2`, the bytes handed out from all its arenas plus the chunks
//! it mapped on their own. Unlike the resident set, it does not count
//! memory freed and kept for reuse, so it tells what the server holds
//! (the `leasebox_heap_in_use_bytes` metric of `serve`).

/// Bytes allocated and not yet freed; none where the allocator cannot
/// say (not glibc).
pub fn in_use_bytes() -> Option<u64> {
    glibc::in_use_bytes()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod glibc {
    /// `struct mallinfo2` (glibc 2.33 and later): every field a `size_t`.
    #[repr(C)]
    struct MallInfo2 {
        arena: usize,
        ordblks: usize,
        smblks: usize,
        hblks: usize,
        hblkhd: usize,
        usmblks: usize,
        fsmblks: usize,
        uordblks: usize,
        fordblks: usize,
        keepcost: usize,
    }

    unsafe extern "C" {
        fn mallinfo2() -> MallInfo2;
    }

    pub fn in_use_bytes() -> Option<u64> {
        // SAFETY: `mallinfo2` takes nothing, returns the struct above by
        // value, and only reads the allocator's state under its locks.
        let info = unsafe { mallinfo2() };
        let in_use = info.uordblks.checked_add(info.hblkhd)?;
        u64::try_from(in_use).ok()
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod glibc {
    pub fn in_use_bytes() -> Option<u64> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn a_block_held_shows_in_the_heap_in_use_and_goes_when_freed() {
        // Zeroed: glibc maps it untouched, so it costs no resident memory.
        const SIZE: usize = 256 << 20;
        let before = in_use_bytes().expect("glibc counts its heap");
        let block = std::hint::black_box(vec![0u8; SIZE]);
        let held = in_use_bytes().expect("glibc counts its heap");
        drop(block);
        let after = in_use_bytes().expect("glibc counts its heap");
        // Other test threads allocate and free too: allow them 64 MiB.
        let slack = 64 << 20;
        assert!(
            held >= before + SIZE as u64 - slack,
            "an {SIZE}-byte block held: {before} -> {held}"
        );
        assert!(
            after + (SIZE as u64) - slack <= held,
            "the block freed: {held} -> {after}"
        );
    }
}
