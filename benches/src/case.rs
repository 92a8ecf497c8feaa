//! [`Case`]: one benchmark case of the `st-bench` table, and the helpers every case builder
//! shares.

use crate::Work;
use st_core::{DType, Device, Generator, Result, Tensor};
use std::hint::black_box;

/// One timed call: runs the op, waits for the device, drops the output.
pub type Runner = Box<dyn FnMut() -> Result<()>>;

/// A benchmark case. Inputs are built by [`Case::build`] just before the case is timed, so only
/// one case's tensors are alive at a time.
pub struct Case {
    /// Case name (`matmul_f32_1024`).
    pub name: &'static str,
    /// Element type of the inputs.
    pub dtype: DType,
    /// Input shapes.
    pub shapes: Vec<Vec<usize>>,
    /// Work per call.
    pub work: Work,
    pub(crate) build: fn(&Case, &Device) -> Result<Runner>,
}

impl Case {
    /// Allocates the inputs on `device` and returns the call to time.
    ///
    /// # Errors
    /// Allocation or dispatch errors (`KernelNotFound` when the backend lacks the op).
    pub fn build(&self, device: &Device) -> Result<Runner> {
        (self.build)(self, device)
    }
}

/// Seeded standard-normal f32 input (the same values on every run).
///
/// # Errors
/// Allocation errors from the backend.
pub fn randn(shape: &[usize], seed: u64, device: &Device) -> Result<Tensor> {
    let mut g = Generator::new(seed);
    Tensor::randn_with(&mut g, shape, DType::F32, device)
}

/// Wraps a computation into a [`Runner`] that syncs the device inside the timed region: on
/// WGPU, `Device::sync` blocks until every submitted dispatch has finished (`Device::poll` with
/// `wait_indefinitely`), so the time includes the GPU work, not only its submission.
pub(crate) fn runner(device: &Device, mut op: impl FnMut() -> Result<Tensor> + 'static) -> Runner {
    let device = *device;
    Box::new(move || {
        let y = op()?;
        device.sync()?;
        black_box(&y);
        Ok(())
    })
}
