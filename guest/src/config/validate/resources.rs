//! `defaultResources` and `quota`: quantities, their order rules, and the
//! warnings when the defaults would break the quota.

use serde_json::{Map, Value};

use super::schema_lists::{CPU_MEMORY_FIELDS, QUOTA_FIELDS, RESOURCES_FIELDS};
use super::{Checker, U32_MAX, field_path};
use crate::config::quantity::Quantity;
use crate::config::{Quota, Resources};

/// A quantity field's value and whether the document set it.
#[derive(Debug, Clone)]
struct Setting {
    path: String,
    text: String,
    /// `None` when the given text is invalid (already reported).
    value: Option<Quantity>,
    explicit: bool,
}

impl Checker {
    /// `defaultResources`, `quota`, and the warnings where the defaults
    /// break the quota.
    pub(super) fn resources(&mut self, doc: &Map<String, Value>) {
        let resources = self.default_resources(doc.get("defaultResources"));
        let quota = self.quota(doc.get("quota"));
        self.resources_against_quota(&resources, &quota);
    }

    /// A quantity field with a default.
    fn setting(&mut self, path: String, v: Option<&Value>, default: &str) -> Setting {
        match v {
            Some(v) => {
                let value = self.quantity(&path, v);
                Setting {
                    text: v.as_str().unwrap_or_default().to_string(),
                    path,
                    value,
                    explicit: true,
                }
            }
            None => Setting {
                path,
                text: default.to_string(),
                value: Quantity::parse(default).ok(),
                explicit: false,
            },
        }
    }

    /// `defaultResources`: quantities, limits >= requests. Returns the
    /// effective `[requests cpu, requests memory, limits cpu, limits memory]`.
    fn default_resources(&mut self, v: Option<&Value>) -> [Setting; 4] {
        let base = "defaultResources";
        let defaults = serde_json::to_value(Resources::default()).unwrap_or_default();
        let map = v.and_then(|v| self.object(base, v, RESOURCES_FIELDS));
        let requests = self.cpu_memory(base, map, "requests", &defaults);
        let limits = self.cpu_memory(base, map, "limits", &defaults);
        let [req_cpu, req_mem] = requests;
        let [lim_cpu, lim_mem] = limits;
        for (request, limit) in [(&req_cpu, &lim_cpu), (&req_mem, &lim_mem)] {
            let (Some(r), Some(l)) = (request.value, limit.value) else {
                continue;
            };
            if l < r {
                let path = if limit.explicit || !request.explicit {
                    &limit.path
                } else {
                    &request.path
                };
                self.error(
                    path,
                    format!(
                        "the limit `{}` is below the request `{}`; raise `{}` or lower `{}`",
                        limit.text, request.text, limit.path, request.path
                    ),
                );
            } else if l.is_zero() {
                self.error(
                    &limit.path,
                    "a limit of 0 leaves the container nothing; give a positive quantity",
                );
            }
        }
        [req_cpu, req_mem, lim_cpu, lim_mem]
    }

    /// `defaultResources.<side>`: both quantities required when the side
    /// is given; the defaults otherwise.
    fn cpu_memory(
        &mut self,
        base: &str,
        map: Option<&Map<String, Value>>,
        side: &str,
        defaults: &Value,
    ) -> [Setting; 2] {
        let side_path = field_path(base, side);
        let side_map = map
            .and_then(|m| m.get(side))
            .and_then(|v| self.object(&side_path, v, CPU_MEMORY_FIELDS));
        ["cpu", "memory"].map(|resource| {
            let path = field_path(&side_path, resource);
            let default = defaults[side][resource].as_str().unwrap_or_default();
            let Some(m) = side_map else {
                return self.setting(path, None, default);
            };
            match self.required(
                &side_path,
                m,
                resource,
                "a quantity; give both `cpu` and `memory`",
            ) {
                Some(given) => self.setting(path, Some(given), default),
                None => Setting {
                    path,
                    text: String::new(),
                    value: None,
                    explicit: true,
                },
            }
        })
    }

