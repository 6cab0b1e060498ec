//! Pack: local files and trees into a tar stream for the pod's `tar -x`.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use tar::{Builder, EntryType, Header};

use super::entry_path::relative_normal;
use super::error::{Error, Result};
use super::exclude::Excludes;
use super::report::{Progress, Report, SkipKind};

/// The permission bits a packed file or directory keeps: everything but
/// setuid and setgid, which a copy into a sandbox has no business carrying.
/// The sticky bit is kept.
const KEPT_MODE_BITS: u32 = 0o7777 & !0o6000;

/// The mode stored for symlinks; the pod's `tar` ignores it.
const SYMLINK_MODE: u32 = 0o777;

/// One local file or tree to store in the archive, and how.
#[derive(Debug, Clone)]
pub struct PackSource {
    /// The local file, directory or symlink.
    pub local: PathBuf,
    /// Its name in the archive: relative, without `..`. Local `./src` named
    /// `dst` lands as `/workspace/dst/...` under `tar -x -C /workspace`.
    /// An empty name or `.` (directories only) stores the directory's
    /// content without an entry for the directory itself, so the pod's
    /// directory keeps its own mode.
    pub name: PathBuf,
    /// A mode for regular files, replacing theirs: for a file source the
    /// one file, for a directory source every regular file in the tree at
    /// any depth. Directories and symlinks keep their own modes. Setuid and
    /// setgid are cleared from it like from any mode.
    pub mode: Option<u32>,
    /// Paths (relative to `local`) not to store; see [`Excludes`].
    pub exclude: Excludes,
    /// Store what symlinks point to instead of the symlinks, `local`
    /// itself included. A dangling link or a loop is then an error. Without
    /// it every symlink, `local` included, is stored as a symlink with its
    /// target as read.
    pub follow_symlinks: bool,
}

impl PackSource {
    /// A source stored under `name`, with its own modes, nothing excluded,
    /// and symlinks stored as symlinks.
    pub fn new(local: impl Into<PathBuf>, name: impl Into<PathBuf>) -> Self {
        Self {
            local: local.into(),
            name: name.into(),
            mode: None,
            exclude: Excludes::default(),
            follow_symlinks: false,
        }
    }
}

/// Writes `sources` to `out` as one tar stream that GNU tar and busybox
/// tar both read, and returns what was stored.
///
/// Directories are walked depth first in name order and each directory's
/// entry comes before its content. Entries carry uid and gid 0, no user or
/// group names (the pod unpacks with `--no-same-owner`), the mtime, and the
/// permission bits without setuid and setgid. Hard links are stored as
/// separate files; sockets, fifos and devices are skipped and listed in
/// [`Report::skipped`]. Names over 100 bytes and link targets over 100
/// bytes use GNU long-name entries; sizes of 8 GiB and more use the GNU
/// base-256 size field.
///
/// `progress` gets the running total of content bytes, at most every
/// [`super::PROGRESS_STEP`] bytes and at the end of each file.
///
/// # Errors
///
/// The first failure stops the pack, and the stream is then left without its
/// end-of-archive marker so the reader sees a cut stream rather than a
/// complete but partial copy.
pub fn pack<W: Write>(
    sources: &[PackSource],
    out: W,
    mut progress: impl FnMut(u64),
) -> Result<Report> {
    let mut packer = Packer {
        builder: Builder::new(Gate {
            inner: out,
            closed: false,
        }),
        report: Report::default(),
        progress: Progress::new(&mut progress),
    };
    let packed = sources.iter().try_for_each(|source| packer.source(source));
    if let Err(err) = packed {
        // Dropping the builder writes the end-of-archive marker; shut the
        // gate so it cannot.
        packer.builder.get_mut().closed = true;
        return Err(err);
    }
    packer
        .builder
        .into_inner()
        .map_err(|source| Error::WriteArchive {
            entry: PathBuf::from("(end-of-archive marker)"),
            source,
        })?;
    packer.progress.flush();
    Ok(packer.report)
}

/// Passes writes through until it is closed, then refuses them.
struct Gate<W> {
    inner: W,
    closed: bool,
}

impl<W: Write> Write for Gate<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.closed {
            return Err(io::Error::other("pack failed; the stream is closed"));
        }
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

struct Packer<'a, W: Write> {
    builder: Builder<Gate<W>>,
    report: Report,
    progress: Progress<'a>,
}

