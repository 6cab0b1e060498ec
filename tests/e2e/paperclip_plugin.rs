//! The Paperclip plugin (`clients/paperclip`) on the real cluster: its
//! built worker forked and driven over stdio as the Paperclip server drives
//! it, a lease's whole life with a leasebox configuration and with one
//! written for Paperclip's Kubernetes provider, and the SDK harness's
//! lifecycle assertions; then no lease object left.

use crate::npm_package;
use crate::support::case::Case;

#[test]
fn the_paperclip_plugin_runs_a_lease_life_forked_as_paperclip_runs_it() {
    // The companies of clients/paperclip/test/{cluster,harness}.test.mjs
    // (`paperclip`, `paperclip-k8s`, `paperclip-harness`): the tests clean
    // their namespaces before and delete them after; this case holds the
    // cluster meanwhile and checks the first one on its own.
    let Some(case) = Case::start("paperclip") else {
        return;
    };
    npm_package::npm_test("paperclip", Some(case.kubeconfig()));
    case.finish();
}
