//! The imports of a 0.3.0 module (`kube@0.3.0`, `logging@0.3.0`), run by
//! the current ones (`older.rs`). 0.3.0 has every current import but `hand-over-secret`.

super::older::older_imports!(v0_3);
