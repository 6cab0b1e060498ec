//! Files: write, read, stat, list, remove.

use crate::cluster::Cluster;
use crate::error::PolicyError;
use crate::lease::{FileEntry, FilesInRequest, FilesOutRequest, Lease};

fn pending(step: &str) -> PolicyError {
    PolicyError::step(step, "NotImplemented", "not yet")
}

pub(crate) fn write_files(
    _cluster: &dyn Cluster,
    request: &FilesInRequest,
) -> Result<(), PolicyError> {
    super::execute::check_lease(&request.lease)?;
    Err(pending("write-files"))
}

pub(crate) fn read_files(
    _cluster: &dyn Cluster,
    request: &FilesOutRequest,
) -> Result<(), PolicyError> {
    super::execute::check_lease(&request.lease)?;
    Err(pending("read-files"))
}

pub(crate) fn stat_path(
    _cluster: &dyn Cluster,
    lease: &Lease,
    _path: &str,
) -> Result<Option<FileEntry>, PolicyError> {
    super::execute::check_lease(lease)?;
    Err(pending("stat-path"))
}

pub(crate) fn list_directory(
    _cluster: &dyn Cluster,
    lease: &Lease,
    _path: &str,
) -> Result<Vec<FileEntry>, PolicyError> {
    super::execute::check_lease(lease)?;
    Err(pending("list-directory"))
}

pub(crate) fn remove_path(
    _cluster: &dyn Cluster,
    lease: &Lease,
    _path: &str,
    _recursive: bool,
) -> Result<bool, PolicyError> {
    super::execute::check_lease(lease)?;
    Err(pending("remove-path"))
}
