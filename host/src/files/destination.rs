//! The destination of an unpack: a directory never written through a symlink.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::error::{Error, Result};

/// A local directory that archive entries are written into.
///
/// Every parent of an entry is checked with `symlink_metadata` (never
/// `metadata`) to be a real directory, and missing parents are created, so
/// no write ever goes through a symlink, whether the symlink came from the
/// archive or was there before. The destination itself is resolved once,
/// when it is opened, so the user may name it through a symlink.
///
/// Directories checked or created once are remembered: an unpack never
/// replaces a directory (see [`Destination::clear`]), so they stay real
/// directories for the rest of it. Other local processes racing the unpack
/// are not guarded against; the threat is the archive.
#[derive(Debug)]
pub(crate) struct Destination {
    root: PathBuf,
    directories: HashSet<PathBuf>,
}

impl Destination {
    /// Resolves `path` (following symlinks, once) to an existing directory.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let destination = |source: io::Error| Error::Destination {
            path: path.to_path_buf(),
            source,
        };
        let root = fs::canonicalize(path).map_err(destination)?;
        if !fs::symlink_metadata(&root).map_err(destination)?.is_dir() {
            return Err(destination(io::Error::new(
                io::ErrorKind::NotADirectory,
                "not a directory",
            )));
        }
        Ok(Self {
            root,
            directories: HashSet::new(),
        })
    }

    /// The resolved destination directory.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// Makes sure every parent of `entry` (a normal relative path) is a
    /// real directory under the root, creating missing ones with the
    /// default mode, and returns the local path for `entry`.
    pub(crate) fn parents(&mut self, entry: &Path) -> Result<PathBuf> {
        let mut relative = PathBuf::new();
        if let Some(parent) = entry.parent() {
            for component in parent.components() {
                relative.push(component);
                self.directory(entry, &relative)?;
            }
        }
        Ok(self.root.join(entry))
    }

    fn directory(&mut self, entry: &Path, relative: &Path) -> Result<()> {
        if self.directories.contains(relative) {
            return Ok(());
        }
        let local = self.root.join(relative);
        match fs::symlink_metadata(&local) {
            Ok(meta) if meta.is_dir() => {}
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(Error::ThroughSymlink {
                    entry: entry.to_path_buf(),
                    symlink: local,
                });
            }
            Ok(_) => {
                return Err(Error::ParentNotDirectory {
                    entry: entry.to_path_buf(),
                    parent: local,
                });
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                fs::create_dir(&local).map_err(|source| Error::CreateLocal {
                    path: local.clone(),
                    source,
                })?;
            }
            Err(source) => {
                return Err(Error::CreateLocal {
                    path: local,
                    source,
                });
            }
        }
        self.directories.insert(relative.to_path_buf());
        Ok(())
    }

    /// Remembers that `entry` is now a real directory.
    pub(crate) fn created_directory(&mut self, entry: &Path) {
        self.directories.insert(entry.to_path_buf());
    }

    /// Makes room for a file or symlink entry at `local`: removes an
    /// existing file or symlink (the symlink itself, never what it points
    /// to) and refuses to replace a directory. Returns whether something
    /// was removed.
    pub(crate) fn clear(&self, entry: &Path, local: &Path) -> Result<bool> {
        match fs::symlink_metadata(local) {
            Ok(meta) if meta.is_dir() => Err(Error::WouldReplaceDirectory {
                entry: entry.to_path_buf(),
                path: local.to_path_buf(),
            }),
            Ok(_) => fs::remove_file(local)
                .map(|()| true)
                .map_err(|source| Error::RemoveLocal {
                    path: local.to_path_buf(),
                    source,
                }),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(Error::CreateLocal {
                path: local.to_path_buf(),
                source,
            }),
        }
    }
}
