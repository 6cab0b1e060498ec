//! The host's wall clock, as the `now` the module is given (the module
//! reads no clock of its own for lease times, so its answers stay
//! reproducible).

/// The current time, UTC, to the second (`2025-01-02T03:04:05Z`).
pub fn now_rfc3339() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let seconds = i64::try_from(seconds).unwrap_or(i64::MAX);
    jiff::Timestamp::from_second(seconds)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_string()
}
