//! What a lease is for (tenant, run, adapter, image), shared by `plan`,
//! `acquire` and `run`.

use crate::lifecycle::LeaseSpec;

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
    /// What the lease is for: `config`, with the `job` backend's `command`
    /// (none when empty), starting now.
    pub fn spec(&self, config: String, command: &[String]) -> LeaseSpec {
        LeaseSpec {
            config,
            company_id: self.company_id.clone(),
            run_id: self.run_id.clone(),
            adapter_type: self.adapter_type.clone(),
            image: self.image.clone(),
            command: command.to_vec(),
            now: None,
        }
    }
}
