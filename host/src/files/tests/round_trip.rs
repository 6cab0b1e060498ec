//! Pack then unpack gives back the same tree.

use std::fs::{self, File};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::files::tests::fixture::{
    self, MANY_FILES, Node, SAMPLE_EXCLUDES, fixed_mtime, long_name, mode_of, pack_to_vec,
    sample_kept, sample_tree, snapshot, unpack_slice, write_file,
};
use crate::files::{Counts, Excludes, PackSource, UnpackOptions, download_placement, pack, unpack};

fn sample_source(root: &Path) -> PackSource {
    let mut source = PackSource::new(root, "dst");
    source.exclude = Excludes::new(&SAMPLE_EXCLUDES).expect("excludes");
    source
}

#[test]
fn round_trip_keeps_content_modes_links_and_counts() {
    let work = tempfile::tempdir().expect("tempdir");
    let src = work.path().join("src");
    let dest = work.path().join("dest");
    fs::create_dir_all(&dest).expect("mkdir dest");
    sample_tree(&src, MANY_FILES);

    let (archive, packed) = pack_to_vec(&[sample_source(&src)]);
    let unpacked = unpack_slice(&archive, &dest, &UnpackOptions::default()).expect("unpack");

    let expected = sample_kept(&src);
    assert_eq!(snapshot(&dest.join("dst")), expected);
    let content_bytes: u64 = expected
        .values()
        .map(|node| match node {
            Node::File { content, .. } => content.len() as u64,
            _ => 0,
        })
        .sum();
    let counts = Counts {
        // dst, empty, locked, deep, a, a/b, many
        files: MANY_FILES as u64 + 5,
        directories: 7,
        symlinks: 3,
        bytes: content_bytes,
        skipped: 0,
    };
    assert_eq!(packed.counts, counts);
    assert_eq!(unpacked.counts, counts);
    assert_eq!(mode_of(&dest.join("dst/secret.txt")), 0o600);
    assert_eq!(mode_of(&dest.join("dst/run.sh")), 0o755);
    assert_eq!(mode_of(&dest.join("dst/locked")), 0o500);
    assert!(dest.join("dst/deep").join(long_name()).is_file());
    fixture::unlock(&src);
    fixture::unlock(&dest);
}

#[test]
fn round_trip_keeps_mtimes_of_files_and_directories() {
    let work = tempfile::tempdir().expect("tempdir");
    let src = work.path().join("src");
    write_file(&src.join("d/file.txt"), b"x", 0o644);
    File::open(src.join("d"))
        .expect("open dir")
        .set_modified(fixed_mtime())
        .expect("dir mtime");
    let (archive, _) = pack_to_vec(&[PackSource::new(&src, "copy")]);
    unpack_slice(&archive, work.path(), &UnpackOptions::default()).expect("unpack");
    for path in ["copy/d/file.txt", "copy/d"] {
        let meta = fs::metadata(work.path().join(path)).expect("metadata");
        assert_eq!(meta.modified().expect("mtime"), fixed_mtime(), "{path}");
    }
}

#[test]
fn progress_reports_a_growing_total_ending_at_the_byte_count() {
    let work = tempfile::tempdir().expect("tempdir");
    let src = work.path().join("src");
    write_file(&src.join("big.bin"), &vec![7u8; 300 * 1024], 0o644);
    write_file(&src.join("small.txt"), b"small", 0o644);
    let mut seen = Vec::new();
    let mut archive = Vec::new();
    let report = pack(&[PackSource::new(&src, "p")], &mut archive, |n| {
        seen.push(n)
    })
    .expect("pack");
    assert!(seen.windows(2).all(|pair| pair[0] < pair[1]), "{seen:?}");
    assert_eq!(seen.last().copied(), Some(report.counts.bytes));
    assert!(
        seen.len() >= 5,
        "a 300 KiB file reports at each 64 KiB step: {seen:?}"
    );

    let mut unpacked_seen = Vec::new();
    let dest = work.path().join("dest");
    fs::create_dir(&dest).expect("mkdir");
    unpack(&archive[..], &dest, &UnpackOptions::default(), |n| {
        unpacked_seen.push(n)
    })
    .expect("unpack");
    assert!(unpacked_seen.windows(2).all(|pair| pair[0] < pair[1]));
    assert_eq!(unpacked_seen.last().copied(), Some(report.counts.bytes));
}

