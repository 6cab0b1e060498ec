//! Gives the default policy module, when linked for wasm32, an initial
//! linear memory that a call does not outgrow.
//!
//! Every call runs in a fresh instance, which starts at the module's
//! initial memory. A call that outgrows it asks the host to grow the
//! memory, and the host changes the protection of the grown pages: one
//! `mprotect` to grow, and for a pooled slot a second one to take the
//! pages back before the slot's next call, which flushes the TLB of every
//! core the process runs on. Without this, `rustc` gives the module its
//! stack, its data and no more (19 pages of 64 KiB for the default module),
//! and a `plan` grows it by a page. Pages a call never touches cost
//! nothing: they are reserved, not backed.
//!
//! Only this package's cdylib gets the argument (cargo does not pass a
//! build script's link arguments on to the crates that depend on it), so a
//! custom policy crate built on this library chooses its own.

/// Initial linear memory of the default module: its 1 MiB stack, its data
/// (about 150 KiB) and room for a call's heap.
const INITIAL_MEMORY_BYTES: u32 = 2 << 20;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-link-arg-cdylib=--initial-memory={INITIAL_MEMORY_BYTES}");
    }
}
