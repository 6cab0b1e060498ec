//! Host implementations of the interfaces a policy module imports: one file
//! per WIT interface.

pub(crate) mod kube;
mod logging;
