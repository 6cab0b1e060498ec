//! The TypeScript client (`clients/typescript`) on the real cluster: a
//! lease's whole life (acquire, workspace from a tar, execute with stdin,
//! exit codes, streaming, timeout, cancellation, release) through its
//! public API, then no lease object left.

use crate::npm_package;
use crate::support::case::Case;

#[test]
fn the_typescript_client_runs_a_lease_life() {
    // The company of clients/typescript/test/cluster.test.mjs: its namespace
    // is cleaned before and deleted after, and the test holds the cluster.
    let Some(case) = Case::start("ts-client") else {
        return;
    };
    npm_package::npm_test("typescript", Some(case.kubeconfig()));
    case.finish();
}
