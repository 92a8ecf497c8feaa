//! Grad mode from Python: `set_grad_enabled`, the primitive under `st.no_grad()`,
//! `st.enable_grad()` and `st.set_grad_enabled()` (written in Python on top of it).
//!
//! st-core's grad mode is thread-local and only has a scoped `no_grad()` guard. Python
//! context managers need an "enable" too, so this module holds, per thread, at most one
//! st-core guard: disabling takes one, enabling drops it (which restores "enabled"). Python
//! code is the only thing that changes grad mode between calls into Rust, so this models the
//! state exactly.

use pyo3::prelude::*;
use st_core::autograd::NoGradGuard;
use std::cell::RefCell;

thread_local! {
    static HELD: RefCell<Option<NoGradGuard>> = const { RefCell::new(None) };
}

/// Sets grad mode on this thread; returns the previous mode.
#[pyfunction]
pub fn set_grad_enabled(on: bool) -> bool {
    let prev = st_core::is_grad_enabled();
    HELD.with(|h| {
        let mut h = h.borrow_mut();
        if on {
            // Dropping the guard restores the mode it saw: enabled (it was only taken then).
            h.take();
            // A guard taken by someone else (none today) would leave grad off; say so.
        } else if h.is_none() && prev {
            *h = Some(st_core::no_grad());
        }
    });
    prev
}

/// Whether ops on this thread record the autograd graph.
#[pyfunction]
pub fn is_grad_enabled() -> bool {
    st_core::is_grad_enabled()
}

/// Registers the functions on the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(set_grad_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(is_grad_enabled, m)?)?;
    Ok(())
}
