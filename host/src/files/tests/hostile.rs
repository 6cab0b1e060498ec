//! Unpacking a hostile stream: nothing lands outside the destination.

use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rstest::rstest;
use tar::EntryType;

use crate::files::tests::fixture::{
    self, RawArchive, mode_of, pack_to_vec, unpack_slice, write_file,
};
use crate::files::unpack::unpack_observed;
use crate::files::{Error, SkipKind, UnpackOptions};

/// A destination inside an outer directory that nothing may touch.
struct Sandbox {
    _work: tempfile::TempDir,
    outer: PathBuf,
    dest: PathBuf,
}

impl Sandbox {
    fn new() -> Self {
        let work = tempfile::tempdir().expect("tempdir");
        let outer = work.path().to_path_buf();
        let dest = outer.join("dest");
        fs::create_dir(&dest).expect("mkdir dest");
        Self {
            _work: work,
            outer,
            dest,
        }
    }

    fn unpack(&self, archive: &[u8]) -> crate::files::Result<crate::files::Report> {
        unpack_slice(archive, &self.dest, &UnpackOptions::default())
    }

    /// The outer directory holds nothing but the destination.
    fn assert_nothing_escaped(&self) {
        let names: Vec<_> = fs::read_dir(&self.outer)
            .expect("read outer")
            .map(|entry| entry.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("dest")]);
    }
}

#[rstest]
#[case::parent("../escaped")]
#[case::parent_after_a_name("a/../../escaped")]
#[case::parent_that_would_stay_inside("a/../escaped")]
#[case::absolute_into_the_outer_directory("{outer}/escaped")]
#[case::absolute_etc("/etc/leasebox-test-escaped")]
fn unsafe_entry_path_is_refused_and_nothing_is_written(#[case] path: &str) {
    let sandbox = Sandbox::new();
    let path = path.replace("{outer}", &sandbox.outer.display().to_string());
    let archive = RawArchive::default()
        .file(&path, 0o644, b"escaped")
        .finish();
    let err = sandbox.unpack(&archive).expect_err("refused");
    assert!(
        matches!(&err, Error::UnsafePath { entry } if *entry == Path::new(&path)),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "refusing archive entry {path:?}: its path must be relative and must not contain `..`"
        )
    );
    sandbox.assert_nothing_escaped();
    assert!(!Path::new("/etc/leasebox-test-escaped").exists());
    assert_eq!(fs::read_dir(&sandbox.dest).expect("read dest").count(), 0);
}

#[rstest]
#[case::pax_parent(RawArchive::default().pax_path("../escaped"))]
#[case::pax_absolute(RawArchive::default().pax_path("/etc/leasebox-test-escaped"))]
#[case::gnu_long_name_parent(RawArchive::default().gnu_long_name(&format!("{}/../../escaped", "d".repeat(120))))]
fn unsafe_long_entry_path_is_refused(#[case] archive: RawArchive) {
    let sandbox = Sandbox::new();
    let archive = archive.file("harmless", 0o644, b"escaped").finish();
    let err = sandbox.unpack(&archive).expect_err("refused");
    assert!(matches!(err, Error::UnsafePath { .. }), "{err}");
    sandbox.assert_nothing_escaped();
    assert!(!Path::new("/etc/leasebox-test-escaped").exists());
    assert_eq!(fs::read_dir(&sandbox.dest).expect("read dest").count(), 0);
}

#[rstest]
#[case::absolute_target("{outer}")]
#[case::relative_target("..")]
fn entry_through_a_symlink_entry_is_refused(#[case] target: &str) {
    let sandbox = Sandbox::new();
    let target = target.replace("{outer}", &sandbox.outer.display().to_string());
    let archive = RawArchive::default()
        .symlink("a", &target)
        .file("a/escaped", 0o644, b"escaped")
        .finish();
    let err = sandbox.unpack(&archive).expect_err("refused");
    assert!(
        matches!(&err, Error::ThroughSymlink { entry, symlink }
            if *entry == Path::new("a/escaped") && *symlink == sandbox.dest.canonicalize().expect("canon").join("a")),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("is a symlink, and nothing is ever written through")
    );
    sandbox.assert_nothing_escaped();
    assert_eq!(
        fs::read_link(sandbox.dest.join("a")).expect("link kept as given"),
        Path::new(&target)
    );
}