/// Where the walk is: the local path, its archive name and its path
/// relative to the source root (what excludes match).
struct At<'p> {
    local: &'p Path,
    name: &'p Path,
    relative: &'p Path,
}

impl<W: Write> Packer<'_, W> {
    fn source(&mut self, source: &PackSource) -> Result<()> {
        let name = relative_normal(&source.name).ok_or_else(|| Error::ArchiveName {
            name: source.name.clone(),
            local: source.local.clone(),
        })?;
        let at = At {
            local: &source.local,
            name: &name,
            relative: Path::new(""),
        };
        if name.as_os_str().is_empty() && !self.stat(source, at.local)?.is_dir() {
            return Err(Error::ArchiveName {
                name: source.name.clone(),
                local: source.local.clone(),
            });
        }
        self.path(source, &at, &mut Vec::new())
    }

    /// The metadata the walk goes by: the path's own, or with
    /// `follow_symlinks` what it points to.
    fn stat(&self, source: &PackSource, local: &Path) -> Result<Metadata> {
        let walk = |source: io::Error| Error::Walk {
            path: local.to_path_buf(),
            source,
        };
        let own = fs::symlink_metadata(local).map_err(walk)?;
        if !(own.file_type().is_symlink() && source.follow_symlinks) {
            return Ok(own);
        }
        fs::metadata(local).map_err(|err| match err.raw_os_error() {
            _ if err.kind() == io::ErrorKind::NotFound => Error::DanglingSymlink {
                path: local.to_path_buf(),
            },
            Some(libc::ELOOP) => Error::SymlinkLoop {
                path: local.to_path_buf(),
            },
            _ => walk(err),
        })
    }

    /// Stores one path; `open` holds the (device, inode) of the directories
    /// being walked, to catch a followed symlink that leads back up.
    fn path(&mut self, source: &PackSource, at: &At<'_>, open: &mut Vec<(u64, u64)>) -> Result<()> {
        let meta = self.stat(source, at.local)?;
        let file_type = meta.file_type();
        if file_type.is_dir() {
            self.directory(source, at, &meta, open)
        } else if file_type.is_file() {
            self.file(source, at)
        } else if file_type.is_symlink() {
            self.symlink(at, &meta)
        } else {
            let kind = if file_type.is_socket() {
                SkipKind::Socket
            } else if file_type.is_fifo() {
                SkipKind::Fifo
            } else if file_type.is_char_device() {
                SkipKind::CharDevice
            } else {
                SkipKind::BlockDevice
            };
            self.report.skip(at.local.to_path_buf(), kind);
            Ok(())
        }
    }

    fn directory(
        &mut self,
        source: &PackSource,
        at: &At<'_>,
        meta: &Metadata,
        open: &mut Vec<(u64, u64)>,
    ) -> Result<()> {
        let id = (meta.dev(), meta.ino());
        if open.contains(&id) {
            return Err(Error::SymlinkLoop {
                path: at.local.to_path_buf(),
            });
        }
        if !at.name.as_os_str().is_empty() {
            let mut header = header(EntryType::dir(), meta.mode() & KEPT_MODE_BITS, meta);
            self.builder
                .append_data(&mut header, at.name, io::empty())
                .map_err(|source| Error::WriteArchive {
                    entry: at.name.to_path_buf(),
                    source,
                })?;
            self.report.counts.directories += 1;
        }
        let walk = |source: io::Error| Error::Walk {
            path: at.local.to_path_buf(),
            source,
        };
        let mut children = fs::read_dir(at.local)
            .map_err(walk)?
            .map(|child| child.map(|child| child.file_name()))
            .collect::<io::Result<Vec<_>>>()
            .map_err(walk)?;
        children.sort();
        open.push(id);
        for child in children {
            let relative = at.relative.join(&child);
            if source.exclude.is_excluded(&relative) {
                continue;
            }
            let local = at.local.join(&child);
            let name = at.name.join(&child);
            let child_at = At {
                local: &local,
                name: &name,
                relative: &relative,
            };
            self.path(source, &child_at, open)?;
        }
        open.pop();
        Ok(())
    }

    fn file(&mut self, source: &PackSource, at: &At<'_>) -> Result<()> {
        let read_local = |source: io::Error| Error::ReadLocal {
            path: at.local.to_path_buf(),
            source,
        };
        // Without follow, refuse a file that became a symlink since the walk
        // looked at it.
        let no_follow = if source.follow_symlinks {
            0
        } else {
            libc::O_NOFOLLOW
        };
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(no_follow)
            .open(at.local)
            .map_err(read_local)?;
        let meta = file.metadata().map_err(read_local)?;
        if !meta.is_file() {
            return Err(read_local(io::Error::other(
                "it stopped being a regular file while it was packed",
            )));
        }
        let mode = source.mode.unwrap_or(meta.mode()) & KEPT_MODE_BITS;
        let mut header = header(EntryType::file(), mode, &meta);
        header.set_size(meta.len());
        let mut content = Content {
            file,
            remaining: meta.len(),
            progress: &mut self.progress,
            failed: None,
        };
        let appended = self.builder.append_data(&mut header, at.name, &mut content);
        if let Some(failed) = content.failed {
            return Err(read_local(failed));
        }
        appended.map_err(|source| Error::WriteArchive {
            entry: at.name.to_path_buf(),
            source,
        })?;
        self.progress.flush();
        self.report.counts.files += 1;
        self.report.counts.bytes += meta.len();
        Ok(())
    }

    fn symlink(&mut self, at: &At<'_>, meta: &Metadata) -> Result<()> {
        let target = fs::read_link(at.local).map_err(|source| Error::Walk {
            path: at.local.to_path_buf(),
            source,
        })?;
        let mut header = header(EntryType::symlink(), SYMLINK_MODE, meta);
        self.builder
            .append_link(&mut header, at.name, &target)
            .map_err(|source| Error::WriteArchive {
                entry: at.name.to_path_buf(),
                source,
            })?;
        self.report.counts.symlinks += 1;
        Ok(())
    }
}

