// The lists of the configuration checker, derived from the JSON Schema of
// `Config` by `schema_lists/derive.rs`. Do not edit: rewrite it with
// LEASEBOX_BLESS=1 cargo test -p leasebox-policy --lib schema_lists

/// Fields of the top-level object.
pub(crate) const TOP_FIELDS: &[&str] = &["inCluster", "kubeconfig", "namespacePrefix", "companySlug", "backend", "sandboxApiVersion", "adapterType", "adapters", "imageRegistry", "imageAllowList", "imagePullSecrets", "egressMode", "egressAllowFqdns", "egressAllowCidrs", "defaultResources", "runtimeClassName", "nodeSelector", "tolerations", "serviceAccountAnnotations", "gpu", "workspace", "jobTtlSecondsAfterFinished", "podActivityDeadlineSec", "podReadyTimeoutSec", "leaseMaxAgeSec", "quota", "supervisor", "serverCallback", "terminals", "files", "warmPool"];

/// Fields of a declared adapter.
pub(crate) const ADAPTER_FIELDS: &[&str] = &["adapterType", "image", "envKeys", "allowFqdns", "probeCommand", "defaultEnv"];

/// Fields of a CIDR with ports.
pub(crate) const CIDR_FIELDS: &[&str] = &["cidr", "ports"];

/// Fields of a port.
pub(crate) const PORT_FIELDS: &[&str] = &["port", "protocol"];

/// Fields of `defaultResources`.
pub(crate) const RESOURCES_FIELDS: &[&str] = &["requests", "limits"];

/// Fields of `defaultResources.requests` and `.limits` (the same type).
pub(crate) const CPU_MEMORY_FIELDS: &[&str] = &["cpu", "memory"];

/// Fields of a toleration.
pub(crate) const TOLERATION_FIELDS: &[&str] = &["key", "operator", "value", "effect", "tolerationSeconds"];

/// Fields of `quota`.
pub(crate) const QUOTA_FIELDS: &[&str] = &["pods", "requestsCpu", "requestsMemory", "limitsCpu", "limitsMemory", "maxCpu", "maxMemory", "minCpu", "minMemory", "defaultCpu", "defaultMemory", "defaultRequestCpu", "defaultRequestMemory"];

/// Fields of `supervisor`.
pub(crate) const SUPERVISOR_FIELDS: &[&str] = &["image", "binary", "args", "install"];

/// Fields of `serverCallback`.
pub(crate) const CALLBACK_FIELDS: &[&str] = &["namespace", "podLabels", "port"];

/// Fields of `terminals`.
pub(crate) const TERMINALS_FIELDS: &[&str] = &["enabled"];

/// Fields of `files`.
pub(crate) const FILES_FIELDS: &[&str] = &["roots"];

/// Fields of `warmPool`.
pub(crate) const WARM_POOL_FIELDS: &[&str] = &["size"];

/// Toleration operators (the empty one, which means `Equal`, left out).
pub(crate) const TOLERATION_OPERATORS: &[&str] = &["Equal", "Exists"];

/// Toleration effects (the empty one, which matches every effect, left out).
pub(crate) const TOLERATION_EFFECTS: &[&str] = &["NoSchedule", "PreferNoSchedule", "NoExecute"];

/// Values of `backend`.
pub(crate) const BACKENDS: &[&str] = &["sandbox-cr", "job", "pod"];

/// Values of `sandboxApiVersion`.
pub(crate) const SANDBOX_API_VERSIONS: &[&str] = &["v1beta1", "v1alpha1"];

/// Values of `egressMode`.
pub(crate) const EGRESS_MODES: &[&str] = &["standard", "cilium"];

/// Values of a port's `protocol`.
pub(crate) const PROTOCOLS: &[&str] = &["TCP", "UDP", "SCTP"];

/// Values of `workspace.type` (one per variant).
pub(crate) const WORKSPACE_TYPES: &[&str] = &["emptyDir", "pvc"];

/// The fields of each `workspace` variant, by its `type`.
pub(crate) const WORKSPACE_VARIANT_FIELDS: &[(&str, &[&str])] = &[
    ("emptyDir", &["type", "sizeLimit"]),
    ("pvc", &["type", "storageClass", "size"]),
];
