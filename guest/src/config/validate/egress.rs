//! `egressMode`, `egressAllowFqdns`, `egressAllowCidrs` (and the ports of
//! a CIDR).

use serde_json::{Map, Value};

use super::schema_lists::{CIDR_FIELDS, EGRESS_MODES, PORT_FIELDS, PROTOCOLS};
use super::{Checker, field_path};
use crate::config::EgressMode;
use crate::egress;

impl Checker {
    /// `egressMode`, one of its schema's values.
    pub(super) fn egress_mode(&mut self, doc: &Map<String, Value>) {
        if let Some(v) = doc.get("egressMode") {
            self.enumeration("egressMode", v, EGRESS_MODES);
        }
    }

    /// A list of DNS names: each checked, lowercased; duplicates dropped.
    /// `*.` wildcards are accepted in both modes: in `standard` mode they
    /// are a warning (SPEC §1: the name cannot be enforced there), raised by
    /// `egress::warnings`.
    pub(super) fn fqdns(&mut self, path: &str, v: &Value) -> Value {
        let mut out: Vec<Value> = Vec::new();
        for (item_path, name) in self.strings(path, v) {
            match egress::normalize_fqdn(name, EgressMode::Cilium) {
                Ok(n) => {
                    let n = Value::String(n);
                    if !out.contains(&n) {
                        out.push(n);
                    }
                }
                Err(e) => self.error(&item_path, e),
            }
        }
        Value::Array(out)
    }

    /// `egressAllowCidrs`: strings or `{cidr, ports}`; CIDRs canonicalised.
    pub(super) fn cidrs(&mut self, path: &str, v: &Value) -> Value {
        let mut out = Vec::new();
        for (item_path, item) in self.array(path, v) {
            match item {
                Value::String(s) => {
                    out.push(Value::String(self.cidr(&item_path, s)));
                }
                Value::Object(_) => {
                    let mut normalized = item.clone();
                    let Some(map) = self.object(&item_path, item, CIDR_FIELDS) else {
                        continue;
                    };
                    let cidr_path = field_path(&item_path, "cidr");
                    if let Some(s) = self
                        .required(&item_path, map, "cidr", "like `10.0.0.0/8`")
                        .and_then(|c| self.string(&cidr_path, c))
                    {
                        let canonical = self.cidr(&cidr_path, s);
                        if let Value::Object(o) = &mut normalized {
                            o.insert("cidr".into(), Value::String(canonical));
                        }
                    }
                    if let Some(ports) = map.get("ports") {
                        self.ports(&field_path(&item_path, "ports"), ports);
                    }
                    out.push(normalized);
                }
                _ => self.type_error(
                    &item_path,
                    "a CIDR string or an object {\"cidr\": ..., \"ports\": [...]}",
                    item,
                ),
            }
        }
        Value::Array(out)
    }

    /// One CIDR; returns its canonical text (the input on error).
    fn cidr(&mut self, path: &str, s: &str) -> String {
        match egress::parse_cidr(s) {
            Ok(c) => c.text,
            Err(e) => {
                self.error(path, e);
                s.to_string()
            }
        }
    }

    /// The ports of a CIDR: each a number and a known protocol.
    fn ports(&mut self, path: &str, v: &Value) {
        for (port_path, item) in self.array(path, v) {
            let Some(map) = self.object(&port_path, item, PORT_FIELDS) else {
                continue;
            };
            if let Some(port) = self.required(&port_path, map, "port", "a number from 1 to 65535") {
                self.integer(&field_path(&port_path, "port"), port, 1, 65535);
            }
            if let Some(protocol) = map.get("protocol") {
                self.enumeration(&field_path(&port_path, "protocol"), protocol, PROTOCOLS);
            }
        }
    }
}