#[test]
fn mode_override_applies_to_the_one_file_of_a_file_source() {
    let work = tempfile::tempdir().expect("tempdir");
    let file = work.path().join("tool");
    write_file(&file, b"#!/bin/sh\n", 0o600);
    let mut source = PackSource::new(&file, "bin/tool");
    source.mode = Some(0o6755);
    let (archive, report) = pack_to_vec(&[source]);
    let dest = work.path().join("dest");
    fs::create_dir(&dest).expect("mkdir");
    unpack_slice(&archive, &dest, &UnpackOptions::default()).expect("unpack");
    assert_eq!(report.counts.files, 1);
    assert_eq!(
        mode_of(&dest.join("bin/tool")),
        0o755,
        "setuid and setgid cleared"
    );
}

#[test]
fn mode_override_applies_to_files_in_a_directory_not_to_directories() {
    let work = tempfile::tempdir().expect("tempdir");
    let src = work.path().join("src");
    write_file(&src.join("sub/a.txt"), b"a", 0o600);
    fixture::set_mode(&src.join("sub"), 0o750);
    fixture::symlink("sub/a.txt", &src.join("link"));
    let mut source = PackSource::new(&src, "out");
    source.mode = Some(0o644);
    let (archive, _) = pack_to_vec(&[source]);
    unpack_slice(&archive, work.path(), &UnpackOptions::default()).expect("unpack");
    assert_eq!(mode_of(&work.path().join("out/sub/a.txt")), 0o644);
    assert_eq!(mode_of(&work.path().join("out/sub")), 0o750);
    assert!(work.path().join("out/link").is_symlink());
}

#[test]
fn setuid_and_setgid_are_cleared_when_packing() {
    let work = tempfile::tempdir().expect("tempdir");
    let src = work.path().join("src");
    write_file(&src.join("suid"), b"x", 0o4755);
    let (archive, _) = pack_to_vec(&[PackSource::new(&src, "p")]);
    let mut entries = tar::Archive::new(&archive[..]);
    let modes: Vec<u32> = entries
        .entries()
        .expect("entries")
        .map(|entry| entry.expect("entry").header().mode().expect("mode"))
        .collect();
    assert_eq!(modes[1], 0o755);
}

#[test]
fn hard_linked_files_are_packed_as_separate_files() {
    let work = tempfile::tempdir().expect("tempdir");
    let src = work.path().join("src");
    write_file(&src.join("one"), b"same inode", 0o644);
    fs::hard_link(src.join("one"), src.join("two")).expect("hard link");
    let (archive, report) = pack_to_vec(&[PackSource::new(&src, "p")]);
    assert_eq!(report.counts.files, 2);
    let dest = work.path().join("dest");
    fs::create_dir(&dest).expect("mkdir");
    unpack_slice(&archive, &dest, &UnpackOptions::default()).expect("unpack");
    let one = fs::metadata(dest.join("p/one")).expect("one");
    let two = fs::metadata(dest.join("p/two")).expect("two");
    assert_ne!(one.ino(), two.ino());
    assert_eq!(fs::read(dest.join("p/two")).expect("read"), b"same inode");
}

#[test]
fn sockets_and_fifos_are_skipped_and_reported() {
    let work = tempfile::tempdir().expect("tempdir");
    let src = work.path().join("src");
    write_file(&src.join("plain"), b"x", 0o644);
    let _listener = std::os::unix::net::UnixListener::bind(src.join("sock")).expect("bind socket");
    let fifo = std::ffi::CString::new(src.join("fifo").into_os_string().into_encoded_bytes())
        .expect("c path");
    // SAFETY: `fifo` is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    let (_, report) = pack_to_vec(&[PackSource::new(&src, "p")]);
    assert_eq!(report.counts.files, 1);
    assert_eq!(report.counts.skipped, 2);
    let skipped: Vec<_> = report
        .skipped
        .iter()
        .map(|s| (s.path.clone(), s.kind))
        .collect();
    assert_eq!(
        skipped,
        vec![
            (src.join("fifo"), crate::files::SkipKind::Fifo),
            (src.join("sock"), crate::files::SkipKind::Socket),
        ]
    );
}

