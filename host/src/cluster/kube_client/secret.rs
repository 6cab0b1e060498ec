//! Host-filled Secrets: the policy module sends a Secret without values and
//! names the keys; the host fills them (random tokens, its own environment,
//! literals), applies the Secret, and hands back the stored object with every
//! value removed, so no policy module ever sees them.
//!
//! A Secret written again by the same host keeps the random values it was
//! given ([`RandomValues`]): acquire writes a lease's Secret before its
//! workload (so the container finds it) and again with the workload as its
//! owner, and the token the container read must stay the token stored.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::Ctx;
use super::objects::{apply, parse_manifest};
use crate::cluster::manifest::Manifest;
use crate::contract::{HostSecretRequest, KubeError};
use crate::locks::lock;

/// Names a directory of files, one per key (as a mounted Kubernetes Secret
/// or a secret store's sync leaves them): a host key is read from
/// `<dir>/<KEY>` first, then from the host's environment.
pub const SECRETS_DIR_ENV: &str = "LEASEBOX_SECRETS_DIR";

/// The host's value of `key`: the file `<dir>/<key>` when `dir` is given
/// and the file exists (one trailing newline dropped), else `env(key)`.
pub(crate) fn host_value(
    dir: Option<&std::path::Path>,
    key: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Option<String> {
    let from_file = dir
        .filter(|_| !key.contains('/') && !key.starts_with('.'))
        .and_then(|d| std::fs::read_to_string(d.join(key)).ok())
        .map(|v| v.strip_suffix('\n').map(str::to_string).unwrap_or(v));
    from_file.or_else(|| env(key))
}

/// Bytes of a random key (hex-encoded: twice as many characters).
const RANDOM_KEY_BYTES: usize = 32;

/// How long the random values of a Secret are kept for its next write.
const KEEP_RANDOM_VALUES: Duration = Duration::from_secs(600);

/// The random values this host made, per Secret (namespace, name) and key,
/// kept for [`KEEP_RANDOM_VALUES`] after they were made. Lease Secret
/// names are unique, so a value never goes to another lease's Secret.
#[derive(Debug, Default)]
pub(crate) struct RandomValues {
    made: Mutex<HashMap<RandomKey, (String, Instant)>>,
}

/// A random value's Secret namespace, Secret name and key.
type RandomKey = (String, String, String);

impl RandomValues {
    /// The value of `key` of Secret `namespace/name`: the one made before
    /// when it is recent enough, else a new one.
    fn value(&self, namespace: &str, name: &str, key: &str) -> Result<String, KubeError> {
        let now = Instant::now();
        let mut made = lock(&self.made);
        made.retain(|_, (_, at)| now.duration_since(*at) < KEEP_RANDOM_VALUES);
        let id = (namespace.to_string(), name.to_string(), key.to_string());
        if let Some((value, _)) = made.get(&id) {
            return Ok(value.clone());
        }
        let value = random_hex()?;
        made.insert(id, (value.clone(), now));
        Ok(value)
    }

    /// How many values are kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        lock(&self.made).len()
    }
}

