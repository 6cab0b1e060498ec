//! The configuration document: its types (which also generate the JSON
//! Schema), their defaults, and [`Issue`], one problem with a document at
//! its JSON path. Every rule that reads a configuration (adapters, egress,
//! names, images) takes these types from here; validation, which uses those
//! rules, is above them (`validate.rs`).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One problem (or warning) at a JSON path: `issue` of `wit/types.wit`.
pub use crate::bindings::leasebox::provider::types::Issue;

impl Issue {
    /// An issue at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Issue {
        Issue {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Default tenant namespace prefix.
pub const DEFAULT_NAMESPACE_PREFIX: &str = "leasebox-";
/// Default adapter.
pub const DEFAULT_ADAPTER_TYPE: &str = "claude_local";

/// A leasebox configuration (JSON, camelCase; compatible with the paperclip
/// Kubernetes plugin's fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "leasebox configuration")]
pub struct Config {
    /// Use the in-cluster service account. At least one of `inCluster` and
    /// `kubeconfig` must be set.
    #[serde(default)]
    pub in_cluster: bool,
    /// Path to a kubeconfig file, or an inline kubeconfig (YAML).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig: Option<String>,
    /// Prefix of every tenant namespace: a DNS-1123 label prefix, 1-32
    /// characters, not starting with `-`.
    #[schemars(length(min = 1, max = 32), pattern(r"^[a-z0-9][a-z0-9-]*$"))]
    #[serde(default = "default_namespace_prefix")]
    pub namespace_prefix: String,
    /// Tenant slug (same rule as `namespacePrefix`); derived from the company
    /// id when absent.
    #[schemars(length(min = 1, max = 32), pattern(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_slug: Option<String>,
    /// Workload kind of a lease.
    #[serde(default)]
    pub backend: Backend,
    /// API version of the agent-sandbox `Sandbox` resource.
    #[serde(default)]
    pub sandbox_api_version: SandboxApiVersion,
    /// Adapter (agent CLI) run in the sandbox: a built-in or a declared one.
    #[serde(default = "default_adapter_type")]
    pub adapter_type: String,
    /// Declared adapters, merged over the built-ins (same `adapterType`
    /// replaces a built-in).
    #[serde(default)]
    pub adapters: Vec<AdapterDecl>,
    /// Registry `host[:port][/path]` that replaces the default image's
    /// registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_registry: Option<String>,
    /// Glob patterns a per-run image override must match (`*` and `?` never
    /// match `/`; the whole reference must match).
    #[serde(default)]
    pub image_allow_list: Vec<String>,
    /// Names of image pull Secrets in the tenant namespace.
    #[serde(default)]
    pub image_pull_secrets: Vec<String>,
    /// How egress is enforced.
    #[serde(default)]
    pub egress_mode: EgressMode,
    /// DNS names the sandbox may reach on TCP 443 (lowercased, deduplicated);
    /// a `*.` wildcard is allowed in `cilium` mode only.
    #[serde(default)]
    pub egress_allow_fqdns: Vec<String>,
    /// IPv4 and IPv6 CIDRs the sandbox may reach, optionally on given ports.
    #[serde(default)]
    pub egress_allow_cidrs: Vec<CidrEntry>,
    /// Requests and limits of the agent container.
    #[serde(default)]
    pub default_resources: Resources,
    /// RuntimeClass of the sandbox pod (gVisor, Kata, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_class_name: Option<String>,
    /// Node selector of the sandbox pod.
    #[serde(default)]
    pub node_selector: BTreeMap<String, String>,
    /// Tolerations of the sandbox pod.
    #[serde(default)]
    pub tolerations: Vec<Toleration>,
    /// Annotations of the tenant ServiceAccount (e.g. workload identity).
    #[serde(default)]
    pub service_account_annotations: BTreeMap<String, String>,
    /// Number of `nvidia.com/gpu` the agent container requests.
    #[serde(default)]
    pub gpu: u32,
    /// The `/workspace` volume.
    #[serde(default)]
    pub workspace: Workspace,
    /// `ttlSecondsAfterFinished` of a `job` backend Job.
    #[serde(default = "default_job_ttl")]
    pub job_ttl_seconds_after_finished: u32,
    /// `activeDeadlineSeconds` of a `job` backend Job (> 0).
    #[schemars(range(min = 1))]
    #[serde(default = "default_activity_deadline")]
    pub pod_activity_deadline_sec: u32,
    /// Seconds acquire waits for the sandbox to become ready (> 0),
    /// separate from any exec timeout.
    #[schemars(range(min = 1))]
    #[serde(default = "default_ready_timeout")]
    pub pod_ready_timeout_sec: u32,
    /// Seconds after which `sweep` (and the agent-sandbox controller, via
    /// `shutdownTime`) deletes a lease (> 0).
    #[schemars(range(min = 1))]
    #[serde(default = "default_lease_max_age")]
    pub lease_max_age_sec: u32,
    /// Tenant ResourceQuota and LimitRange values.
    #[serde(default)]
    pub quota: Quota,
    /// A supervisor binary side-loaded into the sandbox by an init container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supervisor: Option<Supervisor>,
    /// Where the agent may call back to (a server inside the cluster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_callback: Option<ServerCallback>,
    /// Interactive terminals in a lease (`open-terminal`).
    #[serde(default)]
    pub terminals: Terminals,
    /// Where the file calls (`write-files`, `read-files`, `stat-path`,
    /// `list-directory`, `remove-path`) may reach in a lease.
    #[serde(default)]
    pub files: Files,
    /// Pods kept started ahead of acquires (`pod` backend, `emptyDir`
    /// workspace), capped by the operator's host settings `pools`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warm_pool: Option<WarmPool>,
}

/// Workload kind of a lease.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Backend {
    /// An agent-sandbox `Sandbox` custom resource (needs its controller).
    #[default]
    #[serde(rename = "sandbox-cr")]
    SandboxCr,
    /// A `batch/v1` Job that runs one command to completion.
    #[serde(rename = "job")]
    Job,
    /// A bare Pod (no CRD needed).
    #[serde(rename = "pod")]
    Pod,
}

impl Backend {
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::SandboxCr => "sandbox-cr",
            Backend::Job => "job",
            Backend::Pod => "pod",
        }
    }
}

