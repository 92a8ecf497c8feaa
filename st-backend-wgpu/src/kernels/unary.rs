//! Elementwise unary kernels (`shaders/unary.wgsl`): float math in f32 (f16 inputs widened
//! and the result rounded once, Note [f16 kernels]), the integer ops `op/infer.rs` allows on
//! i32 (wrapping, like the CPU), and logical_not on every WGSL dtype.

use super::Elementwise;
use st_core::dispatch::KernelArgs;
use st_core::op::{OpId, OpParams};
use st_core::register_kernel;
use st_core::{DType, Error, Result};

const LIB: &str = include_str!("../../shaders/unary.wgsl");

fn float_expr(op: OpId) -> Option<&'static str> {
    Some(match op {
        OpId::Neg => "-x0",
        OpId::Abs => "abs(x0)",
        OpId::Exp => "exp(x0)",
        OpId::Log => "log(x0)",
        OpId::Sqrt => "sqrt(x0)",
        OpId::Rsqrt => "1.0 / sqrt(x0)",
        OpId::Sin => "sin(x0)",
        OpId::Cos => "cos(x0)",
        OpId::Tanh => "st_tanh(x0)",
        OpId::Sigmoid => "st_sigmoid(x0)",
        OpId::Relu => "st_relu(x0)",
        OpId::Gelu => "st_gelu(x0)",
        OpId::GeluTanh => "st_gelu_tanh(x0)",
        OpId::Silu => "st_silu(x0)",
        OpId::Erf => "st_erf(x0)",
        OpId::Floor => "floor(x0)",
        OpId::Ceil => "ceil(x0)",
        OpId::Round => "round(x0)",
        OpId::Sign => "st_sign(x0)",
        OpId::Reciprocal => "1.0 / x0",
        OpId::Clamp => "st_clamp(x0)",
        OpId::LogicalNot => "select(0u, 1u, x0 == 0.0)",
        _ => return None,
    })
}

fn int_expr(op: OpId) -> Option<&'static str> {
    Some(match op {
        OpId::Neg => "-x0",
        OpId::Abs => "abs(x0)",
        OpId::Sign => "sign(x0)",
        OpId::Relu => "max(x0, 0i)",
        OpId::Floor | OpId::Ceil | OpId::Round => "x0",
        OpId::Clamp => "st_clamp_i(x0)",
        OpId::LogicalNot => "select(0u, 1u, x0 == 0i)",
        _ => return None,
    })
}

/// The WGSL expression of `op` on dtype `dt` (f16 is widened to f32 as `x0`).
fn expr(op: OpId, dt: DType) -> Option<&'static str> {
    match dt {
        DType::F32 | DType::F16 => float_expr(op),
        DType::I32 => int_expr(op),
        DType::Bool | DType::U8 if op == OpId::LogicalNot => Some("select(0u, 1u, x0 == 0u)"),
        _ => None,
    }
}

/// The WGSL the kernel of (`op`, `dt`) compiles.
///
/// # Errors
/// [`super::no_wgsl`] when the pair has no kernel.
#[cfg(test)]
pub fn wgsl(op: OpId, dt: DType) -> Result<String> {
    let e = expr(op, dt).ok_or_else(|| super::no_wgsl(op.name(), dt))?;
    let out = if op == OpId::LogicalNot {
        DType::Bool
    } else {
        dt
    };
    super::elementwise_wgsl(op.name(), LIB, &[dt], out, e)
}

fn clamp_scalars(args: &KernelArgs<'_>, dt: DType) -> Result<[u32; 4]> {
    let OpParams::Clamp { min, max } = args.params else {
        return Err(Error::Internal(format!(
            "clamp called with params {:?}",
            args.params
        )));
    };
    let flags = min.is_some() as u32 | (max.is_some() as u32) << 1;
    if matches!(dt, DType::F32 | DType::F16) {
        let b = |v: Option<f64>| v.map_or(0, |v| (v as f32).to_bits());
        return Ok([flags, b(*min), b(*max), 0]);
    }
    if min.is_some_and(f64::is_nan) || max.is_some_and(f64::is_nan) {
        return Err(Error::invalid(
            "clamp",
            format!("NaN bound on a {dt} tensor"),
        ));
    }
    let (lo, hi) = (i32::MIN as f64, i32::MAX as f64);
    let b = |v: Option<f64>, f: fn(f64) -> f64| v.map_or(0, |v| (f(v).clamp(lo, hi) as i32) as u32);
    Ok([flags, b(*min, f64::ceil), b(*max, f64::floor), 0])
}

fn unary_kernel<'a>(args: &KernelArgs<'a>) -> Result<Elementwise<'a>> {
    let Some(x) = args.inputs.first() else {
        return Err(Error::Internal(format!(
            "{} kernel called without input",
            args.op
        )));
    };
    let dt = x.dtype;
    let Some(expr) = expr(args.op, dt) else {
        return Err(super::no_wgsl(args.op.name(), dt));
    };
    let scalars = if args.op == OpId::Clamp {
        clamp_scalars(args, dt)?
    } else {
        [0; 4]
    };
    Ok(Elementwise {
        key: format!("unary/{}/{dt}", args.op),
        lib: LIB,
        inputs: args.inputs,
        out: args.out_dtype,
        expr: expr.to_string(),
        scalars,
    })
}

super::elementwise_kernels!(unary_kernel => unary, unary_into);

register_kernel!(Neg, "wgpu", [F32, F16, I32], unary, into = unary_into);
register_kernel!(Abs, "wgpu", [F32, F16, I32], unary, into = unary_into);
register_kernel!(Exp, "wgpu", [F32, F16], unary, into = unary_into);
register_kernel!(Log, "wgpu", [F32, F16], unary, into = unary_into);
register_kernel!(Sqrt, "wgpu", [F32, F16], unary, into = unary_into);
register_kernel!(Rsqrt, "wgpu", [F32, F16], unary, into = unary_into);
register_kernel!(Sin, "wgpu", [F32, F16], unary, into = unary_into);
register_kernel!(Cos, "wgpu", [F32, F16], unary, into = unary_into);
register_kernel!(Tanh, "wgpu", [F32, F16], unary, into = unary_into);
register_kernel!(Sigmoid, "wgpu", [F32, F16], unary, into = unary_into);
register_kernel!(Relu, "wgpu", [F32, F16, I32], unary, into = unary_into);
register_kernel!(Gelu, "wgpu", [F32, F16], unary, into = unary_into);
register_kernel!(GeluTanh, "wgpu", [F32, F16], unary, into = unary_into);
register_kernel!(Silu, "wgpu", [F32, F16], unary, into = unary_into);
register_kernel!(Erf, "wgpu", [F32, F16], unary, into = unary_into);
register_kernel!(Floor, "wgpu", [F32, F16, I32], unary, into = unary_into);
register_kernel!(Ceil, "wgpu", [F32, F16, I32], unary, into = unary_into);
register_kernel!(Round, "wgpu", [F32, F16, I32], unary, into = unary_into);
register_kernel!(Sign, "wgpu", [F32, F16, I32], unary, into = unary_into);
register_kernel!(Reciprocal, "wgpu", [F32, F16], unary, into = unary_into);
register_kernel!(Clamp, "wgpu", [F32, F16, I32], unary, into = unary_into);
register_kernel!(
    LogicalNot,
    "wgpu",
    [F32, F16, I32, U8, Bool],
    unary,
    into = unary_into
);
