//! Trees, archives and snapshots shared by the behaviour tests.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tar::{Builder, EntryType, Header};

use crate::files::{PackSource, Report, UnpackOptions, pack, unpack};

/// What a path is, for comparing two trees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Node {
    File { mode: u32, content: Vec<u8> },
    Directory { mode: u32 },
    Symlink { target: PathBuf },
}

/// Every path under `root` (relative to it), without following symlinks.
pub(super) fn snapshot(root: &Path) -> BTreeMap<PathBuf, Node> {
    let mut nodes = BTreeMap::new();
    collect(root, Path::new(""), &mut nodes);
    nodes
}

fn collect(root: &Path, relative: &Path, nodes: &mut BTreeMap<PathBuf, Node>) {
    let mut children: Vec<_> = fs::read_dir(root.join(relative))
        .expect("read_dir")
        .map(|child| child.expect("dir entry").file_name())
        .collect();
    children.sort();
    for child in children {
        let relative = relative.join(child);
        let local = root.join(&relative);
        let meta = fs::symlink_metadata(&local).expect("symlink_metadata");
        let mode = meta.permissions().mode() & 0o7777;
        let node = if meta.file_type().is_symlink() {
            Node::Symlink {
                target: fs::read_link(&local).expect("read_link"),
            }
        } else if meta.is_dir() {
            collect(root, &relative, nodes);
            Node::Directory { mode }
        } else {
            Node::File {
                mode,
                content: fs::read(&local).expect("read"),
            }
        };
        nodes.insert(relative, node);
    }
}

/// The fixed mtime the trees are given, to check it is kept.
pub(super) fn fixed_mtime() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000)
}

pub(super) fn write_file(path: &Path, content: &[u8], mode: u32) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("create parents");
    }
    fs::write(path, content).expect("write file");
    File::open(path)
        .expect("open")
        .set_modified(fixed_mtime())
        .expect("set mtime");
    set_mode(path, mode);
}

pub(super) fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

pub(super) fn mode_of(path: &Path) -> u32 {
    fs::symlink_metadata(path)
        .expect("symlink_metadata")
        .permissions()
        .mode()
        & 0o7777
}

pub(super) fn symlink(target: &str, link: &Path) {
    std::os::unix::fs::symlink(target, link).expect("symlink");
}

/// A name of exactly 200 bytes, past the 100 bytes a plain header holds.
pub(super) fn long_name() -> String {
    format!("long-{}", "n".repeat(195))
}

/// How many small files the big trees hold.
pub(super) const MANY_FILES: usize = 10_000;

/// The tree the round trips copy: a 0600 file, a 0755 script, an empty
/// directory, a 0500 directory with a file, a relative symlink, a symlink
/// to a directory, a 200-byte name, a symlink with a long target, excluded
/// names at depth (`node_modules`, `*.log`), and `many` small files.
pub(super) fn sample_tree(root: &Path, many: usize) {
    write_file(&root.join("secret.txt"), b"top secret\n", 0o600);
    write_file(&root.join("run.sh"), b"#!/bin/sh\necho hi\n", 0o755);
    fs::create_dir(root.join("empty")).expect("mkdir empty");
    write_file(&root.join("locked/inside.txt"), b"inside\n", 0o644);
    symlink("run.sh", &root.join("link-to-script"));
    symlink("locked", &root.join("link-to-dir"));
    write_file(&root.join("deep").join(long_name()), b"long name\n", 0o644);
    symlink(
        &format!("deep/{}", long_name()),
        &root.join("link-with-long-target"),
    );
    write_file(&root.join("a/b/node_modules/dep.js"), b"excluded\n", 0o644);
    write_file(&root.join("a/b/keep.txt"), b"kept\n", 0o640);
    write_file(&root.join("a/debug.log"), b"excluded\n", 0o644);
    for i in 0..many {
        write_file(
            &root.join("many").join(format!("f{i:05}")),
            format!("file {i}\n").as_bytes(),
            0o644,
        );
    }
    set_mode(&root.join("locked"), 0o500);
}

