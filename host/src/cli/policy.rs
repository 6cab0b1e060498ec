//! `leasebox policy inspect FILE.wasm`: what a module is (contract
//! version, size, SHA-256) and whether this host loads it.

use std::io::Write;
use std::path::PathBuf;

use serde_json::json;
use sha2::Digest;

use super::exit::{CliError, Outcome};
use super::validate::write_json;
use crate::runtime::{ModuleFileError, Runtime};

/// Subcommands of `policy`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Print a module's contract version, size and SHA-256, and whether it
    /// loads (JSON).
    Inspect {
        /// The module.
        #[arg(value_name = "FILE.wasm")]
        module: PathBuf,
    },
}

/// Flags of `policy`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Prints the report; exit 0 when the module loads, 1 when it does not (a
/// file that is not WebAssembly among them), 2 when the file cannot be read
/// (missing, not a regular file, over the size cap).
pub fn run(args: &Args, out: &mut dyn Write) -> Result<u8, CliError> {
    let Command::Inspect { module } = &args.command;
    let bytes = crate::runtime::read_module_file(module).map_err(|e| {
        let error = anyhow::anyhow!("cannot read {}: {e}", module.display());
        match e {
            ModuleFileError::NotWasm => CliError::rejected(error),
            _ => CliError::unusable(error),
        }
    })?;
    let sha256 = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    let runtime = Runtime::new().map_err(CliError::unusable)?;
    let loaded = runtime.load(&module.display().to_string(), &bytes);
    let report = json!({
        "path": module.display().to_string(),
        "sizeBytes": bytes.len(),
        "sha256": sha256,
        "loads": loaded.is_ok(),
        "contract": loaded.as_ref().ok().map(|p| p.contract().version()),
        "error": loaded.as_ref().err().map(|e| e.to_string()),
    });
    write_json(out, &report)?;
    Ok(if loaded.is_ok() {
        Outcome::Success
    } else {
        Outcome::Rejected
    }
    .code())
}
