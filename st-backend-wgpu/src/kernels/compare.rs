//! Comparisons and logical and/or with broadcasting (`shaders/compare.wgsl`), producing bool
//! bytes packed four per word, for f32, f16 (compared as exact f32), i32, u8 and bool inputs.

use super::Elementwise;
use st_core::dispatch::KernelArgs;
use st_core::op::OpId;
use st_core::register_kernel;
use st_core::{DType, Error, Result};

const LIB: &str = include_str!("../../shaders/compare.wgsl");

fn expr(op: OpId, dt: DType) -> Option<String> {
    let zero = match dt {
        DType::F32 | DType::F16 => "0.0",
        DType::I32 => "0i",
        DType::U8 | DType::Bool => "0u",
        _ => return None,
    };
    Some(match op {
        OpId::Eq => "st_b(x0 == x1)".into(),
        // `!(a == b)` rather than `a != b`: drivers may lower `!=` to an ordered compare,
        // which is false for NaN.
        OpId::Ne => "st_b(!(x0 == x1))".into(),
        OpId::Lt => "st_b(x0 < x1)".into(),
        OpId::Le => "st_b(x0 <= x1)".into(),
        OpId::Gt => "st_b(x0 > x1)".into(),
        OpId::Ge => "st_b(x0 >= x1)".into(),
        OpId::LogicalAnd => format!("st_b(!(x0 == {zero}) && !(x1 == {zero}))"),
        OpId::LogicalOr => format!("st_b(!(x0 == {zero}) || !(x1 == {zero}))"),
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
    super::elementwise_wgsl(op.name(), LIB, &[dt, dt], DType::Bool, &e)
}

fn compare_kernel<'a>(args: &KernelArgs<'a>) -> Result<Elementwise<'a>> {
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
        key: format!("compare/{}/{}", args.op, a.dtype),
        lib: LIB,
        inputs: args.inputs,
        out: args.out_dtype,
        expr: e,
        scalars: [0; 4],
    })
}

super::elementwise_kernels!(compare_kernel => compare, compare_into);

register_kernel!(
    Eq,
    "wgpu",
    [F32, F16, I32, U8, Bool],
    compare,
    into = compare_into
);
register_kernel!(
    Ne,
    "wgpu",
    [F32, F16, I32, U8, Bool],
    compare,
    into = compare_into
);
register_kernel!(
    Lt,
    "wgpu",
    [F32, F16, I32, U8, Bool],
    compare,
    into = compare_into
);
register_kernel!(
    Le,
    "wgpu",
    [F32, F16, I32, U8, Bool],
    compare,
    into = compare_into
);
register_kernel!(
    Gt,
    "wgpu",
    [F32, F16, I32, U8, Bool],
    compare,
    into = compare_into
);
register_kernel!(
    Ge,
    "wgpu",
    [F32, F16, I32, U8, Bool],
    compare,
    into = compare_into
);
register_kernel!(
    LogicalAnd,
    "wgpu",
    [F32, F16, I32, U8, Bool],
    compare,
    into = compare_into
);
register_kernel!(
    LogicalOr,
    "wgpu",
    [F32, F16, I32, U8, Bool],
    compare,
    into = compare_into
);
