//! Symlinks when packing: stored as links, or followed on request.

use std::fs;

use crate::files::tests::fixture::{self, pack_to_vec, unpack_slice, write_file};
use crate::files::{Error, PackSource, UnpackOptions, pack};

fn following(local: &std::path::Path, name: &str) -> PackSource {
    let mut source = PackSource::new(local, name);
    source.follow_symlinks = true;
    source
}

#[test]
fn follow_symlinks_stores_what_links_point_to() {
    let work = tempfile::tempdir().expect("tempdir");
    let src = work.path().join("src");
    write_file(&src.join("real.txt"), b"content", 0o640);
    write_file(&src.join("dir/inner.txt"), b"inner", 0o644);
    fixture::symlink("real.txt", &src.join("link.txt"));
    fixture::symlink("dir", &src.join("link-dir"));
    let (archive, report) = pack_to_vec(&[following(&src, "p")]);
    assert_eq!(report.counts.symlinks, 0);
    assert_eq!(report.counts.files, 4);
    unpack_slice(&archive, work.path(), &UnpackOptions::default()).expect("unpack");
    let link = work.path().join("p/link.txt");
    assert!(!link.is_symlink());
    assert_eq!(fs::read(&link).expect("read"), b"content");
    assert_eq!(fixture::mode_of(&link), 0o640);
    assert_eq!(
        fs::read(work.path().join("p/link-dir/inner.txt")).expect("read"),
        b"inner"
    );
}

#[test]
fn dangling_symlink_with_follow_is_an_error_naming_it() {
    let work = tempfile::tempdir().expect("tempdir");
    let src = work.path().join("src");
    fs::create_dir(&src).expect("mkdir");
    fixture::symlink("nowhere", &src.join("broken"));
    let mut archive = Vec::new();
    let err = pack(&[following(&src, "p")], &mut archive, |_| {}).expect_err("dangling");
    assert!(
        matches!(&err, Error::DanglingSymlink { path } if *path == src.join("broken")),
        "{err}"
    );
    assert!(
        err.to_string().starts_with(&format!(
            "symlink {} points to nothing",
            src.join("broken").display()
        )),
        "{err}"
    );
}

#[test]
fn dangling_symlink_without_follow_is_stored_as_a_link() {
    let work = tempfile::tempdir().expect("tempdir");
    let src = work.path().join("src");
    fs::create_dir(&src).expect("mkdir");
    fixture::symlink("nowhere", &src.join("broken"));
    let (archive, report) = pack_to_vec(&[PackSource::new(&src, "p")]);
    assert_eq!(report.counts.symlinks, 1);
    unpack_slice(&archive, work.path(), &UnpackOptions::default()).expect("unpack");
    assert_eq!(
        fs::read_link(work.path().join("p/broken")).expect("read_link"),
        std::path::Path::new("nowhere")
    );
}

#[test]
fn symlink_loop_with_follow_is_an_error_naming_it() {
    let work = tempfile::tempdir().expect("tempdir");
    let src = work.path().join("src");
    fs::create_dir_all(src.join("sub")).expect("mkdir");
    fixture::symlink("..", &src.join("sub/up"));
    let mut archive = Vec::new();
    let err = pack(&[following(&src, "p")], &mut archive, |_| {}).expect_err("loop");
    assert!(
        matches!(&err, Error::SymlinkLoop { path } if *path == src.join("sub/up")),
        "{err}"
    );
}

#[test]
fn self_referencing_symlink_with_follow_is_an_error_naming_it() {
    let work = tempfile::tempdir().expect("tempdir");
    let src = work.path().join("src");
    fs::create_dir(&src).expect("mkdir");
    fixture::symlink("me", &src.join("me"));
    let mut archive = Vec::new();
    let err = pack(&[following(&src, "p")], &mut archive, |_| {}).expect_err("loop");
    assert!(
        matches!(&err, Error::SymlinkLoop { path } if *path == src.join("me")),
        "{err}"
    );
}
