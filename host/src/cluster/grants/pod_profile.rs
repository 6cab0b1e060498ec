//! The pod profile: every field a pod-bearing object (Pod, a Job's
//! template, a Sandbox's pod template) may carry, and what each may hold.
//!
//! It is an allow-list, after the Pod Security Standards' "restricted"
//! profile (kubernetes.io/docs/concepts/security/pod-security-standards,
//! its baseline and restricted controls) plus leasebox's own rules: a field
//! not listed here is refused, whatever the cluster's admission would say,
//! so a field a newer Kubernetes adds (or an old volume type such as
//! `gitRepo`) is closed until it is listed. The guard (`guard/pod.rs`)
//! walks a pod spec against these tables; its tests derive one refused
//! value per constrained field from them.
//!
//! | restricted / baseline control | here |
//! |---|---|
//! | host namespaces | `hostNetwork`, `hostPID`, `hostIPC`: only `false` |
//! | privileged containers | `securityContext.privileged`: only `false` |
//! | capabilities | `drop` must hold `ALL`; `add` only `NET_BIND_SERVICE` |
//! | hostPath volumes, volume types | [`VOLUME`]: emptyDir, configMap, downwardAPI, projected (no service-account token), secret, persistentVolumeClaim, ephemeral |
//! | host ports | container `ports[]` without `hostPort` and `hostIP` |
//! | AppArmor, SELinux | no `seLinuxOptions`; AppArmor annotations `runtime/default` or `localhost/*` |
//! | /proc mount type | `procMount`: only `Default` |
//! | seccomp | `RuntimeDefault` or `Localhost`, on the pod or on every container |
//! | sysctls | none |
//! | privilege escalation | `allowPrivilegeEscalation: false` on every container |
//! | running as non-root (user) | `runAsNonRoot: true` on the pod or every container; `runAsUser` never 0 |
//!
//! leasebox's own: the tenant's service account, never the namespace's
//! `default` (checked by the guard),
//! `automountServiceAccountToken: false`, no projected
//! service-account token, no `nodeName`, no `system-*` priority class, no
//! ephemeral containers, no `volumeDevices`, no scheduler but the default,
//! Secrets only the lease's own, claims that never name a volume and are
//! no other lease's, probes and hooks that reach only the pod itself (the
//! kubelet makes their requests from the node).

/// A kind that runs a pod, and where its manifest holds the pod's metadata
/// and spec (JSON pointers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PodBearing {
    /// The kind.
    pub kind: &'static str,
    /// The pod's (or pod template's) metadata.
    pub metadata: &'static str,
    /// The pod's spec.
    pub spec: &'static str,
}

/// Every kind the profile applies to: the lease workloads.
pub const POD_BEARING: [PodBearing; 3] = [
    PodBearing {
        kind: "Pod",
        metadata: "/metadata",
        spec: "/spec",
    },
    PodBearing {
        kind: "Job",
        metadata: "/spec/template/metadata",
        spec: "/spec/template/spec",
    },
    PodBearing {
        kind: "Sandbox",
        metadata: "/spec/podTemplate/metadata",
        spec: "/spec/podTemplate/spec",
    },
];

/// Where `kind` holds its pod, when it runs one.
pub fn pod_bearing(kind: &str) -> Option<&'static PodBearing> {
    POD_BEARING.iter().find(|p| p.kind == kind)
}

