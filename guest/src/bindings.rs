//! The only place the guest's WIT bindings are generated.
//!
//! They are generated on every target: the records of `wit/types.wit` and
//! `wit/kube.wit` are the crate's own types (re-exported by [`crate::lease`],
//! [`crate::error`] and [`crate::cluster`]). On a native target the imports
//! are stubs that abort when called (native code reaches the cluster only
//! through [`crate::cluster::Cluster`]), and the export macro is invoked by
//! [`export_policy!`](crate::export_policy) on `wasm32` only, so a native
//! rlib exports no symbols. The macro is public: a policy crate's
//! `export_policy!` expands to it, with the types of this module.

wit_bindgen::generate!({
    path: "../wit",
    world: "policy-module",
    pub_export_macro: true,
    export_macro_name: "export_policy_module",
    additional_derives: [PartialEq, Eq, Hash, PartialOrd, Ord],
});