/// API version of the agent-sandbox `Sandbox` resource.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum SandboxApiVersion {
    /// agent-sandbox v1.0 and later.
    #[default]
    #[serde(rename = "v1beta1")]
    V1beta1,
    /// agent-sandbox v0.5.x clusters.
    #[serde(rename = "v1alpha1")]
    V1alpha1,
}

impl SandboxApiVersion {
    /// The full `apiVersion` string.
    pub fn api_version(self) -> &'static str {
        match self {
            SandboxApiVersion::V1beta1 => "agents.x-k8s.io/v1beta1",
            SandboxApiVersion::V1alpha1 => "agents.x-k8s.io/v1alpha1",
        }
    }
}

/// How egress is enforced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum EgressMode {
    /// Kubernetes NetworkPolicy (cannot match DNS names).
    #[default]
    #[serde(rename = "standard")]
    Standard,
    /// CiliumNetworkPolicy with `toFQDNs`.
    #[serde(rename = "cilium")]
    Cilium,
}

/// A declared adapter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdapterDecl {
    /// Name used in `adapterType` (`[a-z0-9_-]`, 1-63 characters).
    #[schemars(length(min = 1, max = 63), pattern(r"^[a-z0-9_-]+$"))]
    pub adapter_type: String,
    /// Image of the agent container.
    pub image: String,
    /// Environment keys the host copies from its own environment into the
    /// per-run Secret.
    #[serde(default)]
    pub env_keys: Vec<String>,
    /// DNS names this adapter needs to reach.
    #[serde(default)]
    pub allow_fqdns: Vec<String>,
    /// Command that prints the adapter's version (used by probe).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe_command: Option<String>,
    /// Non-secret environment values set in the per-run Secret.
    #[serde(default)]
    pub default_env: BTreeMap<String, String>,
}

/// One allowed CIDR, with optional ports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum CidrEntry {
    /// A CIDR, all ports.
    Plain(String),
    /// A CIDR on the given ports.
    WithPorts(CidrWithPorts),
}

/// A CIDR on the given ports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CidrWithPorts {
    /// IPv4 or IPv6 CIDR (`10.0.0.0/8`, `2001:db8::/32`).
    pub cidr: String,
    /// Ports; empty means all.
    #[serde(default)]
    pub ports: Vec<PortSpec>,
}

impl CidrEntry {
    /// The CIDR text.
    pub fn cidr(&self) -> &str {
        match self {
            CidrEntry::Plain(c) => c,
            CidrEntry::WithPorts(c) => &c.cidr,
        }
    }

    /// The ports (empty: all).
    pub fn ports(&self) -> &[PortSpec] {
        match self {
            CidrEntry::Plain(_) => &[],
            CidrEntry::WithPorts(c) => &c.ports,
        }
    }
}

