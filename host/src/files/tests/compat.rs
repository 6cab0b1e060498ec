//! The streams work with the `tar` programs the pod runs: GNU tar and,
//! where this machine has it, busybox tar.

use std::fs;
use std::io::Write;
use std::process::{Command, Stdio};

use rstest::rstest;

use crate::files::tests::fixture::{
    self, SAMPLE_EXCLUDES, pack_to_vec, sample_kept, sample_tree, snapshot, unpack_slice,
};
use crate::files::{Excludes, PackSource, UnpackOptions};

/// How many small files the compatibility trees hold: enough for several
/// directory entries, few enough to run each tool quickly.
const SOME_FILES: usize = 50;

/// The command line of a tar program, or `None` when it is not installed.
fn tar_program(name: &str) -> Option<&'static [&'static str]> {
    let command: &'static [&'static str] = match name {
        "gnu" => &["tar"],
        "busybox" => &["busybox", "tar"],
        _ => unreachable!("unknown tar {name}"),
    };
    Command::new("sh")
        .args(["-c", &format!("command -v {}", command[0])])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
        .then_some(command)
}

fn run(command: &[&str], args: &[&str], stdin: Option<&[u8]>) -> Vec<u8> {
    let mut child = Command::new(command[0])
        .args(&command[1..])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tar");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(bytes) = stdin {
        input.write_all(bytes).expect("feed tar");
    }
    drop(input);
    let output = child.wait_with_output().expect("wait for tar");
    assert!(
        output.status.success(),
        "{command:?} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

#[rstest]
#[case::gnu("gnu")]
#[case::busybox("busybox")]
fn tar_extracts_what_we_pack(#[case] tar: &str) {
    let Some(command) = tar_program(tar) else {
        eprintln!("skipped: {tar} tar is not installed");
        return;
    };
    let work = tempfile::tempdir().expect("tempdir");
    let src = work.path().join("src");
    let dest = work.path().join("dest");
    fs::create_dir(&dest).expect("mkdir");
    sample_tree(&src, SOME_FILES);
    if tar == "busybox" && !fixture::running_as_root() {
        // busybox tar gives a directory its mode as soon as it creates it,
        // so without root it cannot fill a 0500 directory (GNU tar delays).
        fixture::set_mode(&src.join("locked"), 0o755);
    }
    let mut source = PackSource::new(&src, "dst");
    source.exclude = Excludes::new(&SAMPLE_EXCLUDES).expect("excludes");
    let (archive, _) = pack_to_vec(&[source]);

    let dest_arg = dest.display().to_string();
    let args: &[&str] = if tar == "gnu" {
        &["-x", "-p", "--no-same-owner", "-f", "-", "-C", &dest_arg]
    } else {
        &["-x", "-o", "-f", "-", "-C", &dest_arg]
    };
    run(command, args, Some(&archive));

    assert_eq!(snapshot(&dest.join("dst")), sample_kept(&src));
    fixture::unlock(&src);
    fixture::unlock(&dest);
}

#[rstest]
#[case::gnu_default("gnu", &[])]
#[case::gnu_pax("gnu", &["--format=pax"])]
#[case::busybox("busybox", &[])]
fn we_unpack_what_tar_packs(#[case] tar: &str, #[case] format: &[&str]) {
    let Some(command) = tar_program(tar) else {
        eprintln!("skipped: {tar} tar is not installed");
        return;
    };
    let work = tempfile::tempdir().expect("tempdir");
    let src = work.path().join("src");
    let dest = work.path().join("dest");
    fs::create_dir(&dest).expect("mkdir");
    sample_tree(&src, SOME_FILES);
    let src_arg = src.display().to_string();
    let mut args = vec!["-c", "-f", "-", "-C", &src_arg];
    args.extend_from_slice(format);
    args.push(".");
    let archive = run(command, &args, None);

    let options = UnpackOptions {
        exclude: Excludes::new(&SAMPLE_EXCLUDES).expect("excludes"),
        ..UnpackOptions::default()
    };
    let report = unpack_slice(&archive, &dest, &options).expect("unpack");

    assert_eq!(snapshot(&dest), sample_kept(&src));
    assert_eq!(report.counts.files, SOME_FILES as u64 + 5);
    assert_eq!(report.counts.symlinks, 3);
    fixture::unlock(&src);
    fixture::unlock(&dest);
}

#[rstest]
#[case::gnu("gnu")]
#[case::busybox("busybox")]
fn tar_reads_the_size_of_a_file_over_8_gib(#[case] tar: &str) {
    let Some(command) = tar_program(tar) else {
        eprintln!("skipped: {tar} tar is not installed");
        return;
    };
    let size: u64 = 9 << 30;
    let header = crate::files::pack::file_header_for_test(size);
    let listing = Command::new(command[0])
        .args(&command[1..])
        .args(["-t", "-v", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .and_then(|mut child| {
            // Only the header: tar lists the entry, then finds the stream cut.
            child.stdin.take().expect("stdin").write_all(&header)?;
            child.wait_with_output()
        })
        .expect("run tar -t");
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(listing.contains(&size.to_string()), "{tar}: {listing}");
    assert!(listing.contains("big.bin"), "{tar}: {listing}");
}
