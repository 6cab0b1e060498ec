//! Shared by the component tests: one runtime and the default module,
//! compiled once per test process, the hostile-guest builder, and
//! in-memory caller streams.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use leasebox::cluster::io::CallerIo;
use leasebox::runtime::{CacheDir, CallEnv, Policy, Runtime};

/// The runtime of the test process, caching compiled modules under the
/// test target directory.
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("leasebox-cache");
        Runtime::with_cache(CacheDir::Dir(cache)).expect("the runtime starts")
    })
}

/// The embedded default module.
pub fn default_policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| runtime().load_default().expect("the default module loads"))
}

/// The default module of contract 0.1.0, kept as a fixture
/// (`tests/fixtures/modules/`).
pub fn v0_1_policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| {
        runtime()
            .load_file(&workspace().join("tests/fixtures/modules/leasebox-policy-0.1.0.wasm"))
            .expect("the 0.1.0 module loads")
    })
}

/// The default module of contract 0.2.0, kept as a fixture
/// (`tests/fixtures/modules/`).
pub fn v0_2_policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| {
        runtime()
            .load_file(&workspace().join("tests/fixtures/modules/leasebox-policy-0.2.0.wasm"))
            .expect("the 0.2.0 module loads")
    })
}

/// The default module of contract 0.3.0, kept as a fixture
/// (`tests/fixtures/modules/`).
pub fn v0_3_policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| {
        runtime()
            .load_file(&workspace().join("tests/fixtures/modules/leasebox-policy-0.3.0.wasm"))
            .expect("the 0.3.0 module loads")
    })
}

/// Every contract version's default module, named, newest first.
pub fn every_contract() -> [(&'static str, &'static Policy); 4] {
    [
        ("0.4.0", default_policy()),
        ("0.3.0", v0_3_policy()),
        ("0.2.0", v0_2_policy()),
        ("0.1.0", v0_1_policy()),
    ]
}

/// No cluster, no log output, default limits.
pub fn offline() -> CallEnv {
    CallEnv::offline(CallEnv::silent_logger())
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

/// The text of `tests/guests/<name>`.
pub fn guest_text(name: &str) -> String {
    let path = workspace().join("tests/guests").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// A hostile core module of `tests/guests/` wrapped into a component of the
/// `policy-module` world of contract 0.1.0 (the host runs it through its
/// 0.1.0 binding module; the limits are the same for every contract).
pub fn hostile_component(name: &str) -> Vec<u8> {
    let mut resolve = wit_parser::Resolve::default();
    let (package, _) = resolve
        .push_dir(workspace().join("wit/v0.1.0"))
        .expect("wit/v0.1.0/ parses");
    let world = resolve
        .select_world(&[package], Some("policy-module"))
        .expect("wit/ has the policy-module world");
    let mut module = wat::parse_str(guest_text(name)).expect("the fixture is valid wat");
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .expect("metadata embeds");
    wit_component::ComponentEncoder::default()
        .module(&module)
        .expect("the core module is accepted")
        .validate(true)
        .encode()
        .expect("the component encodes")
}

fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A writer that keeps what it is given, for the caller's streams.
#[derive(Clone, Default)]
pub struct SharedBuffer(pub Arc<Mutex<Vec<u8>>>);

impl SharedBuffer {
    /// What was written so far.
    pub fn contents(&self) -> Vec<u8> {
        lock(&self.0).clone()
    }
}

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        lock(&self.0).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// In-memory caller streams: the stdout and stderr buffers, and `stdin`
/// as the caller's stdin.
pub fn caller_io(stdin: &[u8]) -> (CallerIo, SharedBuffer, SharedBuffer) {
    let stdout = SharedBuffer::default();
    let stderr = SharedBuffer::default();
    let caller = CallerIo {
        stdout: Arc::new(Mutex::new(stdout.clone())),
        stderr: Arc::new(Mutex::new(stderr.clone())),
        stdin: Arc::new(Mutex::new(Some(
            Box::new(std::io::Cursor::new(stdin.to_vec())) as Box<dyn Read + Send>,
        ))),
        window_sizes: Arc::new(Mutex::new(None)),
    };
    (caller, stdout, stderr)
}
