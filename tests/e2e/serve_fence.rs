//! A running `leasebox serve` does not trust what it learned of a namespace
//! in an earlier call (issue 29, finding 5): a tenant namespace deleted and
//! made again by someone else, without leasebox's label, is refused on the
//! next acquire, and nothing is written into it.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, Pod, ServiceAccount};
use kube::api::{Api, ListParams, ObjectMeta, PostParams};
use serde_json::json;

use crate::serve::{Client, pod_config, start_serve};
use crate::support::case::Case;
use crate::support::cluster::remove_namespace;

/// How long the tenant namespace may take to go.
const GONE_LIMIT: Duration = Duration::from_secs(180);

#[test]
fn serve_refuses_a_tenant_namespace_made_again_without_its_label() {
    let Some(case) = Case::start("serve-fence") else {
        return;
    };
    let config = pod_config(&case);
    let mut child = start_serve(&case, &[]);
    let mut client = Client::of(&mut child);

    let lease = client.acquire(1, &case);
    let released = client.call(2, "release", json!({"leaseId": lease}));
    assert!(released.get("result").is_some(), "{released}");

    case.block_on(remove_namespace(
        &case.client(),
        &case.namespace,
        GONE_LIMIT,
    ))
    .expect("the tenant namespace goes");
    let namespaces: Api<Namespace> = Api::all(case.client());
    let foreign = Namespace {
        metadata: ObjectMeta {
            name: Some(case.namespace.clone()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    case.block_on(namespaces.create(&PostParams::default(), &foreign))
        .expect("someone else makes the namespace again");

    let again = client.call(
        3,
        "acquire",
        json!({"config": config, "companyId": case.company}),
    );
    let error = again["error"].to_string();
    assert!(
        error.contains("fence-unowned"),
        "the second acquire was not refused by the fence: {again}"
    );
    let pods: Api<Pod> = Api::namespaced(case.client(), &case.namespace);
    let accounts: Api<ServiceAccount> = Api::namespaced(case.client(), &case.namespace);
    let leasebox = ListParams::default().labels("app.kubernetes.io/managed-by=leasebox");
    assert!(
        case.block_on(pods.list(&ListParams::default()))
            .expect("pods list")
            .items
            .is_empty(),
        "a pod was written into the foreign namespace"
    );
    assert!(
        case.block_on(accounts.list(&leasebox))
            .expect("service accounts list")
            .items
            .is_empty(),
        "a tenant object was written into the foreign namespace"
    );
    let namespace = case
        .block_on(namespaces.get(&case.namespace))
        .expect("it is there");
    assert!(
        !namespace
            .metadata
            .labels
            .unwrap_or_default()
            .contains_key("app.kubernetes.io/managed-by"),
        "the foreign namespace was adopted"
    );

    drop(client);
    let _ = child.wait();
    case.finish();
}
