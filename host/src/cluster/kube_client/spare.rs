//! A spare connection after each exec upgrade, for a long-running host.
//!
//! An exec upgrades its HTTP/1.1 connection to SPDY or a websocket, which
//! takes that connection out of the client's pool for good. The next call
//! then finds no open connection and pays a new one, TLS handshake
//! included, on its own time: on the bench's cluster a `status` right after
//! an exec took 51-71 ms, the next one 9-13 ms (BENCHMARKS.md, P5).
//!
//! A client built [`with_spare_connections`](super::KubeClusterIo::with_spare_connections)
//! (`serve`) sends one cheap request, `GET /version` (readable by every
//! client), in the background right after each upgrade, so that by the
//! time the next call comes the pool holds an open connection again. It
//! opens no connection the next call would not have opened itself; what it
//! adds is that one request per exec, and a connection that stays idle
//! until the pool closes it when no call follows. A one-shot CLI process
//! ends after its exec and does not ask for one.

use std::time::Duration;

use super::Ctx;

/// Longest wait for the spare's answer; it is dropped after that (the next
/// call then opens its own connection, as without a spare).
const SPARE_LIMIT: Duration = Duration::from_secs(10);

/// Opens a connection to replace the one an upgrade took, when `ctx` keeps
/// spares; its answer and any error are of no use and are dropped.
pub(crate) fn replace_upgraded(ctx: &Ctx) {
    if !ctx.spare_connections {
        return;
    }
    let client = ctx.client.clone();
    tokio::spawn(async move {
        let _ = tokio::time::timeout(SPARE_LIMIT, client.apiserver_version()).await;
    });
}
