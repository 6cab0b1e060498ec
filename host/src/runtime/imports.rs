//! Host implementations of the interfaces a policy module imports: one file
//! per WIT interface of the current contract, and one for every interface
//! of 0.1.0 (which runs the current ones).

pub(crate) mod kube;
mod logging;
mod v0_1;
