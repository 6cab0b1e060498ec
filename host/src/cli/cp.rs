//! `leasebox cp SRC DST`: files and trees between this machine and a lease,
//! `LEASE:PATH` on one side, as `kubectl cp` has it: into an existing
//! directory under the source's own name, as the destination itself
//! otherwise; modes and symbolic links kept (followed with `-L`),
//! `--exclude GLOB` repeatable. Prints what was copied (JSON); a terminal
//! on stderr sees the bytes go by.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::anyhow;
use serde_json::json;

use super::cluster::{ClusterArgs, LeaseTarget, failed};
use super::exit::{CliError, Outcome};
use super::validate::write_json;
use crate::files::Report;
use crate::lifecycle::{Download, Landing, Upload};

/// Flags of `cp`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// What to copy: a local path, or `LEASE:PATH` (an absolute path in the
    /// lease's sandbox).
    #[arg(value_name = "SRC")]
    pub source: String,
    /// Where to: `LEASE:PATH` when SRC is local, a local path when it is
    /// in a lease.
    #[arg(value_name = "DST")]
    pub destination: String,
    /// Leave out paths matching this glob (repeatable; matched against the
    /// path below the copy's top and against each name, so `node_modules`
    /// leaves it out at any depth).
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Copy what symbolic links point to instead of the links.
    #[arg(short = 'L', long)]
    pub follow_symlinks: bool,
    /// The lease's namespace; default: looked up by the lease id.
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
    /// The cluster and the policy module.
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// One side of a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Side {
    Local(PathBuf),
    Remote { lease: String, path: String },
}

/// `LEASE:PATH` when what is before the first `:` is a lease id; a local
/// path otherwise (so `./a:b` stays local).
fn side(text: &str) -> Side {
    match text.split_once(':') {
        Some((lease, path)) if crate::lease_id::is_valid(lease) => Side::Remote {
            lease: lease.to_string(),
            path: path.to_string(),
        },
        _ => Side::Local(PathBuf::from(text)),
    }
}

/// Copies; exit 0 with the counts (JSON) on stdout.
pub fn run(args: &Args, out: &mut dyn Write) -> Result<u8, CliError> {
    let (lease_id, upload, download) = match (side(&args.source), side(&args.destination)) {
        (Side::Local(local), Side::Remote { lease, path }) => {
            let upload = Upload {
                local,
                remote: path,
                mode: None,
                exclude: args.exclude.clone(),
                follow_symlinks: args.follow_symlinks,
                landing: Landing::IntoDirectory,
            };
            (lease, Some(upload), None)
        }
        (Side::Remote { lease, path }, Side::Local(local)) => {
            let download = Download {
                remote: path,
                local,
                mode: None,
                exclude: args.exclude.clone(),
                follow_symlinks: args.follow_symlinks,
                landing: Landing::IntoDirectory,
            };
            (lease, None, Some(download))
        }
        (Side::Local(_), Side::Local(_)) => {
            return Err(CliError::unusable(anyhow!(
                "cp: neither side names a lease; write one as LEASE:PATH (e.g. \
                 lb-01jdq7s5v8n3c2x9w4y6z0a1b2:/workspace/src)"
            )));
        }
        (Side::Remote { .. }, Side::Remote { .. }) => {
            return Err(CliError::unusable(anyhow!(
                "cp: both sides name a lease; copy to this machine first, then on"
            )));
        }
    };
    let target = LeaseTarget {
        lease: lease_id,
        namespace: args.namespace.clone(),
        cluster: args.cluster.clone(),
    };
    let (session, lease) = target.resume()?;
    let lease = lease.map_err(failed)?;
    let ctx = session.context();
    let progress = progress_meter();
    let report = match (upload, download) {
        (Some(upload), _) => session.lifecycle().put(&ctx, &lease, &upload, progress),
        (_, Some(download)) => session.lifecycle().get(&ctx, &lease, &download, progress),
        (None, None) => unreachable!("one side is remote, the other local"),
    };
    if std::io::stderr().is_terminal() {
        eprintln!();
    }
    let report = report.map_err(failed)?;
    write_json(out, &report_json(&report))?;
    Ok(Outcome::Success.code())
}

/// The bytes copied so far on a terminal's stderr (nothing otherwise).
fn progress_meter() -> impl FnMut(u64) + Send + 'static {
    let terminal = std::io::stderr().is_terminal();
    move |bytes| {
        if terminal {
            eprint!("\r{:>12} copied", human_bytes(bytes));
        }
    }
}

/// `1.5 MiB`, `812 B`.
fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `{"files","directories","symlinks","bytes","skipped":[{"path","kind"}]}`.
pub fn report_json(report: &Report) -> serde_json::Value {
    let counts = report.counts;
    json!({
        "files": counts.files,
        "directories": counts.directories,
        "symlinks": counts.symlinks,
        "bytes": counts.bytes,
        "skipped": report.skipped.iter().map(|s| json!({
            "path": s.path.display().to_string(),
            "kind": format!("{:?}", s.kind),
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::remote("lb-01jdq7s5v8n3c2x9w4y6z0a1b2:/workspace/x", true)]
    #[case::local_with_colon("./a:b", false)]
    #[case::plain_local("/tmp/x", false)]
    #[case::not_a_lease_id("host:/x", false)]
    fn a_side_is_remote_only_when_it_starts_with_a_lease_id(
        #[case] text: &str,
        #[case] remote: bool,
    ) {
        assert_eq!(matches!(side(text), Side::Remote { .. }), remote);
    }

    #[test]
    fn bytes_read_as_binary_units() {
        assert_eq!(human_bytes(812), "812 B");
        assert_eq!(human_bytes(1536 * 1024), "1.5 MiB");
    }
}
