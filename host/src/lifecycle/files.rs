//! Files in and out of a lease: a local tree packed into the tar stream the
//! module's `write-files` unpacks in the pod, and the tar stream of the
//! module's `read-files` unpacked into a local directory (`crate::files`
//! does both ends' local work). The module confines the remote paths; the
//! local unpack refuses anything that would leave its destination.
//!
//! The stream runs through a pipe between the call and a thread of its own
//! that packs or unpacks; the pipe's end the call holds is closed as soon as
//! the call returns, so a call that never reads (a refusal) or ends early
//! (a failed `tar` in the pod) never leaves the thread waiting.

use std::io::{PipeReader, PipeWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::{Budget, CallContext, Lifecycle, LifecycleError, answer};
use crate::cluster::io::CallerIo;
use crate::contract::{FileType, FilesInRequest, FilesOutRequest, Lease};
use crate::files::{self, Excludes, PackSource, Report, UnpackOptions};
use crate::locks::lock;

/// How a remote path that is an existing directory is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Landing {
    /// Like `cp -r`: a copy lands inside an existing directory, under its
    /// own name (`cp ./src LEASE:/workspace` makes `/workspace/src`).
    IntoDirectory,
    /// The path is the copy itself: a tree is merged into an existing
    /// directory of that path (the sync mappings of a platform).
    Exact,
}

/// A local file or tree to copy into a lease.
#[derive(Debug, Clone)]
pub struct Upload {
    /// The local file or directory.
    pub local: PathBuf,
    /// The absolute path in the sandbox.
    pub remote: String,
    /// A mode for the regular files copied (none: their own).
    pub mode: Option<u32>,
    /// Globs of paths (relative to `local`) left out.
    pub exclude: Vec<String>,
    /// Copy what symbolic links point to instead of the links.
    pub follow_symlinks: bool,
    /// How an existing remote directory is treated.
    pub landing: Landing,
}

/// A remote file or tree to copy out of a lease.
#[derive(Debug, Clone)]
pub struct Download {
    /// The absolute path in the sandbox.
    pub remote: String,
    /// The local path.
    pub local: PathBuf,
    /// A mode for the regular files written, each created with it before a
    /// byte lands (none: the modes they have in the sandbox).
    pub mode: Option<u32>,
    /// Globs of paths (relative to the copy's top) left out.
    pub exclude: Vec<String>,
    /// Copy what symbolic links point to instead of the links.
    pub follow_symlinks: bool,
    /// How an existing local directory is treated.
    pub landing: Landing,
}

