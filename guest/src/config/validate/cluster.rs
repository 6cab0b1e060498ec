//! `inCluster`, `kubeconfig`, `namespacePrefix`, `companySlug`: where the
//! policy connects and how tenant namespaces are named.

use serde_json::{Map, Value};

use super::Checker;
use crate::config::syntax;

impl Checker {
    /// The connection fields, `namespacePrefix` and `companySlug`.
    pub(super) fn cluster(&mut self, doc: &Map<String, Value>) {
        self.connection(doc);
        if let Some(s) = doc
            .get("namespacePrefix")
            .and_then(|v| self.string("namespacePrefix", v))
        {
            self.syntax(
                "namespacePrefix",
                s,
                "namespace prefix",
                syntax::namespace_prefix,
            );
        }
        if let Some(s) = self.optional_string("companySlug", doc.get("companySlug")) {
            self.syntax("companySlug", s, "company slug", syntax::company_slug);
        }
    }

    /// `inCluster`, `kubeconfig`, and the rule that one of them is set.
    fn connection(&mut self, doc: &Map<String, Value>) {
        let in_cluster = match doc.get("inCluster") {
            Some(v) => self.boolean("inCluster", v),
            None => Some(false),
        };
        let kubeconfig = self.optional_string("kubeconfig", doc.get("kubeconfig"));
        let kubeconfig_set = match kubeconfig {
            Some(s) if s.trim().is_empty() => {
                self.error(
                    "kubeconfig",
                    "is empty; give a kubeconfig path or inline YAML, or remove the field",
                );
                return;
            }
            Some(_) => true,
            None => doc.get("kubeconfig").is_some_and(|v| !v.is_null()),
        };
        if in_cluster == Some(false) && !kubeconfig_set {
            self.error(
                "inCluster",
                "no cluster to connect to: set `inCluster` to true (running in a pod) or \
                 give `kubeconfig` (a path or inline YAML)",
            );
        }
    }
}
