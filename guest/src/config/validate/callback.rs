//! `serverCallback`: the in-cluster server the agent may call back to.

use serde_json::Value;

use super::schema_lists::CALLBACK_FIELDS;
use super::{Checker, field_path};
use crate::names;

impl Checker {
    /// `serverCallback`: namespace, non-empty pod labels, port.
    pub(super) fn server_callback(&mut self, path: &str, v: &Value) {
        let Some(map) = self.object(path, v, CALLBACK_FIELDS) else {
            return;
        };
        let namespace_path = field_path(path, "namespace");
        if let Some(ns) = self
            .required(path, map, "namespace", "the server's namespace")
            .and_then(|n| self.string(&namespace_path, n))
            && !names::is_dns1123_label(ns)
        {
            self.error(
                &namespace_path,
                format!(
                    "`{ns}` is not a valid namespace: use a DNS-1123 label (lowercase letters, \
                     digits and `-`, at most 63 characters, starting and ending with a letter or \
                     digit)"
                ),
            );
        }
        let labels_path = field_path(path, "podLabels");
        if let Some(labels) =
            self.required(path, map, "podLabels", "labels selecting the server's pods")
        {
            if matches!(labels, Value::Object(m) if m.is_empty()) {
                self.error(
                    &labels_path,
                    "is empty, which would select every pod in the namespace; give the \
                     server's pod labels",
                );
            }
            self.labels(&labels_path, labels);
        }
        if let Some(port) = self.required(path, map, "port", "a number from 1 to 65535") {
            self.integer(&field_path(path, "port"), port, 1, 65535);
        }
    }
}
