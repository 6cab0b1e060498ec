//! The configuration document: its types (which also generate the JSON
//! Schema), defaults, and validation.
//!
//! The types are `document.rs` (which the rules below validation import
//! directly), validation `validate.rs`; this file hands both on.
//!
//! Validation walks the raw JSON so that it can report **every** problem with
//! its JSON path; only a document without errors is turned into [`Config`],
//! whose serialisation is the `normalizedConfig` (every default filled in).

pub(crate) mod document;
mod quantity;
mod syntax;
mod validate;

pub use document::{
    AdapterDecl, Backend, CidrEntry, CidrWithPorts, Config, CpuMemory, DEFAULT_ADAPTER_TYPE,
    DEFAULT_FILE_ROOTS, DEFAULT_NAMESPACE_PREFIX, EgressMode, Files, Issue, PortSpec, Protocol,
    Quota, Resources, SandboxApiVersion, ServerCallback, Supervisor, Terminals, Toleration,
    WarmPool, Workspace,
};
pub use quantity::Quantity;
pub use validate::{Validated, ValidationReport, validate};

/// The JSON Schema (draft 2020-12) of [`Config`], pretty-printed.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(Config);
    serde_json::to_string_pretty(&schema).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}
