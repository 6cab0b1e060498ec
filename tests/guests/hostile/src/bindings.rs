//! The hostile module's WIT bindings, from the same `wit/` as the default
//! module: the attacker speaks the real contract.

wit_bindgen::generate!({
    path: "../../../wit",
    world: "policy-module",
    pub_export_macro: true,
    export_macro_name: "export_policy_module",
});
