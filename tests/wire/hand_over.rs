//! `hand-over-secret` on the wire: the host hands over the values it filled
//! into the Secret itself (it never reads a Secret back), in one exec whose
//! command line carries the path and the byte count, never a value. (The fake API server answers and closes; it
//! cannot serve an exec stream, so the write itself is tested against the
//! local `sh` in `kube_client/hand_over.rs` and on a real cluster.)

use leasebox::cluster::io::ClusterIo;
use leasebox::contract::{EnvVar, HandOverRequest, HostSecretRequest, KubeError};
use serde_json::json;

use crate::fake_api::{FakeApi, Reply, failure, step};

const SECRET: &str = "/api/v1/namespaces/t/secrets/lb-1-env";
const EXEC: &str = "/api/v1/namespaces/t/pods/lb-1/exec";

fn request() -> HandOverRequest {
    HandOverRequest {
        namespace: "t".into(),
        secret: "lb-1-env".into(),
        pod: "lb-1".into(),
        container: "agent".into(),
        path: "/run/leasebox/lease.env".into(),
    }
}

#[test]
fn a_secret_this_host_did_not_write_is_not_found_and_nothing_is_read_or_executed() {
    let api = FakeApi::start(vec![]);
    let answer = api.client().hand_over_secret(&request());
    api.finish();
    assert!(
        matches!(&answer, Err(KubeError::NotFound(m))
            if m.starts_with("hand over secret t/lb-1-env to pod lb-1")
                && m.contains("apply-host-secret")),
        "{answer:?}"
    );
}

#[test]
fn the_exec_carries_the_path_and_byte_count_but_no_value() {
    // "export TOKEN='s3cr3t'\n" is 22 bytes.
    let secret = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "lb-1-env", "namespace": "t"},
        "data": {"TOKEN": "czNjcjN0"}});
    let api = FakeApi::start(vec![
        step("PATCH", SECRET, Reply::Json(200, secret)),
        step(
            "GET",
            EXEC,
            failure(403, "Forbidden", "pods \"lb-1\" is forbidden"),
        )
        .check(|r| {
            let command: Vec<&str> = (r.query.iter())
                .filter(|(k, _)| k == "command")
                .map(|(_, v)| v.as_str())
                .collect();
            let tail = command.get(3..).unwrap_or_default();
            if tail != ["leasebox-hand-over", "/run/leasebox/lease.env", "22"] {
                return Err(format!("command {command:?}"));
            }
            if r.query.iter().any(|(_, v)| v.contains("s3cr3t")) {
                return Err("a value is on the command line".into());
            }
            if r.param("stdin") != Some("true") || r.param("container") != Some("agent") {
                return Err(format!("query {:?}", r.query));
            }
            Ok(())
        }),
    ]);
    let client = api.client();
    let manifest = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "lb-1-env", "namespace": "t"}});
    client
        .apply_host_secret(&HostSecretRequest {
            manifest: manifest.to_string(),
            random_keys: vec![],
            host_keys: vec![],
            literal: vec![EnvVar {
                name: "TOKEN".into(),
                value: "s3cr3t".into(),
            }],
        })
        .expect("the Secret is written");
    let answer = client.hand_over_secret(&request());
    api.finish();
    assert!(
        matches!(&answer, Err(KubeError::Forbidden(m))
            if m.starts_with("hand over secret t/lb-1-env to pod lb-1")),
        "{answer:?}"
    );
}
