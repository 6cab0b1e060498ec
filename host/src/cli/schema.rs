//! `leasebox schema`: the JSON Schema of the configuration, from the
//! policy module's `config-schema`.

use std::io::Write;

use super::cluster::Session;
use super::exit::{CliError, Outcome};
use super::module::PolicyArgs;
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
    let session = Session::offline(&args.policy)?;
    let schema = session
        .lifecycle()
        .schema(&session.context())
        .map_err(CliError::unusable)?;
    write_json(out, &schema)?;
    Ok(Outcome::Success)
}
