//! `leasebox serve` against a hostile client (issue 29, finding 6), without
//! a cluster: a module path from a client is refused unless the operator
//! allows it, a device, FIFO or secret file is never read into memory nor
//! quoted, and `--listen unix:PATH` never removes or chmods what it did not
//! create. The stdin credit is tested in `host/src/serve/stdin.rs` and on
//! the real cluster (`tests/e2e/serve.rs`).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::scratch;
use super::serve::{Serve, connect, error_code, serve_command, workspace};

/// A secret's text, to look for in every answer and log line.
const SECRET: &str = "root:$6$s3cr3t-hash:19000:0:99999:7:::\n";

fn reload(serve: &mut Serve, id: u64, path: &Path) -> Value {
    serve.call(
        json!({"jsonrpc": "2.0", "id": id, "method": "policy.reload",
        "params": {"path": path}}),
    )
}

fn reason(answer: &Value) -> &str {
    answer["error"]["data"]["reason"]
        .as_str()
        .unwrap_or_default()
}

/// A scratch directory with `mods/` as `serve.moduleDir`, clients allowed to
/// reload from it; the settings file's path.
fn allowing_settings(dir: &Path) -> PathBuf {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir.join("mods")).expect("module dir");
    let settings = dir.join("settings.yaml");
    std::fs::write(
        &settings,
        format!(
            "serve:\n  moduleDir: {}\n  reload:\n    fromClients: true\n",
            dir.join("mods").display()
        ),
    )
    .expect("settings");
    settings
}

fn default_module() -> Vec<u8> {
    std::fs::read(workspace().join("target/guest-wasm/wasm32-wasip2/policy/leasebox_policy.wasm"))
        .expect("the default module was built")
}

#[test]
fn a_client_path_is_refused_without_the_setting_and_nothing_is_read() {
    let mut serve = Serve::start(&[]);
    let started = Instant::now();
    let answer = reload(&mut serve, 1, Path::new("/dev/zero"));
    assert!(started.elapsed() < Duration::from_secs(5), "{answer}");
    assert_eq!(error_code(&answer), -32004, "{answer}");
    assert_eq!(reason(&answer), "reload-from-clients-off");
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("`serve.reload.fromClients: true`") && message.contains("serve.moduleDir"),
        "{message}"
    );
    let info = serve.call(json!({"jsonrpc": "2.0", "id": 2, "method": "policy.info"}));
    assert_eq!(info["result"]["source"], "default", "{info}");
    assert_eq!(serve.finish(), Some(0));
}

#[test]
fn a_fifo_in_the_module_dir_is_refused_at_once_and_a_symlink_out_of_it_too() {
    let dir = scratch("serve_bounds_fifo");
    let settings = allowing_settings(&dir);
    let fifo = dir.join("mods/fifo.wasm");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo");
    std::os::unix::fs::symlink("/dev/zero", dir.join("mods/zero.wasm")).expect("symlink");
    let mut serve = Serve::start(&["--settings", settings.to_str().expect("utf-8")]);
    let health = serve.call(json!({"jsonrpc": "2.0", "id": 0, "method": "health"}));
    assert_eq!(health["result"]["ok"], true, "{health}");
    let baseline = serve.peak_rss_kib();

    let started = Instant::now();
    let answer = reload(&mut serve, 1, &fifo);
    assert!(started.elapsed() < Duration::from_secs(5), "{answer}");
    assert_eq!(reason(&answer), "unreadable", "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("a FIFO")
    );

    let answer = reload(&mut serve, 2, &dir.join("mods/zero.wasm"));
    assert_eq!(reason(&answer), "outside-module-dir", "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("resolves to /dev/zero"),
        "{answer}"
    );
    let growth = serve.peak_rss_kib().saturating_sub(baseline);
    assert!(growth < 16 * 1024, "peak memory grew by {growth} KiB");
    assert_eq!(serve.finish(), Some(0));
}

