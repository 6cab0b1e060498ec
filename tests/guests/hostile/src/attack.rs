//! The attacks, one function each, chosen by name from the configuration
//! document. Each returns what the host answered: refused with `denied`
//! (the attack failed, as it should), refused otherwise, or let through
//! (with what the module got: the object, the secret data, the output).
//! A read that the host narrowed instead of refusing is `contained` when
//! it returned nothing outside the attacker's own namespaces.
//!
//! The attacks of the 0.2 red team (issue 29) are in their own files:
//! pods outside the restricted profile ([`profile`]), other tenants' and
//! other leases' objects and leasebox's own marks ([`tenant`]), and
//! cluster-wide reads ([`listing`]).

mod listing;
mod profile;
mod tenant;

use serde_json::{Value, json};

use crate::bindings::leasebox::provider::kube::{
    self, ExecSpec, HostSecretRequest, KubeError, WatchRequest,
};
use crate::bindings::leasebox::provider::logging::{self, Level};
use crate::bindings::leasebox::provider::types::ObjectRef;

/// Image of the attack pods (preloaded on the k8s-real test cluster).
const POD_IMAGE: &str = "busybox:k8s-real";

/// Bytes `alloc-4gib` asks for, in chunks of [`ALLOC_CHUNK`]: the whole
/// 32-bit address space, far beyond any memory cap.
const ALLOC_TOTAL: u64 = 4 << 30;

/// One allocation of `alloc-4gib` (4 GiB does not fit one `usize` on
/// wasm32).
const ALLOC_CHUNK: usize = 64 << 20;

/// How long `watch-secrets` waits for the first event, in milliseconds.
const WATCH_WAIT_MS: u64 = 2000;

/// How long `exec-pod` waits for output and the exit, in milliseconds.
const EXEC_WAIT_MS: u64 = 10_000;

/// Every attack, by the name the configuration uses.
pub const ATTACKS: &[&str] = &[
    "none",
    "read-secret",
    "list-secrets",
    "watch-secrets",
    "write-kube-system",
    "label-default",
    "cluster-role",
    "cluster-role-binding",
    "role-wildcard",
    "rolebinding-to-clusterrole",
    "privileged-pod",
    "hostpath-pod",
    "hostnetwork-pod",
    "exec-pod",
    "host-key",
    "alloc-4gib",
    "loop-forever",
    "block-in-watch",
    // Pods outside the restricted profile (`profile`).
    "gitrepo-volume",
    "automount-token",
    "projected-token",
    "csi-secret",
    "cephfs-secret",
    "host-port",
    "node-name",
    "system-priority",
    "root-unconfined",
    "pvc-volume-name",
    "gitrepo-job",
    "init-privileged",
    "apparmor-unconfined",
    "ephemeral-volume-name",
    "probe-host",
    "lifecycle-host",
    "foreign-lease-claim",
    // Other tenants, other leases, leasebox's marks (`tenant`).
    "foreign-secret-pod",
    "foreign-secret-ref",
    "exec-foreign-lease",
    "logs-foreign-lease",
    "list-foreign-pods",
    "read-foreign-pod",
    "delete-foreign-pod",
    "delete-foreign-deny-all",
    "foreign-lease-pod",
    "foreign-open-ingress",
    "foreign-quota",
    "foreign-deny-all",
    "foreign-host-secret",
    "decoy-pod",
    "forge-lease-label",
    "forge-company-mark",
    "forge-pod-company",
    "forge-module-mark",
    "forge-pod-security",
    "egress-kube-system",
    // Cluster-wide reads (`listing`).
    "list-namespaces",
    "watch-namespaces",
    "list-pods",
    "watch-all-pods",
    "watch-foreign-pods",
];

/// How the host answered one attack.
pub enum Verdict {
    /// Nothing was attempted (`none`).
    Nothing,
    /// The host refused; `variant` is the kebab name of the `kube-error`.
    Refused {
        variant: &'static str,
        message: String,
    },
    /// The host let it through; what the module got.
    Succeeded(String),
    /// The host answered a read, but with nothing outside the attacker's
    /// own namespaces; what the module got.
    Contained(String),
    /// The configuration did not say enough to attack.
    BadConfig(String),
}

impl Verdict {
    /// True when the attack failed: the host refused with `denied`, or
    /// narrowed a read to the attacker's own namespaces (or nothing was
    /// attempted).
    pub fn held(&self) -> bool {
        matches!(
            self,
            Verdict::Nothing
                | Verdict::Contained(_)
                | Verdict::Refused {
                    variant: "denied",
                    ..
                }
        )
    }

