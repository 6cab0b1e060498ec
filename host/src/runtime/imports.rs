//! Host implementations of the interfaces a policy module imports: one file
//! per WIT interface of the current contract, and one per older contract
//! (0.3.0, 0.2.0, 0.1.0) for its interfaces, which run the current ones.

pub(crate) mod kube;
mod logging;
mod older;
mod v0_1;
mod v0_2;
mod v0_3;
