//! `leasebox schema`: the JSON Schema of the configuration, from the
//! policy module's `config-schema`.

use std::io::Write;

use super::exit::{CliError, Outcome};
use super::module::{PolicyArgs, offline_env};
use super::validate::write_json;

/// Flags of `schema`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Which policy module to run.
    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// Prints the schema (pretty JSON).
pub fn run(args: &Args, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let policy = args.policy.load()?;
    let schema = policy
        .config_schema(&offline_env())
        .map_err(CliError::unusable)?;
    let value: serde_json::Value = serde_json::from_str(&schema).map_err(|e| {
        CliError::unusable(anyhow::anyhow!(
            "the policy module {} returned a schema that is not JSON: {e}",
            policy.name()
        ))
    })?;
    write_json(out, &value)?;
    Ok(Outcome::Success)
}
