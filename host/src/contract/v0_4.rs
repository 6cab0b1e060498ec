//! The generated bindings of the current contract, `leasebox:provider@0.4.0`
//! (`wit/`). Their records are the host's own, re-exported by
//! [`crate::contract`]; the bindings of 0.3.0 (`v0_3.rs`), 0.2.0
//! (`v0_2.rs`) and 0.1.0 (`v0_1.rs`) convert to them.
//!
//! The resources of the `kube` interface are the host's [`Handle`]s
//! (`resources.rs`), so the resource table holds the streams themselves.
//!
//! [`Handle`]: crate::contract::Handle

wasmtime::component::bindgen!({
    path: "../wit",
    world: "policy-module",
    with: {
        "leasebox:provider/kube.watch": crate::contract::WatchHandle,
        "leasebox:provider/kube.exec-session": crate::contract::ExecHandle,
        "leasebox:provider/kube.log-stream": crate::contract::LogHandle,
    },
    imports: { default: trappable },
    additional_derives: [PartialEq, Eq],
});
