//! What a lease is for (tenant, run, adapter, image), shared by `plan`,
//! `acquire` and `run`, and the request the flags make.

use crate::runtime::types::{Command, LeaseRequest};

/// What a lease is for: tenant, run, adapter, image.
#[derive(Debug, Clone, clap::Args)]
pub struct LeaseArgs {
    /// Tenant identifier; selects the tenant namespace.
    #[arg(long, value_name = "ID", default_value = "default")]
    pub company_id: String,
    /// The platform's run identifier (a label value); default: the lease id.
    #[arg(long, value_name = "ID")]
    pub run_id: Option<String>,
    /// Adapter of this run, overriding `adapterType`.
    #[arg(long, value_name = "TYPE")]
    pub adapter_type: Option<String>,
    /// Image of this run; must match `imageAllowList`.
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
}

impl LeaseArgs {
    /// The lease request for `config`, lease `lease_id` at `now`, with the
    /// `job` backend's `command` (none when empty).
    pub fn request(
        &self,
        config: String,
        lease_id: &str,
        now: String,
        command: &[String],
    ) -> LeaseRequest {
        LeaseRequest {
            config,
            company_id: self.company_id.clone(),
            run_id: self.run_id.clone().unwrap_or_else(|| lease_id.to_string()),
            lease_id: lease_id.to_string(),
            now,
            adapter_type: self.adapter_type.clone(),
            image_override: self.image.clone(),
            command: (!command.is_empty()).then(|| Command::Argv(command.to_vec())),
        }
    }
}

pub use crate::clock::now_rfc3339;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_is_rfc3339_utc_to_the_second() {
        let now = now_rfc3339();
        assert_eq!(now.len(), "2025-01-02T03:04:05Z".len(), "{now}");
        assert!(now.ends_with('Z'));
    }

    #[test]
    fn run_id_defaults_to_the_lease_id_and_empty_command_is_none() {
        let args = LeaseArgs {
            company_id: "acme".into(),
            run_id: None,
            adapter_type: None,
            image: None,
        };
        let request = args.request("{}".into(), "lb-x", "t".into(), &[]);
        assert_eq!(request.run_id, "lb-x");
        assert!(request.command.is_none());
    }
}
