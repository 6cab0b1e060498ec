//! The generated bindings of the `policy-module` world (`wit/world.wit`):
//! the only `bindgen!` of the host.
//!
//! Resources of the `kube` interface are backed by the host types in
//! `imports/kube.rs`, so the resource table holds the streams themselves.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "policy-module",
    with: {
        "leasebox:provider/kube.watch": crate::runtime::imports::kube::WatchHandle,
        "leasebox:provider/kube.exec-session": crate::runtime::imports::kube::ExecHandle,
        "leasebox:provider/kube.log-stream": crate::runtime::imports::kube::LogHandle,
    },
    imports: { default: trappable },
});
