//! What a pack or an unpack did: counts, skipped entries, and progress.

use std::path::PathBuf;

/// How many bytes of file content may pass between two progress calls.
///
/// Small enough that a progress bar moves smoothly, large enough that the
/// callback costs nothing next to the copy.
pub const PROGRESS_STEP: u64 = 64 * 1024;

/// How many entries of each kind a pack or an unpack stored or created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Regular files (a hard link materialised as a copy counts here).
    pub files: u64,
    /// Directories, including the top directory of a directory source.
    pub directories: u64,
    /// Symlinks stored or created as symlinks.
    pub symlinks: u64,
    /// Bytes of regular file content.
    pub bytes: u64,
    /// Entries neither stored nor created; see [`Report::skipped`].
    pub skipped: u64,
}

/// The kind of an entry that was skipped rather than copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipKind {
    /// A Unix domain socket (pack only).
    Socket,
    /// A named pipe.
    Fifo,
    /// A character device.
    CharDevice,
    /// A block device.
    BlockDevice,
    /// A hard link whose target this unpack did not write (unpack only).
    HardLink,
    /// Any other entry type, by its tar type byte (unpack only).
    Other(u8),
}

/// One entry that was skipped, so the caller can tell the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The local path (pack) or the entry path (unpack).
    pub path: PathBuf,
    /// What it was.
    pub kind: SkipKind,
}

/// The outcome of a pack or an unpack that succeeded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// What was copied.
    pub counts: Counts,
    /// What was skipped, in stream order; as long as `counts.skipped`.
    pub skipped: Vec<Skipped>,
}

impl Report {
    pub(crate) fn skip(&mut self, path: PathBuf, kind: SkipKind) {
        self.counts.skipped += 1;
        self.skipped.push(Skipped { path, kind });
    }
}

/// Feeds a caller's progress callback with the running total of content
/// bytes, at most once per [`PROGRESS_STEP`] bytes plus once per file end.
pub(crate) struct Progress<'a> {
    total: u64,
    reported: u64,
    callback: &'a mut dyn FnMut(u64),
}

impl<'a> Progress<'a> {
    pub(crate) fn new(callback: &'a mut dyn FnMut(u64)) -> Self {
        Self {
            total: 0,
            reported: 0,
            callback,
        }
    }

    /// Counts `bytes` more and reports when a step has passed.
    pub(crate) fn add(&mut self, bytes: u64) {
        self.total += bytes;
        if self.total - self.reported >= PROGRESS_STEP {
            self.report();
        }
    }

    /// Reports the total if it changed since the last report (at a file's end).
    pub(crate) fn flush(&mut self) {
        if self.total != self.reported {
            self.report();
        }
    }

    fn report(&mut self) {
        self.reported = self.total;
        (self.callback)(self.total);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_reports_once_per_step_and_at_flush() {
        let mut seen = Vec::new();
        let mut callback = |bytes| seen.push(bytes);
        let mut progress = Progress::new(&mut callback);
        for _ in 0..20 {
            progress.add(10 * 1024);
        }
        progress.flush();
        progress.flush();
        assert_eq!(seen, vec![71680, 143360, 204800]);
    }
}
