//! Where a download lands, like `cp -r`.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use super::error::{Error, Result};

/// Where to unpack a download of one remote path, and what to rename its
/// top entry to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The directory to unpack into.
    pub destination: PathBuf,
    /// The new name of the stream's top entry, for
    /// [`UnpackOptions::rename_top`](super::UnpackOptions::rename_top).
    pub rename_top: Option<OsString>,
}

/// Places a download of remote `x` at local path `local` the way `cp -r`
/// does: into `local/x` when `local` is an existing directory (or a symlink
/// to one), and as `local` itself otherwise, replacing a file there.
///
/// # Errors
///
/// [`Error::DownloadName`] when `local` has no final name (`/`, `..`).
pub fn download_placement(local: &Path) -> Result<Placement> {
    if fs::metadata(local).is_ok_and(|meta| meta.is_dir()) {
        return Ok(Placement {
            destination: local.to_path_buf(),
            rename_top: None,
        });
    }
    let name = local.file_name().ok_or_else(|| Error::DownloadName {
        path: local.to_path_buf(),
    })?;
    let parent = match local.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok(Placement {
        destination: parent,
        rename_top: Some(name.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn existing_directory_receives_the_top_entry() {
        let dir = tempfile::tempdir().expect("tempdir");
        let placement = download_placement(dir.path()).expect("placed");
        assert_eq!(placement.destination, dir.path());
        assert_eq!(placement.rename_top, None);
    }

    #[test]
    fn missing_path_becomes_the_top_entry() {
        let dir = tempfile::tempdir().expect("tempdir");
        let here = dir.path().join("here");
        let placement = download_placement(&here).expect("placed");
        assert_eq!(placement.destination, dir.path());
        assert_eq!(placement.rename_top, Some(OsString::from("here")));
    }

    #[test]
    fn bare_name_lands_in_the_current_directory() {
        let placement = download_placement(Path::new("surely-missing-here")).expect("placed");
        assert_eq!(placement.destination, Path::new("."));
        assert_eq!(
            placement.rename_top,
            Some(OsString::from("surely-missing-here"))
        );
    }

    #[test]
    fn path_without_a_name_is_refused() {
        let err = download_placement(Path::new("missing/..")).expect_err("no name");
        assert_eq!(
            err.to_string(),
            "local path missing/.. has no file name to copy to; name a file or directory"
        );
    }
}
