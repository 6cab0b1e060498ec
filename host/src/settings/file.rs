//! The settings file as written: every section and field optional, unknown
//! fields refused. [`super::HostSettings::load`] checks it and fills the
//! defaults.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::reload;

/// The file as written (every section optional).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct File {
    pub(super) fence: FenceFile,
    pub(super) secrets: SecretsFile,
    pub(super) guest: GuestFile,
    pub(super) cluster: ClusterFile,
    pub(super) serve: ServeFile,
    pub(super) pools: PoolsFile,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct PoolsFile {
    pub(super) max_per_tenant: Option<u32>,
    pub(super) max_total: Option<u32>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct ServeFile {
    pub(super) sweep_interval_sec: Option<u64>,
    pub(super) watch_linger_sec: Option<u64>,
    pub(super) leader_election: LeaderFile,
    pub(super) module_dir: Option<PathBuf>,
    pub(super) reload: reload::ReloadFile,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct LeaderFile {
    pub(super) namespace: Option<String>,
    pub(super) lease_name: Option<String>,
    pub(super) lease_duration_sec: Option<u64>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct FenceFile {
    pub(super) namespace_prefix: Option<String>,
    pub(super) callback_namespaces: Option<Vec<String>>,
    pub(super) company_aliases: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct SecretsFile {
    pub(super) host_keys: Option<Vec<String>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct GuestFile {
    #[serde(rename = "memoryMiB")]
    pub(super) memory_mib: Option<u32>,
    pub(super) cpu_deadline_ms: Option<u64>,
    pub(super) call_timeout_sec: Option<u64>,
    pub(super) exec_timeout_sec: Option<u64>,
    pub(super) parallel_calls: Option<usize>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct ClusterFile {
    pub(super) kubeconfig: Option<PathBuf>,
    pub(super) context: Option<String>,
}