/// One port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortSpec {
    /// Port number, 1-65535.
    #[schemars(range(min = 1))]
    pub port: u16,
    /// `TCP` (default), `UDP` or `SCTP`.
    #[serde(default)]
    pub protocol: Protocol,
}

/// Transport protocol of a port.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Protocol {
    /// TCP.
    #[default]
    #[serde(rename = "TCP")]
    Tcp,
    /// UDP.
    #[serde(rename = "UDP")]
    Udp,
    /// SCTP.
    #[serde(rename = "SCTP")]
    Sctp,
}

impl Protocol {
    /// The Kubernetes spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }
}

/// Requests and limits of the agent container (Kubernetes quantities).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resources {
    /// Requests; default 250m CPU, 512Mi memory.
    #[serde(default = "default_requests")]
    pub requests: CpuMemory,
    /// Limits (>= requests); default 2 CPU, 4Gi memory.
    #[serde(default = "default_limits")]
    pub limits: CpuMemory,
}

impl Default for Resources {
    fn default() -> Self {
        Resources {
            requests: default_requests(),
            limits: default_limits(),
        }
    }
}

/// A CPU and a memory quantity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CpuMemory {
    /// CPU quantity (`250m`, `2`).
    pub cpu: String,
    /// Memory quantity (`512Mi`, `4Gi`).
    pub memory: String,
}

fn default_requests() -> CpuMemory {
    CpuMemory {
        cpu: "250m".into(),
        memory: "512Mi".into(),
    }
}

fn default_limits() -> CpuMemory {
    CpuMemory {
        cpu: "2".into(),
        memory: "4Gi".into(),
    }
}

/// A Kubernetes toleration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Toleration {
    /// Taint key; empty with `Exists` tolerates everything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// `Equal` (default; also when empty) or `Exists`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["Equal", "Exists", "", null]))]
    pub operator: Option<String>,
    /// Taint value (with `Equal`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`; empty matches all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["NoSchedule", "PreferNoSchedule", "NoExecute", "", null]))]
    pub effect: Option<String>,
    /// With `NoExecute`: seconds the pod stays bound after the taint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toleration_seconds: Option<i64>,
}

/// The `/workspace` volume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum Workspace {
    /// An emptyDir that lives as long as the pod.
    #[serde(rename = "emptyDir", rename_all = "camelCase")]
    EmptyDir {
        /// Size limit, a memory quantity; default `8Gi`.
        #[serde(default = "default_workspace_size")]
        size_limit: String,
    },
    /// A PersistentVolumeClaim made for the lease.
    #[serde(rename = "pvc", rename_all = "camelCase")]
    Pvc {
        /// StorageClass; the cluster default when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        storage_class: Option<String>,
        /// Requested size, a memory quantity; default `20Gi`.
        #[serde(default = "default_pvc_size")]
        size: String,
    },
}

impl Default for Workspace {
    fn default() -> Self {
        Workspace::EmptyDir {
            size_limit: default_workspace_size(),
        }
    }
}

fn default_workspace_size() -> String {
    "8Gi".into()
}

fn default_pvc_size() -> String {
    "20Gi".into()
}

/// Tenant ResourceQuota and LimitRange values (Kubernetes quantities).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Quota {
    /// Maximum pods in the tenant namespace.
    #[schemars(range(min = 1))]
    #[serde(default = "default_quota_pods")]
    pub pods: u32,
    /// Sum of CPU requests.
    #[serde(default = "q_10")]
    pub requests_cpu: String,
    /// Sum of memory requests.
    #[serde(default = "q_20gi")]
    pub requests_memory: String,
    /// Sum of CPU limits.
    #[serde(default = "q_20")]
    pub limits_cpu: String,
    /// Sum of memory limits.
    #[serde(default = "q_40gi")]
    pub limits_memory: String,
    /// LimitRange: largest CPU limit of one container.
    #[serde(default = "q_4")]
    pub max_cpu: String,
    /// LimitRange: largest memory limit of one container.
    #[serde(default = "q_8gi")]
    pub max_memory: String,
    /// LimitRange: smallest CPU request of one container.
    #[serde(default = "q_100m")]
    pub min_cpu: String,
    /// LimitRange: smallest memory request of one container.
    #[serde(default = "q_128mi")]
    pub min_memory: String,
    /// LimitRange: CPU limit of a container that sets none.
    #[serde(default = "q_1")]
    pub default_cpu: String,
    /// LimitRange: memory limit of a container that sets none.
    #[serde(default = "q_2gi")]
    pub default_memory: String,
    /// LimitRange: CPU request of a container that sets none.
    #[serde(default = "q_250m")]
    pub default_request_cpu: String,
    /// LimitRange: memory request of a container that sets none.
    #[serde(default = "q_512mi")]
    pub default_request_memory: String,
}