impl Lifecycle<'_> {
    /// Copies `upload.local` into the lease; returns what was sent.
    /// `progress` gets the running total of bytes of file content.
    pub fn put(
        &self,
        ctx: &CallContext,
        lease: &Lease,
        upload: &Upload,
        progress: impl FnMut(u64) + Send + 'static,
    ) -> Result<Report, LifecycleError> {
        let excludes = Excludes::new(&upload.exclude).map_err(LifecycleError::Files)?;
        let (target, name) = self.remote_landing(ctx, lease, upload)?;
        let source = PackSource {
            local: upload.local.clone(),
            name: PathBuf::from(name),
            mode: upload.mode,
            exclude: excludes,
            follow_symlinks: upload.follow_symlinks,
        };
        let (reader, writer) = std::io::pipe().map_err(|e| pipe_failed(&e))?;
        let packer = std::thread::Builder::new()
            .name("leasebox-pack".into())
            .spawn(move || files::pack(&[source], writer, progress))
            .map_err(|e| pipe_failed(&e))?;
        let stdin = Closable::new(reader);
        let call_ctx = CallContext {
            caller: CallerIo {
                stdin: Arc::new(Mutex::new(Some(Box::new(stdin.clone())))),
                ..ctx.caller.clone()
            },
            ..ctx.clone()
        };
        let request = FilesInRequest {
            lease: lease.clone(),
            target,
        };
        let remote = self
            .guarded(&call_ctx, Budget::Upload)
            .and_then(|env| answer(self.loaded.policy.write_files(&env, &request)));
        stdin.close();
        let packed = packer.join().unwrap_or_else(|_| {
            Err(files::Error::Walk {
                path: upload.local.clone(),
                source: std::io::Error::other("the packing thread panicked"),
            })
        });
        settle(remote, packed)
    }

    /// Copies `download.remote` out of the lease; returns what was written.
    pub fn get(
        &self,
        ctx: &CallContext,
        lease: &Lease,
        download: &Download,
        progress: impl FnMut(u64) + Send + 'static,
    ) -> Result<Report, LifecycleError> {
        let excludes = Excludes::new(&download.exclude).map_err(LifecycleError::Files)?;
        let placement = match download.landing {
            Landing::IntoDirectory => {
                files::download_placement(&download.local).map_err(LifecycleError::Files)?
            }
            Landing::Exact => exact_placement(&download.local)?,
        };
        let options = UnpackOptions {
            exclude: excludes,
            rename_top: placement.rename_top,
            file_mode: download.mode,
        };
        let destination = placement.destination;
        let (reader, writer) = std::io::pipe().map_err(|e| pipe_failed(&e))?;
        let unpacker = std::thread::Builder::new()
            .name("leasebox-unpack".into())
            .spawn(move || files::unpack(reader, &destination, &options, progress))
            .map_err(|e| pipe_failed(&e))?;
        let stdout = Closable::new(writer);
        let call_ctx = CallContext {
            caller: CallerIo {
                stdout: Arc::new(Mutex::new(stdout.clone())),
                ..ctx.caller.clone()
            },
            ..ctx.clone()
        };
        let request = FilesOutRequest {
            lease: lease.clone(),
            source: download.remote.clone(),
            follow_symlinks: download.follow_symlinks,
            exclude: download.exclude.clone(),
        };
        let remote = self
            .guarded(&call_ctx, Budget::Upload)
            .and_then(|env| answer(self.loaded.policy.read_files(&env, &request)));
        stdout.close();
        let unpacked = unpacker.join().unwrap_or_else(|_| {
            Err(files::Error::Walk {
                path: download.local.clone(),
                source: std::io::Error::other("the unpacking thread panicked"),
            })
        });
        settle(remote, unpacked)
    }

    /// Where an upload's top entry lands: the directory the pod unpacks in
    /// and the entry's name there.
    fn remote_landing(
        &self,
        ctx: &CallContext,
        lease: &Lease,
        upload: &Upload,
    ) -> Result<(String, String), LifecycleError> {
        let remote = upload.remote.trim_end_matches('/');
        let remote = if remote.is_empty() { "/" } else { remote };
        if upload.landing == Landing::IntoDirectory {
            let existing = self.stat(ctx, lease, remote)?;
            if existing.is_some_and(|e| e.file_type == FileType::Directory) {
                let name = local_name(&upload.local)?;
                return Ok((remote.to_string(), name));
            }
        }
        match remote.rsplit_once('/') {
            Some((parent, name)) if !name.is_empty() && name != "." && name != ".." => {
                let parent = if parent.is_empty() { "/" } else { parent };
                Ok((parent.to_string(), name.to_string()))
            }
            _ => Err(LifecycleError::Files(files::Error::ArchiveName {
                name: PathBuf::from(remote),
                local: upload.local.clone(),
            })),
        }
    }
}

/// The name a local source has: its last component (that of its real path
/// for `.` and the like).
fn local_name(local: &Path) -> Result<String, LifecycleError> {
    let named = match local.file_name() {
        Some(name) => Some(name.to_os_string()),
        None => std::fs::canonicalize(local)
            .ok()
            .and_then(|real| real.file_name().map(|n| n.to_os_string())),
    };
    named.and_then(|n| n.into_string().ok()).ok_or_else(|| {
        LifecycleError::Files(files::Error::ArchiveName {
            name: local.to_path_buf(),
            local: local.to_path_buf(),
        })
    })
}

/// A download that is `local` itself, whatever is there.
fn exact_placement(local: &Path) -> Result<files::Placement, LifecycleError> {
    let name = local.file_name().ok_or_else(|| {
        LifecycleError::Files(files::Error::DownloadName {
            path: local.to_path_buf(),
        })
    })?;
    let parent = match local.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok(files::Placement {
        destination: parent,
        rename_top: Some(name.to_os_string()),
    })
}

