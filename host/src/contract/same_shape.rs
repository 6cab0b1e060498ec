//! Conversions between two versions of a record, an enum or a variant that
//! have the same shape, written once for every frozen contract whose
//! interfaces repeat the current ones (`v0_2.rs`, `v0_3.rs`).
//!
//! Each macro names every field or case, so a field or case added to either
//! side is a compile error where the conversion is declared: the host then
//! says what an older module sees of it.

/// `From<$from> for $to` for two records whose fields have the same names,
/// each converted by its own `From`.
macro_rules! same_record {
    ($from:path => $to:path { $($field:ident),* $(,)? }) => {
        impl From<$from> for $to {
            fn from(record: $from) -> Self {
                use $from as F;
                use $to as T;
                let F { $($field),* } = record;
                T { $($field: $field.into()),* }
            }
        }
    };
}

/// `From<$from> for $to` for two enums with the same cases, none carrying a
/// payload.
macro_rules! same_cases {
    ($from:path => $to:path { $($case:ident),* $(,)? }) => {
        impl From<$from> for $to {
            fn from(value: $from) -> Self {
                use $from as F;
                use $to as T;
                match value {
                    $(F::$case => T::$case),*
                }
            }
        }
    };
}

/// `From<$from> for $to` for two variants with the same cases, each
/// carrying one payload converted by its own `From`.
macro_rules! same_payload_cases {
    ($from:path => $to:path { $($case:ident),* $(,)? }) => {
        impl From<$from> for $to {
            fn from(value: $from) -> Self {
                use $from as F;
                use $to as T;
                match value {
                    $(F::$case(payload) => T::$case(payload.into())),*
                }
            }
        }
    };
}

pub(crate) use {same_cases, same_payload_cases, same_record};
