//! `hand-over-secret` through the guard onto the in-memory cluster: the
//! lease's own Secret reaches its own pod's memory-backed `emptyDir` as the
//! file the host renders from the stored values; the same Secret aimed at
//! a disk-backed directory never reaches the cluster.

use std::collections::HashMap;
use std::sync::Arc;

use leasebox::cluster::grants::Grants;
use leasebox::cluster::guard::{Audit, COMPANY_ANNOTATION, GuardedCluster};
use leasebox::cluster::io::{CallScope, ClusterIo};
use leasebox::cluster::manifest::Manifest;
use leasebox::contract::{EnvVar, HandOverRequest, HostSecretRequest, KubeError};
use serde_json::json;

use crate::in_memory_cluster::{HandOver, InMemoryCluster};

const NAMESPACE: &str = "leasebox-acme";
const COMPANY: &str = "acme";
const LEASE: &str = "lb-01jd8x7k2m3n4p5q6r7s8t9v0w";

/// A tenant namespace holding `LEASE`'s claimed pod (a memory `emptyDir`
/// at `/run/leasebox`, a disk one at `/work`) and its host-filled Secret.
fn cluster() -> Arc<InMemoryCluster> {
    let cluster = Arc::new(InMemoryCluster::new(HashMap::from([(
        "ANTHROPIC_API_KEY".to_string(),
        "sk-it's-secret".to_string(),
    )])));
    let labels = json!({"app.kubernetes.io/managed-by": "leasebox", "leasebox.dev/lease": LEASE});
    cluster
        .create(Manifest::from_value(
            json!({"apiVersion":"v1","kind":"Namespace",
            "metadata":{"name":NAMESPACE,"labels":{"app.kubernetes.io/managed-by":"leasebox"},
                "annotations":{COMPANY_ANNOTATION:COMPANY}}}),
        ))
        .expect("namespace");
    cluster
        .create(Manifest::from_value(json!({"apiVersion":"v1","kind":"Pod",
            "metadata":{"name":LEASE,"namespace":NAMESPACE,"labels":labels},
            "spec":{"containers":[{"name":"agent","image":"busybox","volumeMounts":[
                    {"name":"lease-env","mountPath":"/run/leasebox"},
                    {"name":"work","mountPath":"/work"}]}],
                "volumes":[{"name":"lease-env","emptyDir":{"medium":"Memory"}},
                    {"name":"work","emptyDir":{}}]}})))
        .expect("pod");
    cluster
        .apply_host_secret(&HostSecretRequest {
            manifest: json!({"apiVersion":"v1","kind":"Secret",
                "metadata":{"name":format!("{LEASE}-env"),"namespace":NAMESPACE,"labels":labels}})
            .to_string(),
            random_keys: Vec::new(),
            host_keys: vec!["ANTHROPIC_API_KEY".into()],
            literal: vec![
                EnvVar {
                    name: "MODE".into(),
                    value: "fast".into(),
                },
                EnvVar {
                    name: "not.a.shell.name".into(),
                    value: "x".into(),
                },
            ],
        })
        .expect("secret");
    cluster
}

/// The guard of `LEASE`'s claim.
fn claim_guard(cluster: &Arc<InMemoryCluster>) -> GuardedCluster {
    GuardedCluster::new(
        cluster.clone(),
        Arc::new(Grants::default()),
        Audit::counting("f00d"),
    )
    .for_call(&CallScope::acquire(COMPANY, LEASE))
}

fn request(path: &str) -> HandOverRequest {
    HandOverRequest {
        namespace: NAMESPACE.into(),
        secret: format!("{LEASE}-env"),
        pod: LEASE.into(),
        container: "agent".into(),
        path: path.into(),
    }
}

#[test]
fn the_leases_secret_reaches_its_pod_as_sorted_export_lines() {
    let cluster = cluster();
    claim_guard(&cluster)
        .hand_over_secret(&request("/run/leasebox/lease.env"))
        .expect("handed over");
    assert_eq!(
        cluster.hand_overs(),
        [HandOver {
            namespace: NAMESPACE.into(),
            secret: format!("{LEASE}-env"),
            pod: LEASE.into(),
            container: "agent".into(),
            path: "/run/leasebox/lease.env".into(),
            file: b"export ANTHROPIC_API_KEY='sk-it'\\''s-secret'\nexport MODE='fast'\n".to_vec(),
        }]
    );
}

#[test]
fn a_hand_over_onto_a_disk_never_reaches_the_cluster() {
    let cluster = cluster();
    let answer = claim_guard(&cluster).hand_over_secret(&request("/work/lease.env"));
    assert!(
        matches!(&answer, Err(KubeError::Denied(d)) if d.rule == "hand-over-target"),
        "{answer:?}"
    );
    assert!(cluster.hand_overs().is_empty());
}