/// What one field may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowed {
    /// Anything (the guard does not look inside).
    Any,
    /// Only this boolean (absent is allowed unless the field is required).
    Bool(bool),
    /// One of these strings.
    OneOf(&'static [&'static str]),
    /// Any string that does not start with this prefix.
    NotPrefixed(&'static str),
    /// An integer other than 0.
    NonZero,
    /// A list of strings that holds this one.
    Holds(&'static str),
    /// A list of strings, each one of these.
    EachOf(&'static [&'static str]),
    /// An object with these fields only.
    Object(&'static [Field]),
    /// A list of objects, each with these fields only.
    List(&'static [Field]),
    /// The name of the lease's own Secret, `<lease>-env`.
    OwnSecret,
    /// A claim's spec: no `volumeName`, no `selector` (rule `claim-binding`).
    ClaimSpec,
    /// The name of a claim of the tenant: one not named for another lease
    /// (rule `lease-scope`).
    OwnClaim,
    /// A pod's annotations: AppArmor and seccomp profiles only confined.
    PodAnnotations,
}

/// One field of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// Its name in the manifest.
    pub name: &'static str,
    /// What it may hold.
    pub allowed: Allowed,
    /// True when it must be present.
    pub required: bool,
    /// Why it is constrained, for the refusal.
    pub why: &'static str,
}

const fn any(name: &'static str) -> Field {
    Field {
        name,
        allowed: Allowed::Any,
        required: false,
        why: "",
    }
}

const fn field(name: &'static str, allowed: Allowed, why: &'static str) -> Field {
    Field {
        name,
        allowed,
        required: false,
        why,
    }
}

const fn required(name: &'static str, allowed: Allowed, why: &'static str) -> Field {
    Field {
        name,
        allowed,
        required: true,
        why,
    }
}

/// Why the Pod Security "restricted" profile refuses a value.
const RESTRICTED: &str = "the Pod Security \"restricted\" profile";

/// The seccomp profile of a pod or a container.
const SECCOMP: &[Field] = &[
    required(
        "type",
        Allowed::OneOf(&["RuntimeDefault", "Localhost"]),
        RESTRICTED,
    ),
    any("localhostProfile"),
];

/// A pod's `securityContext`.
pub const POD_SECURITY: &[Field] = &[
    field("runAsNonRoot", Allowed::Bool(true), RESTRICTED),
    field("runAsUser", Allowed::NonZero, RESTRICTED),
    any("runAsGroup"),
    any("fsGroup"),
    any("fsGroupChangePolicy"),
    any("supplementalGroups"),
    field("seccompProfile", Allowed::Object(SECCOMP), RESTRICTED),
];

/// A container's `securityContext`.
pub const CONTAINER_SECURITY: &[Field] = &[
    required("allowPrivilegeEscalation", Allowed::Bool(false), RESTRICTED),
    required(
        "capabilities",
        Allowed::Object(&[
            required("drop", Allowed::Holds("ALL"), RESTRICTED),
            field("add", Allowed::EachOf(&["NET_BIND_SERVICE"]), RESTRICTED),
        ]),
        RESTRICTED,
    ),
    field("privileged", Allowed::Bool(false), RESTRICTED),
    field("procMount", Allowed::OneOf(&["Default"]), RESTRICTED),
    any("readOnlyRootFilesystem"),
    field("runAsNonRoot", Allowed::Bool(true), RESTRICTED),
    field("runAsUser", Allowed::NonZero, RESTRICTED),
    any("runAsGroup"),
    field("seccompProfile", Allowed::Object(SECCOMP), RESTRICTED),
];

/// Why only the lease's own Secret.
const OWN_SECRET: &str = "a lease pod reads only its own lease's Secret";

/// One `env` entry.
const ENV: &[Field] = &[
    any("name"),
    any("value"),
    field(
        "valueFrom",
        Allowed::Object(&[
            field(
                "secretKeyRef",
                Allowed::Object(&[
                    required("name", Allowed::OwnSecret, OWN_SECRET),
                    any("key"),
                    any("optional"),
                ]),
                OWN_SECRET,
            ),
            any("configMapKeyRef"),
            any("fieldRef"),
            any("resourceFieldRef"),
        ]),
        OWN_SECRET,
    ),
];

/// One `envFrom` entry.
const ENV_FROM: &[Field] = &[
    any("prefix"),
    any("configMapRef"),
    field(
        "secretRef",
        Allowed::Object(&[
            required("name", Allowed::OwnSecret, OWN_SECRET),
            any("optional"),
        ]),
        OWN_SECRET,
    ),
];

/// Why no host port.
const NO_HOST_PORT: &str = "a lease pod opens no port on the node";

/// Why a probe or hook reaches only its own pod.
const OWN_POD: &str = "the kubelet makes a probe's or a hook's request from the node, outside \
                       the lease's egress policy, so it may reach only the pod itself";

/// A probe's or hook's HTTP request: to the pod's own address (no `host`).
const HTTP_GET: &[Field] = &[any("path"), any("port"), any("scheme"), any("httpHeaders")];

/// A probe's or hook's TCP connection: to the pod's own address.
const TCP_SOCKET: &[Field] = &[any("port")];

/// What a probe or hook does: a command in the container, or a request to
/// the pod itself.
const HANDLER: &[Field] = &[
    any("exec"),
    field("httpGet", Allowed::Object(HTTP_GET), OWN_POD),
    field("tcpSocket", Allowed::Object(TCP_SOCKET), OWN_POD),
];

/// A liveness, readiness or startup probe.
const PROBE: &[Field] = &[
    any("exec"),
    field("httpGet", Allowed::Object(HTTP_GET), OWN_POD),
    field("tcpSocket", Allowed::Object(TCP_SOCKET), OWN_POD),
    any("initialDelaySeconds"),
    any("timeoutSeconds"),
    any("periodSeconds"),
    any("successThreshold"),
    any("failureThreshold"),
    any("terminationGracePeriodSeconds"),
];

/// A container (and an init container).
pub const CONTAINER: &[Field] = &[
    required("name", Allowed::Any, ""),
    any("image"),
    any("imagePullPolicy"),
    any("command"),
    any("args"),
    any("workingDir"),
    field("env", Allowed::List(ENV), OWN_SECRET),
    field("envFrom", Allowed::List(ENV_FROM), OWN_SECRET),
    any("resources"),
    field(
        "volumeMounts",
        Allowed::List(&[
            any("name"),
            any("mountPath"),
            any("readOnly"),
            any("subPath"),
            any("subPathExpr"),
            field(
                "mountPropagation",
                Allowed::OneOf(&["None", "HostToContainer"]),
                "a lease pod propagates no mount back to the node",
            ),
        ]),
        "",
    ),
    field(
        "ports",
        Allowed::List(&[any("name"), any("containerPort"), any("protocol")]),
        NO_HOST_PORT,
    ),
    required(
        "securityContext",
        Allowed::Object(CONTAINER_SECURITY),
        RESTRICTED,
    ),
    field("livenessProbe", Allowed::Object(PROBE), OWN_POD),
    field("readinessProbe", Allowed::Object(PROBE), OWN_POD),
    field("startupProbe", Allowed::Object(PROBE), OWN_POD),
    field(
        "lifecycle",
        Allowed::Object(&[
            field("postStart", Allowed::Object(HANDLER), OWN_POD),
            field("preStop", Allowed::Object(HANDLER), OWN_POD),
        ]),
        OWN_POD,
    ),
    any("terminationMessagePath"),
    any("terminationMessagePolicy"),
    any("stdin"),
    any("stdinOnce"),
    any("tty"),
];

/// Why only these volume types.
const VOLUME_TYPES: &str = "the volume types of the Pod Security \"restricted\" profile, without \
                            service-account tokens or Secrets other than the lease's own";

/// Why a lease mounts no other lease's claim.
const OWN_CLAIM: &str = "a lease pod mounts its own lease's claims or the tenant's, never another \
                         lease's";

/// Why claims never name a volume.
const CLAIM: &str = "a claim never binds an existing volume";

/// One volume: its name and exactly one of these sources.
pub const VOLUME: &[Field] = &[
    required("name", Allowed::Any, ""),
    any("emptyDir"),
    any("configMap"),
    any("downwardAPI"),
    field(
        "secret",
        Allowed::Object(&[
            required("secretName", Allowed::OwnSecret, OWN_SECRET),
            any("items"),
            any("defaultMode"),
            any("optional"),
        ]),
        OWN_SECRET,
    ),
    field(
        "projected",
        Allowed::Object(&[
            field(
                "sources",
                Allowed::List(&[
                    any("configMap"),
                    any("downwardAPI"),
                    field(
                        "secret",
                        Allowed::Object(&[
                            required("name", Allowed::OwnSecret, OWN_SECRET),
                            any("items"),
                            any("optional"),
                        ]),
                        OWN_SECRET,
                    ),
                ]),
                VOLUME_TYPES,
            ),
            any("defaultMode"),
        ]),
        VOLUME_TYPES,
    ),
    field(
        "persistentVolumeClaim",
        Allowed::Object(&[
            required("claimName", Allowed::OwnClaim, OWN_CLAIM),
            any("readOnly"),
        ]),
        VOLUME_TYPES,
    ),
    field(
        "ephemeral",
        Allowed::Object(&[field(
            "volumeClaimTemplate",
            Allowed::Object(&[any("metadata"), required("spec", Allowed::ClaimSpec, CLAIM)]),
            CLAIM,
        )]),
        VOLUME_TYPES,
    ),
];

/// Why no `nodeName`, no system priority, no other scheduler.
const PLACEMENT: &str = "the scheduler places a lease pod, never the module";

/// Why no service-account token.
const NO_TOKEN: &str = "a lease pod carries no service-account token";

/// A pod's `spec`.
pub const POD_SPEC: &[Field] = &[
    required("containers", Allowed::List(CONTAINER), RESTRICTED),
    field("initContainers", Allowed::List(CONTAINER), RESTRICTED),
    field("volumes", Allowed::List(VOLUME), VOLUME_TYPES),
    field("securityContext", Allowed::Object(POD_SECURITY), RESTRICTED),
    required(
        "automountServiceAccountToken",
        Allowed::Bool(false),
        NO_TOKEN,
    ),
    any("serviceAccountName"),
    field("hostNetwork", Allowed::Bool(false), RESTRICTED),
    field("hostPID", Allowed::Bool(false), RESTRICTED),
    field("hostIPC", Allowed::Bool(false), RESTRICTED),
    field(
        "priorityClassName",
        Allowed::NotPrefixed("system-"),
        PLACEMENT,
    ),
    any("activeDeadlineSeconds"),
    any("affinity"),
    any("dnsConfig"),
    any("dnsPolicy"),
    any("enableServiceLinks"),
    any("hostAliases"),
    any("hostname"),
    any("subdomain"),
    any("imagePullSecrets"),
    any("nodeSelector"),
    any("preemptionPolicy"),
    any("readinessGates"),
    any("restartPolicy"),
    any("runtimeClassName"),
    any("setHostnameAsFQDN"),
    any("shareProcessNamespace"),
    any("terminationGracePeriodSeconds"),
    any("tolerations"),
    any("topologySpreadConstraints"),
];

/// A pod template's or pod's `metadata` fields the profile looks at.
pub const POD_METADATA: &[Field] = &[field("annotations", Allowed::PodAnnotations, RESTRICTED)];

/// AppArmor profile annotations (one per container), and the values a
/// lease pod may give them.
pub const APPARMOR_ANNOTATION_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";

/// The seccomp annotations of clusters before `seccompProfile` (pod, and
/// one per container).
pub const SECCOMP_ANNOTATIONS: [&str; 2] = [
    "seccomp.security.alpha.kubernetes.io/pod",
    "container.seccomp.security.alpha.kubernetes.io/",
];

/// True when an AppArmor or seccomp annotation value confines the pod.
pub fn confined_profile(value: &str) -> bool {
    value == "runtime/default" || value == "docker/default" || value.starts_with("localhost/")
}

/// The fields of a claim spec that bind an existing volume.
pub const CLAIM_BINDING_FIELDS: [&str; 2] = ["volumeName", "selector"];
