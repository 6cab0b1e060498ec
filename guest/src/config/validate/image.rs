//! `imageRegistry`, `imageAllowList`, `imagePullSecrets`.

use serde_json::{Map, Value};

use super::Checker;
use crate::config::syntax;

impl Checker {
    /// `imageRegistry`, `imageAllowList`, `imagePullSecrets`.
    pub(super) fn images(&mut self, doc: &Map<String, Value>) {
        if let Some(s) = self.optional_string("imageRegistry", doc.get("imageRegistry")) {
            self.syntax("imageRegistry", s, "image registry", syntax::registry);
        }
        if let Some(v) = doc.get("imageAllowList") {
            for (path, pattern) in self.strings("imageAllowList", v) {
                if pattern.trim().is_empty() {
                    self.error(
                        &path,
                        "the pattern is empty; write a glob like `ghcr.io/acme/*`",
                    );
                }
            }
        }
        if let Some(v) = doc.get("imagePullSecrets") {
            for (path, name) in self.strings("imagePullSecrets", v) {
                self.dns_subdomain(&path, name, "Secret name");
            }
        }
    }
}
