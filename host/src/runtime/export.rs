//! The export one call runs, looked up and type-checked alone.
//!
//! The generated bindings (`PolicyModulePre::instantiate`) look up and
//! type-check every export of the contract on every instantiation: thirteen
//! signatures, several carrying the whole `lease` record, about a fifth of
//! the fixed cost of a pooled call (BENCHMARKS.md, P1). A call needs one.
//! So every export is checked once, when the module is loaded (one
//! instantiation typed through the bindings, `Runtime::check_every_export`),
//! and each call instantiates the component without them and types only the
//! export it runs ([`Export`]).

use wasmtime::Store;
use wasmtime::component::{
    ComponentExportIndex, ComponentNamedList, Instance, InstancePre, Lift, Lower, TypedFunc,
};

use super::instance::HostState;

/// The instance of one call and the index of the export it runs.
pub(crate) struct Export {
    instance: Instance,
    index: ComponentExportIndex,
}

impl Export {
    /// Instantiates the component of `pre` in `store`, for its export at
    /// `index`.
    pub(crate) fn instantiate(
        pre: &InstancePre<HostState>,
        store: &mut Store<HostState>,
        index: ComponentExportIndex,
    ) -> wasmtime::Result<Export> {
        Ok(Export {
            instance: pre.instantiate(store)?,
            index,
        })
    }

    /// Runs the export with `params` and returns its result, typed as the
    /// bindings type it: `typed_as` is the bindings' accessor of the same
    /// export (`Guest::func_plan` for `plan`), used only for its type.
    pub(crate) fn call<'a, G: 'a, P, T>(
        &self,
        store: &mut Store<HostState>,
        typed_as: fn(&'a G) -> TypedFunc<P, (T,)>,
        params: P,
    ) -> wasmtime::Result<T>
    where
        P: ComponentNamedList + Lower + Send + Sync,
        (T,): ComponentNamedList + Lift + Send + Sync,
    {
        let _ = typed_as;
        let func = self
            .instance
            .get_typed_func::<P, (T,)>(&mut *store, &self.index)?;
        let (result,) = func.call(&mut *store, params)?;
        Ok(result)
    }
}
