//! `supervisor`: the binary side-loaded into the sandbox.

use serde_json::Value;

use super::schema_lists::SUPERVISOR_FIELDS;
use super::{Checker, field_path};
use crate::config::syntax;

impl Checker {
    /// `supervisor`: image, absolute binary path, args, install argv.
    pub(super) fn supervisor(&mut self, path: &str, v: &Value) {
        let Some(map) = self.object(path, v, SUPERVISOR_FIELDS) else {
            return;
        };
        if let Some(image) = self.required(path, map, "image", "the image holding the binary") {
            self.image_reference(&field_path(path, "image"), image);
        }
        let binary_path = field_path(path, "binary");
        if let Some(binary) = self
            .required(path, map, "binary", "an absolute path inside the image")
            .and_then(|b| self.string(&binary_path, b))
        {
            self.syntax(
                &binary_path,
                binary,
                "binary path",
                syntax::absolute_file_path,
            );
        }
        if let Some(args) = map.get("args") {
            self.strings(&field_path(path, "args"), args);
        }
        if let Some(install) = map.get("install").filter(|v| !v.is_null()) {
            let install_path = field_path(path, "install");
            let argv = self.strings(&install_path, install);
            if matches!(install, Value::Array(items) if items.is_empty()) {
                self.error(
                    &install_path,
                    "is empty; give the argv of the install command or remove `install` for \
                     the default `cp <binary> /opt/leasebox/bin/`",
                );
            }
            if let Some((first_path, program)) = argv.first()
                && program.trim().is_empty()
            {
                self.error(first_path, "the program to run is empty");
            }
        }
    }
}
