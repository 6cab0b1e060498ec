//! Unpack: an untrusted tar stream from a sandbox into a local directory.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tar::{Archive, Entry, EntryType};

use super::destination::Destination;
use super::entry_path::{is_single_name, relative_normal, rename_top};
use super::error::{Error, Result};
use super::exclude::Excludes;
use super::report::{Progress, Report, SkipKind};

/// The permission bits an unpacked file or directory may get: setuid,
/// setgid and sticky from a sandbox are never kept.
const KEPT_MODE_BITS: u32 = 0o777;

/// The mode a directory has while the unpack fills it; it gets its own
/// mode at the end, so a `0500` directory can still be filled.
const FILLING_DIRECTORY_MODE: u32 = 0o700;

/// How much file content is copied at a time.
const COPY_BUFFER: usize = 64 * 1024;

/// How to unpack.
#[derive(Debug, Clone, Default)]
pub struct UnpackOptions {
    /// Paths (relative to the destination, after any rename) not to write;
    /// see [`Excludes`].
    pub exclude: Excludes,
    /// A new name for the first component of every entry: the stream of
    /// `/workspace/x` has top entry `x`, and with `Some("here")` it lands as
    /// `here`. [`download_placement`](super::download_placement) says when
    /// to use it.
    pub rename_top: Option<OsString>,
    /// A mode for every regular file written, replacing its entry's: a
    /// platform's sync asks for `0600` on secret material. Only the
    /// permission bits are used (setuid, setgid and sticky are dropped like
    /// from any mode); directories and symlinks keep theirs.
    pub file_mode: Option<u32>,
}

/// Unpacks the tar stream `input` into the directory `destination` and
/// returns what was written.
///
/// The stream is untrusted, and the unpack fails closed: the first entry
/// that breaks a rule stops it with an error naming the entry, and nothing
/// is written for that entry.
///
/// - Entry paths must be relative without `..` ([`Error::UnsafePath`]);
///   `.` components are dropped, and a `.` directory entry is ignored so
///   the destination keeps its mode.
/// - Nothing is written through a symlink: every parent must be a real
///   directory ([`Error::ThroughSymlink`]). A symlink entry is created with
///   its target as given and never followed afterwards. An existing file or
///   symlink at an entry's path is removed and replaced, never followed;
///   an existing directory is never replaced
///   ([`Error::WouldReplaceDirectory`]).
/// - Files are created new with their mode (`mode & 0o777`) and set to
///   exactly it, whatever the umask, before a byte of content is written,
///   like `tar -p`: they are at no moment more open than that. They get
///   their mtime at the end. Setuid, setgid and sticky are never kept.
/// - With [`UnpackOptions::file_mode`], every file (a hard link
///   materialised as a copy too) is created and set that way with that
///   mode (`& 0o777`) instead of its entry's.
/// - Directories are created `0700` and given their mode (`& 0o777`) and
///   mtime at the end, deepest first. If the unpack fails they stay `0700`.
/// - A hard link to a file this unpack wrote earlier is materialised as a
///   copy (a file in the counts). Any other hard link, fifos and devices
///   are skipped and listed in [`Report::skipped`]; so are unknown entry
///   types. Symlink mtimes are not set.
/// - A stream cut short, in an entry or before its end-of-archive marker,
///   is an error.
///
/// Reading stops at the end-of-archive marker; what the sender writes after
/// it is left unread in `input`.
pub fn unpack<R: Read>(
    input: R,
    destination: &Path,
    options: &UnpackOptions,
    mut progress: impl FnMut(u64),
) -> Result<Report> {
    unpack_observed(input, destination, options, &mut progress, &mut |_, _| {})
}

/// [`unpack`], calling `created` with each new file right after it is
/// created and before any content is written to it.
pub(crate) fn unpack_observed<R: Read>(
    input: R,
    destination: &Path,
    options: &UnpackOptions,
    progress: &mut dyn FnMut(u64),
    created: &mut dyn FnMut(&Path, &File),
) -> Result<Report> {
    if let Some(top) = &options.rename_top
        && !is_single_name(top)
    {
        return Err(Error::TopName { name: top.clone() });
    }
    let mut unpacker = Unpacker {
        destination: Destination::open(destination)?,
        options,
        report: Report::default(),
        progress: Progress::new(progress),
        created,
        written: HashSet::new(),
        directories: HashMap::new(),
        buffer: vec![0; COPY_BUFFER],
    };
    let mut archive = Archive::new(EndWatch {
        inner: input,
        hit_end: false,
    });
    let entries = archive
        .entries()
        .map_err(|source| Error::ReadArchive { source })?;
    for entry in entries {
        let entry = entry.map_err(|source| Error::ReadArchive { source })?;
        unpacker.entry(entry)?;
    }
    if archive.into_inner().hit_end {
        return Err(Error::MissingEndOfArchive);
    }
    unpacker.finish_directories()?;
    unpacker.progress.flush();
    Ok(unpacker.report)
}

/// Notes whether the stream ran out: the tar crate ends its entries quietly
/// at the end of the input, and a stream that still has its end-of-archive
/// marker never gets there.
struct EndWatch<R> {
    inner: R,
    hit_end: bool,
}

