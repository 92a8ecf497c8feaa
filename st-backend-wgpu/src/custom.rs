//! WGPU kernels for custom ops ([`st_core::CustomOp`]): an elementwise WGSL expression over
//! the op's inputs, compiled once per (op, dtypes, expression, library) and run into the output
//! buffer the dispatcher gives the kernel, with the built-in kernels' broadcasting, strides
//! and dtype handling (Note [f16 kernels], Note [Strided stores]).
//!
//! ```ignore
//! op.kernel("wgpu", &[DType::F32], |a, out| {
//!     st_backend_wgpu::custom::elementwise_into(
//!         a.op, LIB, "my_gelu(x0 + x1)", a.inputs, out, a.out_shape, a.out_dtype, a.device,
//!     )
//! })
//! ```

use crate::kernels::Elementwise;
use st_core::dispatch::{KernelInput, KernelOut};
use st_core::{DType, Device, Error, Result, Shape};
use std::hash::{Hash, Hasher};

/// Runs `out[i] = expr(x0, x1, ...)` on the WGPU device: `x{k}` is input `k` at element `i`
/// (inputs arrive broadcast to `out_shape`; f16 inputs also as `h{k}: f16`, `x{k}` being their
/// f32 value), `lib` holds the WGSL functions `expr` calls, and the result (of WGSL type f32,
/// i32 or u32 for bool/u8) is stored into `out` as `out_dtype`.
///
/// # Errors
/// [`Error::DeviceMismatch`] when `device` is not a WGPU device; a dtype WGSL kernels cannot
/// load; `BackendUnavailable`; a shader that does not compile, as a backend error naming `op`.
#[allow(clippy::too_many_arguments)]
pub fn elementwise_into(
    op: &'static str,
    lib: &str,
    expr: &str,
    inputs: &[KernelInput<'_>],
    out: &mut KernelOut<'_>,
    out_shape: &Shape,
    out_dtype: DType,
    device: Device,
) -> Result<()> {
    if device.backend().name() != "wgpu" {
        return Err(Error::DeviceMismatch {
            op,
            devices: vec![device.to_string(), "wgpu (the kernel's backend)".into()],
        });
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (lib, expr).hash(&mut h);
    let dtypes: Vec<String> = inputs.iter().map(|i| i.dtype.to_string()).collect();
    Elementwise {
        key: format!(
            "custom/{op}/{}/{out_dtype}/{:016x}",
            dtypes.join(","),
            h.finish()
        ),
        lib,
        inputs,
        out: out_dtype,
        expr: expr.to_string(),
        scalars: [0; 4],
    }
    .run_into(op, out_shape, out)
}