/// Fills the manifest's `stringData` and returns it with the keys filled.
/// `env` reads the host environment (a parameter so tests need not set
/// process variables); missing or empty variables are skipped. Random
/// values come from `random` (the same for a Secret written again).
pub(crate) fn fill(
    request: &HostSecretRequest,
    env: impl Fn(&str) -> Option<String>,
    random: &RandomValues,
) -> Result<(Manifest, Vec<String>), KubeError> {
    let mut m = parse_manifest(&request.manifest)?;
    if m.api_version != "v1" || m.kind != "Secret" {
        return Err(KubeError::BadArgument(format!(
            "host secret: the manifest is a {} {}, expected a v1 Secret",
            m.api_version, m.kind
        )));
    }
    let mut values = Map::new();
    let mut filled = Vec::new();
    let namespace = m.namespace.clone().unwrap_or_default();
    for key in &request.random_keys {
        let value = random.value(&namespace, &m.name, key)?;
        values.insert(key.clone(), Value::String(value));
        filled.push(key.clone());
    }
    for key in &request.host_keys {
        if let Some(value) = env(key).filter(|v| !v.is_empty()) {
            values.insert(key.clone(), Value::String(value));
            filled.push(key.clone());
        }
    }
    for literal in &request.literal {
        values.insert(literal.name.clone(), Value::String(literal.value.clone()));
        filled.push(literal.name.clone());
    }
    if let Some(object) = m.value.as_object_mut() {
        object.remove("data");
        object.insert("stringData".into(), Value::Object(values));
    }
    let mut unique: Vec<String> = Vec::new();
    for key in filled {
        if !unique.contains(&key) {
            unique.push(key);
        }
    }
    Ok((m, unique))
}

/// The values this host filled into each Secret it wrote, kept for
/// [`KEEP_RANDOM_VALUES`]: what `hand-over-secret` writes into a claimed
/// pool pod, so the host never reads a Secret back (it holds no `get` on
/// Secrets, and a value someone else wrote into the Secret is never handed
/// over).
#[derive(Debug, Default)]
pub(crate) struct FilledValues {
    kept: Mutex<HashMap<SecretName, Filled>>,
}

/// A Secret's namespace and name.
type SecretName = (String, String);

/// The values filled into a Secret, and when.
type Filled = (Map<String, Value>, Instant);

impl FilledValues {
    /// Keeps the values written into Secret `namespace/name`.
    fn keep(&self, namespace: &str, name: &str, values: Map<String, Value>) {
        let now = Instant::now();
        let mut kept = lock(&self.kept);
        kept.retain(|_, (_, at)| now.duration_since(*at) < KEEP_RANDOM_VALUES);
        kept.insert((namespace.to_string(), name.to_string()), (values, now));
    }

    /// The values last written into Secret `namespace/name` by this host,
    /// when recent enough.
    pub(crate) fn get(&self, namespace: &str, name: &str) -> Option<Map<String, Value>> {
        let now = Instant::now();
        lock(&self.kept)
            .get(&(namespace.to_string(), name.to_string()))
            .filter(|(_, at)| now.duration_since(*at) < KEEP_RANDOM_VALUES)
            .map(|(values, _)| values.clone())
    }
}