    /// `<variant>: <message>`, `contained: <what was read>`, or
    /// `ok: <what succeeded>`.
    pub fn detail(&self) -> String {
        match self {
            Verdict::Nothing => "ok: nothing attempted".to_string(),
            Verdict::Contained(what) => format!("contained: {what}"),
            Verdict::Refused { variant, message } => format!("{variant}: {message}"),
            Verdict::Succeeded(what) => format!("ok: {what}"),
            Verdict::BadConfig(message) => format!("bad-config: {message}"),
        }
    }
}

/// The kebab name of a `kube-error` case and its message.
fn refused(error: KubeError) -> Verdict {
    let (variant, message) = match error {
        KubeError::NoCluster(m) => ("no-cluster", m),
        // Rendered as the 0.1 contract's message was: `rule `<rule>`: ...`.
        KubeError::Denied(d) => ("denied", format!("rule `{}`: {}", d.rule, d.message)),
        KubeError::NotFound(m) => ("not-found", m),
        KubeError::Conflict(m) => ("conflict", m),
        KubeError::Forbidden(m) => ("forbidden", m),
        KubeError::Invalid(m) => ("invalid", m),
        KubeError::Gone(m) => ("gone", m),
        KubeError::TimedOut(m) => ("timed-out", m),
        KubeError::Transport(m) => ("transport", m),
        KubeError::BadArgument(m) => ("bad-argument", m),
        KubeError::Cancelled(m) => ("cancelled", m),
    };
    Verdict::Refused { variant, message }
}

fn verdict(result: Result<String, KubeError>) -> Verdict {
    match result {
        Ok(what) => Verdict::Succeeded(what),
        Err(error) => refused(error),
    }
}

/// Where the module attacks from: the company and the lease of the call
/// that runs it, as the host gave them to the export (`probe` has a
/// company only; `acquire-lease` has both, the strongest position).
#[derive(Debug, Clone, Default)]
pub struct Position {
    /// The calling company.
    pub company: String,
    /// The lease the host minted for the call, if the call has one.
    pub lease: Option<String>,
}

/// The parsed configuration document of an attack.
pub struct Order {
    /// Which attack.
    pub attack: String,
    config: Value,
    position: Position,
}

impl Order {
    /// Parses `config` for a call at `position`; a document that is not a
    /// JSON object with a string `attack` is a bad request.
    pub fn parse(config: &str, position: Position) -> Result<Order, String> {
        let config: Value = serde_json::from_str(config)
            .map_err(|e| format!("hostile guest: the configuration is not JSON: {e}"))?;
        let attack = config
            .get("attack")
            .and_then(Value::as_str)
            .ok_or("hostile guest: the configuration has no string `attack`")?
            .to_string();
        if !ATTACKS.contains(&attack.as_str()) {
            return Err(format!(
                "hostile guest: unknown attack `{attack}`; one of {ATTACKS:?}"
            ));
        }
        Ok(Order {
            attack,
            config,
            position,
        })
    }

