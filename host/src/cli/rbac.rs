//! `leasebox rbac`: prints the host's RBAC (`deploy/rbac.yaml`), derived
//! from the grants table the capability guard enforces.

use std::io::Write;

use super::exit::{CliError, Outcome};

/// Flags of `rbac` (none).
#[derive(Debug, Clone, clap::Args)]
pub struct Args {}

/// Prints the YAML document stream.
pub fn run(_args: &Args, out: &mut dyn Write) -> Result<u8, CliError> {
    out.write_all(crate::cluster::grants::rbac_yaml().as_bytes())?;
    Ok(Outcome::Success.code())
}