/// The excludes `sample_tree` is copied with.
pub(super) const SAMPLE_EXCLUDES: [&str; 2] = ["node_modules", "*.log"];

/// The sample tree's snapshot without what `SAMPLE_EXCLUDES` drops.
pub(super) fn sample_kept(root: &Path) -> BTreeMap<PathBuf, Node> {
    snapshot(root)
        .into_iter()
        .filter(|(path, _)| {
            !path.components().any(|c| c.as_os_str() == "node_modules")
                && path.extension().is_none_or(|ext| ext != "log")
        })
        .collect()
}

/// Makes `0500` directories writable again so the temporary tree can go.
pub(super) fn unlock(root: &Path) {
    for (path, node) in snapshot(root) {
        if let Node::Directory { .. } = node {
            set_mode(&root.join(path), 0o755);
        }
    }
}

pub(super) fn pack_to_vec(sources: &[PackSource]) -> (Vec<u8>, Report) {
    let mut archive = Vec::new();
    let report = pack(sources, &mut archive, |_| {}).expect("pack");
    (archive, report)
}

pub(super) fn unpack_slice(
    archive: &[u8],
    destination: &Path,
    options: &UnpackOptions,
) -> crate::files::Result<Report> {
    unpack(archive, destination, options, |_| {})
}

/// A hostile archive, written header by header with no checks on paths.
#[derive(Default)]
pub(super) struct RawArchive {
    builder: Option<Builder<Vec<u8>>>,
}

impl RawArchive {
    fn builder(&mut self) -> &mut Builder<Vec<u8>> {
        self.builder.get_or_insert_with(|| Builder::new(Vec::new()))
    }

    fn entry(&mut self, path: &str, entry_type: EntryType, mode: u32, link: &str, data: &[u8]) {
        let mut header = Header::new_gnu();
        let name = &mut header.as_old_mut().name;
        assert!(path.len() < name.len(), "raw paths must fit the header");
        name[..path.len()].copy_from_slice(path.as_bytes());
        header.set_link_name_literal(link).expect("link name");
        header.set_entry_type(entry_type);
        header.set_mode(mode);
        header.set_size(data.len() as u64);
        header.set_mtime(1_600_000_000);
        header.set_cksum();
        self.builder().append(&header, data).expect("append");
    }

    pub(super) fn file(mut self, path: &str, mode: u32, data: &[u8]) -> Self {
        self.entry(path, EntryType::file(), mode, "", data);
        self
    }

    pub(super) fn directory(mut self, path: &str, mode: u32) -> Self {
        self.entry(path, EntryType::dir(), mode, "", b"");
        self
    }

    pub(super) fn symlink(mut self, path: &str, target: &str) -> Self {
        self.entry(path, EntryType::symlink(), 0o777, target, b"");
        self
    }

    pub(super) fn hard_link(mut self, path: &str, target: &str) -> Self {
        self.entry(path, EntryType::hard_link(), 0o644, target, b"");
        self
    }

    pub(super) fn special(mut self, path: &str, entry_type: EntryType) -> Self {
        self.entry(path, entry_type, 0o644, "", b"");
        self
    }

    /// A PAX `path` record naming the next entry `path`.
    pub(super) fn pax_path(mut self, path: &str) -> Self {
        self.builder()
            .append_pax_extensions([("path", path.as_bytes())])
            .expect("pax header");
        self
    }

    /// A GNU long-name entry naming the next entry `path`.
    pub(super) fn gnu_long_name(mut self, path: &str) -> Self {
        let mut name = path.as_bytes().to_vec();
        name.push(0);
        self.entry("././@LongLink", EntryType::GNULongName, 0o644, "", &name);
        self
    }

    /// The archive with its end-of-archive marker.
    pub(super) fn finish(mut self) -> Vec<u8> {
        self.builder();
        self.builder
            .take()
            .map(|builder| builder.into_inner().expect("finish"))
            .unwrap_or_default()
    }
}

/// Whether the tests run as root, who reads any file whatever its mode.
pub(super) fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}
