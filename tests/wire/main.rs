//! Wire-level tests of the kube client (being written).