    /// `quota`: quantities, `pods`, and min <= defaultRequest <= default <=
    /// max per resource. Returns the settings by field name.
    fn quota(&mut self, v: Option<&Value>) -> Vec<(&'static str, Setting)> {
        let base = "quota";
        let map = v.and_then(|v| self.object(base, v, QUOTA_FIELDS));
        if let Some(pods) = map.and_then(|m| m.get("pods")) {
            self.integer("quota.pods", pods, 1, U32_MAX);
        }
        let defaults = serde_json::to_value(Quota::default()).unwrap_or_default();
        let mut settings = Vec::new();
        for key in QUOTA_FIELDS.iter().filter(|k| **k != "pods") {
            let given = map.and_then(|m| m.get(*key));
            let default = defaults[*key].as_str().unwrap_or_default();
            let setting = self.setting(field_path(base, key), given, default);
            settings.push((*key, setting));
        }
        let get = |key: &str| {
            settings
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, s)| s.clone())
        };
        for resource in ["Cpu", "Memory"] {
            let chain = ["min", "defaultRequest", "default", "max"]
                .map(|stage| get(&format!("{stage}{resource}")));
            for pair in chain.windows(2) {
                let (Some(lower), Some(upper)) = (&pair[0], &pair[1]) else {
                    continue;
                };
                if let (Some(l), Some(u)) = (lower.value, upper.value)
                    && u < l
                {
                    let path = if upper.explicit || !lower.explicit {
                        &upper.path
                    } else {
                        &lower.path
                    };
                    self.error(
                        path,
                        format!(
                            "`{}` = `{}` is below `{}` = `{}`; the LimitRange needs min <= \
                             defaultRequest <= default <= max",
                            upper.path, upper.text, lower.path, lower.text
                        ),
                    );
                }
            }
        }
        settings
    }

    /// Warnings: the default resources would make the LimitRange or the
    /// ResourceQuota reject the pod.
    fn resources_against_quota(&mut self, resources: &[Setting; 4], quota: &[(&str, Setting)]) {
        let get = |key: &str| quota.iter().find(|(k, _)| *k == key).map(|(_, s)| s);
        let [req_cpu, req_mem, lim_cpu, lim_mem] = resources;
        // (resource setting, quota field, true when the resource must not exceed it)
        let checks = [
            (lim_cpu, "maxCpu", true, "LimitRange max"),
            (lim_mem, "maxMemory", true, "LimitRange max"),
            (req_cpu, "minCpu", false, "LimitRange min"),
            (req_mem, "minMemory", false, "LimitRange min"),
            (
                req_cpu,
                "requestsCpu",
                true,
                "ResourceQuota total of requests",
            ),
            (
                req_mem,
                "requestsMemory",
                true,
                "ResourceQuota total of requests",
            ),
            (lim_cpu, "limitsCpu", true, "ResourceQuota total of limits"),
            (
                lim_mem,
                "limitsMemory",
                true,
                "ResourceQuota total of limits",
            ),
        ];
        for (resource, key, is_max, what) in checks {
            let Some(bound) = get(key) else { continue };
            let (Some(r), Some(b)) = (resource.value, bound.value) else {
                continue;
            };
            let broken = if is_max { r > b } else { r < b };
            if !broken {
                continue;
            }
            let path = if resource.explicit || !bound.explicit {
                &resource.path
            } else {
                &bound.path
            };
            let (relation, fix) = if is_max {
                ("above", "lower")
            } else {
                ("below", "raise")
            };
            let counter = if is_max { "raise" } else { "lower" };
            self.warn(
                path,
                format!(
                    "`{}` = `{}` is {relation} the {what} `{}` = `{}`: the API server would \
                     reject every sandbox pod; {fix} `{}` or {counter} `{}`",
                    resource.path, resource.text, bound.path, bound.text, resource.path, bound.path
                ),
            );
        }
    }
}