    fn field(&self, name: &str) -> Result<String, Verdict> {
        self.config
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| {
                Verdict::BadConfig(format!("attack `{}` needs a string `{name}`", self.attack))
            })
    }

    /// An optional string field, `default` when absent.
    fn field_or(&self, name: &str, default: &str) -> String {
        self.config
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_string()
    }

    /// An optional list of strings; empty when absent.
    fn list_field(&self, name: &str) -> Vec<String> {
        self.config
            .get(name)
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Carries out the attack and logs what the host answered.
    pub fn run(&self) -> Verdict {
        let verdict = self.attack().unwrap_or_else(|bad| bad);
        let level = if verdict.held() {
            Level::Info
        } else {
            Level::Warn
        };
        let lease = self.position.lease.as_deref().unwrap_or("none");
        logging::log(
            level,
            "hostile",
            &format!(
                "{} (company {}, lease {lease}): {}",
                self.attack,
                self.position.company,
                verdict.detail()
            ),
        );
        verdict
    }

    fn attack(&self) -> Result<Verdict, Verdict> {
        Ok(match self.attack.as_str() {
            "none" => Verdict::Nothing,
            "read-secret" => read_secret(&self.field("namespace")?, &self.field("name")?),
            "list-secrets" => list_secrets(),
            "watch-secrets" => watch_secrets(&self.field("namespace")?),
            "write-kube-system" => apply(json!({
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": { "name": "hostile-deny-all", "namespace": "kube-system" },
                "spec": { "podSelector": {}, "policyTypes": ["Ingress", "Egress"] }
            })),
            "label-default" => apply(json!({
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": { "name": "default", "labels": { "pwned": "yes" } }
            })),
            "cluster-role" => apply(json!({
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": { "name": "hostile-cluster-role" },
                "rules": [{ "apiGroups": ["*"], "resources": ["*"], "verbs": ["*"] }]
            })),
            "cluster-role-binding" => {
                let namespace = self.field("namespace")?;
                apply(json!({
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "ClusterRoleBinding",
                    "metadata": { "name": "hostile-cluster-role-binding" },
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "ClusterRole",
                        "name": "cluster-admin"
                    },
                    "subjects": [{ "kind": "ServiceAccount", "name": "default", "namespace": namespace }]
                }))
            }
            "role-wildcard" => apply(json!({
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": { "name": "hostile-role-wildcard", "namespace": self.field("namespace")? },
                "rules": [{ "apiGroups": ["*"], "resources": ["*"], "verbs": ["*"] }]
            })),
            "rolebinding-to-clusterrole" => {
                let namespace = self.field("namespace")?;
                apply(json!({
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "RoleBinding",
                    "metadata": { "name": "hostile-rolebinding-to-clusterrole", "namespace": namespace },
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "ClusterRole",
                        "name": "cluster-admin"
                    },
                    "subjects": [{ "kind": "ServiceAccount", "name": "default", "namespace": namespace }]
                }))
            }
            "privileged-pod" => apply(pod(
                &self.position,
                "privileged-pod",
                &self.field("namespace")?,
                json!({ "containers": [container(json!({ "securityContext": { "privileged": true } }))] }),
            )),
            "hostpath-pod" => apply(pod(
                &self.position,
                "hostpath-pod",
                &self.field("namespace")?,
                json!({
                    "volumes": [{ "name": "root", "hostPath": { "path": "/" } }],
                    "containers": [container(json!({
                        "volumeMounts": [{ "name": "root", "mountPath": "/host" }]
                    }))]
                }),
            )),
            "hostnetwork-pod" => apply(pod(
                &self.position,
                "hostnetwork-pod",
                &self.field("namespace")?,
                json!({ "hostNetwork": true, "containers": [container(json!({}))] }),
            )),
            "exec-pod" => exec_pod(
                &self.field("namespace")?,
                &self.field("pod")?,
                &self.field("container")?,
                &["cat", "/etc/hostname"],
            ),
            "host-key" => host_key(&self.field("namespace")?),
            "alloc-4gib" => alloc_4gib(),
            "loop-forever" => loop_forever(),
            "block-in-watch" => block_in_watch(&self.field("namespace")?),
            other => match profile::attack(self, other)? {
                Some(verdict) => verdict,
                None => match tenant::attack(self, other)? {
                    Some(verdict) => verdict,
                    None => listing::attack(self, other)?
                        .unwrap_or_else(|| Verdict::BadConfig(format!("unknown attack `{other}`"))),
                },
            },
        })
    }
}

fn apply(manifest: Value) -> Verdict {
    verdict(kube::apply(&manifest.to_string()))
}

/// A Pod of the call's lease (`<lease>-<attack>`, else `hostile-<attack>`)
/// in `namespace` with `spec`.
fn pod(position: &Position, attack: &str, namespace: &str, spec: Value) -> Value {
    let name = match &position.lease {
        Some(lease) => format!("{lease}-{attack}"),
        None => format!("hostile-{attack}"),
    };
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": profile::lease_labels(position.lease.as_deref())
        },
        "spec": spec
    })
}

/// The attack pods' container, with `extra` fields merged in.
fn container(extra: Value) -> Value {
    let mut container = json!({
        "name": "main",
        "image": POD_IMAGE,
        "command": ["sleep", "3600"]
    });
    if let (Some(base), Value::Object(extra)) = (container.as_object_mut(), extra) {
        base.extend(extra);
    }
    container
}

fn secret_ref(namespace: &str, name: &str) -> ObjectRef {
    core_ref("Secret", namespace, name)
}

/// A v1 object `kind` `namespace`/`name`.
fn core_ref(kind: &str, namespace: &str, name: &str) -> ObjectRef {
    ObjectRef {
        api_version: "v1".to_string(),
        kind: kind.to_string(),
        namespace: Some(namespace.to_string()),
        name: name.to_string(),
        uid: None,
    }
}

