//! A hostile policy module, built from the real `wit/` contract: it exports
//! `provider` like any module, and `probe` (or `plan`) carries out the
//! attack its configuration document names, through the `kube` imports, to
//! show what the host's capability guard lets through.
//!
//! ```sh
//! cargo build -p leasebox-hostile-guest --target wasm32-wasip2 --release
//! leasebox probe --policy leasebox_hostile_guest.wasm --config attack.json
//! ```
//!
//! `attack.json` is `{"attack": "<name>", "namespace": ..., ...}`; the
//! attacks are listed in [`attack`] and in `tests/guests/README.md`. Built
//! natively the crate is empty.

#[cfg(target_arch = "wasm32")]
mod attack;
#[cfg(target_arch = "wasm32")]
mod bindings;
#[cfg(target_arch = "wasm32")]
mod component;
