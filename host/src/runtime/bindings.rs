//! The generated bindings of the current contract, `leasebox:provider@0.2.0`
//! (`wit/`). Their types are the host's own: [`crate::cluster::io`] and the
//! CLI use them as generated. The bindings of older contracts live in
//! `v0_1.rs` and convert to these.
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
    additional_derives: [PartialEq, Eq],
});