/// 32 random bytes, lowercase hex.
fn random_hex() -> Result<String, KubeError> {
    let mut bytes = [0u8; RANDOM_KEY_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| {
        KubeError::Transport(format!("host secret: no random source for a token: {e}"))
    })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Removes `data` and `stringData` from a stored Secret.
pub(crate) fn strip_values(stored: &str) -> Result<String, KubeError> {
    let mut value: Value = serde_json::from_str(stored)
        .map_err(|e| KubeError::Transport(format!("host secret: unreadable stored secret: {e}")))?;
    if let Some(object) = value.as_object_mut() {
        object.remove("data");
        object.remove("stringData");
    }
    Ok(value.to_string())
}

/// Fills, applies and strips a host secret.
pub(crate) async fn apply_host_secret(
    ctx: &Ctx,
    request: &HostSecretRequest,
    env: impl Fn(&str) -> Option<String>,
) -> Result<(String, Vec<String>), KubeError> {
    let (manifest, filled) = fill(request, env, &ctx.random_values)?;
    let stored = apply(ctx, &manifest).await?;
    if let Some(values) = manifest.value.get("stringData").and_then(Value::as_object) {
        let namespace = manifest.namespace.as_deref().unwrap_or("");
        ctx.filled_values
            .keep(namespace, &manifest.name, values.clone());
    }
    Ok((strip_values(&stored)?, filled))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::EnvVar;

    fn request() -> HostSecretRequest {
        HostSecretRequest {
            manifest: r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"l-env","namespace":"t"},"data":{"X":"eA=="}}"#.into(),
            random_keys: vec!["TOKEN".into()],
            host_keys: vec!["API_KEY".into(), "MISSING".into(), "EMPTY".into()],
            literal: vec![EnvVar {
                name: "MODE".into(),
                value: "fast".into(),
            }],
        }
    }

    fn env(key: &str) -> Option<String> {
        match key {
            "API_KEY" => Some("sk-123".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn keys_are_filled_from_random_environment_and_literals() {
        let (m, filled) =
            fill(&request(), env, &RandomValues::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(filled, vec!["TOKEN", "API_KEY", "MODE"]);
        let data = &m.value["stringData"];
        assert_eq!(data["API_KEY"], "sk-123");
        assert_eq!(data["MODE"], "fast");
        let token = data["TOKEN"].as_str().unwrap_or_default();
        assert_eq!(token.len(), 64);
        assert!(token.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn missing_and_empty_host_variables_are_skipped() {
        let (m, filled) =
            fill(&request(), env, &RandomValues::default()).unwrap_or_else(|e| panic!("{e}"));
        assert!(!filled.contains(&"MISSING".to_string()));
        assert!(m.value["stringData"].get("EMPTY").is_none());
    }

    #[test]
    fn values_in_the_manifest_are_dropped() {
        let (m, _) =
            fill(&request(), env, &RandomValues::default()).unwrap_or_else(|e| panic!("{e}"));
        assert!(m.value.get("data").is_none());
    }

    #[test]
    fn a_secret_written_again_keeps_its_random_values() {
        let random = RandomValues::default();
        let token = |r: &HostSecretRequest| {
            fill(r, env, &random).map(|(m, _)| m.value["stringData"]["TOKEN"].clone())
        };
        let first = token(&request());
        assert!(first.is_ok());
        assert_eq!(token(&request()), first, "the same Secret keeps its token");
        let mut other = request();
        other.manifest = other.manifest.replace("l-env", "m-env");
        assert_ne!(token(&other), first, "another Secret gets its own");
        assert_eq!(random.len(), 2);
    }

    #[test]
    fn random_tokens_differ() {
        let a = fill(&request(), env, &RandomValues::default())
            .map(|(m, _)| m.value["stringData"]["TOKEN"].clone());
        let b = fill(&request(), env, &RandomValues::default())
            .map(|(m, _)| m.value["stringData"]["TOKEN"].clone());
        assert_ne!(a, b);
    }

    #[test]
    fn non_secret_manifest_is_refused() {
        let mut r = request();
        r.manifest = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}"#.into();
        assert!(matches!(
            fill(&r, env, &RandomValues::default()),
            Err(KubeError::BadArgument(_))
        ));
    }

    #[test]
    fn stored_secret_loses_its_values() {
        let stripped = strip_values(
            r#"{"kind":"Secret","data":{"A":"eA=="},"stringData":{"B":"y"},"type":"Opaque"}"#,
        );
        assert_eq!(
            stripped,
            Ok(r#"{"kind":"Secret","type":"Opaque"}"#.to_string())
        );
    }

    #[test]
    fn host_keys_come_from_the_secrets_dir_before_the_environment() {
        let dir = std::env::temp_dir().join(format!("leasebox-secrets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join("API_KEY"), "from-file\n").expect("write");
        let env = |k: &str| (k == "API_KEY" || k == "OTHER").then(|| format!("env-{k}"));
        assert_eq!(
            host_value(Some(&dir), "API_KEY", env).as_deref(),
            Some("from-file")
        );
        assert_eq!(
            host_value(Some(&dir), "OTHER", env).as_deref(),
            Some("env-OTHER")
        );
        assert_eq!(
            host_value(None, "API_KEY", env).as_deref(),
            Some("env-API_KEY")
        );
        assert_eq!(host_value(Some(&dir), "../API_KEY", env), None);
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
