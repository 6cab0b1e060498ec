//! The RBAC a module may write into a tenant: Roles within the host's
//! ceiling ([`ROLE_CEILING`]), bindings of Roles to service accounts of
//! the same namespace.

use serde_json::Value;

use super::rule::Rule;
use super::{GuardedCluster, str_at};
use crate::cluster::grants::ROLE_CEILING;
use crate::contract::KubeError;

impl GuardedCluster {
    pub(super) fn check_role(&self, what: &str, role: &Value) -> Result<(), KubeError> {
        let empty = Vec::new();
        let rules = role
            .pointer("/rules")
            .and_then(Value::as_array)
            .unwrap_or(&empty);
        for r in rules {
            if r.get("nonResourceURLs").is_some() {
                return self.deny(
                    Rule::RoleCeiling,
                    format!("{what}: nonResourceURLs are beyond the host's RBAC ceiling"),
                );
            }
            let list = |key: &str| -> Vec<String> {
                r.get(key)
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            for group in list("apiGroups") {
                for resource in list("resources") {
                    for verb in list("verbs") {
                        let within = ROLE_CEILING
                            .iter()
                            .any(|(g, res, v)| *g == group && *res == resource && *v == verb);
                        if !within {
                            return self.deny(
                                Rule::RoleCeiling,
                                format!(
                                    "{what}: rule `{verb}` on `{resource}` (group `{group}`) is \
                                     beyond the host's RBAC ceiling (get pods/log)"
                                ),
                            );
                        }
                    }
                }
            }
        }
        Ok(())
    }

    pub(super) fn check_role_binding(&self, what: &str, binding: &Value) -> Result<(), KubeError> {
        if str_at(binding, "/roleRef/kind") != Some("Role") {
            return self.deny(
                Rule::RoleBinding,
                format!("{what}: may only bind a Role, not a ClusterRole"),
            );
        }
        let namespace = str_at(binding, "/metadata/namespace");
        let empty = Vec::new();
        let subjects = binding
            .pointer("/subjects")
            .and_then(Value::as_array)
            .unwrap_or(&empty);
        for s in subjects {
            let kind = str_at(s, "/kind");
            let ns = str_at(s, "/namespace").or(namespace);
            if kind != Some("ServiceAccount") || ns != namespace {
                return self.deny(
                    Rule::RoleBinding,
                    format!("{what}: subjects must be service accounts of the same namespace"),
                );
            }
        }
        Ok(())
    }
}
