//! `workspace`: an `emptyDir` or a `pvc`, told apart by `type`.

use serde_json::Value;

use super::schema_lists::{WORKSPACE_TYPES, workspace_variant_fields};
use super::{Checker, field_path};

impl Checker {
    /// `workspace`: a known `type`, only that variant's fields, positive
    /// sizes, a valid StorageClass name.
    pub(super) fn workspace(&mut self, path: &str, v: &Value) {
        let Value::Object(map) = v else {
            self.type_error(
                path,
                "an object like {\"type\": \"emptyDir\", \"sizeLimit\": \"8Gi\"}",
                v,
            );
            return;
        };
        let type_path = field_path(path, "type");
        let Some(kind) = self
            .required(path, map, "type", "`emptyDir` or `pvc`")
            .and_then(|t| self.enumeration(&type_path, t, WORKSPACE_TYPES))
        else {
            return;
        };
        // The fields of the variant this `type` selects, in schema order.
        self.object(path, v, workspace_variant_fields(kind));
        if kind == "emptyDir" {
            if let Some(size) = map.get("sizeLimit") {
                self.positive_quantity(&field_path(path, "sizeLimit"), size);
            }
        } else {
            if let Some(size) = map.get("size") {
                self.positive_quantity(&field_path(path, "size"), size);
            }
            let class_path = field_path(path, "storageClass");
            if let Some(class) = self.optional_string(&class_path, map.get("storageClass")) {
                self.dns_subdomain(&class_path, class, "StorageClass name");
            }
        }
    }
}