impl<R: Read> Read for EndWatch<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        if read == 0 && !buf.is_empty() {
            self.hit_end = true;
        }
        Ok(read)
    }
}

/// The final mode and mtime of a directory, set at the end.
struct PendingDirectory {
    mode: u32,
    mtime: SystemTime,
}

struct Unpacker<'o, 'p> {
    destination: Destination,
    options: &'o UnpackOptions,
    report: Report,
    progress: Progress<'p>,
    created: &'p mut dyn FnMut(&Path, &File),
    /// Files this unpack wrote and still holds, by relative path: the only
    /// targets a hard link entry may copy.
    written: HashSet<PathBuf>,
    /// Directory entries by relative path; a repeated entry wins.
    directories: HashMap<PathBuf, PendingDirectory>,
    buffer: Vec<u8>,
}

impl Unpacker<'_, '_> {
    fn entry<R: Read>(&mut self, mut entry: Entry<'_, R>) -> Result<()> {
        let entry_type = entry.header().entry_type();
        if entry_type.is_pax_global_extensions() {
            // Metadata for the whole archive, not a file.
            return Ok(());
        }
        let raw = entry
            .path()
            .map_err(|source| Error::ReadArchive { source })?
            .into_owned();
        let Some(relative) = self.relative(&raw) else {
            return Err(Error::UnsafePath { entry: raw });
        };
        if relative.as_os_str().is_empty() {
            // `.` as a directory is the destination itself, which keeps its
            // mode; anything else there has no name to be written as.
            if entry_type.is_dir() {
                return Ok(());
            }
            return Err(Error::UnsafePath { entry: raw });
        }
        if self.options.exclude.is_excluded(&relative) {
            return Ok(());
        }
        let mode = read_header(entry.header().mode())? & KEPT_MODE_BITS;
        let mtime =
            SystemTime::UNIX_EPOCH + Duration::from_secs(read_header(entry.header().mtime())?);
        if entry_type.is_file() || entry_type.is_contiguous() || entry_type.is_gnu_sparse() {
            let size = if entry_type.is_gnu_sparse() {
                read_header(entry.header().size())?
            } else {
                entry.size()
            };
            self.file(&mut entry, &relative, mode, mtime, size)
        } else if entry_type.is_dir() {
            self.directory(&relative, mode, mtime)
        } else if entry_type.is_symlink() {
            let target = link_target(&entry)?;
            self.symlink(&relative, &target)
        } else if entry_type.is_hard_link() {
            let target = link_target(&entry)?;
            self.hard_link(&relative, &target, mtime)
        } else {
            let kind = skip_kind(entry_type);
            self.report.skip(relative, kind);
            Ok(())
        }
    }

    /// The entry's path made normal and renamed; `None` when unsafe.
    fn relative(&self, raw: &Path) -> Option<PathBuf> {
        let normal = relative_normal(raw)?;
        Some(match &self.options.rename_top {
            Some(top) => rename_top(&normal, top),
            None => normal,
        })
    }

    fn file<R: Read>(
        &mut self,
        content: &mut R,
        relative: &Path,
        mode: u32,
        mtime: SystemTime,
        size: u64,
    ) -> Result<()> {
        let local = self.destination.parents(relative)?;
        self.destination.clear(relative, &local)?;
        self.written.remove(relative);
        let mode = self.options.file_mode.map_or(mode, |m| m & KEPT_MODE_BITS);
        let mut file = create_file(&local, mode)?;
        (self.created)(&local, &file);
        let read_archive = |source| Error::ReadArchive { source };
        let copied = self.copy(content, &read_archive, &mut file, &local, relative, size);
        if let Err(err) = copied {
            // Leave no partial file behind; the error says what went wrong.
            let _ = fs::remove_file(&local);
            return Err(err);
        }
        set_mtime(&file, &local, mtime)?;
        self.written.insert(relative.to_path_buf());
        self.report.counts.files += 1;
        self.report.counts.bytes += size;
        Ok(())
    }

    /// Copies exactly `size` bytes of `content` into `file`.
    fn copy<R: Read>(
        &mut self,
        content: &mut R,
        read_error: &dyn Fn(io::Error) -> Error,
        file: &mut File,
        local: &Path,
        relative: &Path,
        size: u64,
    ) -> Result<()> {
        let mut copied = 0u64;
        loop {
            let read = match content.read(&mut self.buffer) {
                Ok(0) => break,
                Ok(read) => read,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(read_error(err)),
            };
            file.write_all(&self.buffer[..read])
                .map_err(|source| Error::WriteLocal {
                    path: local.to_path_buf(),
                    source,
                })?;
            copied += read as u64;
            self.progress.add(read as u64);
        }
        self.progress.flush();
        if copied != size {
            return Err(Error::TruncatedEntry {
                entry: relative.to_path_buf(),
            });
        }
        Ok(())
    }

