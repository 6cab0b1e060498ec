//! `serve`'s logs: one JSON object per line on stderr, through `tracing`.
//!
//! Every line carries `level`, `context` (the step or the server part),
//! `message`, and what is known of the call it belongs to: `method`,
//! `request_id`, `lease_id`, `company`, and the SHA-256 of the module that
//! serves it (`module_sha256`). A line of the server itself (a swap, a
//! signal, the sweep) carries the module current at the time.

use std::sync::Arc;

use crate::contract::LogLevel;
use crate::runtime::Logger;

/// What a log line says of its call.
#[derive(Debug, Clone, Default)]
pub struct LogFields {
    /// The method.
    pub method: Option<String>,
    /// The request id, as JSON text.
    pub request_id: Option<String>,
    /// The lease the call is about.
    pub lease_id: Option<String>,
    /// The company the lease is for.
    pub company: Option<String>,
    /// The module serving it.
    pub module_sha256: Option<String>,
}

impl LogFields {
    /// These fields with `lease_id` (once it is known, e.g. minted).
    pub fn with_lease(&self, lease_id: &str) -> LogFields {
        LogFields {
            lease_id: Some(lease_id.to_string()),
            ..self.clone()
        }
    }
}

/// Environment variable choosing the lowest level logged: `debug`, `info`
/// (the default), `warn` or `error`. `debug` also shows the Kubernetes
/// client's own lines.
pub const LOG_LEVEL_ENV: &str = "LEASEBOX_LOG_LEVEL";

/// Sends `tracing` events to stderr as JSON lines (once per process; later
/// calls keep the first subscriber).
pub fn init_json_logs() {
    let level = match std::env::var(LOG_LEVEL_ENV).as_deref() {
        Ok("debug") => tracing::Level::DEBUG,
        Ok("warn") => tracing::Level::WARN,
        Ok("error") => tracing::Level::ERROR,
        _ => tracing::Level::INFO,
    };
    // `try_init` fails only when a subscriber is already set: keep it.
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .try_init();
}

/// Writes one line with `fields`.
pub fn emit(fields: &LogFields, level: LogLevel, context: &str, message: &str) {
    let LogFields {
        method,
        request_id,
        lease_id,
        company,
        module_sha256,
    } = fields;
    let (method, request_id, lease_id, company, module_sha256) = (
        method.as_deref(),
        request_id.as_deref(),
        lease_id.as_deref(),
        company.as_deref(),
        module_sha256.as_deref(),
    );
    macro_rules! line {
        ($level:expr) => {
            tracing::event!(
                $level,
                context,
                method,
                request_id,
                lease_id,
                company,
                module_sha256,
                "{message}"
            )
        };
    }
    match level {
        LogLevel::Debug => line!(tracing::Level::DEBUG),
        LogLevel::Info => line!(tracing::Level::INFO),
        LogLevel::Warn => line!(tracing::Level::WARN),
        LogLevel::Error => line!(tracing::Level::ERROR),
    }
}

/// A logger writing every message with `fields`.
pub fn logger(fields: LogFields) -> Logger {
    Arc::new(move |level, context, message| emit(&fields, level, context, message))
}
