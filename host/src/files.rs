//! Copying files between this machine and a sandbox as a tar stream.
//!
//! `leasebox cp` and the sync calls run `tar -x -p` or `tar -c` (GNU or
//! busybox) in the pod over an exec; this module is the local end of that
//! stream:
//!
//! - [`pack`] writes local files and trees, each a [`PackSource`], to a
//!   tar stream for the pod's `tar -x`.
//! - [`unpack`] writes a tar stream from the pod's `tar -c` into a local
//!   directory. The stream is untrusted: entries that leave the
//!   destination or go through a symlink stop the unpack with an error.
//! - [`download_placement`] decides, like `cp -r`, whether a download
//!   lands inside an existing directory or as a new name.
//!
//! Both ends apply [`Excludes`] globs and return a [`Report`] of what they
//! copied and skipped. Failures are one [`Error`], named by the step.
//!
//! Unix only: modes, symlinks and `O_NOFOLLOW` are what this is about.

mod destination;
mod entry_path;
mod error;
mod exclude;
mod pack;
mod placement;
mod report;
mod unpack;

#[cfg(test)]
mod tests;

pub use error::{Error, Result};
pub use exclude::Excludes;
pub use pack::{PackSource, pack};
pub use placement::{Placement, download_placement};
pub use report::{Counts, PROGRESS_STEP, Report, SkipKind, Skipped};
pub use unpack::{UnpackOptions, unpack};
