//! `leasebox plan --config FILE`: every manifest acquire would apply, as a
//! Kubernetes `List` (JSON) or multi-document YAML. No cluster is needed;
//! the same `--lease-id` and `--now` give byte-identical output.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, anyhow};
use serde_json::{Value, json};

use super::exit::{CliError, Outcome};
use super::lease_args::{LeaseArgs, now_rfc3339};
use super::module::{PolicyArgs, offline_env, read_config};
use super::validate::{issues_json, report_json, write_json};
use crate::lease_id;
use crate::runtime::types::{LeaseRequest, PolicyError};

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
    let policy = args.policy.load()?;
    let env = offline_env();

    let report = policy
        .validate_config(&env, &config)
        .map_err(CliError::unusable)?;
    if !report.ok {
        write_json(out, &report_json(&report)?)?;
        return Ok(Outcome::Rejected);
    }

    let request = request(args, config)?;
    let manifests = match policy.plan(&env, &request).map_err(CliError::unusable)? {
        Ok(manifests) => manifests,
        Err(PolicyError::InvalidConfig(errors)) => {
            let report = json!({
                "ok": false,
                "errors": issues_json(&errors),
                "warnings": [],
                "normalizedConfig": null,
            });
            write_json(out, &report)?;
            return Ok(Outcome::Rejected);
        }
        Err(PolicyError::BadRequest(message)) => {
            return Err(CliError::unusable(anyhow!("bad request: {message}")));
        }
        Err(other) => return Err(CliError::rejected(anyhow!("{}", describe(&other)))),
    };

    let items = manifests
        .iter()
        .enumerate()
        .map(|(i, text)| {
            serde_json::from_str::<Value>(text).with_context(|| {
                format!("the policy module returned manifest #{i} that is not JSON")
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(CliError::unusable)?;
    match args.format {
        Format::Json => write_json(
            out,
            &json!({"apiVersion": "v1", "kind": "List", "items": items}),
        )?,
        Format::Yaml => write_yaml(out, &items)?,
    }
    Ok(Outcome::Success)
}

/// The lease request of the flags, with a minted lease id and the current
/// time where the flags give none.
fn request(args: &Args, config: String) -> Result<LeaseRequest, CliError> {
    let lease_id = match &args.lease_id {
        Some(id) => id.clone(),
        None => lease_id::mint().map_err(CliError::unusable)?,
    };
    let now = match &args.now {
        Some(now) => now.clone(),
        None => now_rfc3339(),
    };
    Ok(args.lease.request(config, &lease_id, now, &args.command))
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
