//! `leasebox validate --config FILE`: every problem of a configuration, and
//! the configuration with its defaults when there is none.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use serde_json::Value;

use super::cluster::{Session, failed};
use super::exit::{CliError, Outcome};
use super::module::{PolicyArgs, read_config};
use crate::contract::{Issue, ValidationReport};
use crate::render;

/// Flags of `validate`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The configuration file (JSON).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Which policy module to run.
    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// Prints `{"ok","errors","warnings","normalizedConfig"}`; exit 0 when
/// valid, 1 when not.
pub fn run(args: &Args, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let config = read_config(&args.config)?;
    let session = Session::offline(&args.policy)?;
    let report = session
        .lifecycle()
        .validate(&session.context(), &config)
        .map_err(CliError::unusable)?;
    let rendered = report_json(&report)?;
    write_json(out, &rendered)?;
    Ok(if report.ok {
        Outcome::Success
    } else {
        Outcome::Rejected
    })
}

/// The report as the JSON document `validate` prints.
pub(super) fn report_json(report: &ValidationReport) -> Result<Value, CliError> {
    render::validation_report(report).map_err(|e| CliError::unusable(anyhow::anyhow!(e)))
}

pub(super) use render::issues as issues_json;

/// The report of a configuration the module called invalid (`errors`):
/// its validation report (errors and warnings), as `validate` prints it,
/// or, when validation passes, the errors alone.
pub(super) fn invalid_report(
    session: &Session,
    config: &str,
    errors: &[Issue],
) -> Result<Value, CliError> {
    let report = session
        .lifecycle()
        .validate(&session.context(), config)
        .map_err(failed)?;
    if !report.ok {
        return report_json(&report);
    }
    Ok(serde_json::json!({
        "ok": false,
        "errors": issues_json(errors),
        "warnings": [],
        "normalizedConfig": null,
    }))
}

/// Pretty JSON and a newline.
pub(super) fn write_json(out: &mut dyn Write, value: &Value) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .context("failed to render JSON")
        .map_err(CliError::unusable)?;
    writeln!(out, "{text}")?;
    Ok(())
}
