//! A lease id names one lease: a pod of another namespace carrying a
//! lease's label (made by the test with its own client, as a module could
//! have before the host owned the lease label) never receives that lease's
//! exec, and releasing the lease never deletes it.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use serde_json::json;

use super::{
    Call, IMAGE, LEASE_LABEL, MANAGED_BY, OtherLease, OtherTenant, acquire_for, denied, hostile,
    make_tenant, release_other,
};
use crate::support::case::Case;
use crate::support::cluster::{eventually, exec_in_pod, objects_of_lease};

/// How long the test's own decoy pod may take to run.
const DECOY_LIMIT: Duration = Duration::from_secs(120);

/// How long a command straight in a pod may take.
const DIRECT_EXEC_LIMIT: Duration = Duration::from_secs(30);

/// Starts the decoy: a pod in `namespace` with the lease labels of
/// `lease` and an `agent` container, as the victim's lease pod has; waits
/// until it runs.
fn start_decoy(case: &Case, namespace: &str, lease: &OtherLease) -> String {
    let name = "red-decoy".to_string();
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {
            "name": name,
            "labels": { (MANAGED_BY.0): MANAGED_BY.1, LEASE_LABEL: lease.id }
        },
        "spec": {
            "terminationGracePeriodSeconds": 0,
            "automountServiceAccountToken": false,
            "containers": [{ "name": lease.container, "image": IMAGE, "command": ["sleep", "3600"] }]
        }
    }))
    .expect("the decoy literal is a Pod");
    let api = Api::<Pod>::namespaced(case.client(), namespace);
    // A namespace made a moment ago may not have its default service
    // account yet (the API server answers 500 until it has).
    let started = Instant::now();
    let created = case.block_on(async {
        loop {
            match api.create(&PostParams::default(), &pod).await {
                Ok(_) => return Ok(()),
                Err(_) if started.elapsed() < DECOY_LIMIT => {
                    tokio::time::sleep(Duration::from_millis(500)).await
                }
                Err(e) => return Err(e),
            }
        }
    });
    created.unwrap_or_else(|e| panic!("creating the decoy {namespace}/{name}: {e}"));
    let running = case.block_on(eventually(DECOY_LIMIT, || async {
        api.get(&name)
            .await
            .ok()
            .and_then(|p| p.status)
            .and_then(|s| s.phase)
            .is_some_and(|phase| phase == "Running")
    }));
    assert!(running, "the decoy is not Running after {DECOY_LIMIT:?}");
    name
}

#[test]
fn lease_id_never_resolves_to_a_decoy_pod_of_another_namespace() {
    // The decoy's namespace sorts before the victim's: a lookup that takes
    // the first pod labelled with the lease finds the decoy.
    let Some(case) = Case::start("red-decoy-a") else {
        return;
    };
    let victim = OtherTenant::reserve(&case, "red-decoy-v");
    let lease = acquire_for(&case, &victim, json!({}), &[]);
    make_tenant(&case, &case.namespace, &case.company);
    let decoy = start_decoy(&case, &case.namespace, &lease);
    let sentinel = crate::trust::sentinel();
    let mut failures = Vec::new();

    let env = format!("API_TOKEN={sentinel}");
    let exec = case.cli(&[
        "exec",
        "--lease",
        &lease.id,
        "--no-stdin",
        "--env",
        &env,
        "--",
        "sh",
        "-c",
        "echo \"$API_TOKEN\" > /tmp/api-token; hostname",
    ]);
    let ran_in_the_lease = exec.code == Some(0) && exec.stdout_text().trim() == lease.pod;
    let named_both =
        exec.code != Some(0) && exec.stderr.contains(&decoy) && exec.stderr.contains(&lease.pod);
    if !ran_in_the_lease && !named_both {
        failures.push(format!(
            "exec --lease {}: neither ran in the lease's pod {} nor failed naming both workloads\n{}",
            lease.id,
            lease.pod,
            exec.describe()
        ));
    }
    let in_decoy = case.block_on(exec_in_pod(
        &case.client(),
        &case.namespace,
        &decoy,
        &lease.container,
        &["cat", "/tmp/api-token"],
        DIRECT_EXEC_LIMIT,
    ));
    match in_decoy {
        Ok(read) if read.stdout.contains(&sentinel) => {
            failures.push("the decoy received the exec's API_TOKEN".to_string())
        }
        Ok(_) => {}
        Err(e) => failures.push(format!("reading the decoy's /tmp: {e:#}")),
    }

    let release = case.cli(&["release", "--lease", &lease.id]);
    if release.code != Some(0) {
        let named_both = release.stderr.contains(&decoy) && release.stderr.contains(&lease.pod);
        if !named_both {
            failures.push(format!(
                "release --lease {} failed without naming both workloads\n{}",
                lease.id,
                release.describe()
            ));
        }
        // Ambiguous without a namespace: the lease's own is released.
        release_other(&case, &lease).assert_code(0);
    }
    let decoy_pod = case
        .block_on(Api::<Pod>::namespaced(case.client(), &case.namespace).get_opt(&decoy))
        .unwrap_or_else(|e| panic!("the decoy: {e}"));
    if decoy_pod.is_none_or(|pod| pod.metadata.deletion_timestamp.is_some()) {
        failures.push(format!(
            "release --lease {} deleted the decoy {}/{decoy}\n{}",
            lease.id,
            case.namespace,
            release.describe()
        ));
    }
    let left = case
        .block_on(objects_of_lease(
            &case.client(),
            &victim.namespace,
            &lease.id,
        ))
        .unwrap_or_else(|e| panic!("{e:#}"));
    let undeleted: Vec<_> = left.iter().filter(|o| !o.deleted()).collect();
    if !undeleted.is_empty() {
        failures.push(format!(
            "the real lease {} was not released: {undeleted:?}\n{}",
            lease.id,
            release.describe()
        ));
    }
    // The module itself cannot make a decoy either (last: a decoy it made
    // would be found before the test's own).
    let attack = json!({ "attack": "decoy-pod", "namespace": case.namespace, "lease": lease.id });
    let output = hostile(&case, Call::Acquire, &attack);
    failures.extend(denied(Call::Acquire, &attack, &output).err());

    let api = Api::<Pod>::namespaced(case.client(), &case.namespace);
    let _ = case.block_on(api.delete(&decoy, &Default::default()));
    assert!(
        failures.is_empty(),
        "a decoy with another lease's label took the lease:\n\n{}",
        failures.join("\n\n")
    );
    drop(victim);
    // The decoy carries leasebox's labels: `finish` waits until it is gone.
    case.finish();
}
