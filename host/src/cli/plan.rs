//! `leasebox plan --config FILE`: every manifest acquire would apply, as a
//! Kubernetes `List` (JSON) or multi-document YAML. No cluster is needed;
//! the same `--lease-id` and `--now` give byte-identical output.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, anyhow};
use serde_json::{Value, json};

use super::exit::{CliError, Outcome};
use super::module::{PolicyArgs, offline_env, read_config};
use super::validate::{issues_json, report_json, write_json};
use crate::lease_id;
use crate::runtime::types::{Command, LeaseRequest, PolicyError};

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
    /// Tenant identifier; selects the tenant namespace.
    #[arg(long, value_name = "ID", default_value = "default")]
    pub company_id: String,
    /// The platform's run identifier (a label value); default: the lease id.
    #[arg(long, value_name = "ID")]
    pub run_id: Option<String>,
    /// Lease id (`lb-` + 26-char lowercase ULID); default: a new one.
    #[arg(long, value_name = "ID")]
    pub lease_id: Option<String>,
    /// Current time (RFC 3339, UTC); default: now.
    #[arg(long, value_name = "RFC3339")]
    pub now: Option<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "json")]
    pub format: Format,
    /// Adapter of this run, overriding `adapterType`.
    #[arg(long, value_name = "TYPE")]
    pub adapter_type: Option<String>,
    /// Image of this run; must match `imageAllowList`.
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
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
    Ok(LeaseRequest {
        config,
        company_id: args.company_id.clone(),
        run_id: args.run_id.clone().unwrap_or_else(|| lease_id.clone()),
        lease_id,
        now,
        adapter_type: args.adapter_type.clone(),
        image_override: args.image.clone(),
        command: if args.command.is_empty() {
            None
        } else {
            Some(Command::Argv(args.command.clone()))
        },
    })
}

/// The current time, UTC, to the second (`2025-01-02T03:04:05Z`).
fn now_rfc3339() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let seconds = i64::try_from(seconds).unwrap_or(i64::MAX);
    jiff::Timestamp::from_second(seconds)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_string()
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_is_rfc3339_utc_to_the_second() {
        let now = now_rfc3339();
        assert_eq!(now.len(), "2025-01-02T03:04:05Z".len(), "{now}");
        assert!(now.ends_with('Z'));
    }
}
