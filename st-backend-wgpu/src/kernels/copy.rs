//! `copy` (any strided view to a contiguous buffer), `cast` and `fill` (`shaders/copy.wgsl`).
//! `copy` accepts arbitrary strides and offsets, so the dispatcher can use it to make inputs
//! contiguous for the kernels registered with `KernelCaps::CONTIGUOUS`. f16 values are copied
//! as `f16` and cast through their exact f32 value (Note [f16 kernels]).

use super::ternary::{scalar_expr, scalar_words};
use super::Elementwise;
use st_core::dispatch::KernelArgs;
use st_core::op::OpParams;
use st_core::register_kernel;
use st_core::{DType, Error, Result};

const LIB: &str = include_str!("../../shaders/copy.wgsl");

/// The copy expression: f16 moves unwidened (`h0`), Note [f16 kernels].
fn copy_expr(dt: DType) -> &'static str {
    if dt == DType::F16 {
        "h0"
    } else {
        "x0"
    }
}

/// The WGSL the kernels of (`op`, `dt`) compile: one for `copy` and `fill`, one per target
/// dtype for `cast`.
///
/// # Errors
/// [`super::no_wgsl`] for an op outside this family or a dtype WGSL cannot load.
#[cfg(test)]
pub fn wgsl(op: st_core::OpId, dt: DType) -> Result<Vec<String>> {
    let name = op.name();
    match op {
        st_core::OpId::Copy => Ok(vec![super::elementwise_wgsl(
            name,
            LIB,
            &[dt],
            dt,
            copy_expr(dt),
        )?]),
        st_core::OpId::Fill => Ok(vec![super::elementwise_wgsl(
            name,
            LIB,
            &[],
            dt,
            scalar_expr(dt),
        )?]),
        st_core::OpId::Cast => DType::ALL
            .iter()
            .filter_map(|&to| cast_expr(dt, to).map(|e| (to, e)))
            .map(|(to, e)| super::elementwise_wgsl(name, LIB, &[dt], to, e))
            .collect(),
        _ => Err(super::no_wgsl(name, dt)),
    }
}

fn copy_kernel<'a>(args: &KernelArgs<'a>) -> Result<Elementwise<'a>> {
    let Some(x) = args.inputs.first() else {
        return Err(Error::Internal("copy kernel called without input".into()));
    };
    Ok(Elementwise {
        key: format!("copy/copy/{}", x.dtype),
        lib: LIB,
        inputs: args.inputs,
        out: args.out_dtype,
        expr: copy_expr(x.dtype).into(),
        scalars: [0; 4],
    })
}

super::elementwise_kernels!(copy_kernel => copy, copy_into);

fn cast_expr(from: DType, to: DType) -> Option<&'static str> {
    use DType::*;
    Some(match (from, to) {
        (F16, F16) => "h0",
        // An f16 input is also offered as its exact f32 value `x0`, so every conversion from
        // f16 is the f32 one with a single rounding (as the CPU's casts through f32).
        (F16, _) => return cast_expr(F32, to),
        (F32, F32) | (I32, I32) | (U8 | Bool, U8) => "x0",
        (F32, I32) => "st_f2i(x0)",
        (F32, U8) => "st_f2u8(x0)",
        (F32, Bool) => "select(1u, 0u, x0 == 0.0)",
        (F32, I64) => "st_f2i64(x0)",
        (I32, F32) => "f32(x0)",
        (I32, U8) => "bitcast<u32>(x0)",
        (I32, Bool) => "select(0u, 1u, x0 != 0i)",
        (I32, I64) => "st_i2i64(x0)",
        (U8 | Bool, F32) => "f32(x0)",
        (U8 | Bool, I32) => "i32(x0)",
        (U8 | Bool, Bool) => "select(0u, 1u, x0 != 0u)",
        (U8 | Bool, I64) => "vec2<u32>(x0, 0u)",
        (F32, F64) => "st_f2d(x0)",
        (F32, F16) => "st_f2h(x0)",
        (F32, BF16) => "st_f2bf(x0)",
        (I32, F64) => "st_i2d(x0)",
        // |x| < 2^24 is exact in f32 and anything larger overflows f16 either way.
        (I32, F16) => "st_f2h(f32(x0))",
        (I32, BF16) => "st_i2bf(x0)",
        (U8 | Bool, F64) => "st_u2d(x0, 0u)",
        // u8 and bool values are exact in f32, so one rounding happens (as on the CPU).
        (U8 | Bool, F16) => "st_f2h(f32(x0))",
        (U8 | Bool, BF16) => "st_f2bf(f32(x0))",
        _ => return None,
    })
}

fn cast_kernel<'a>(args: &KernelArgs<'a>) -> Result<Elementwise<'a>> {
    let Some(x) = args.inputs.first() else {
        return Err(Error::Internal("cast kernel called without input".into()));
    };
    let Some(e) = cast_expr(x.dtype, args.out_dtype) else {
        return Err(Error::DTypeMismatch {
            op: "cast",
            got: vec![x.dtype, args.out_dtype],
            reason: format!(
                "the wgpu backend has no exact {} to {} conversion",
                x.dtype, args.out_dtype
            ),
        });
    };
    Ok(Elementwise {
        key: format!("copy/cast/{}/{}", x.dtype, args.out_dtype),
        lib: LIB,
        inputs: args.inputs,
        out: args.out_dtype,
        expr: e.into(),
        scalars: [0; 4],
    })
}

super::elementwise_kernels!(cast_kernel => cast, cast_into);

fn fill_kernel<'a>(args: &KernelArgs<'a>) -> Result<Elementwise<'a>> {
    let OpParams::Fill { value, dtype, .. } = args.params else {
        return Err(Error::Internal("fill without Fill params".into()));
    };
    let scalars = scalar_words("fill", *dtype, *value, false)?;
    Ok(Elementwise {
        key: format!("copy/fill/{dtype}"),
        lib: LIB,
        inputs: &[],
        out: args.out_dtype,
        expr: scalar_expr(*dtype).into(),
        scalars,
    })
}

super::elementwise_kernels!(fill_kernel => fill, fill_into);

register_kernel!(
    Copy,
    "wgpu",
    [F32, F16, I32, I64, U8, Bool],
    copy,
    into = copy_into
);
register_kernel!(
    Cast,
    "wgpu",
    [F32, F16, I32, U8, Bool],
    cast,
    into = cast_into
);
register_kernel!(
    Fill,
    "wgpu",
    [F32, F16, I32, I64, U8, Bool],
    fill,
    into = fill_into
);
