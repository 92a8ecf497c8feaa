//! WGPU kernels for custom ops ([`st_core::CustomOp`]): an elementwise WGSL expression over
//! the op's inputs, compiled once per (op, dtypes, expression, library hash) and run into the
//! output buffer the dispatcher gives the kernel, with the built-in kernels' broadcasting,
//! strides and dtype handling (Note [f16 kernels], Note [Strided stores]).
//!
//! ```ignore
//! op.kernel("wgpu", &[DType::F32], |a, out| {
//!     st_backend_wgpu::custom::elementwise_into(a, out, LIB, "my_gelu(x0 + x1)")
//! })
//! ```

use crate::kernels::Elementwise;
use st_core::dispatch::custom_op::CustomArgs;
use st_core::dispatch::KernelOut;
use st_core::{Error, Result};
use std::hash::{Hash, Hasher};

/// Runs `out[i] = expr(x0, x1, ...)` for the custom op call `a` on the WGPU device: `x{k}` is
/// input `k` at element `i` (inputs arrive broadcast to the output shape; f16 inputs also as
/// `h{k}: f16`, `x{k}` being their f32 value), `lib` holds the WGSL functions `expr` calls, and
/// the result (of WGSL type f32, i32 or u32 for bool/u8) is stored into `out` as the op's
/// output dtype.
///
/// # Errors
/// [`Error::DeviceMismatch`] when the call is not on a WGPU device; a dtype WGSL kernels cannot
/// load; `BackendUnavailable`; a shader that does not compile, as a backend error naming the op.
pub fn elementwise_into(
    a: &CustomArgs<'_>,
    out: &mut KernelOut<'_>,
    lib: &str,
    expr: &str,
) -> Result<()> {
    let op = a.op;
    if a.device.backend().name() != "wgpu" {
        return Err(Error::DeviceMismatch {
            op,
            devices: vec![a.device.to_string(), "wgpu (the kernel's backend)".into()],
        });
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    lib.hash(&mut h);
    let dtypes: Vec<String> = a.inputs.iter().map(|i| i.dtype.to_string()).collect();
    Elementwise {
        key: format!(
            "custom/{op}/{}/{}/{expr}/{:016x}",
            dtypes.join(","),
            a.out_dtype,
            h.finish()
        ),
        lib,
        inputs: a.inputs,
        out: a.out_dtype,
        expr: expr.to_string(),
        scalars: [0; 4],
    }
    .run_into(op, a.out_shape, out)
}
