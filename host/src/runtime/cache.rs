//! The on-disk cache of compiled policy modules.
//!
//! Compiling the default module with Cranelift takes seconds; a CLI call
//! should not pay that every time. The artifact is keyed by the SHA-256 of
//! the module bytes and a hash of the engine's compatibility settings, so a
//! new module or a new wasmtime never loads an old artifact.
//!
//! Loading native code is only safe for artifacts this host wrote: each
//! artifact is written atomically (temp file + rename) next to a sidecar
//! `.sha256` of its bytes, and an artifact is deserialized only when it
//! exists, matches its sidecar, and wasmtime recognises it as a component.
//! Anything else is recompiled and overwritten.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Engine, Precompiled};

use super::error::RuntimeError;

/// Environment variable that overrides the cache directory; `off` disables
/// the cache.
pub const CACHE_DIR_ENV: &str = "LEASEBOX_CACHE_DIR";

/// Where compiled modules are cached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheDir {
    /// In this directory.
    Dir(PathBuf),
    /// Not at all: compile on every load.
    Off,
}

impl CacheDir {
    /// `$LEASEBOX_CACHE_DIR`, else `$XDG_CACHE_HOME/leasebox`, else
    /// `~/.cache/leasebox`; off when none is set or the variable is `off`.
    pub fn from_env() -> CacheDir {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        if let Some(dir) = var(CACHE_DIR_ENV) {
            if dir == "off" {
                return CacheDir::Off;
            }
            return CacheDir::Dir(PathBuf::from(dir));
        }
        if let Some(xdg) = var("XDG_CACHE_HOME") {
            return CacheDir::Dir(PathBuf::from(xdg).join("leasebox"));
        }
        match var("HOME") {
            Some(home) => CacheDir::Dir(PathBuf::from(home).join(".cache").join("leasebox")),
            None => CacheDir::Off,
        }
    }
}

/// A compiled module, and the reason it could not be cached, if any.
pub(crate) struct Loaded {
    /// The component.
    pub component: Component,
    /// Set when the artifact could not be written (the module still runs).
    pub cache_error: Option<RuntimeError>,
    /// True when the artifact came from the cache.
    pub from_cache: bool,
}

/// The cache file name of `module` for `engine`:
/// `<sha256(module)>-<hash(engine settings)>.cwasm`.
pub(crate) fn artifact_name(engine: &Engine, module: &[u8]) -> String {
    let module_hash = hex(&Sha256::digest(module));
    let mut engine_hash = Sha256Hasher(Sha256::new());
    engine
        .precompile_compatibility_hash()
        .hash(&mut engine_hash);
    let engine_hash = hex(&engine_hash.0.finalize());
    format!("{module_hash}-{}.cwasm", &engine_hash[..16])
}

/// Loads `module` from the cache, or compiles it and stores the artifact.
pub(crate) fn load_or_compile(
    engine: &Engine,
    cache: &CacheDir,
    name: &str,
    module: &[u8],
) -> Result<Loaded, RuntimeError> {
    let dir = match cache {
        CacheDir::Off => {
            return Ok(Loaded {
                component: compile(engine, name, module)?,
                cache_error: None,
                from_cache: false,
            });
        }
        CacheDir::Dir(dir) => dir,
    };
    let artifact = dir.join(artifact_name(engine, module));
    if let Some(component) = load_verified(engine, &artifact) {
        return Ok(Loaded {
            component,
            cache_error: None,
            from_cache: true,
        });
    }
    let component = compile(engine, name, module)?;
    let cache_error = store(dir, &artifact, &component).err();
    Ok(Loaded {
        component,
        cache_error,
        from_cache: false,
    })
}

fn compile(engine: &Engine, name: &str, module: &[u8]) -> Result<Component, RuntimeError> {
    Component::from_binary(engine, module).map_err(|e| RuntimeError::Compile {
        module: name.to_string(),
        source: super::error::cause(&e),
    })
}

/// The artifact at `path`, when it is one this host wrote; none otherwise.
fn load_verified(engine: &Engine, path: &Path) -> Option<Component> {
    let bytes = std::fs::read(path).ok()?;
    let expected = std::fs::read_to_string(sidecar(path)).ok()?;
    if expected.trim() != hex(&Sha256::digest(&bytes)) {
        return None;
    }
    if Engine::detect_precompiled(&bytes) != Some(Precompiled::Component) {
        return None;
    }
    // SAFETY: `bytes` are exactly the bytes this host serialized with
    // `Component::serialize` (their SHA-256 matches the sidecar written with
    // them, in a directory created for this cache), wasmtime recognises them
    // as a component, and the file name includes the engine's compatibility
    // hash; `deserialize` still checks the engine settings itself. The
    // bytes are a private copy, so nothing can change them while in use.
    unsafe { Component::deserialize(engine, &bytes) }.ok()
}

