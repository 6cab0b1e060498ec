//! The one error type of [`crate::files`], named by the step that failed.

use std::io;
use std::path::PathBuf;

/// Why packing local files into a tar stream, or unpacking a tar stream
/// into a local directory, failed.
///
/// Each variant names the step that failed and carries the local path or
/// the archive entry it failed on. Unpacking fails closed: the first
/// variant returned stops the whole unpack, and nothing is written for the
/// entry that caused it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An `exclude` pattern is not a valid glob.
    #[error("invalid exclude pattern {pattern:?}: {source}")]
    ExcludePattern {
        /// The pattern as given.
        pattern: String,
        /// What `glob` found wrong with it.
        #[source]
        source: glob::PatternError,
    },

    /// The name a source is to get in the archive is absolute, contains
    /// `..`, or (for a file) is empty.
    #[error(
        "archive name {name:?} for {local} must be a relative path without `..` \
         (an empty name or `.` is allowed only for a directory)"
    )]
    ArchiveName {
        /// The name as given.
        name: PathBuf,
        /// The local source it was given for.
        local: PathBuf,
    },

    /// Listing a local directory or reading a local path's metadata failed.
    #[error("failed to walk local path {path}: {source}")]
    Walk {
        /// The local path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },

    /// With `follow_symlinks`, a symlink points to nothing.
    #[error(
        "symlink {path} points to nothing and cannot be followed; \
         fix or exclude it, or do not follow symlinks"
    )]
    DanglingSymlink {
        /// The local symlink.
        path: PathBuf,
    },

    /// With `follow_symlinks`, a symlink leads back to itself or to one of
    /// the directories it is in.
    #[error(
        "symlink {path} leads back to itself or to a directory it is in and cannot be \
         followed; exclude it, or do not follow symlinks"
    )]
    SymlinkLoop {
        /// The local symlink (or the directory reached through it).
        path: PathBuf,
    },

    /// Opening or reading a local file's content failed, or the file shrank
    /// while it was read.
    #[error("failed to read local file {path}: {source}; check its permissions or exclude it")]
    ReadLocal {
        /// The local file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },

    /// Writing to the tar stream failed.
    #[error("failed to write archive entry {entry} to the tar stream: {source}")]
    WriteArchive {
        /// The name of the entry in the archive.
        entry: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },

    /// The tar stream could not be read or parsed.
    #[error("failed to read the tar stream (corrupt or cut short): {source}")]
    ReadArchive {
        /// The I/O or parse error.
        #[source]
        source: io::Error,
    },

    /// The tar stream ended inside an entry's content.
    #[error("the tar stream ended inside entry {entry}: it was cut short")]
    TruncatedEntry {
        /// The entry whose content is incomplete.
        entry: PathBuf,
    },

    /// The tar stream ended without its end-of-archive marker.
    #[error("the tar stream ended without its end-of-archive marker: it was cut short")]
    MissingEndOfArchive,

    /// An entry's path is absolute, has a prefix, or contains `..`.
    #[error(
        "refusing archive entry {entry:?}: its path must be relative and must not contain `..`"
    )]
    UnsafePath {
        /// The path as the archive gave it.
        entry: PathBuf,
    },

    /// A hard link entry points to a path that is absolute or contains `..`.
    #[error(
        "refusing hard link entry {entry}: its target {target:?} must be relative \
         and must not contain `..`"
    )]
    UnsafeHardLink {
        /// The hard link entry.
        entry: PathBuf,
        /// Its target as the archive gave it.
        target: PathBuf,
    },

    /// A parent of an entry is a symlink; nothing is written through one.
    #[error(
        "refusing archive entry {entry}: its parent {symlink} is a symlink, \
         and nothing is ever written through a symlink"
    )]
    ThroughSymlink {
        /// The entry (after any rename of its top component).
        entry: PathBuf,
        /// The local symlink in its way.
        symlink: PathBuf,
    },

    /// A parent of an entry exists and is neither a directory nor a symlink.
    #[error("refusing archive entry {entry}: its parent {parent} exists and is not a directory")]
    ParentNotDirectory {
        /// The entry (after any rename of its top component).
        entry: PathBuf,
        /// The local path in its way.
        parent: PathBuf,
    },

    /// A file or symlink entry would replace an existing local directory.
    #[error(
        "refusing archive entry {entry}: {path} is an existing directory; \
         remove it first to replace it"
    )]
    WouldReplaceDirectory {
        /// The entry (after any rename of its top component).
        entry: PathBuf,
        /// The existing local directory.
        path: PathBuf,
    },

    /// The destination directory cannot be resolved or is not a directory.
    #[error("destination {path} is not a usable directory: {source}")]
    Destination {
        /// The destination as given.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },

    /// The local path to download to has no final name to rename to.
    #[error("local path {path} has no file name to copy to; name a file or directory")]
    DownloadName {
        /// The local path as given.
        path: PathBuf,
    },

    /// The new name for the top entry is not one plain file name.
    #[error("new top name {name:?} must be one plain file name")]
    TopName {
        /// The name as given.
        name: std::ffi::OsString,
    },

    /// Removing an existing file or symlink before replacing it failed.
    #[error("failed to remove existing {path} before replacing it: {source}")]
    RemoveLocal {
        /// The local path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },

    /// Creating a local file, directory or symlink failed.
    #[error("failed to create {path}: {source}")]
    CreateLocal {
        /// The local path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },

    /// Writing a local file's content failed.
    #[error("failed to write {path}: {source}")]
    WriteLocal {
        /// The local path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },

    /// Setting a local file's or directory's final mode or mtime failed.
    #[error("failed to set the mode or mtime of {path}: {source}")]
    SetMetadata {
        /// The local path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

/// The result of the steps in [`crate::files`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
