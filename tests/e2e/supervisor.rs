//! The supervisor side-load: an init container copies one static binary
//! from the supervisor image, and the agent container runs it.

use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use serde_json::json;

use crate::support::case::Case;

/// Where the init container installs the binary.
const INSTALLED: &str = "/opt/leasebox/bin/busybox";

#[test]
fn supervisor_side_load_runs_and_answers_exec() {
    let Some(case) = Case::start("supervisor") else {
        return;
    };
    let config = case.config(json!({
        "backend": "pod",
        "supervisor": {
            "image": "busybox:k8s-real",
            "binary": "/bin/busybox",
            "args": ["sleep", "3600"]
        }
    }));
    let lease = case.acquire(&config, &[]);

    let pod = case
        .block_on(Api::<Pod>::namespaced(case.client(), &case.namespace).get(&lease.pod))
        .unwrap_or_else(|e| panic!("the lease's pod {}: {e}", lease.pod));
    let status = pod.status.clone().unwrap_or_default();
    let install = status
        .init_container_statuses
        .unwrap_or_default()
        .into_iter()
        .find(|s| s.name == "leasebox-supervisor-install")
        .unwrap_or_else(|| panic!("no init container leasebox-supervisor-install: {pod:?}"));
    let exit = install
        .state
        .and_then(|s| s.terminated)
        .map(|t| t.exit_code);
    assert_eq!(exit, Some(0), "the install init container ended with 0");
    let agent = pod
        .spec
        .as_ref()
        .and_then(|s| s.containers.iter().find(|c| c.name == "agent"))
        .unwrap_or_else(|| panic!("no agent container: {pod:?}"));
    let argv: Vec<String> = agent
        .command
        .iter()
        .flatten()
        .chain(agent.args.iter().flatten())
        .cloned()
        .collect();
    assert_eq!(
        argv.first().map(String::as_str),
        Some(INSTALLED),
        "agent argv {argv:?}"
    );

    let echo = case.exec(&lease, &["--", INSTALLED, "echo", "side-loaded"]);
    echo.assert_code(0);
    assert_eq!(echo.stdout_text(), "side-loaded\n", "{}", echo.describe());
    let ps = case.exec(&lease, &["--", "ps", "-o", "args"]);
    ps.assert_code(0);
    assert!(
        ps.stdout_text()
            .lines()
            .any(|l| l.trim() == format!("{INSTALLED} sleep 3600")),
        "the supervisor runs in the pod\n{}",
        ps.describe()
    );
    case.release(&lease);
    case.finish();
}
