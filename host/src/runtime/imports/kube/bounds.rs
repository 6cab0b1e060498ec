//! What one call's module can make the host hold through the `kube`
//! imports: the size of a manifest (checked before it is parsed, since a
//! parsed document takes many times its text), and how many watches, exec
//! sessions and log streams it has open at once (each is a connection to
//! the API server and a thread's worth of buffers). Over a bound the module
//! gets a `bad-argument` naming it; nothing traps and the host goes on.

use crate::contract::{HostSecretRequest, KubeError};

/// Largest manifest a module may hand to `apply`, `create` or
/// `apply-host-secret`: 3 MiB, the API server's own default limit on a
/// request body (`--max-request-body-bytes`). etcd keeps at most 1.5 MiB
/// per object, so no manifest the cluster could store is refused here.
pub const MAX_MANIFEST_BYTES: usize = 3 << 20;

/// Most watches, exec sessions and log streams one call may hold open at
/// once: 64. The built-in module holds at most a few; the cap keeps a
/// module from opening thousands of API connections (and file
/// descriptors) in one call. A handle dropped frees its place.
pub const MAX_HANDLES_PER_CALL: usize = 64;

/// `bad-argument` when `manifest` (given to import `what`) is over
/// [`MAX_MANIFEST_BYTES`].
pub fn check_manifest(what: &str, manifest: &str) -> Result<(), KubeError> {
    check_size(what, "manifest", manifest.len(), MAX_MANIFEST_BYTES)
}

/// [`check_manifest`] for a host-filled Secret: its manifest and its
/// literal values together.
pub fn check_host_secret(request: &HostSecretRequest) -> Result<(), KubeError> {
    let literal: usize = (request.literal.iter())
        .map(|v| v.name.len().saturating_add(v.value.len()))
        .fold(0, usize::saturating_add);
    check_size(
        "apply-host-secret",
        "manifest and literal values",
        request.manifest.len().saturating_add(literal),
        MAX_MANIFEST_BYTES,
    )
}

fn check_size(what: &str, part: &str, size: usize, cap: usize) -> Result<(), KubeError> {
    if size <= cap {
        return Ok(());
    }
    Err(KubeError::BadArgument(format!(
        "{what}: the {part} is {size} bytes, over the cap of {cap} bytes per manifest \
         (MAX_MANIFEST_BYTES, the API server's own request limit); split the object or \
         keep large data out of it"
    )))
}

/// The handles one call holds open (watches, exec sessions, log streams).
#[derive(Debug, Default)]
pub struct HandleCount {
    open: usize,
}

impl HandleCount {
    /// `bad-argument` when opening one more (for import `what`) would pass
    /// [`MAX_HANDLES_PER_CALL`]; checked before the stream is opened.
    pub fn check_room(&self, what: &str) -> Result<(), KubeError> {
        self.check_room_within(what, MAX_HANDLES_PER_CALL)
    }

    fn check_room_within(&self, what: &str, cap: usize) -> Result<(), KubeError> {
        if self.open < cap {
            return Ok(());
        }
        Err(KubeError::BadArgument(format!(
            "{what}: this call already holds {} open watches, exec sessions and log streams, \
             the cap per call (MAX_HANDLES_PER_CALL = {cap}); drop one before opening another",
            self.open
        )))
    }

    /// One more is open.
    pub fn opened(&mut self) {
        self.open = self.open.saturating_add(1);
    }

    /// One was dropped.
    pub fn closed(&mut self) {
        self.open = self.open.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::EnvVar;

    fn bad_argument(result: Result<(), KubeError>) -> String {
        match result {
            Err(KubeError::BadArgument(message)) => message,
            other => panic!("expected bad-argument, got {other:?}"),
        }
    }

    #[test]
    fn a_manifest_at_the_cap_passes() {
        assert!(check_manifest("apply", &" ".repeat(MAX_MANIFEST_BYTES)).is_ok());
    }

    #[test]
    fn a_manifest_over_the_cap_is_bad_argument_naming_cap_and_size() {
        let message = bad_argument(check_manifest("apply", &" ".repeat(16 << 20)));
        assert!(
            message.starts_with("apply: the manifest is 16777216 bytes"),
            "{message}"
        );
        assert!(message.contains("cap of 3145728 bytes"), "{message}");
    }

    #[test]
    fn host_secret_literals_count_towards_the_cap() {
        let request = HostSecretRequest {
            manifest: "{}".into(),
            random_keys: vec![],
            host_keys: vec![],
            literal: vec![EnvVar {
                name: "BIG".into(),
                value: "x".repeat(MAX_MANIFEST_BYTES),
            }],
        };
        let message = bad_argument(check_host_secret(&request));
        assert!(message.starts_with("apply-host-secret: the manifest and literal values"));
    }

    #[test]
    fn a_call_at_the_handle_cap_is_refused_until_one_is_dropped() {
        let mut count = HandleCount::default();
        for _ in 0..3 {
            count.check_room_within("open-watch", 3).expect("room");
            count.opened();
        }
        let message = bad_argument(count.check_room_within("exec", 3));
        assert!(message.contains("already holds 3 open"), "{message}");
        assert!(message.contains("MAX_HANDLES_PER_CALL = 3"), "{message}");
        count.closed();
        assert!(count.check_room_within("exec", 3).is_ok());
    }
}
