//! Unpacking with `file_mode`: every regular file gets that mode from the
//! moment it exists, before a byte of it lands, instead of its entry's.

use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::files::tests::fixture::{RawArchive, mode_of};
use crate::files::unpack::unpack_observed;
use crate::files::{Report, UnpackOptions};

/// A file as the `created` callback saw it: its mode and length right
/// after creation.
#[derive(Debug, PartialEq, Eq)]
struct AtCreation {
    name: PathBuf,
    mode: u32,
    len: u64,
}

/// Unpacks `archive` into `dest` with `file_mode`, noting each file as it
/// is created.
fn unpack_with_mode(archive: &[u8], dest: &Path, file_mode: u32) -> (Report, Vec<AtCreation>) {
    let options = UnpackOptions {
        file_mode: Some(file_mode),
        ..UnpackOptions::default()
    };
    let mut observed = Vec::new();
    let report = unpack_observed(
        archive,
        dest,
        &options,
        &mut |_| {},
        &mut |path: &Path, file: &File| {
            let meta = file.metadata().expect("fstat");
            observed.push(AtCreation {
                name: path.strip_prefix(dest).expect("inside").to_path_buf(),
                mode: meta.permissions().mode() & 0o7777,
                len: meta.len(),
            });
        },
    )
    .expect("unpack");
    (report, observed)
}

fn at_creation(name: &str, mode: u32) -> AtCreation {
    AtCreation {
        name: PathBuf::from(name),
        mode,
        len: 0,
    }
}

#[test]
fn file_mode_replaces_the_entry_mode_before_the_first_byte_and_at_the_end() {
    let dest = tempfile::tempdir().expect("tempdir");
    let archive = RawArchive::default()
        .file("secret", 0o644, &vec![b's'; 200 * 1024])
        .finish();
    let (_, observed) = unpack_with_mode(&archive, dest.path(), 0o600);
    assert_eq!(observed, vec![at_creation("secret", 0o600)]);
    assert_eq!(mode_of(&dest.path().join("secret")), 0o600);
}

#[test]
fn file_mode_is_exact_at_creation_whatever_the_umask() {
    // The umask is the process's, shared by the tests running beside this
    // one, so it is not changed here: a mode with every bit a umask takes
    // away shows the file is set to it, not only opened with it.
    let dest = tempfile::tempdir().expect("tempdir");
    let archive = RawArchive::default().file("open", 0o600, b"x").finish();
    let (_, observed) = unpack_with_mode(&archive, dest.path(), 0o777);
    assert_eq!(observed, vec![at_creation("open", 0o777)]);
    assert_eq!(mode_of(&dest.path().join("open")), 0o777);
}

#[test]
fn file_mode_applies_to_a_hard_link_materialised_as_a_copy() {
    let dest = tempfile::tempdir().expect("tempdir");
    let archive = RawArchive::default()
        .file("one", 0o644, b"shared")
        .hard_link("two", "one")
        .finish();
    let (report, observed) = unpack_with_mode(&archive, dest.path(), 0o600);
    assert_eq!(
        observed,
        vec![at_creation("one", 0o600), at_creation("two", 0o600)]
    );
    assert_eq!(fs::read(dest.path().join("two")).expect("two"), b"shared");
    assert_eq!(mode_of(&dest.path().join("one")), 0o600);
    assert_eq!(mode_of(&dest.path().join("two")), 0o600);
    assert_eq!(report.counts.files, 2);
}

#[test]
fn file_mode_leaves_directories_and_symlinks_their_own() {
    let dest = tempfile::tempdir().expect("tempdir");
    let archive = RawArchive::default()
        .directory("tree", 0o750)
        .file("tree/inside", 0o644, b"inside")
        .symlink("tree/link", "inside")
        .finish();
    unpack_with_mode(&archive, dest.path(), 0o600);
    assert_eq!(mode_of(&dest.path().join("tree")), 0o750);
    assert_eq!(mode_of(&dest.path().join("tree/inside")), 0o600);
    assert_eq!(
        fs::read_link(dest.path().join("tree/link")).expect("still a symlink"),
        PathBuf::from("inside")
    );
}

#[test]
fn file_mode_never_sets_setuid_setgid_or_sticky() {
    let dest = tempfile::tempdir().expect("tempdir");
    let archive = RawArchive::default().file("tool", 0o755, b"x").finish();
    let (_, observed) = unpack_with_mode(&archive, dest.path(), 0o7755);
    assert_eq!(observed, vec![at_creation("tool", 0o755)]);
    assert_eq!(mode_of(&dest.path().join("tool")), 0o755);
}