/// Writes the artifact and its sidecar atomically.
fn store(dir: &Path, artifact: &Path, component: &Component) -> Result<(), RuntimeError> {
    let fail = |path: &Path, message: String| RuntimeError::CacheWrite {
        path: path.display().to_string(),
        message,
    };
    create_private_dir(dir).map_err(|e| fail(dir, format!("cannot create the directory: {e}")))?;
    let bytes = component.serialize().map_err(|e| {
        fail(
            artifact,
            format!("cannot serialize: {}", super::error::flatten(&e)),
        )
    })?;
    let digest = hex(&Sha256::digest(&bytes));
    // Sidecar first: an artifact without its sidecar is never loaded, and a
    // sidecar without its artifact is harmless.
    write_atomically(&sidecar(artifact), digest.as_bytes())
        .map_err(|e| fail(artifact, format!("cannot write the checksum: {e}")))?;
    write_atomically(artifact, &bytes).map_err(|e| fail(artifact, format!("cannot write: {e}")))
}

fn sidecar(artifact: &Path) -> PathBuf {
    let mut name = artifact.as_os_str().to_owned();
    name.push(".sha256");
    PathBuf::from(name)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut temp = path.as_os_str().to_owned();
    temp.push(format!(".{}.tmp", hex(&random)));
    let temp = PathBuf::from(temp);
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// Feeds a `Hash` implementation into SHA-256, so the engine's settings give
/// the same key in every process (std's hashers are not stable across
/// releases).
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_le_bytes(first)
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let mut random = [0u8; 6];
        getrandom::fill(&mut random).unwrap_or_default();
        std::env::temp_dir().join(format!("leasebox-cache-test-{name}-{}", hex(&random)))
    }

    /// The smallest component: no imports, no exports.
    const EMPTY_COMPONENT: &[u8] = &[0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

    #[test]
    fn artifact_name_changes_with_the_module() {
        let engine = Engine::default();
        let a = artifact_name(&engine, b"a");
        let b = artifact_name(&engine, b"b");
        assert_ne!(a, b);
        assert!(a.ends_with(".cwasm"));
    }

    #[test]
    fn second_load_comes_from_the_cache() {
        let engine = Engine::default();
        let dir = scratch("hit");
        let cache = CacheDir::Dir(dir.clone());
        let first = load_or_compile(&engine, &cache, "t", EMPTY_COMPONENT).expect("compiles");
        assert!(!first.from_cache);
        assert!(first.cache_error.is_none());
        let second = load_or_compile(&engine, &cache, "t", EMPTY_COMPONENT).expect("loads");
        assert!(second.from_cache);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn tampered_artifact_is_recompiled() {
        let engine = Engine::default();
        let dir = scratch("tamper");
        let cache = CacheDir::Dir(dir.clone());
        load_or_compile(&engine, &cache, "t", EMPTY_COMPONENT).expect("compiles");
        let artifact = dir.join(artifact_name(&engine, EMPTY_COMPONENT));
        let mut bytes = std::fs::read(&artifact).expect("artifact written");
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&artifact, bytes).expect("overwrite");
        let again = load_or_compile(&engine, &cache, "t", EMPTY_COMPONENT).expect("recompiles");
        assert!(!again.from_cache);
        let third = load_or_compile(&engine, &cache, "t", EMPTY_COMPONENT).expect("loads");
        assert!(third.from_cache);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn artifact_without_sidecar_is_not_loaded() {
        let engine = Engine::default();
        let dir = scratch("nosidecar");
        let cache = CacheDir::Dir(dir.clone());
        load_or_compile(&engine, &cache, "t", EMPTY_COMPONENT).expect("compiles");
        let artifact = dir.join(artifact_name(&engine, EMPTY_COMPONENT));
        std::fs::remove_file(sidecar(&artifact)).expect("sidecar exists");
        let again = load_or_compile(&engine, &cache, "t", EMPTY_COMPONENT).expect("recompiles");
        assert!(!again.from_cache);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn unwritable_cache_still_compiles_and_reports() {
        let engine = Engine::default();
        let file = scratch("file");
        std::fs::write(&file, b"not a directory").expect("write");
        let cache = CacheDir::Dir(file.join("sub"));
        let loaded = load_or_compile(&engine, &cache, "t", EMPTY_COMPONENT).expect("compiles");
        assert!(matches!(
            loaded.cache_error,
            Some(RuntimeError::CacheWrite { .. })
        ));
        let _ = std::fs::remove_file(file);
    }
}