/// The outcome of a transfer from the call's and the local end's: when both
/// failed, the local end's failure if it is a cause of its own (a file it
/// could not read or write, an entry it refused), the call's if the local
/// end only saw the stream stop (a refusal or a failed `tar` in the pod
/// ends the stream early).
fn settle(
    remote: Result<(), LifecycleError>,
    local: Result<Report, files::Error>,
) -> Result<Report, LifecycleError> {
    match (remote, local) {
        (Ok(()), Ok(report)) => Ok(report),
        (Err(remote), Err(local)) if stream_stopped(&local) => Err(remote),
        (_, Err(local)) => Err(LifecycleError::Files(local)),
        (Err(remote), Ok(_)) => Err(remote),
    }
}

/// Whether a local end failed only because the stream stopped: a cut
/// pipe, a stream that ended early or in the middle of a header.
fn stream_stopped(error: &files::Error) -> bool {
    let cut_pipe = std::error::Error::source(error)
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .is_some_and(|io| {
            matches!(
                io.kind(),
                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::UnexpectedEof
            )
        });
    cut_pipe
        || matches!(
            error,
            files::Error::MissingEndOfArchive
                | files::Error::TruncatedEntry { .. }
                | files::Error::ReadArchive { .. }
        )
}

fn pipe_failed(error: &std::io::Error) -> LifecycleError {
    LifecycleError::Files(files::Error::Walk {
        path: PathBuf::from("(pipe)"),
        source: std::io::Error::new(error.kind(), format!("cannot start the copy: {error}")),
    })
}

/// One end of the pipe, shared with the call's streams and closed by the
/// transfer as soon as the call returns, whoever still holds a clone.
struct Closable<T>(Arc<Mutex<Option<T>>>);

impl<T> Clone for Closable<T> {
    fn clone(&self) -> Self {
        Closable(self.0.clone())
    }
}

impl<T> Closable<T> {
    fn new(end: T) -> Closable<T> {
        Closable(Arc::new(Mutex::new(Some(end))))
    }

    fn close(&self) {
        lock(&self.0).take();
    }
}

impl Read for Closable<PipeReader> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // The read blocks while it holds the lock: `close` then waits for
        // the next chunk of the stream (or its end) to come through.
        match lock(&self.0).as_mut() {
            Some(reader) => reader.read(buf),
            None => Ok(0),
        }
    }
}

impl Write for Closable<PipeWriter> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match lock(&self.0).as_mut() {
            Some(writer) => writer.write(buf),
            None => Err(std::io::ErrorKind::BrokenPipe.into()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match lock(&self.0).as_mut() {
            Some(writer) => writer.flush(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::PolicyError;

    fn refused() -> LifecycleError {
        LifecycleError::from(PolicyError::NotAllowed("rule `file-roots`".into()))
    }

    #[test]
    fn a_refusal_in_the_pod_is_reported_over_the_stream_it_cut() {
        let answer = settle(Err(refused()), Err(files::Error::MissingEndOfArchive));
        assert!(
            matches!(answer, Err(LifecycleError::Policy(_))),
            "{answer:?}"
        );
    }

    #[test]
    fn a_local_failure_of_its_own_is_reported_over_the_calls() {
        let local = files::Error::UnsafePath {
            entry: PathBuf::from("../etc/passwd"),
        };
        let answer = settle(Err(refused()), Err(local));
        assert!(
            matches!(answer, Err(LifecycleError::Files(_))),
            "{answer:?}"
        );
    }

    #[test]
    fn a_cut_stream_after_a_call_that_succeeded_is_still_a_failure() {
        let answer = settle(Ok(()), Err(files::Error::MissingEndOfArchive));
        assert!(
            matches!(answer, Err(LifecycleError::Files(_))),
            "{answer:?}"
        );
    }

    #[test]
    fn a_download_to_a_path_lands_as_that_path() {
        let placement = exact_placement(Path::new("/tmp/out/here")).expect("a name");
        assert_eq!(placement.destination, PathBuf::from("/tmp/out"));
        assert_eq!(placement.rename_top, Some("here".into()));
        assert!(exact_placement(Path::new("/")).is_err());
    }
}