fn read_secret(namespace: &str, name: &str) -> Verdict {
    match kube::get(&secret_ref(namespace, name)) {
        Ok(Some(secret)) => Verdict::Succeeded(secret),
        Ok(None) => Verdict::Succeeded(format!("Secret {namespace}/{name} does not exist")),
        Err(error) => refused(error),
    }
}

fn list_secrets() -> Verdict {
    match kube::list_objects("v1", "Secret", None, "") {
        Ok(items) => Verdict::Succeeded(format!("{} secrets: [{}]", items.len(), items.join(","))),
        Err(error) => refused(error),
    }
}

fn watch_secrets(namespace: &str) -> Verdict {
    let watch = match kube::open_watch(&WatchRequest {
        api_version: "v1".to_string(),
        kind: "Secret".to_string(),
        namespace: namespace.to_string(),
        label_selector: String::new(),
        field_selector: String::new(),
    }) {
        Ok(watch) => watch,
        Err(error) => return refused(error),
    };
    match watch.next(WATCH_WAIT_MS) {
        Ok(Some(event)) => Verdict::Succeeded(event.object),
        Ok(None) => Verdict::Succeeded(format!("watch opened in {namespace}, no event")),
        Err(error) => refused(error),
    }
}

/// Runs `argv` in `namespace`/`pod`/`container`; what it printed.
fn exec_pod(namespace: &str, pod: &str, container: &str, argv: &[&str]) -> Verdict {
    let session = match kube::exec(&ExecSpec {
        namespace: namespace.to_string(),
        pod: pod.to_string(),
        container: container.to_string(),
        argv: argv.iter().map(|a| a.to_string()).collect(),
        stdin: false,
        forward_output: false,
        forward_stdin: false,
        frame_stdin: false,
        tty: None,
        max_stdout_bytes: None,
        max_stderr_bytes: None,
    }) {
        Ok(session) => session,
        Err(error) => return refused(error),
    };
    let mut output = Vec::new();
    loop {
        match session.read(EXEC_WAIT_MS) {
            Ok(Some(chunk)) => output.extend(chunk.data),
            Ok(None) => break,
            Err(error) => return refused(error),
        }
    }
    let code = match session.wait(EXEC_WAIT_MS) {
        Ok(Some(status)) => format!("{:?}", status.exit_code),
        Ok(None) => "still running".to_string(),
        Err(error) => return refused(error),
    };
    Verdict::Succeeded(format!(
        "exec in {namespace}/{pod} printed {:?} (exit {code})",
        String::from_utf8_lossy(&output)
    ))
}

fn host_key(namespace: &str) -> Verdict {
    let manifest = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": { "name": "hostile-env", "namespace": namespace }
    });
    let filled = match kube::apply_host_secret(&HostSecretRequest {
        manifest: manifest.to_string(),
        random_keys: Vec::new(),
        host_keys: vec!["AWS_SECRET_ACCESS_KEY".to_string()],
        literal: Vec::new(),
    }) {
        Ok((_, filled)) => filled,
        Err(error) => return refused(error),
    };
    // The values never entered guest memory, but the module may read the
    // Secret back.
    let data = match kube::get(&secret_ref(namespace, "hostile-env")) {
        Ok(secret) => secret.unwrap_or_default(),
        Err(error) => return refused(error),
    };
    Verdict::Succeeded(format!("filled {filled:?}; read back {data}"))
}

fn alloc_4gib() -> Verdict {
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    let mut total: u64 = 0;
    while total < ALLOC_TOTAL {
        let mut chunk = vec![0u8; ALLOC_CHUNK];
        // Touch every page so nothing is left lazily unmapped.
        for page in chunk.iter_mut().step_by(4096) {
            *page = 1;
        }
        chunks.push(std::hint::black_box(chunk));
        total += ALLOC_CHUNK as u64;
    }
    Verdict::Succeeded(format!(
        "allocated {} bytes",
        std::hint::black_box(chunks).len() as u64 * ALLOC_CHUNK as u64
    ))
}

fn loop_forever() -> Verdict {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

fn block_in_watch(namespace: &str) -> Verdict {
    let watch = match kube::open_watch(&WatchRequest {
        api_version: "v1".to_string(),
        kind: "Pod".to_string(),
        namespace: namespace.to_string(),
        label_selector: String::new(),
        field_selector: String::new(),
    }) {
        Ok(watch) => watch,
        Err(error) => return refused(error),
    };
    loop {
        let _ = std::hint::black_box(watch.next(u64::MAX));
    }
}
