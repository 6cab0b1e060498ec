//! What every command that runs the policy shares: the `--policy` flag,
//! loading the module, the logger, and reading the configuration file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;

use super::exit::CliError;
use crate::contract::LogLevel;
use crate::runtime::{Logger, Policy, Runtime};

/// Environment variable that makes the CLI print the module's debug messages.
const LOG_ENV: &str = "LEASEBOX_LOG";

/// The `--policy` flag.
#[derive(Debug, Clone, clap::Args)]
pub struct PolicyArgs {
    /// Run this policy module (a wasm32-wasip2 component for
    /// leasebox:provider@0.2 or @0.1) instead of the built-in one.
    #[arg(long, value_name = "FILE.wasm")]
    pub policy: Option<PathBuf>,
}

impl PolicyArgs {
    /// Compiles (or loads from the cache) and links the chosen module.
    pub fn load(&self) -> Result<Policy, CliError> {
        let runtime = Runtime::new().map_err(CliError::unusable)?;
        let policy = match &self.policy {
            Some(path) => runtime.load_file(path),
            None => runtime.load_default(),
        }
        .map_err(CliError::unusable)?;
        if let Some(error) = policy.cache_error() {
            eprintln!("warning: {error}");
        }
        Ok(policy)
    }
}

/// Prints `[level] context: message` on stderr; debug messages only with
/// `LEASEBOX_LOG=debug`.
pub fn stderr_logger() -> Logger {
    let debug = std::env::var(LOG_ENV).is_ok_and(|v| v.eq_ignore_ascii_case("debug"));
    Arc::new(move |level, context, message| {
        if matches!(level, LogLevel::Debug) && !debug {
            return;
        }
        eprintln!("[{level}] {context}: {message}");
    })
}

/// Reads a configuration file and checks that it is JSON; returns its text.
pub fn read_config(path: &Path) -> Result<String, CliError> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read the configuration file {}", path.display()))
        .map_err(CliError::unusable)?;
    serde_json::from_str::<serde_json::Value>(&text)
        .with_context(|| {
            format!(
                "the configuration file {} is not JSON; write the configuration as a JSON object",
                path.display()
            )
        })
        .map_err(CliError::unusable)?;
    Ok(text)
}
