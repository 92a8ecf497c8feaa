//! The `Tensor` class and the module-level tensor functions, one file per concern.

mod autograd;
mod convert;
mod create;
mod handle;
mod index;
mod methods;
mod numpy;
mod ops;
mod shape;

pub use convert::{to_tensor, Operand};
pub use handle::PyTensor;

use pyo3::prelude::*;

/// Registers every module-level tensor function.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    create::register(m)?;
    autograd::register(m)?;
    numpy::register(m)?;
    methods::register(m)?;
    Ok(())
}