    fn directory(&mut self, relative: &Path, mode: u32, mtime: SystemTime) -> Result<()> {
        let local = self.destination.parents(relative)?;
        let is_directory = fs::symlink_metadata(&local).is_ok_and(|meta| meta.is_dir());
        if !is_directory {
            self.destination.clear(relative, &local)?;
            self.written.remove(relative);
            DirBuilder::new()
                .mode(FILLING_DIRECTORY_MODE)
                .create(&local)
                .map_err(|source| Error::CreateLocal {
                    path: local.clone(),
                    source,
                })?;
        }
        self.destination.created_directory(relative);
        self.directories
            .insert(relative.to_path_buf(), PendingDirectory { mode, mtime });
        self.report.counts.directories += 1;
        Ok(())
    }

    fn symlink(&mut self, relative: &Path, target: &Path) -> Result<()> {
        let local = self.destination.parents(relative)?;
        self.destination.clear(relative, &local)?;
        self.written.remove(relative);
        std::os::unix::fs::symlink(target, &local).map_err(|source| Error::CreateLocal {
            path: local,
            source,
        })?;
        self.report.counts.symlinks += 1;
        Ok(())
    }

    fn hard_link(&mut self, relative: &Path, target: &Path, mtime: SystemTime) -> Result<()> {
        let target_relative = self.relative(target).ok_or_else(|| Error::UnsafeHardLink {
            entry: relative.to_path_buf(),
            target: target.to_path_buf(),
        })?;
        if !self.written.contains(&target_relative) || target_relative == relative {
            self.report.skip(relative.to_path_buf(), SkipKind::HardLink);
            return Ok(());
        }
        let source_local = self.destination.root().join(&target_relative);
        let read_source = |source: io::Error| Error::ReadLocal {
            path: source_local.clone(),
            source,
        };
        let mut source = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&source_local)
            .map_err(read_source)?;
        let source_meta = source.metadata().map_err(read_source)?;
        let mode = self
            .options
            .file_mode
            .unwrap_or(source_meta.permissions().mode())
            & KEPT_MODE_BITS;
        let size = source_meta.len();
        let local = self.destination.parents(relative)?;
        self.destination.clear(relative, &local)?;
        let mut file = create_file(&local, mode)?;
        (self.created)(&local, &file);
        let copied = self.copy(&mut source, &read_source, &mut file, &local, relative, size);
        if let Err(err) = copied {
            let _ = fs::remove_file(&local);
            return Err(err);
        }
        set_mtime(&file, &local, mtime)?;
        self.written.insert(relative.to_path_buf());
        self.report.counts.files += 1;
        self.report.counts.bytes += size;
        Ok(())
    }

    /// Gives directories their final mode and mtime, deepest first, through
    /// a descriptor opened without following symlinks.
    fn finish_directories(&mut self) -> Result<()> {
        let mut deepest_first: Vec<_> = self.directories.iter().collect();
        deepest_first.sort_by_key(|(relative, _)| std::cmp::Reverse(relative.components().count()));
        for (relative, dir) in deepest_first {
            let local = self.destination.root().join(relative);
            let set_metadata = |source: io::Error| Error::SetMetadata {
                path: local.clone(),
                source,
            };
            let handle = OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW | libc::O_DIRECTORY)
                .open(&local)
                .map_err(set_metadata)?;
            handle
                .set_permissions(Permissions::from_mode(dir.mode))
                .map_err(set_metadata)?;
            handle.set_modified(dir.mtime).map_err(set_metadata)?;
        }
        Ok(())
    }
}

/// Creates a new file (never through an existing path) with exactly
/// `mode`, empty: it is opened with `mode`, which the umask may narrow but
/// never widen, then the open file is set to `mode`, so it is at no moment
/// more open than that and has its mode before a byte lands.
fn create_file(local: &Path, mode: u32) -> Result<File> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW)
        .open(local)
        .map_err(|source| Error::CreateLocal {
            path: local.to_path_buf(),
            source,
        })?;
    if let Err(source) = file.set_permissions(Permissions::from_mode(mode)) {
        let _ = fs::remove_file(local);
        return Err(Error::SetMetadata {
            path: local.to_path_buf(),
            source,
        });
    }
    Ok(file)
}

/// Gives a written file its mtime.
fn set_mtime(file: &File, local: &Path, mtime: SystemTime) -> Result<()> {
    file.set_modified(mtime)
        .map_err(|source| Error::SetMetadata {
            path: local.to_path_buf(),
            source,
        })
}

fn link_target<R: Read>(entry: &Entry<'_, R>) -> Result<PathBuf> {
    entry
        .link_name()
        .map_err(|source| Error::ReadArchive { source })?
        .map(|target| target.into_owned())
        .ok_or_else(|| Error::ReadArchive {
            source: io::Error::other("a link entry has no target"),
        })
}

fn read_header<T>(field: io::Result<T>) -> Result<T> {
    field.map_err(|source| Error::ReadArchive { source })
}

fn skip_kind(entry_type: EntryType) -> SkipKind {
    if entry_type.is_fifo() {
        SkipKind::Fifo
    } else if entry_type.is_character_special() {
        SkipKind::CharDevice
    } else if entry_type.is_block_special() {
        SkipKind::BlockDevice
    } else {
        SkipKind::Other(entry_type.as_byte())
    }
}
