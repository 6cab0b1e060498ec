//! The Unix socket of `serve --listen unix:PATH`, created so that nobody
//! else can ever reach it and nothing else is ever removed or changed.
//!
//! Every client of the socket acts for every company, so its mode is the
//! boundary: it must be 0600 before it can be connected to. The socket is
//! bound in a fresh directory of mode 0700 next to PATH, made 0600 there,
//! and only then linked to PATH (`link(2)` never replaces an existing
//! file and never follows a symlink at PATH). Whatever is already at PATH
//! is removed only when it is a stale socket: a socket (not a symlink to
//! one) that nobody answers on. A regular file, a directory, a symlink or
//! a live socket is left alone and serve refuses to start.

use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// The mode of the socket: its owner only.
pub const SOCKET_MODE: u32 = 0o600;

/// Why the socket could not be created.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// PATH holds something that is not a stale socket.
    #[error(
        "{path} exists and is {what}; serve never removes it: remove it yourself or choose \
         another --listen path"
    )]
    Occupied {
        /// The path.
        path: String,
        /// What is there.
        what: &'static str,
    },
    /// A step of creating the socket failed.
    #[error("cannot create the socket {path}: {step} failed: {source}")]
    Create {
        /// The path.
        path: String,
        /// The step (`mkdir`, `bind`, `chmod`, `link`).
        step: &'static str,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
}

/// A listener on a new socket at `path` of mode [`SOCKET_MODE`].
pub fn bind(path: &Path) -> Result<UnixListener, SocketError> {
    let shown = path.display().to_string();
    let create = |step: &'static str| {
        let path = shown.clone();
        move |source| SocketError::Create { path, step, source }
    };
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // Unique per attempt: a directory left by a process killed mid-bind
    // never blocks the next start.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    // Short: a socket's path must fit in 108 bytes.
    let private = parent.join(format!(".lb{}.{nanos}", std::process::id()));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&private)
        .map_err(create("mkdir"))?;
    let inner = private.join("s");
    let bound = (|| {
        let listener = UnixListener::bind(&inner).map_err(create("bind"))?;
        // `inner` is in a directory only this process created and can
        // enter: nothing can have swapped it for a symlink.
        std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(SOCKET_MODE))
            .map_err(create("chmod"))?;
        publish(&inner, path).map(|()| listener)
    })();
    let _ = std::fs::remove_file(&inner);
    let _ = std::fs::remove_dir(&private);
    bound
}

/// Links the socket `inner` to `path`, removing a stale socket there once.
fn publish(inner: &Path, path: &Path) -> Result<(), SocketError> {
    let link = || std::fs::hard_link(inner, path);
    match link() {
        Ok(()) => return Ok(()),
        Err(error) if error.kind() != ErrorKind::AlreadyExists => {
            return Err(SocketError::Create {
                path: path.display().to_string(),
                step: "link",
                source: error,
            });
        }
        Err(_) => {}
    }
    remove_stale(path)?;
    link().map_err(|source| SocketError::Create {
        path: path.display().to_string(),
        step: "link",
        source,
    })
}

/// Removes `path` when it is a socket nobody answers on; otherwise says
/// what is there.
fn remove_stale(path: &Path) -> Result<(), SocketError> {
    let occupied = |what| SocketError::Occupied {
        path: path.display().to_string(),
        what,
    };
    let meta = std::fs::symlink_metadata(path).map_err(|source| SocketError::Create {
        path: path.display().to_string(),
        step: "lstat",
        source,
    })?;
    let kind = meta.file_type();
    if kind.is_symlink() {
        return Err(occupied("a symlink"));
    }
    if !kind.is_socket() {
        return Err(occupied(if kind.is_dir() {
            "a directory"
        } else if kind.is_file() {
            "a regular file"
        } else {
            "not a socket"
        }));
    }
    match UnixStream::connect(path) {
        Ok(_) => Err(occupied("a socket another server answers on")),
        Err(error) if error.kind() == ErrorKind::ConnectionRefused => std::fs::remove_file(path)
            .map_err(|source| SocketError::Create {
                path: path.display().to_string(),
                step: "remove the stale socket",
                source,
            }),
        Err(_) => Err(occupied("a socket that cannot be checked")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("lb-sock-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path)
            .expect("exists")
            .permissions()
            .mode()
            & 0o777
    }

    #[test]
    fn a_new_socket_has_mode_0600_and_answers() {
        let dir = dir("new");
        let path = dir.join("serve.sock");
        let _listener = bind(&path).expect("bound");
        assert_eq!(mode(&path), 0o600);
        UnixStream::connect(&path).expect("connects");
        let left: Vec<_> = std::fs::read_dir(&dir).expect("dir").collect();
        assert_eq!(left.len(), 1, "only the socket is left: {left:?}");
    }

    #[test]
    fn a_regular_file_at_the_path_is_kept_and_refused() {
        let dir = dir("file");
        let path = dir.join("serve.sock");
        std::fs::write(&path, "precious").expect("write");
        let error = bind(&path).expect_err("occupied");
        assert!(error.to_string().contains("is a regular file"), "{error}");
        assert_eq!(std::fs::read_to_string(&path).expect("kept"), "precious");
    }

    #[test]
    fn a_symlink_at_the_path_is_neither_followed_nor_removed() {
        let dir = dir("symlink");
        let target = dir.join("target");
        std::fs::write(&target, "x").expect("write");
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let path = dir.join("serve.sock");
        std::os::unix::fs::symlink(&target, &path).expect("link");
        let error = bind(&path).expect_err("occupied");
        assert!(error.to_string().contains("is a symlink"), "{error}");
        assert!(
            std::fs::symlink_metadata(&path)
                .expect("kept")
                .file_type()
                .is_symlink()
        );
        assert_eq!(mode(&target), 0o644);
    }

    #[test]
    fn a_stale_socket_is_replaced() {
        let dir = dir("stale");
        let path = dir.join("serve.sock");
        drop(UnixListener::bind(&path).expect("bind"));
        let _listener = bind(&path).expect("replaced");
        UnixStream::connect(&path).expect("connects");
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn a_live_socket_is_kept_and_refused() {
        let dir = dir("live");
        let path = dir.join("serve.sock");
        let _other = UnixListener::bind(&path).expect("bind");
        let error = bind(&path).expect_err("occupied");
        assert!(
            error.to_string().contains("another server answers"),
            "{error}"
        );
    }
}
