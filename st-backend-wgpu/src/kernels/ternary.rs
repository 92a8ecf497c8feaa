//! `where` and `masked_fill` with broadcasting over strided inputs (`shaders/ternary.wgsl`),
//! for f32, f16 (moved as `f16`, Note [f16 kernels]), i32, i64, u8 and bool values.

use super::Elementwise;
use st_core::dispatch::KernelArgs;
use st_core::op::{OpId, OpParams};
use st_core::register_kernel;
use st_core::{DType, Error, Result};

const LIB: &str = include_str!("../../shaders/ternary.wgsl");

/// Bits of scalar `v` as dtype `dt` in meta slots 0 and 1, rejecting values the dtype cannot
/// hold (the CPU's `masked_fill` rules: integers must be in range after truncation, finite
/// floats must not overflow). An f16 scalar is rounded to f16 once on the host and passed as
/// the (exact) f32 of that value.
pub fn scalar_words(op: &'static str, dt: DType, v: f64, checked: bool) -> Result<[u32; 4]> {
    let range = match dt {
        DType::I32 => Some((-(2f64.powi(31)), 2f64.powi(31))),
        DType::I64 => Some((-(2f64.powi(63)), 2f64.powi(63))),
        DType::U8 => Some((0.0, 256.0)),
        _ => None,
    };
    let ok = match range {
        Some((lo, hi)) => v.trunc() >= lo && v.trunc() < hi,
        None => match dt {
            DType::F32 => !(v.is_finite() && (v as f32).is_infinite()),
            DType::F16 => !(v.is_finite() && half::f16::from_f64(v).is_infinite()),
            _ => true,
        },
    };
    if checked && !ok {
        return Err(Error::invalid(
            op,
            format!("value {v} cannot be converted to {dt} without overflow"),
        ));
    }
    Ok(match dt {
        DType::F32 => [(v as f32).to_bits(), 0, 0, 0],
        DType::F16 => [half::f16::from_f64(v).to_f32().to_bits(), 0, 0, 0],
        DType::I32 => [(v as i32) as u32, 0, 0, 0],
        DType::U8 => [(v as u8) as u32, 0, 0, 0],
        DType::Bool => [(v != 0.0) as u32, 0, 0, 0],
        DType::I64 => {
            let w = v as i64 as u64;
            [w as u32, (w >> 32) as u32, 0, 0]
        }
        _ => return Err(super::no_wgsl(op, dt)),
    })
}

/// WGSL expression reading the scalar of [`scalar_words`] as dtype `dt` (as f32 for f16: the
/// generated store rounds it to f16, exactly).
pub fn scalar_expr(dt: DType) -> &'static str {
    match dt {
        DType::F32 | DType::F16 => "st_sf(0u)",
        DType::I32 => "st_si(0u)",
        DType::I64 => "vec2<u32>(st_su(0u), st_su(1u))",
        _ => "st_su(0u)",
    }
}

/// The WGSL expression of `where` (inputs cond, a, b) or `masked_fill` (inputs x, mask) on
/// values of dtype `dt`. f16 values move as `h0`, `h1`, `h2`, unwidened (Note [f16 kernels]).
fn expr(op: OpId, dt: DType) -> Option<String> {
    Some(match (op, dt) {
        (OpId::Where, DType::F16) => "select(h2, h1, x0 != 0u)".into(),
        (OpId::Where, _) => "select(x2, x1, x0 != 0u)".into(),
        (OpId::MaskedFill, DType::F16) => "select(h0, f16(st_sf(0u)), x1 != 0u)".into(),
        (OpId::MaskedFill, _) => format!("select(x0, {}, x1 != 0u)", scalar_expr(dt)),
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
    let inputs = if op == OpId::Where {
        vec![DType::Bool, dt, dt]
    } else {
        vec![dt, DType::Bool]
    };
    super::elementwise_wgsl(op.name(), LIB, &inputs, dt, &e)
}

fn ternary_kernel<'a>(args: &KernelArgs<'a>) -> Result<Elementwise<'a>> {
    let op = args.op.name();
    let (dt, scalars) = match (args.op, args.inputs) {
        (OpId::Where, [_c, a, _b]) => (a.dtype, [0; 4]),
        (OpId::MaskedFill, [x, _m]) => {
            let OpParams::Scalar(v) = args.params else {
                return Err(Error::Internal(format!(
                    "masked_fill params {:?}",
                    args.params
                )));
            };
            (x.dtype, scalar_words(op, x.dtype, *v, true)?)
        }
        _ => return Err(Error::Internal(format!("{op}: unexpected inputs"))),
    };
    super::loader(op, "ld", "in", dt)?;
    let Some(expr) = expr(args.op, dt) else {
        return Err(super::no_wgsl(op, dt));
    };
    Ok(Elementwise {
        key: format!("ternary/{op}/{dt}"),
        lib: LIB,
        inputs: args.inputs,
        out: args.out_dtype,
        expr,
        scalars,
    })
}

super::elementwise_kernels!(ternary_kernel => ternary, ternary_into);

register_kernel!(
    Where,
    "wgpu",
    [F32, F16, I32, I64, U8, Bool],
    ternary,
    into = ternary_into
);
register_kernel!(
    MaskedFill,
    "wgpu",
    [F32, F16, I32, I64, U8, Bool],
    ternary,
    into = ternary_into
);
