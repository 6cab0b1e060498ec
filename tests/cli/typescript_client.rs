//! The TypeScript client (`clients/typescript`) against this build's
//! `leasebox serve`, without a cluster: its offline methods, typed errors,
//! many calls at once and a clean exit. Its cluster tests say they are
//! skipped here; the e2e suite runs them.

use crate::npm_package;

#[test]
fn the_typescript_client_passes_its_tests_without_a_cluster() {
    npm_package::npm_test("typescript", None);
}
