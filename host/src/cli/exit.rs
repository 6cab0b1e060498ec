//! How a command ends: its [`Outcome`], or a [`CliError`] with the outcome
//! it implies.

use std::process::ExitCode;

/// The result of a command that ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Success,
    /// Exit 1: the configuration is invalid, or the policy refused.
    Rejected,
    /// Exit 2: the command could not run.
    Unusable,
    /// Exit 130 (128 + SIGINT, as shells report it): Ctrl-C or SIGTERM
    /// cancelled the command.
    Interrupted,
}

impl Outcome {
    /// The process exit code.
    pub fn exit_code(self) -> ExitCode {
        ExitCode::from(self.code())
    }

    /// The numeric exit code.
    pub fn code(self) -> u8 {
        match self {
            Outcome::Success => 0,
            Outcome::Rejected => 1,
            Outcome::Unusable => 2,
            Outcome::Interrupted => 130,
        }
    }
}

/// A command that failed, with the message printed on stderr.
#[derive(Debug)]
pub struct CliError {
    /// How the process exits.
    pub outcome: Outcome,
    /// What went wrong (printed with its causes).
    pub error: anyhow::Error,
}

impl CliError {
    /// Exit 2 with `error`.
    pub fn unusable(error: impl Into<anyhow::Error>) -> CliError {
        CliError {
            outcome: Outcome::Unusable,
            error: error.into(),
        }
    }

    /// Exit 130 with `error`.
    pub fn interrupted(error: impl Into<anyhow::Error>) -> CliError {
        CliError {
            outcome: Outcome::Interrupted,
            error: error.into(),
        }
    }

    /// Exit 1 with `error`.
    pub fn rejected(error: impl Into<anyhow::Error>) -> CliError {
        CliError {
            outcome: Outcome::Rejected,
            error: error.into(),
        }
    }
}

/// Writing to stdout failed (a closed pipe): the command could not finish.
impl From<std::io::Error> for CliError {
    fn from(error: std::io::Error) -> CliError {
        CliError::unusable(anyhow::Error::new(error).context("failed to write the output"))
    }
}
