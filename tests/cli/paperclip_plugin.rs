//! The Paperclip plugin (`clients/paperclip`) against this build's binary,
//! without a cluster: its manifest and schema, the worker forked as
//! Paperclip forks it (settings, its leasebox serve restarted, the socket
//! instead, shutdown), and the driver in the SDK's own harness. Its cluster
//! tests say they are skipped here; the e2e suite runs them.

use crate::npm_package;

#[test]
fn the_paperclip_plugin_passes_its_tests_without_a_cluster() {
    npm_package::npm_test("paperclip", None);
}