#[test]
fn several_sources_share_one_stream() {
    let work = tempfile::tempdir().expect("tempdir");
    write_file(&work.path().join("a.txt"), b"a", 0o644);
    write_file(&work.path().join("tree/b.txt"), b"b", 0o644);
    let (archive, report) = pack_to_vec(&[
        PackSource::new(work.path().join("a.txt"), "x/a.txt"),
        PackSource::new(work.path().join("tree"), "y"),
    ]);
    assert_eq!(report.counts.files, 2);
    let dest = work.path().join("dest");
    fs::create_dir(&dest).expect("mkdir");
    unpack_slice(&archive, &dest, &UnpackOptions::default()).expect("unpack");
    assert_eq!(fs::read(dest.join("x/a.txt")).expect("a"), b"a");
    assert_eq!(fs::read(dest.join("y/b.txt")).expect("b"), b"b");
}

#[test]
fn dot_name_packs_the_content_without_the_directory_entry() {
    let work = tempfile::tempdir().expect("tempdir");
    let src = work.path().join("src");
    write_file(&src.join("a.txt"), b"a", 0o644);
    let (archive, report) = pack_to_vec(&[PackSource::new(&src, ".")]);
    assert_eq!(report.counts.directories, 0);
    let names: Vec<_> = tar::Archive::new(&archive[..])
        .entries()
        .expect("entries")
        .map(|entry| entry.expect("entry").path().expect("path").into_owned())
        .collect();
    assert_eq!(names, vec![Path::new("a.txt").to_path_buf()]);
}

#[test]
fn archive_name_with_parent_is_refused() {
    let work = tempfile::tempdir().expect("tempdir");
    let mut archive = Vec::new();
    let err = pack(
        &[PackSource::new(work.path(), "../up")],
        &mut archive,
        |_| {},
    )
    .expect_err("refused");
    assert!(
        err.to_string().starts_with("archive name \"../up\""),
        "{err}"
    );
}

#[test]
fn excluded_directory_is_not_unpacked_at_any_depth() {
    let work = tempfile::tempdir().expect("tempdir");
    let src = work.path().join("src");
    write_file(&src.join("a/node_modules/x/y.js"), b"y", 0o644);
    write_file(&src.join("a/keep.js"), b"k", 0o644);
    let (archive, _) = pack_to_vec(&[PackSource::new(&src, "p")]);
    let dest = work.path().join("dest");
    fs::create_dir(&dest).expect("mkdir");
    let options = UnpackOptions {
        exclude: Excludes::new(&["node_modules"]).expect("excludes"),
        ..UnpackOptions::default()
    };
    let report = unpack_slice(&archive, &dest, &options).expect("unpack");
    assert!(!dest.join("p/a/node_modules").exists());
    assert!(dest.join("p/a/keep.js").is_file());
    assert_eq!(report.counts.directories, 2);
}

#[test]
fn download_to_a_missing_path_lands_as_that_path() {
    let work = tempfile::tempdir().expect("tempdir");
    write_file(&work.path().join("x/f.txt"), b"f", 0o644);
    let (archive, _) = pack_to_vec(&[PackSource::new(work.path().join("x"), "x")]);
    let here = work.path().join("here");
    let placement = download_placement(&here).expect("placement");
    let options = UnpackOptions {
        rename_top: placement.rename_top,
        ..UnpackOptions::default()
    };
    unpack_slice(&archive, &placement.destination, &options).expect("unpack");
    assert_eq!(fs::read(here.join("f.txt")).expect("read"), b"f");
}

#[test]
fn download_to_an_existing_directory_lands_inside_it() {
    let work = tempfile::tempdir().expect("tempdir");
    write_file(&work.path().join("x/f.txt"), b"f", 0o644);
    let (archive, _) = pack_to_vec(&[PackSource::new(work.path().join("x"), "x")]);
    let here = work.path().join("here");
    fs::create_dir(&here).expect("mkdir");
    let placement = download_placement(&here).expect("placement");
    let options = UnpackOptions {
        rename_top: placement.rename_top,
        ..UnpackOptions::default()
    };
    unpack_slice(&archive, &placement.destination, &options).expect("unpack");
    assert_eq!(fs::read(here.join("x/f.txt")).expect("read"), b"f");
}