#[test]
fn entry_through_an_existing_symlink_in_the_destination_is_refused() {
    let sandbox = Sandbox::new();
    fixture::symlink(
        &sandbox.outer.display().to_string(),
        &sandbox.dest.join("sub"),
    );
    let archive = RawArchive::default()
        .file("sub/escaped", 0o644, b"escaped")
        .finish();
    let err = sandbox.unpack(&archive).expect_err("refused");
    assert!(matches!(err, Error::ThroughSymlink { .. }), "{err}");
    sandbox.assert_nothing_escaped();
}

#[test]
fn directory_entry_through_a_symlink_is_refused() {
    let sandbox = Sandbox::new();
    let archive = RawArchive::default()
        .symlink("a", "..")
        .directory("a/made", 0o755)
        .finish();
    let err = sandbox.unpack(&archive).expect_err("refused");
    assert!(matches!(err, Error::ThroughSymlink { .. }), "{err}");
    sandbox.assert_nothing_escaped();
}

#[test]
fn existing_symlink_at_a_file_entry_is_replaced_not_followed() {
    let sandbox = Sandbox::new();
    let victim = sandbox.dest.join("victim");
    write_file(&victim, b"original", 0o644);
    fixture::symlink("victim", &sandbox.dest.join("link"));
    fixture::symlink("missing-target", &sandbox.dest.join("dangling"));
    let archive = RawArchive::default()
        .file("link", 0o644, b"new")
        .file("dangling", 0o644, b"new too")
        .finish();
    sandbox.unpack(&archive).expect("unpack");
    assert_eq!(fs::read(&victim).expect("victim"), b"original");
    assert!(!sandbox.dest.join("link").is_symlink());
    assert_eq!(fs::read(sandbox.dest.join("link")).expect("link"), b"new");
    assert!(!sandbox.dest.join("missing-target").exists());
    assert_eq!(
        fs::read(sandbox.dest.join("dangling")).expect("dangling"),
        b"new too"
    );
}

#[test]
fn existing_symlink_at_a_directory_entry_is_replaced_not_followed() {
    let sandbox = Sandbox::new();
    fixture::symlink("..", &sandbox.dest.join("d"));
    let archive = RawArchive::default()
        .directory("d", 0o755)
        .file("d/f", 0o644, b"f")
        .finish();
    sandbox.unpack(&archive).expect("unpack");
    assert!(!sandbox.dest.join("d").is_symlink());
    assert!(sandbox.dest.join("d/f").is_file());
    sandbox.assert_nothing_escaped();
}

#[test]
fn file_entry_never_replaces_an_existing_directory() {
    let sandbox = Sandbox::new();
    write_file(&sandbox.dest.join("d/keep"), b"keep", 0o644);
    let archive = RawArchive::default().file("d", 0o644, b"x").finish();
    let err = sandbox.unpack(&archive).expect_err("refused");
    assert!(matches!(err, Error::WouldReplaceDirectory { .. }), "{err}");
    assert!(sandbox.dest.join("d/keep").is_file());
}

#[test]
fn first_unsafe_entry_stops_the_whole_unpack() {
    let sandbox = Sandbox::new();
    let archive = RawArchive::default()
        .file("before", 0o644, b"b")
        .file("../escaped", 0o644, b"e")
        .file("after", 0o644, b"a")
        .finish();
    sandbox.unpack(&archive).expect_err("refused");
    assert!(sandbox.dest.join("before").is_file());
    assert!(!sandbox.dest.join("after").exists());
    sandbox.assert_nothing_escaped();
}

