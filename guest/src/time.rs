//! RFC 3339 times. The policy never reads a clock for names or manifests:
//! `now` comes from the host, so plans are reproducible.

use jiff::Timestamp;

/// Parses an RFC 3339 time.
pub fn parse(s: &str) -> Result<Timestamp, String> {
    s.parse::<Timestamp>()
        .map_err(|e| format!("`{s}` is not an RFC 3339 time ({e}); use e.g. 2026-11-23T10:00:00Z"))
}

/// Formats a time as RFC 3339 UTC with second precision (`...Z`).
pub fn format(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `now` plus `seconds`, formatted.
pub fn add_seconds(now: Timestamp, seconds: u64) -> Result<String, String> {
    let secs = i64::try_from(seconds).map_err(|_| format!("{seconds} seconds is too far"))?;
    now.checked_add(jiff::SignedDuration::from_secs(secs))
        .map(format)
        .map_err(|e| format!("{seconds} seconds after {now} is out of range ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_seconds_crosses_a_day() {
        let now = parse("2026-11-23T23:59:30Z").expect("valid time");
        assert_eq!(
            add_seconds(now, 60).expect("in range"),
            "2026-11-24T00:00:30Z"
        );
    }

    #[test]
    fn offset_times_are_normalized_to_utc() {
        let t = parse("2026-11-23T12:00:00+02:00").expect("valid time");
        assert_eq!(format(t), "2026-11-23T10:00:00Z");
    }

    #[test]
    fn garbage_is_rejected_with_an_example() {
        let err = parse("yesterday").expect_err("not a time");
        assert!(err.contains("RFC 3339"), "{err}");
    }
}
