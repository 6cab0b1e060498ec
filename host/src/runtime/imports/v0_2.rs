//! The imports of a 0.2.0 module (`kube@0.2.0`, `logging@0.2.0`), run by
//! the current ones (`older.rs`).

super::older::older_imports!(v0_2);