#[test]
fn file_is_never_more_open_than_its_mode_while_written() {
    let sandbox = Sandbox::new();
    let archive = RawArchive::default()
        .file("secret", 0o600, &vec![b's'; 200 * 1024])
        .finish();
    let mut observed = Vec::new();
    unpack_observed(
        &archive[..],
        &sandbox.dest,
        &UnpackOptions::default(),
        &mut |_| {},
        &mut |path: &Path, file: &File| {
            let meta = file.metadata().expect("fstat");
            observed.push((
                path.to_path_buf(),
                meta.permissions().mode() & 0o7777,
                meta.len(),
            ));
        },
    )
    .expect("unpack");
    assert_eq!(observed.len(), 1);
    let (path, mode, len) = &observed[0];
    assert!(path.ends_with("secret"));
    assert_eq!(*len, 0, "observed before any content");
    assert_eq!(mode & !0o600, 0, "created no more open than 0600: {mode:o}");
    assert_eq!(mode_of(&sandbox.dest.join("secret")), 0o600);
}

#[test]
fn file_gets_exactly_its_mode_once_written_like_tar_p() {
    let sandbox = Sandbox::new();
    let archive = RawArchive::default().file("shared", 0o666, b"x").finish();
    sandbox.unpack(&archive).expect("unpack");
    assert_eq!(mode_of(&sandbox.dest.join("shared")), 0o666);
}

#[test]
fn setuid_setgid_and_sticky_are_not_kept() {
    let sandbox = Sandbox::new();
    let archive = RawArchive::default()
        .file("suid", 0o6755, b"x")
        .directory("sticky", 0o1777)
        .finish();
    sandbox.unpack(&archive).expect("unpack");
    assert_eq!(mode_of(&sandbox.dest.join("suid")), 0o755);
    assert_eq!(mode_of(&sandbox.dest.join("sticky")), 0o777);
}

#[test]
fn read_only_directory_is_filled_then_locked() {
    let sandbox = Sandbox::new();
    let archive = RawArchive::default()
        .directory("ro", 0o500)
        .directory("ro/sub", 0o500)
        .file("ro/sub/f", 0o400, b"f")
        .finish();
    sandbox.unpack(&archive).expect("unpack");
    assert_eq!(mode_of(&sandbox.dest.join("ro")), 0o500);
    assert_eq!(mode_of(&sandbox.dest.join("ro/sub")), 0o500);
    assert_eq!(mode_of(&sandbox.dest.join("ro/sub/f")), 0o400);
    fixture::unlock(&sandbox.dest);
}

#[test]
fn repeated_directory_entry_takes_the_last_mode() {
    let sandbox = Sandbox::new();
    let archive = RawArchive::default()
        .directory("d", 0o700)
        .directory("d", 0o500)
        .file("d/f", 0o644, b"f")
        .finish();
    let report = sandbox.unpack(&archive).expect("unpack");
    assert_eq!(mode_of(&sandbox.dest.join("d")), 0o500);
    assert_eq!(report.counts.directories, 2);
    fixture::unlock(&sandbox.dest);
}

#[test]
fn hard_link_to_a_file_of_the_stream_is_materialised_as_a_copy() {
    let sandbox = Sandbox::new();
    let archive = RawArchive::default()
        .file("one", 0o640, b"shared")
        .hard_link("two", "one")
        .finish();
    let report = sandbox.unpack(&archive).expect("unpack");
    assert_eq!(fs::read(sandbox.dest.join("two")).expect("two"), b"shared");
    assert_eq!(mode_of(&sandbox.dest.join("two")), 0o640);
    assert_eq!(report.counts.files, 2);
    assert_eq!(report.counts.bytes, 12);
}

#[test]
fn hard_link_to_a_file_not_from_the_stream_is_skipped() {
    let sandbox = Sandbox::new();
    write_file(&sandbox.dest.join("private"), b"private", 0o600);
    let archive = RawArchive::default().hard_link("copy", "private").finish();
    let report = sandbox.unpack(&archive).expect("unpack");
    assert!(!sandbox.dest.join("copy").exists());
    assert_eq!(report.counts.skipped, 1);
    assert_eq!(report.skipped[0].kind, SkipKind::HardLink);
}

#[test]
fn hard_link_leaving_the_destination_is_refused() {
    let sandbox = Sandbox::new();
    let archive = RawArchive::default()
        .hard_link("copy", "../../etc/passwd")
        .finish();
    let err = sandbox.unpack(&archive).expect_err("refused");
    assert!(matches!(err, Error::UnsafeHardLink { .. }), "{err}");
    assert_eq!(fs::read_dir(&sandbox.dest).expect("read dest").count(), 0);
}

