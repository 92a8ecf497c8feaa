//! Elementwise binary arithmetic with broadcasting over strided inputs
//! (`shaders/binary.wgsl`), for f32, f16 (in f32, rounded once: Note [f16 kernels]), i32, u8
//! and bool with the CPU kernels' semantics.

use super::Elementwise;
use st_core::dispatch::KernelArgs;
use st_core::op::OpId;
use st_core::register_kernel;
use st_core::{DType, Error, Result};

const LIB: &str = include_str!("../../shaders/binary.wgsl");

fn expr(op: OpId, dt: DType) -> Option<&'static str> {
    use OpId::*;
    // f16 inputs arrive widened to f32 as x0, x1 (Note [f16 kernels]).
    let dt = if dt == DType::F16 { DType::F32 } else { dt };
    Some(match (dt, op) {
        (DType::F32 | DType::I32 | DType::U8, Add) => "x0 + x1",
        (DType::F32 | DType::I32 | DType::U8, Sub) => "x0 - x1",
        (DType::F32 | DType::I32 | DType::U8, Mul) => "x0 * x1",
        (DType::F32, Div) => "x0 / x1",
        (DType::F32, Pow) => "st_pow(x0, x1)",
        (DType::F32, Maximum) => "st_max(x0, x1)",
        (DType::F32, Minimum) => "st_min(x0, x1)",
        (DType::I32, Div) => "st_div_i(x0, x1)",
        (DType::I32, Pow) => "st_pow_i(x0, x1)",
        (DType::U8, Div) => "st_div_u(x0, x1)",
        (DType::U8, Pow) => "st_pow_u(x0, x1)",
        (DType::I32 | DType::U8, Maximum) => "max(x0, x1)",
        (DType::I32 | DType::U8, Minimum) => "min(x0, x1)",
        (DType::Bool, Add | Maximum) => "x0 | x1",
        (DType::Bool, Mul | Minimum) => "x0 & x1",
        _ => return None,
    })
}

/// The WGSL the kernel of (`op`, `dt`) compiles.
///
/// # Errors
/// [`super::no_wgsl`] when the pair has no kernel.
#[cfg(test)]
pub fn wgsl(op: OpId, dt: DType) -> Result<String> {
    let e = expr(op, dt).ok_or_else(|| super::no_wgsl(op.name(), dt))?;
    super::elementwise_wgsl(op.name(), LIB, &[dt, dt], dt, e)
}

fn binary_kernel<'a>(args: &KernelArgs<'a>) -> Result<Elementwise<'a>> {
    let [a, _b] = args.inputs else {
        return Err(Error::Internal(format!(
            "{} kernel needs 2 inputs",
            args.op
        )));
    };
    let Some(e) = expr(args.op, a.dtype) else {
        return Err(super::no_wgsl(args.op.name(), a.dtype));
    };
    Ok(Elementwise {
        key: format!("binary/{}/{}", args.op, a.dtype),
        lib: LIB,
        inputs: args.inputs,
        out: args.out_dtype,
        expr: e.to_string(),
        scalars: [0; 4],
    })
}

super::elementwise_kernels!(binary_kernel => binary, binary_into);

register_kernel!(
    Add,
    "wgpu",
    [F32, F16, I32, U8, Bool],
    binary,
    into = binary_into
);
register_kernel!(Sub, "wgpu", [F32, F16, I32, U8], binary, into = binary_into);
register_kernel!(
    Mul,
    "wgpu",
    [F32, F16, I32, U8, Bool],
    binary,
    into = binary_into
);
register_kernel!(Div, "wgpu", [F32, F16, I32, U8], binary, into = binary_into);
register_kernel!(Pow, "wgpu", [F32, F16, I32, U8], binary, into = binary_into);
register_kernel!(
    Maximum,
    "wgpu",
    [F32, F16, I32, U8, Bool],
    binary,
    into = binary_into
);
register_kernel!(
    Minimum,
    "wgpu",
    [F32, F16, I32, U8, Bool],
    binary,
    into = binary_into
);
