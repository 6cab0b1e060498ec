//! [`export_policy!`](crate::export_policy): the one line that turns a
//! policy crate into a component.

/// Exports the `provider` interface of contract `leasebox:provider@0.3.0`
/// for a policy: every call runs the library with the given hooks.
///
/// The argument is a value whose type implements
/// [`Hooks`](crate::hooks::Hooks) and that lives for the whole program: a
/// unit struct (`export_policy!(MyHooks)`) or a `static`
/// (`export_policy!(MY_HOOKS)`).
///
/// The export exists on `wasm32` only; built natively the invocation
/// expands to nothing, so a policy crate's native tests link no exports.
/// A crate invokes it once, and depends on `leasebox-policy` with
/// `default-features = false`: the feature `default-module` exports the
/// default policy, and a component has one `provider`.
///
/// ```ignore
/// use leasebox_policy::hooks::Hooks;
///
/// struct MyHooks;
/// impl Hooks for MyHooks {}
///
/// leasebox_policy::export_policy!(MyHooks);
/// ```
#[macro_export]
macro_rules! export_policy {
    ($hooks:expr) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            /// The hooks this component is exported with.
            struct __LeaseboxHooks;

            impl $crate::component::ExportedHooks for __LeaseboxHooks {
                fn hooks() -> &'static dyn $crate::hooks::Hooks {
                    &$hooks
                }
            }

            /// The exported component.
            type __LeaseboxPolicy = $crate::component::Component<__LeaseboxHooks>;

            $crate::bindings::export_policy_module!(
                __LeaseboxPolicy with_types_in $crate::bindings
            );
        };
    };
}