#[test]
fn devices_and_fifos_are_skipped_and_counted() {
    let sandbox = Sandbox::new();
    let archive = RawArchive::default()
        .special("fifo", EntryType::fifo())
        .special("char", EntryType::character_special())
        .special("block", EntryType::block_special())
        .finish();
    let report = sandbox.unpack(&archive).expect("unpack");
    assert_eq!(report.counts.skipped, 3);
    let kinds: Vec<_> = report.skipped.iter().map(|s| s.kind).collect();
    assert_eq!(
        kinds,
        vec![SkipKind::Fifo, SkipKind::CharDevice, SkipKind::BlockDevice]
    );
    assert_eq!(fs::read_dir(&sandbox.dest).expect("read dest").count(), 0);
}

#[test]
fn dot_directory_entry_leaves_the_destination_mode_alone() {
    let sandbox = Sandbox::new();
    fixture::set_mode(&sandbox.dest, 0o750);
    let archive = RawArchive::default()
        .directory("./", 0o777)
        .file("./f", 0o644, b"f")
        .finish();
    sandbox.unpack(&archive).expect("unpack");
    assert_eq!(mode_of(&sandbox.dest), 0o750);
    assert!(sandbox.dest.join("f").is_file());
}

#[test]
fn stream_cut_inside_a_file_is_an_error_and_leaves_no_partial_file() {
    let sandbox = Sandbox::new();
    let archive = RawArchive::default()
        .file("big", 0o644, &vec![b'x'; 10_000])
        .finish();
    let err = sandbox.unpack(&archive[..512 + 4000]).expect_err("cut");
    assert!(
        matches!(&err, Error::TruncatedEntry { entry } if entry == Path::new("big")),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "the tar stream ended inside entry big: it was cut short"
    );
    assert!(!sandbox.dest.join("big").exists());
}

#[test]
fn stream_cut_between_entries_is_an_error() {
    let sandbox = Sandbox::new();
    let archive = RawArchive::default().file("a", 0o644, b"a").finish();
    let err = sandbox.unpack(&archive[..1024]).expect_err("cut");
    assert!(matches!(err, Error::MissingEndOfArchive), "{err}");
}

#[test]
fn stream_cut_inside_a_header_is_an_error() {
    let sandbox = Sandbox::new();
    let archive = RawArchive::default().file("a", 0o644, b"a").finish();
    let err = sandbox.unpack(&archive[..1024 + 100]).expect_err("cut");
    assert!(
        matches!(err, Error::ReadArchive { .. } | Error::MissingEndOfArchive),
        "{err}"
    );
}

#[test]
fn corrupt_header_is_an_error() {
    let sandbox = Sandbox::new();
    let mut archive = RawArchive::default().file("a", 0o644, b"a").finish();
    archive[0] ^= 0x55;
    let err = sandbox.unpack(&archive).expect_err("corrupt");
    assert!(
        err.to_string()
            .starts_with("failed to read the tar stream (corrupt or cut short)"),
        "{err}"
    );
}

#[test]
fn rename_top_must_be_a_single_name() {
    let sandbox = Sandbox::new();
    let archive = RawArchive::default().file("x", 0o644, b"x").finish();
    let options = UnpackOptions {
        rename_top: Some("../up".into()),
        ..UnpackOptions::default()
    };
    let err = unpack_slice(&archive, &sandbox.dest, &options).expect_err("refused");
    assert!(matches!(err, Error::TopName { .. }), "{err}");
}

#[test]
fn missing_destination_is_an_error_naming_it() {
    let sandbox = Sandbox::new();
    let (archive, _) = pack_to_vec(&[]);
    let missing = sandbox.outer.join("missing");
    let err = unpack_slice(&archive, &missing, &UnpackOptions::default()).expect_err("missing");
    assert!(
        err.to_string().starts_with(&format!(
            "destination {} is not a usable directory",
            missing.display()
        )),
        "{err}"
    );
}