#[test]
fn download_of_a_file_replaces_an_existing_file() {
    let work = tempfile::tempdir().expect("tempdir");
    write_file(&work.path().join("remote.txt"), b"new", 0o644);
    write_file(&work.path().join("local.txt"), b"old", 0o644);
    let (archive, _) = pack_to_vec(&[PackSource::new(
        work.path().join("remote.txt"),
        "remote.txt",
    )]);
    let placement = download_placement(&work.path().join("local.txt")).expect("placement");
    let options = UnpackOptions {
        rename_top: placement.rename_top,
        ..UnpackOptions::default()
    };
    unpack_slice(&archive, &placement.destination, &options).expect("unpack");
    assert_eq!(
        fs::read(work.path().join("local.txt")).expect("read"),
        b"new"
    );
}

#[test]
fn destination_given_through_a_symlink_is_resolved() {
    let work = tempfile::tempdir().expect("tempdir");
    write_file(&work.path().join("src/f.txt"), b"f", 0o644);
    fs::create_dir(work.path().join("real")).expect("mkdir");
    fixture::symlink("real", &work.path().join("alias"));
    let (archive, _) = pack_to_vec(&[PackSource::new(work.path().join("src"), "p")]);
    unpack_slice(
        &archive,
        &work.path().join("alias"),
        &UnpackOptions::default(),
    )
    .expect("unpack");
    assert!(work.path().join("real/p/f.txt").is_file());
}

#[test]
fn unreadable_file_is_an_error_naming_it() {
    if fixture::running_as_root() {
        eprintln!("skipped: root reads files whatever their mode");
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let src = work.path().join("src");
    write_file(&src.join("closed.txt"), b"x", 0o000);
    let mut archive = Vec::new();
    let err = pack(&[PackSource::new(&src, "p")], &mut archive, |_| {}).expect_err("refused");
    let path = src.join("closed.txt");
    assert!(
        matches!(&err, crate::files::Error::ReadLocal { path: p, .. } if *p == path),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with(&format!("failed to read local file {}", path.display())),
        "{err}"
    );
}

#[test]
fn failed_pack_leaves_the_stream_without_its_end_marker() {
    let work = tempfile::tempdir().expect("tempdir");
    write_file(&work.path().join("src/a.txt"), b"a", 0o644);
    let mut archive = Vec::new();
    let err = pack(
        &[
            PackSource::new(work.path().join("src"), "ok"),
            PackSource::new(work.path().join("missing"), "gone"),
        ],
        &mut archive,
        |_| {},
    )
    .expect_err("missing source");
    assert!(matches!(err, crate::files::Error::Walk { .. }), "{err}");
    let dest = work.path().join("dest");
    fs::create_dir(&dest).expect("mkdir");
    let unpacked = unpack_slice(&archive, &dest, &UnpackOptions::default());
    assert!(
        matches!(unpacked, Err(crate::files::Error::MissingEndOfArchive)),
        "{unpacked:?}"
    );
}

#[test]
fn directories_are_packed_depth_first_in_name_order() {
    let work = tempfile::tempdir().expect("tempdir");
    let src = work.path().join("src");
    let letters: Vec<char> = ('a'..='z').rev().collect();
    for letter in &letters {
        write_file(&src.join(format!("{letter}/{letter}.txt")), b"x", 0o644);
    }
    let (archive, _) = pack_to_vec(&[PackSource::new(&src, "p")]);
    let names: Vec<_> = tar::Archive::new(&archive[..])
        .entries()
        .expect("entries")
        .map(|entry| entry.expect("entry").path().expect("path").into_owned())
        .collect();
    let mut expected = vec![Path::new("p").to_path_buf()];
    for letter in ('a'..='z').map(String::from) {
        expected.push(Path::new("p").join(&letter));
        expected.push(Path::new("p").join(&letter).join(format!("{letter}.txt")));
    }
    assert_eq!(names, expected);
}
