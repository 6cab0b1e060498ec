//! `backend` and `sandboxApiVersion`: the workload kind of a lease.

use serde_json::{Map, Value};

use super::Checker;
use super::schema_lists::{BACKENDS, SANDBOX_API_VERSIONS};

impl Checker {
    /// `backend` and `sandboxApiVersion`, each one of its schema's values.
    pub(super) fn backend(&mut self, doc: &Map<String, Value>) {
        if let Some(v) = doc.get("backend") {
            self.enumeration("backend", v, BACKENDS);
        }
        if let Some(v) = doc.get("sandboxApiVersion") {
            self.enumeration("sandboxApiVersion", v, SANDBOX_API_VERSIONS);
        }
    }
}
