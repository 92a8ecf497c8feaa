//! `spiraltorch._C`: the native module behind the `spiraltorch` Python package. This file only
//! wires the modules together; see `tensor/` for the `Tensor` class and its functions.

#![warn(missing_docs)]
// The library is named `_C` because maturin names the native module after it
// (`spiraltorch._C`, as in PyTorch).
#![allow(non_snake_case)]

pub mod device;
pub mod dtype;
pub mod errors;
pub mod grad_mode;
pub mod tensor;

use pyo3::prelude::*;

/// The native module. The WGPU backend is named here so that its kernels are linked
/// (ARCHITECTURE.md: the module names every backend crate).
#[pymodule]
#[pyo3(name = "_C")]
fn spiraltorch_c(m: &Bound<'_, PyModule>) -> PyResult<()> {
    st_backend_wgpu::link();
    dtype::register(m)?;
    m.add_class::<device::PyDevice>()?;
    m.add_class::<tensor::PyTensor>()?;
    grad_mode::register(m)?;
    tensor::register(m)?;
    Ok(())
}
