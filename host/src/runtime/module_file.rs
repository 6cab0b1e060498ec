//! Reading a policy module from a file, bounded: every module load from a
//! path (`--policy`, serve's file watch, SIGHUP, `policy.reload`,
//! `policy inspect`) goes through [`read_module_file`].
//!
//! A path is whatever the operator or, with `serve.reload.fromClients`, a
//! serve client names, so the reader trusts nothing about it: it opens the
//! path without blocking (a FIFO would otherwise wait for a writer), checks
//! the open handle (not the path, which could change in between) is a
//! regular file, reads at most [`MAX_MODULE_BYTES`] + 1 bytes, and refuses
//! bytes that do not start with the WebAssembly header. Its errors say what
//! is wrong and never quote the file: a file that is not a module may be a
//! secret (`/etc/shadow`), and wasmtime's own parse errors would show its
//! first bytes.

use std::fs::File;
use std::io::Read;
use std::path::Path;

/// Largest policy module file read: 64 MiB. The built-in module is about
/// 3 MiB; the cap only keeps a hostile path (`/dev/zero`, a huge file) from
/// filling the host's memory before the module is even compiled.
pub const MAX_MODULE_BYTES: u64 = 64 << 20;

/// The first four bytes of every WebAssembly module or component.
const WASM_MAGIC: &[u8; 4] = b"\0asm";

/// Why a module file was not read. The messages never contain the file's
/// bytes; the caller adds the path.
#[derive(Debug, thiserror::Error)]
pub enum ModuleFileError {
    /// The path could not be opened (missing, no permission, ...).
    #[error("cannot open it: {source}; check the path and that leasebox may read it")]
    Open {
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The open handle is not a regular file.
    #[error("it is {kind}, not a regular file; give the path of a .wasm file")]
    NotRegularFile {
        /// What it is (`a directory`, `a character device`, ...).
        kind: &'static str,
    },
    /// The file is larger than [`MAX_MODULE_BYTES`].
    #[error(
        "it is larger than {cap} bytes, the cap on a policy module file (MAX_MODULE_BYTES); \
         build the module in release mode and strip it"
    )]
    TooLarge {
        /// The cap, in bytes.
        cap: u64,
    },
    /// Reading the open file failed.
    #[error("reading it failed: {source}")]
    Read {
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The bytes do not start with the WebAssembly header.
    #[error(
        "it is not a WebAssembly file (it does not start with the \\0asm header); give a \
         component built for wasm32-wasip2"
    )]
    NotWasm,
}

/// The bytes of the module file at `path`, within [`MAX_MODULE_BYTES`];
/// see the module docs for what is refused.
pub fn read_module_file(path: &Path) -> Result<Vec<u8>, ModuleFileError> {
    read_bounded(path, MAX_MODULE_BYTES)
}

/// [`read_module_file`] with the cap `cap` (tests use a small one).
fn read_bounded(path: &Path, cap: u64) -> Result<Vec<u8>, ModuleFileError> {
    let file = open_without_blocking(path).map_err(|source| ModuleFileError::Open { source })?;
    let meta = file
        .metadata()
        .map_err(|source| ModuleFileError::Read { source })?;
    if !meta.file_type().is_file() {
        return Err(ModuleFileError::NotRegularFile {
            kind: kind_of(&meta.file_type()),
        });
    }
    if meta.len() > cap {
        return Err(ModuleFileError::TooLarge { cap });
    }
    // The file may grow after the fstat: read one byte past the cap to see it.
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|source| ModuleFileError::Read { source })?;
    if bytes.len() as u64 > cap {
        return Err(ModuleFileError::TooLarge { cap });
    }
    if !bytes.starts_with(WASM_MAGIC) {
        return Err(ModuleFileError::NotWasm);
    }
    Ok(bytes)
}

/// Opens `path` for reading with `O_NONBLOCK` (a FIFO without a writer
/// would block the open) and `O_NOCTTY` (a terminal must not become the
/// controlling one). Neither changes how a regular file reads.
#[cfg(unix)]
fn open_without_blocking(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

#[cfg(not(unix))]
fn open_without_blocking(path: &Path) -> std::io::Result<File> {
    File::open(path)
}

/// What a file that is not regular is, for the error message.
fn kind_of(file_type: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "leasebox-module-file-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    #[test]
    fn a_wasm_file_within_the_cap_is_read_whole() {
        let dir = temp_dir("ok");
        let path = dir.join("m.wasm");
        let bytes = [WASM_MAGIC.as_slice(), &[0x0d, 0, 1, 0]].concat();
        std::fs::write(&path, &bytes).expect("write");
        assert_eq!(read_bounded(&path, 8).expect("read"), bytes);
    }

    #[test]
    fn a_file_one_byte_over_the_cap_is_refused_naming_the_cap() {
        let dir = temp_dir("big");
        let path = dir.join("m.wasm");
        std::fs::write(&path, [WASM_MAGIC.as_slice(), &[0; 5]].concat()).expect("write");
        let error = read_bounded(&path, 8).expect_err("over the cap");
        assert!(
            matches!(error, ModuleFileError::TooLarge { cap: 8 }),
            "{error:?}"
        );
        assert!(error.to_string().contains("larger than 8 bytes"), "{error}");
    }

    #[cfg(unix)]
    #[test]
    fn dev_zero_is_refused_as_a_character_device_without_reading() {
        let started = std::time::Instant::now();
        let error = read_module_file(Path::new("/dev/zero")).expect_err("not a file");
        assert!(
            matches!(
                error,
                ModuleFileError::NotRegularFile {
                    kind: "a character device"
                }
            ),
            "{error:?}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_without_a_writer_is_refused_at_once() {
        let dir = temp_dir("fifo");
        let path = dir.join("m.wasm");
        let made = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .expect("mkfifo runs");
        assert!(made.success());
        let error = read_module_file(&path).expect_err("not a file");
        assert!(
            matches!(error, ModuleFileError::NotRegularFile { kind: "a FIFO" }),
            "{error:?}"
        );
    }

    #[test]
    fn a_directory_is_refused() {
        let dir = temp_dir("dir");
        let error = read_module_file(&dir).expect_err("not a file");
        assert_eq!(
            error.to_string(),
            "it is a directory, not a regular file; give the path of a .wasm file"
        );
    }

    #[test]
    fn a_file_that_is_not_wasm_is_refused_without_quoting_it() {
        let dir = temp_dir("secret");
        let path = dir.join("shadow");
        std::fs::write(&path, "root:$6$secret-hash:19000:0:99999:7:::\n").expect("write");
        let error = read_module_file(&path).expect_err("not wasm");
        assert!(matches!(error, ModuleFileError::NotWasm), "{error:?}");
        let text = error.to_string();
        for leaked in ["root", "secret", "0x72", "114"] {
            assert!(!text.contains(leaked), "{leaked} in {text}");
        }
    }

    #[test]
    fn a_missing_file_is_refused_as_unopenable() {
        let dir = temp_dir("missing");
        let error = read_module_file(&dir.join("nope.wasm")).expect_err("missing");
        assert!(matches!(error, ModuleFileError::Open { .. }), "{error:?}");
    }
}