#[test]
fn a_secret_file_offered_as_a_module_is_refused_without_quoting_it() {
    let dir = scratch("serve_bounds_secret");
    let settings = allowing_settings(&dir);
    let secret = dir.join("mods/shadow.wasm");
    std::fs::write(&secret, SECRET).expect("secret");
    let mut serve = Serve::start(&["--settings", settings.to_str().expect("utf-8")]);
    let answer = reload(&mut serve, 1, &secret);
    assert_eq!(error_code(&answer), -32004, "{answer}");
    assert_eq!(reason(&answer), "unreadable", "{answer}");
    let text = answer.to_string();
    assert!(text.contains("not a WebAssembly file"), "{text}");
    for leaked in ["root", "s3cr3t", "0x72"] {
        assert!(!text.contains(leaked), "{leaked} leaked: {text}");
    }
    assert_eq!(serve.finish(), Some(0));

    // The same file as --policy: refused at start, and not quoted either.
    let output = serve_command(&["--policy", secret.to_str().expect("utf-8")])
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("serve runs");
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not a WebAssembly file"), "{stderr}");
    assert!(
        !stderr.contains("root") && !stderr.contains("s3cr3t"),
        "{stderr}"
    );
}

#[test]
fn dev_zero_as_the_policy_is_refused_at_start_without_reading_it() {
    let started = Instant::now();
    let output = serve_command(&["--policy", "/dev/zero"])
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("serve runs");
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("/dev/zero") && stderr.contains("a character device"),
        "{stderr}"
    );
}

#[test]
fn a_module_inside_the_module_dir_is_swapped_in_and_one_outside_is_refused() {
    let dir = scratch("serve_bounds_inside");
    let settings = allowing_settings(&dir);
    std::fs::write(dir.join("mods/policy.wasm"), default_module()).expect("module");
    std::fs::write(dir.join("outside.wasm"), default_module()).expect("module");
    let mut serve = Serve::start(&["--settings", settings.to_str().expect("utf-8")]);

    let answer = reload(&mut serve, 1, &dir.join("mods/../mods/policy.wasm"));
    assert!(answer["result"]["sha256"].is_string(), "{answer}");
    let canonical = dir.join("mods/policy.wasm").canonicalize().expect("exists");
    assert_eq!(answer["result"]["watched"], json!(canonical), "{answer}");

    let answer = reload(&mut serve, 2, &dir.join("mods/../outside.wasm"));
    assert_eq!(error_code(&answer), -32004, "{answer}");
    assert_eq!(reason(&answer), "outside-module-dir", "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("`serve.moduleDir`"),
        "{answer}"
    );
    assert_eq!(serve.finish(), Some(0));
}

/// `serve --listen unix:PATH` that must fail: its exit code and stderr.
fn listen_refused(path: &Path) -> (Option<i32>, String) {
    let output = serve_command(&["--listen", &format!("unix:{}", path.display())])
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("serve runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_regular_file_at_the_socket_path_is_not_unlinked() {
    let dir = scratch("serve_bounds_file");
    let path = dir.join("serve.sock");
    std::fs::write(&path, "precious").expect("write");
    let (code, stderr) = listen_refused(&path);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("is a regular file"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&path).expect("kept"), "precious");
}

#[test]
fn a_symlink_at_the_socket_path_is_not_chmodded_through() {
    let dir = scratch("serve_bounds_symlink");
    let target = dir.join("target");
    std::fs::write(&target, "x").expect("write");
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let path = dir.join("serve.sock");
    let _ = std::fs::remove_file(&path);
    std::os::unix::fs::symlink(&target, &path).expect("symlink");
    let (code, stderr) = listen_refused(&path);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("is a symlink"), "{stderr}");
    let mode = std::fs::metadata(&target)
        .expect("target")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o644);
    assert!(
        std::fs::symlink_metadata(&path)
            .expect("kept")
            .file_type()
            .is_symlink()
    );
}

#[test]
fn a_stale_socket_is_replaced_by_one_of_mode_0600() {
    let dir = scratch("serve_bounds_stale");
    let path = dir.join("serve.sock");
    let _ = std::fs::remove_file(&path);
    drop(std::os::unix::net::UnixListener::bind(&path).expect("bind"));
    let mut server = serve_command(&["--listen", &format!("unix:{}", path.display())])
        .stdin(Stdio::null())
        .spawn()
        .expect("serve starts");
    let (mut stream, mut reader) = connect(&path);
    let health = super::serve::call_on(
        &mut stream,
        &mut reader,
        &json!({"jsonrpc": "2.0", "id": 1, "method": "health"}),
    );
    assert_eq!(health["result"]["ok"], true, "{health}");
    let mode = std::fs::symlink_metadata(&path)
        .expect("socket")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let _ = server.kill();
    let _ = server.wait();
}
