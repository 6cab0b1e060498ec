//! Readers of the JSON value kinds every section uses (strings, integers,
//! arrays, string maps, quantities) and the shared syntax checks; each
//! reports a type or rule error at its path.

use serde_json::Value;

use super::{Checker, field_path, index_path};
use crate::config::quantity::Quantity;
use crate::config::syntax;
use crate::{image, names};

impl Checker {
    /// A string.
    pub(super) fn string<'v>(&mut self, path: &str, v: &'v Value) -> Option<&'v str> {
        match v {
            Value::String(s) => Some(s),
            _ => {
                self.type_error(path, "a string", v);
                None
            }
        }
    }

    /// A string that may be `null` (treated as absent).
    pub(super) fn optional_string<'v>(
        &mut self,
        path: &str,
        v: Option<&'v Value>,
    ) -> Option<&'v str> {
        match v {
            None | Some(Value::Null) => None,
            Some(v) => self.string(path, v),
        }
    }

    /// A boolean.
    pub(super) fn boolean(&mut self, path: &str, v: &Value) -> Option<bool> {
        match v {
            Value::Bool(b) => Some(*b),
            _ => {
                self.type_error(path, "a boolean (`true` or `false`)", v);
                None
            }
        }
    }

    /// An integer in `min..=max`; floats and strings are type errors.
    pub(super) fn integer(&mut self, path: &str, v: &Value, min: i64, max: i64) -> Option<i64> {
        let Value::Number(n) = v else {
            self.type_error(path, "an integer", v);
            return None;
        };
        let Some(i) = n.as_i64() else {
            if n.is_u64() {
                self.error(
                    path,
                    format!("{n} is too large; the largest value is {max}"),
                );
            } else {
                self.type_error(path, "an integer (no decimal point)", v);
            }
            return None;
        };
        if i < min {
            let bound = if min == 1 {
                "greater than 0".to_string()
            } else {
                format!("at least {min}")
            };
            self.error(path, format!("must be {bound}, got {i}"));
            return None;
        }
        if i > max {
            self.error(path, format!("must be at most {max}, got {i}"));
            return None;
        }
        Some(i)
    }

    /// An array, with the path of each element.
    pub(super) fn array<'v>(&mut self, path: &str, v: &'v Value) -> Vec<(String, &'v Value)> {
        match v {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| (index_path(path, i), item))
                .collect(),
            _ => {
                self.type_error(path, "an array", v);
                Vec::new()
            }
        }
    }

    /// An array of strings, with the path of each; non-strings reported.
    pub(super) fn strings<'v>(&mut self, path: &str, v: &'v Value) -> Vec<(String, &'v str)> {
        let mut out = Vec::new();
        for (item_path, item) in self.array(path, v) {
            if let Some(s) = self.string(&item_path, item) {
                out.push((item_path, s));
            }
        }
        out
    }

    /// An object of string values: `(path, key, value)` for each entry.
    pub(super) fn string_map<'v>(
        &mut self,
        path: &str,
        v: &'v Value,
    ) -> Vec<(String, &'v str, &'v str)> {
        let Value::Object(map) = v else {
            self.type_error(path, "an object of strings", v);
            return Vec::new();
        };
        let mut out = Vec::new();
        for (key, value) in map {
            let entry_path = field_path(path, key);
            if let Some(s) = self.string(&entry_path, value) {
                out.push((entry_path, key.as_str(), s));
            }
        }
        out
    }

    /// A quantity string.
    pub(super) fn quantity(&mut self, path: &str, v: &Value) -> Option<Quantity> {
        let s = self.string(path, v)?;
        match Quantity::parse(s) {
            Ok(q) => Some(q),
            Err(e) => {
                self.error(path, e);
                None
            }
        }
    }

    /// A quantity that must be greater than zero.
    pub(super) fn positive_quantity(&mut self, path: &str, v: &Value) {
        if let Some(q) = self.quantity(path, v)
            && q.is_zero()
        {
            self.error(path, "must be greater than 0");
        }
    }

    /// An image reference.
    pub(super) fn image_reference(&mut self, path: &str, v: &Value) {
        if let Some(s) = self.string(path, v)
            && let Err(e) = image::parse(s)
        {
            self.error(path, format!("`{s}` is not a valid image reference: {e}"));
        }
    }

    /// A DNS-1123 subdomain (`what` names it in the message).
    pub(super) fn dns_subdomain(&mut self, path: &str, s: &str, what: &str) {
        if !names::is_dns1123_subdomain(s) {
            self.error(
                path,
                format!(
                    "`{s}` is not a valid {what}: use a DNS-1123 subdomain (lowercase letters, \
                     digits, `-` and `.`, at most 253 characters, starting and ending with a \
                     letter or digit)"
                ),
            );
        }
    }

    /// A string `rule` accepts (`what` names it in the message).
    pub(super) fn syntax(
        &mut self,
        path: &str,
        s: &str,
        what: &str,
        rule: fn(&str) -> Result<(), String>,
    ) {
        if let Err(why) = rule(s) {
            self.error(path, format!("`{s}` is not a valid {what}: {why}"));
        }
    }

    /// Labels: keys are qualified names, values label values.
    pub(super) fn labels(&mut self, path: &str, v: &Value) {
        for (entry_path, key, value) in self.string_map(path, v) {
            self.syntax(&entry_path, key, "label key", syntax::qualified_name);
            self.syntax(&entry_path, value, "label value", syntax::label_value);
        }
    }
}
