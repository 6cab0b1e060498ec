//! `leasebox plan --config FILE`: every manifest acquire would apply, as a
//! Kubernetes `List` (JSON) or multi-document YAML. No cluster is needed;
//! the same `--lease-id` and `--now` give byte-identical output.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, anyhow};
use serde_json::{Value, json};

use super::cluster::Session;
use super::exit::{CliError, Outcome};
use super::lease_args::LeaseArgs;
use super::module::{PolicyArgs, read_config};
use super::validate::{invalid_report, write_json};
use crate::contract::PolicyError;
use crate::lifecycle::LifecycleError;

/// Output format of `plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A `v1` `List` of the manifests, pretty JSON.
    Json,
    /// One YAML document per manifest, separated by `---`.
    Yaml,
}

/// Flags of `plan`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The configuration file (JSON).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// What the lease is for.
    #[command(flatten)]
    pub lease: LeaseArgs,
    /// Lease id (`lb-` + 26-char lowercase ULID); default: a new one.
    #[arg(long, value_name = "ID")]
    pub lease_id: Option<String>,
    /// Current time (RFC 3339, UTC); default: now.
    #[arg(long, value_name = "RFC3339")]
    pub now: Option<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "json")]
    pub format: Format,
    /// Which policy module to run.
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// The command a `job` backend runs (after `--`).
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// Prints the plan; exit 1 with the validation report when the
/// configuration is invalid.
pub fn run(args: &Args, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let config = read_config(&args.config)?;
    let session = Session::offline(&args.policy)?;
    let mut spec = args.lease.spec(config, &args.command);
    spec.now = args.now.clone();
    let planned = session
        .lifecycle()
        .plan(&session.context(), &spec, args.lease_id.as_deref());
    let items = match planned {
        Ok(items) => items,
        Err(LifecycleError::Policy(refusal)) => match *refusal {
            PolicyError::InvalidConfig(errors) => {
                write_json(out, &invalid_report(&session, &spec.config, &errors)?)?;
                return Ok(Outcome::Rejected);
            }
            PolicyError::BadRequest(message) => {
                return Err(CliError::unusable(anyhow!("bad request: {message}")));
            }
            other => return Err(CliError::rejected(anyhow!("{}", describe(&other)))),
        },
        Err(other) => return Err(CliError::unusable(other)),
    };
    match args.format {
        Format::Json => write_json(
            out,
            &json!({"apiVersion": "v1", "kind": "List", "items": items}),
        )?,
        Format::Yaml => write_yaml(out, &items)?,
    }
    Ok(Outcome::Success)
}

/// One YAML document per manifest.
fn write_yaml(out: &mut dyn Write, items: &[Value]) -> Result<(), CliError> {
    for item in items {
        let text = serde_yaml::to_string(item)
            .context("failed to render YAML")
            .map_err(CliError::unusable)?;
        write!(out, "---\n{text}")?;
    }
    Ok(())
}

/// A policy refusal as one message.
fn describe(error: &PolicyError) -> String {
    match error {
        PolicyError::InvalidConfig(issues) => issues
            .iter()
            .map(|i| format!("{}: {}", i.path, i.message))
            .collect::<Vec<_>>()
            .join("; "),
        PolicyError::NotAllowed(message) => format!("not allowed: {message}"),
        PolicyError::Failed(failure) => {
            format!(
                "{} failed ({}): {}",
                failure.step, failure.reason, failure.message
            )
        }
        PolicyError::LeaseNotFound(message) => format!("lease not found: {message}"),
        PolicyError::BadRequest(message) => format!("bad request: {message}"),
        PolicyError::Cancelled(failure) => format!("cancelled: {}", failure.message),
    }
}
