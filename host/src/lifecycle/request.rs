//! What a front end asks for, in the host's words: the lease a platform
//! wants and the command it runs. The lifecycle turns them into the
//! contract's `lease-request` and `exec-request`, here and nowhere else.

use std::time::Duration;

use crate::clock::now_rfc3339;
use crate::contract::{Command, EnvVar, ExecRequest, Lease, LeaseRequest};

/// What a lease is for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaseSpec {
    /// The configuration document (JSON text).
    pub config: String,
    /// The tenant; selects the tenant namespace.
    pub company_id: String,
    /// The platform's run id; default: the lease id.
    pub run_id: Option<String>,
    /// The adapter of this run, overriding the configuration's.
    pub adapter_type: Option<String>,
    /// The image of this run; must match the allow-list.
    pub image: Option<String>,
    /// The command a `job` backend runs (none when empty).
    pub command: Vec<String>,
    /// The time the lease starts; default: now.
    pub now: Option<String>,
}

/// The company of a lease or a probe when the caller names none.
pub const DEFAULT_COMPANY: &str = "default";

impl LeaseSpec {
    /// The contract's request for lease `lease_id`.
    pub fn request(&self, lease_id: &str) -> LeaseRequest {
        LeaseRequest {
            config: self.config.clone(),
            company_id: self.company_id.clone(),
            run_id: self.run_id.clone().unwrap_or_else(|| lease_id.to_string()),
            lease_id: lease_id.to_string(),
            now: self.now.clone().unwrap_or_else(now_rfc3339),
            adapter_type: self.adapter_type.clone(),
            image_override: self.image.clone(),
            command: (!self.command.is_empty()).then(|| Command::Argv(self.command.clone())),
        }
    }
}

/// A command to run in a lease, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSpec {
    /// The command: an argv, or a script for the image's shell.
    pub command: Command,
    /// The working directory; default: the workspace.
    pub cwd: Option<String>,
    /// Environment variables on top of the lease's, in order.
    pub env: Vec<(String, String)>,
    /// The command's own timeout; none: as long as the operator allows.
    pub timeout: Option<Duration>,
    /// The caller's stdin is forwarded to the command.
    pub forward_stdin: bool,
    /// Output kept of stdout and stderr; none: the module's default.
    pub max_stdout_bytes: Option<u64>,
    /// See `max_stdout_bytes`.
    pub max_stderr_bytes: Option<u64>,
}

impl CommandSpec {
    /// The contract's request to run this command in `lease`.
    pub fn request(&self, lease: Lease) -> ExecRequest {
        ExecRequest {
            lease,
            command: self.command.clone(),
            cwd: self.cwd.clone(),
            env: env_vars(&self.env),
            forward_stdin: self.forward_stdin,
            timeout_ms: self
                .timeout
                .map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX)),
            max_stdout_bytes: self.max_stdout_bytes,
            max_stderr_bytes: self.max_stderr_bytes,
        }
    }
}

/// Environment variables as the contract's records, in order.
pub fn env_vars(env: &[(String, String)]) -> Vec<EnvVar> {
    env.iter()
        .map(|(name, value)| EnvVar {
            name: name.clone(),
            value: value.clone(),
        })
        .collect()
}

/// Which lease a call is about: found again by its id (and namespace,
/// when the caller knows it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The lease id.
    pub lease_id: String,
    /// Its namespace; none: looked up by the id.
    pub namespace: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_id_defaults_to_the_lease_id_and_an_empty_command_is_none() {
        let spec = LeaseSpec {
            config: "{}".into(),
            company_id: "acme".into(),
            ..LeaseSpec::default()
        };
        let request = spec.request("lb-x");
        assert_eq!(request.run_id, "lb-x");
        assert!(request.command.is_none());
        assert_eq!(request.now.len(), "2025-01-02T03:04:05Z".len());
    }

    #[test]
    fn a_command_timeout_crosses_in_milliseconds() {
        let spec = CommandSpec {
            command: Command::Argv(vec!["true".into()]),
            cwd: None,
            env: vec![("A".into(), "b=c".into())],
            timeout: Some(Duration::from_secs(3)),
            forward_stdin: false,
            max_stdout_bytes: None,
            max_stderr_bytes: None,
        };
        let request = spec.request(sample_lease());
        assert_eq!(request.timeout_ms, Some(3000));
        assert_eq!(request.env[0].value, "b=c");
    }

    fn sample_lease() -> Lease {
        Lease {
            id: "lb-x".into(),
            namespace: "leasebox-acme".into(),
            backend: crate::contract::Backend::Pod,
            workload: crate::contract::ObjectRef {
                api_version: "v1".into(),
                kind: "Pod".into(),
                namespace: Some("leasebox-acme".into()),
                name: "lb-x".into(),
                uid: None,
            },
            pod: "lb-x".into(),
            container: "sandbox".into(),
            secret: "lb-x".into(),
            company_id: "acme".into(),
            run_id: "lb-x".into(),
            adapter_type: "claude_local".into(),
            image: "busybox".into(),
            created_at: "2025-01-02T03:04:05Z".into(),
            expires_at: "2025-01-02T04:04:05Z".into(),
            module_sha256: String::new(),
        }
    }
}
