//! The only place the guest's WIT bindings are generated.

wit_bindgen::generate!({
    path: "../wit",
    world: "policy-module",
    pub_export_macro: true,
    export_macro_name: "export_policy_module",
});
