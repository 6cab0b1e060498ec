//! Wire-level tests of `leasebox::cluster::kube_client`: the real kube-rs client
//! against a scripted fake API server on 127.0.0.1 (method, path, query and
//! body of every request checked), plus one `#[ignore]`d test against a real
//! cluster (`real_cluster.rs`).

mod fake_api;
mod hand_over;
mod leader;
mod objects;
mod real_cluster;
mod spare_connection;
mod watch;
