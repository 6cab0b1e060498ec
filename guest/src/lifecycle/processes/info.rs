//! The records of the process scripts (`scripts::FUNCTIONS`' `info`):
//! `key value` lines, one record ended by `end`, read back as
//! [`ProcessInfo`]s. Every value is written by the module's own scripts;
//! the argv is the one line of JSON the module wrote at start, so any
//! argument (quotes, newlines, UTF-8) comes back as it went in.

use crate::lease::ProcessInfo;

/// One record, with what the contract's record does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    /// The process as the contract names it.
    pub info: ProcessInfo,
    /// The supervisor's deadline killed it.
    pub timed_out: bool,
}

/// Every record of `output`; an error names the line that did not read.
pub(crate) fn parse(output: &[u8]) -> Result<Vec<Record>, String> {
    let text = String::from_utf8_lossy(output);
    let mut records = Vec::new();
    let mut current: Option<Fields> = None;
    for line in text.lines() {
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        if key == "end" {
            let fields = current.take().ok_or("`end` without a record")?;
            records.push(fields.record()?);
            continue;
        }
        let fields = current.get_or_insert_with(Fields::default);
        match key {
            "id" => fields.id = value.to_string(),
            "argv" => fields.argv = value.to_string(),
            "started" => fields.started = value.to_string(),
            "status" => fields.status = Some(value.to_string()),
            "alive" => fields.alive = value == "1",
            "out" => fields.out = value.to_string(),
            "err" => fields.err = value.to_string(),
            "outdrop" => fields.out_dropped = value == "1",
            "errdrop" => fields.err_dropped = value == "1",
            "timedout" => fields.timed_out = value == "1",
            // A line a later script may add: not this module's to read.
            _ => {}
        }
    }
    if current.is_some() {
        return Err("the last record has no `end`".into());
    }
    Ok(records)
}

#[derive(Debug, Default)]
struct Fields {
    id: String,
    argv: String,
    started: String,
    status: Option<String>,
    alive: bool,
    out: String,
    err: String,
    out_dropped: bool,
    err_dropped: bool,
    timed_out: bool,
}

impl Fields {
    fn record(self) -> Result<Record, String> {
        if self.id.is_empty() {
            return Err("a record without an id".into());
        }
        let argv: Vec<String> = serde_json::from_str(&self.argv).unwrap_or_default();
        let exit_code = match &self.status {
            Some(text) => Some(text.trim().parse::<i32>().map_err(|_| {
                format!("process {}: status `{text}` is not an exit code", self.id)
            })?),
            None => None,
        };
        let bytes = |text: &str| text.trim().parse::<u64>().unwrap_or(0);
        Ok(Record {
            info: ProcessInfo {
                running: exit_code.is_none() && self.alive,
                id: self.id,
                argv,
                started_at: self.started,
                exit_code,
                stdout_bytes: bytes(&self.out),
                stderr_bytes: bytes(&self.err),
                stdout_dropped: self.out_dropped,
                stderr_dropped: self.err_dropped,
            },
            timed_out: self.timed_out,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const RUNNING: &str = "id p-aaaaaaaaaaaaaaaa\nargv [\"sh\",\"-c\",\"echo 'a b'\\nexit 3\"]\n\
        started 2026-12-07T14:00:00Z\nalive 1\nout 12\nerr 0\nend\n";

    #[test]
    fn a_running_process_reads_back_with_its_argv_as_started() {
        let records = parse(RUNNING.as_bytes()).expect("parsed");
        assert_eq!(
            records,
            [Record {
                info: ProcessInfo {
                    id: "p-aaaaaaaaaaaaaaaa".into(),
                    argv: vec!["sh".into(), "-c".into(), "echo 'a b'\nexit 3".into()],
                    started_at: "2026-12-07T14:00:00Z".into(),
                    running: true,
                    exit_code: None,
                    stdout_bytes: 12,
                    stderr_bytes: 0,
                    stdout_dropped: false,
                    stderr_dropped: false,
                },
                timed_out: false,
            }]
        );
    }

    #[rstest]
    #[case::exited("status 0\nalive 1\n", Some(0), false)]
    #[case::killed_by_a_signal("status 143\n", Some(143), false)]
    #[case::supervisor_gone_without_status("", None, false)]
    #[case::no_status_yet("alive 1\n", None, true)]
    fn running_means_no_status_and_a_live_supervisor(
        #[case] lines: &str,
        #[case] code: Option<i32>,
        #[case] running: bool,
    ) {
        let text = format!("id p-bbbbbbbbbbbbbbbb\nargv []\nstarted x\n{lines}out 0\nerr 0\nend\n");
        let record = &parse(text.as_bytes()).expect("parsed")[0];
        assert_eq!(
            (record.info.exit_code, record.info.running),
            (code, running)
        );
    }

    #[test]
    fn drop_and_timeout_markers_are_read() {
        let text = "id p-cccccccccccccccc\nargv []\nstarted x\nstatus 137\nout 67108864\n\
                    err 5\noutdrop 1\ntimedout 1\nend\n";
        let record = &parse(text.as_bytes()).expect("parsed")[0];
        assert!(record.info.stdout_dropped && !record.info.stderr_dropped && record.timed_out);
        assert_eq!(record.info.stdout_bytes, 64 << 20);
    }

    #[test]
    fn several_records_and_unknown_lines() {
        let text = format!("{RUNNING}id p-dddddddddddddddd\nargv []\nfuture 1\nend\n");
        let ids: Vec<String> = parse(text.as_bytes())
            .expect("parsed")
            .into_iter()
            .map(|r| r.info.id)
            .collect();
        assert_eq!(ids, ["p-aaaaaaaaaaaaaaaa", "p-dddddddddddddddd"]);
    }

    #[test]
    fn argv_that_is_no_json_reads_as_empty_not_as_an_error() {
        let text = "id p-eeeeeeeeeeeeeeee\nargv [\"cut\nend\n";
        assert_eq!(
            parse(text.as_bytes()).expect("parsed")[0].info.argv,
            Vec::<String>::new()
        );
    }

    #[rstest]
    #[case::no_end("id p-ffffffffffffffff\n")]
    #[case::end_alone("end\n")]
    #[case::status_not_a_number("id p-ffffffffffffffff\nstatus x\nend\n")]
    fn malformed_output_is_an_error(#[case] text: &str) {
        assert!(parse(text.as_bytes()).is_err());
    }

    #[test]
    fn no_processes_is_no_records() {
        assert_eq!(parse(b""), Ok(Vec::new()));
    }
}