impl Default for Quota {
    fn default() -> Self {
        Quota {
            pods: default_quota_pods(),
            requests_cpu: q_10(),
            requests_memory: q_20gi(),
            limits_cpu: q_20(),
            limits_memory: q_40gi(),
            max_cpu: q_4(),
            max_memory: q_8gi(),
            min_cpu: q_100m(),
            min_memory: q_128mi(),
            default_cpu: q_1(),
            default_memory: q_2gi(),
            default_request_cpu: q_250m(),
            default_request_memory: q_512mi(),
        }
    }
}

fn default_quota_pods() -> u32 {
    20
}
fn q_10() -> String {
    "10".into()
}
fn q_20gi() -> String {
    "20Gi".into()
}
fn q_20() -> String {
    "20".into()
}
fn q_40gi() -> String {
    "40Gi".into()
}
fn q_4() -> String {
    "4".into()
}
fn q_8gi() -> String {
    "8Gi".into()
}
fn q_100m() -> String {
    "100m".into()
}
fn q_128mi() -> String {
    "128Mi".into()
}
fn q_1() -> String {
    "1".into()
}
fn q_2gi() -> String {
    "2Gi".into()
}
fn q_250m() -> String {
    "250m".into()
}
fn q_512mi() -> String {
    "512Mi".into()
}

/// A supervisor binary side-loaded into the sandbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Supervisor {
    /// Image that contains the binary.
    pub image: String,
    /// Absolute path of a static binary inside that image.
    pub binary: String,
    /// Arguments the agent container runs the binary with.
    #[serde(default)]
    pub args: Vec<String>,
    /// Argv of the init container that installs the binary; default
    /// `cp <binary> /opt/leasebox/bin/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install: Option<Vec<String>>,
}

/// Where the agent may call back to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServerCallback {
    /// Namespace of the server.
    pub namespace: String,
    /// Labels of the server's pods.
    pub pod_labels: BTreeMap<String, String>,
    /// TCP port, 1-65535.
    #[schemars(range(min = 1))]
    pub port: u16,
}

/// Interactive terminals in a lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Terminals {
    /// Whether `open-terminal` may open one; false refuses it with
    /// `not-allowed` (detached processes and `execute` stay allowed).
    /// Default true.
    #[serde(default = "default_true")]
    pub enabled: bool,
}

impl Default for Terminals {
    fn default() -> Self {
        Terminals { enabled: true }
    }
}

/// The largest `warmPool.size`.
pub const MAX_WARM_POOL_SIZE: u32 = 64;

/// A tenant's warm pool: pods of this configuration's adapter and image,
/// started before any acquire, each holding nothing of any lease until one
/// claims it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WarmPool {
    /// Unclaimed pods to keep, 0-64 (0: none). The operator's host settings
    /// `pools.maxPerTenant` and `pools.maxTotal` cap it (default 0: pools
    /// off).
    #[schemars(range(max = 64))]
    pub size: u32,
}

/// The mounts the file calls may reach by default: the workspace, `$HOME`,
/// its cache and `/tmp` (the writable volumes of every pod; see
/// `manifests::pod_baseline`).
pub const DEFAULT_FILE_ROOTS: [&str; 4] =
    ["/workspace", "/home/agent", "/home/agent/.cache", "/tmp"];

/// Where the file calls may reach in a lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Files {
    /// Absolute directories a file call's path must be in (the directory
    /// itself or below), each inside one of the default roots
    /// (`/workspace`, `/home/agent`, `/home/agent/.cache`, `/tmp`), written
    /// without `.`, `..` or a trailing `/`. Default: those four; an empty
    /// list refuses every file call.
    #[serde(default = "default_file_roots")]
    pub roots: Vec<String>,
}

impl Default for Files {
    fn default() -> Self {
        Files {
            roots: default_file_roots(),
        }
    }
}

fn default_file_roots() -> Vec<String> {
    DEFAULT_FILE_ROOTS.iter().map(|r| r.to_string()).collect()
}

fn default_true() -> bool {
    true
}

fn default_namespace_prefix() -> String {
    DEFAULT_NAMESPACE_PREFIX.into()
}
fn default_adapter_type() -> String {
    DEFAULT_ADAPTER_TYPE.into()
}
fn default_job_ttl() -> u32 {
    900
}
fn default_activity_deadline() -> u32 {
    3600
}
fn default_ready_timeout() -> u32 {
    300
}
fn default_lease_max_age() -> u32 {
    86400
}
