//! Files (contract 0.3.0) on a real cluster: `leasebox cp` round trips a
//! tree (a 0600 file, a symbolic link, an excluded glob, 10,000 small
//! files) byte for byte, modes and links kept, checked on this machine and
//! in the pod; a path out of the policy's roots, by `..` or through a
//! symbolic link in the pod, is refused naming the path and the rule, and
//! nothing is written.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::time::Duration;

use serde_json::json;

use crate::support::case::{Case, Lease};
use crate::support::cluster::exec_in_pod;

/// Small files in the tree.
const SMALL_FILES: usize = 10_000;

fn pod_lease(case: &Case) -> Lease {
    let config = case.config(json!({ "backend": "pod" }));
    case.acquire(&config, &[])
}

/// Runs `script` in the lease's pod, straight on the cluster; its stdout.
fn in_pod(case: &Case, lease: &Lease, script: &str) -> String {
    case.block_on(exec_in_pod(
        &case.client(),
        &lease.namespace,
        &lease.pod,
        &lease.container,
        &["sh", "-c", script],
        Duration::from_secs(120),
    ))
    .expect("exec in the pod")
    .stdout
}

/// The tree copied: `secret` (0600), `run.sh` (0755), `link -> secret`,
/// `build/out.o` (excluded), `many/f<i>` (10,000 files).
fn make_tree(root: &Path) {
    std::fs::create_dir_all(root.join("many")).expect("mkdir");
    std::fs::create_dir_all(root.join("build")).expect("mkdir");
    std::fs::write(root.join("secret"), b"only mine\n").expect("write");
    std::fs::set_permissions(root.join("secret"), std::fs::Permissions::from_mode(0o600))
        .expect("chmod");
    std::fs::write(root.join("run.sh"), b"#!/bin/sh\necho hi\n").expect("write");
    std::fs::set_permissions(root.join("run.sh"), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    symlink("secret", root.join("link")).expect("symlink");
    std::fs::write(root.join("build/out.o"), b"object").expect("write");
    for i in 0..SMALL_FILES {
        std::fs::write(root.join(format!("many/f{i}")), format!("file {i}\n")).expect("write");
    }
}

fn mode_of(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o7777
}

#[test]
fn cp_round_trips_a_tree_byte_exact_with_modes_links_and_excludes() {
    let Some(case) = Case::start("files-cp") else {
        return;
    };
    let lease = pod_lease(&case);
    let local = case.dir().join("tree");
    make_tree(&local);
    let remote = format!("{}:/workspace/tree", lease.id);
    let sent = case.cli(&[
        "cp",
        "--namespace",
        &lease.namespace,
        "--exclude",
        "build",
        &local.display().to_string(),
        &remote,
    ]);
    sent.assert_code(0);
    let counts = sent.json();
    assert_eq!(counts["files"], SMALL_FILES as u64 + 2, "{counts}");
    assert_eq!(counts["symlinks"], 1, "{counts}");

    // In the pod: the mode, the link, the excluded path absent, the count.
    let seen = in_pod(
        &case,
        &lease,
        "cd /workspace/tree && stat -c '%a %n' secret run.sh && readlink link && \
         ls many | wc -l && { test -e build && echo build-present || echo build-absent; }",
    );
    let lines: Vec<&str> = seen.lines().map(str::trim).collect();
    assert_eq!(
        lines,
        [
            "600 secret",
            "755 run.sh",
            "secret",
            &SMALL_FILES.to_string(),
            "build-absent"
        ],
        "{seen}"
    );

    let back = case.dir().join("back");
    let received = case.cli(&[
        "cp",
        "--namespace",
        &lease.namespace,
        &remote,
        &back.display().to_string(),
    ]);
    received.assert_code(0);
    assert_eq!(mode_of(&back.join("secret")), 0o600);
    assert_eq!(mode_of(&back.join("run.sh")), 0o755);
    assert_eq!(
        std::fs::read_link(back.join("link")).expect("a link"),
        Path::new("secret")
    );
    assert!(!back.join("build").exists(), "the excluded tree came back");
    for i in 0..SMALL_FILES {
        let name = format!("many/f{i}");
        assert_eq!(
            std::fs::read(back.join(&name)).expect("copied back"),
            std::fs::read(local.join(&name)).expect("the original"),
            "{name}"
        );
    }
    assert_eq!(
        std::fs::read(back.join("secret")).expect("copied back"),
        b"only mine\n"
    );
    case.release(&lease);
    case.finish();
}

#[test]
fn cp_out_of_the_roots_is_refused_and_nothing_is_written() {
    let Some(case) = Case::start("files-escape") else {
        return;
    };
    let lease = pod_lease(&case);
    let file = case.write_file("payload", "not for /etc\n");
    // A symbolic link in the pod that leads out of the roots.
    in_pod(&case, &lease, "ln -s /etc /workspace/out");
    let cases = [
        (
            "dot-dot",
            format!("{}:/workspace/../etc/leasebox-dotdot", lease.id),
            "/etc/leasebox-dotdot",
        ),
        (
            "absolute",
            format!("{}:/etc/leasebox-absolute", lease.id),
            "/etc/leasebox-absolute",
        ),
        (
            "symlink",
            format!("{}:/workspace/out/leasebox-link", lease.id),
            "/etc/leasebox-link",
        ),
    ];
    for (name, remote, landing) in cases {
        let refused = case.cli(&[
            "cp",
            "--namespace",
            &lease.namespace,
            &file.display().to_string(),
            &remote,
        ]);
        assert_eq!(refused.code, Some(1), "case {name}: {}", refused.describe());
        assert!(
            refused.stderr.contains("file-roots"),
            "case {name}: the refusal names the rule: {}",
            refused.describe()
        );
        let present = in_pod(
            &case,
            &lease,
            &format!("test -e {landing} && echo present || echo absent"),
        );
        assert_eq!(
            present.trim(),
            "absent",
            "case {name}: {landing} was written"
        );
    }
    // Reading out through the link is refused too.
    let out = case.dir().join("passwd");
    let refused = case.cli(&[
        "cp",
        "--namespace",
        &lease.namespace,
        &format!("{}:/workspace/out/passwd", lease.id),
        &out.display().to_string(),
    ]);
    assert_eq!(refused.code, Some(1), "{}", refused.describe());
    assert!(!out.exists(), "nothing was written locally");
    case.release(&lease);
    case.finish();
}
