//! End-to-end tests of the `leasebox` binary on a real cluster: every
//! backend's lifecycle (`pod`, `job`, and `sandbox-cr` with a stand-in
//! controller), exec semantics, fail-fast acquire, tenant convergence, the
//! supervisor side-load, release time and sweep, contract 0.2's lease calls
//! (`status`, `list`, `renew`) and cancellation, contract 0.3's terminals
//! (`terminals.rs`, in tmux), detached processes and files, `leasebox serve` driven over
//! stdio, and what neither a
//! configuration nor a hostile policy module can make the host do
//! (`trust.rs`; between companies and leases: `tenants.rs`), the
//! TypeScript client's lifecycle tests
//! (`typescript_client.rs`, `npm ci --prefix clients/typescript` first), and
//! the Paperclip plugin's, its worker forked as Paperclip forks it
//! (`paperclip_plugin.rs`, `npm ci --prefix clients/paperclip` too).
//!
//! Needs `LEASEBOX_E2E_KUBECONFIG` (the kubeconfig of a disposable cluster,
//! e.g. k8s-real with `--with-crds`); without it every test says it is
//! skipped and passes:
//!
//! ```sh
//! LEASEBOX_E2E_KUBECONFIG=/var/lib/k8s-real/kubeconfig/admin.kubeconfig \
//!     cargo test -p leasebox --test e2e
//! ```
//!
//! Each test uses its own company, so its own tenant namespace
//! (`leasebox-e2e-<company>`), runs alone (the cluster is small), ends by
//! checking that no leasebox lease object is left, and deletes its
//! namespace.

#[path = "../support/guest_build.rs"]
mod guest_build;
#[path = "../support/hostile_module.rs"]
mod hostile_module;
#[path = "../support/npm_package.rs"]
mod npm_package;
mod reconciler;
mod support;

mod cancel;
mod egress;
mod exec;
mod failures;
mod faults;
mod faults_exec;
mod faults_random;
mod faults_release;
mod faults_slow;
mod files;
mod lease_calls;
mod lifecycle;
mod paperclip_plugin;
mod pools;
mod processes;
mod release;
mod round_trips;
mod serve;
mod serve_drain;
mod serve_fence;
mod serve_fleet;
mod supervisor;
mod tenant;
mod tenants;
mod terminals;
mod trust;
mod typescript_client;