/// A GNU header with the type, mode and mtime (before 1970 is stored as
/// 1970) set, owned by 0:0 without names, and size 0.
fn header(entry_type: EntryType, mode: u32, meta: &Metadata) -> Header {
    let mut header = Header::new_gnu();
    header.set_entry_type(entry_type);
    header.set_mode(mode);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(u64::try_from(meta.mtime()).unwrap_or(0));
    header.set_size(0);
    header
}

/// The header block `pack` writes for a file `big.bin` of `size` bytes.
#[cfg(test)]
pub(crate) fn file_header_for_test(size: u64) -> Vec<u8> {
    let meta = fs::metadata(".").expect("metadata of the working directory");
    let mut header = header(EntryType::file(), 0o644, &meta);
    header.set_size(size);
    header.set_path("big.bin").expect("short path");
    header.set_cksum();
    header.as_bytes().to_vec()
}

/// A file's content as the archive takes it: exactly the size the header
/// announced, the first read error kept aside so it is reported as a read
/// failure and not as a failure to write the archive.
struct Content<'p, 'a> {
    file: File,
    remaining: u64,
    progress: &'p mut Progress<'a>,
    failed: Option<io::Error>,
}

impl Read for Content<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let read = match self.file.read(&mut buf[..want]) {
            Ok(0) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "it shrank while it was packed",
            )),
            other => other,
        };
        match read {
            Ok(n) => {
                self.remaining -= n as u64;
                self.progress.add(n as u64);
                Ok(n)
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => Err(err),
            Err(err) => {
                let marker = io::Error::new(err.kind(), err.to_string());
                self.failed = Some(err);
                Err(marker)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keeps the first header block and counts the rest.
    #[derive(Default)]
    struct HeaderAndLength {
        header: Vec<u8>,
        length: u64,
    }

    impl Write for HeaderAndLength {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let keep = (512 - self.header.len()).min(buf.len());
            self.header.extend_from_slice(&buf[..keep]);
            self.length += buf.len() as u64;
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    #[ignore = "reads a 9 GiB sparse file (seconds to a minute); run with --ignored"]
    fn file_over_8_gib_is_packed_whole_with_a_base_256_size() {
        let work = tempfile::tempdir().expect("tempdir");
        let big = work.path().join("big.bin");
        let size: u64 = 9 << 30;
        File::create(&big)
            .and_then(|file| file.set_len(size))
            .expect("sparse file");
        let mut out = HeaderAndLength::default();
        let report = pack(&[PackSource::new(&big, "big.bin")], &mut out, |_| {}).expect("pack");
        assert_eq!(report.counts.bytes, size);
        // The header, the content (a multiple of 512), two zero blocks.
        assert_eq!(out.length, 512 + size + 1024);
        let header = Header::from_byte_slice(&out.header);
        assert_eq!(header.size().expect("size"), size);
        assert_eq!(header.as_old().size[0] & 0x80, 0x80, "base-256 size field");
    }
}
