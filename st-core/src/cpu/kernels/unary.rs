//! Elementwise unary kernels (math, activations, rounding, clamp, logical_not).
//!
//! Float math is written once over [`Real`] (f32, f64); f16 and bf16 load into f32, compute and
//! round back once. Integer dtypes get the ops `op/infer.rs` allows them (neg, abs, sign, relu,
//! clamp and the identity roundings), with PyTorch's wrapping semantics. Each op is its own
//! closure passed to [`map1`], so every (op, dtype) pair compiles to its own tight loop.

use super::util::{map1, new_output, Dest, Written};
use crate::backend::Storage;
use crate::dispatch::{KernelArgs, KernelInput, KernelOut};
use crate::dtype::{Bool8, DType, Element};
use crate::error::{Error, Result};
use crate::op::{OpId, OpParams};
use crate::register_kernel;
use half::{bf16, f16};

/// The float math the unary kernels need, implemented for `f32` and `f64`.
pub trait Real:
    Element
    + std::ops::Neg<Output = Self>
    + std::ops::Add<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
{
    /// 0.
    const ZERO: Self;
    /// 1.
    const ONE: Self;
    /// 0.5.
    const HALF: Self;
    /// 1/√2.
    const FRAC_1_SQRT_2: Self;
    /// √(2/π).
    const SQRT_2_OVER_PI: Self;
    /// The cubic coefficient of the tanh GELU approximation (0.044715).
    const GELU_TANH_C: Self;
    /// e^x.
    fn exp(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// Sine.
    fn sin(self) -> Self;
    /// Cosine.
    fn cos(self) -> Self;
    /// Hyperbolic tangent.
    fn tanh(self) -> Self;
    /// Error function.
    fn erf(self) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// Floor.
    fn floor(self) -> Self;
    /// Ceiling.
    fn ceil(self) -> Self;
    /// Round half to even.
    fn round_even(self) -> Self;
    /// True for NaN.
    fn is_nan(self) -> bool;
}

macro_rules! real {
    ($t:ident, $erf:path) => {
        impl Real for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const HALF: Self = 0.5;
            const FRAC_1_SQRT_2: Self = std::$t::consts::FRAC_1_SQRT_2;
            const SQRT_2_OVER_PI: Self =
                std::$t::consts::FRAC_2_SQRT_PI * std::$t::consts::FRAC_1_SQRT_2;
            const GELU_TANH_C: Self = 0.044715;
            #[inline(always)]
            fn exp(self) -> Self {
                $t::exp(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                $t::ln(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                $t::sqrt(self)
            }
            #[inline(always)]
            fn sin(self) -> Self {
                $t::sin(self)
            }
            #[inline(always)]
            fn cos(self) -> Self {
                $t::cos(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                $t::tanh(self)
            }
            #[inline(always)]
            fn erf(self) -> Self {
                $erf(self)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                $t::abs(self)
            }
            #[inline(always)]
            fn floor(self) -> Self {
                $t::floor(self)
            }
            #[inline(always)]
            fn ceil(self) -> Self {
                $t::ceil(self)
            }
            #[inline(always)]
            fn round_even(self) -> Self {
                $t::round_ties_even(self)
            }
            #[inline(always)]
            fn is_nan(self) -> bool {
                $t::is_nan(self)
            }
        }
    };
}
real!(f32, libm::erff);
real!(f64, libm::erf);

/// A float storage type and the [`Real`] type its math runs in (itself for f32/f64, f32 for
/// f16/bf16, which are rounded back once per element).
pub trait FloatElem: Element {
    /// The compute type.
    type C: Real;
    /// Widens to the compute type.
    fn up(self) -> Self::C;
    /// Rounds back from the compute type.
    fn down(c: Self::C) -> Self;
}

impl FloatElem for f32 {
    type C = f32;
    #[inline(always)]
    fn up(self) -> f32 {
        self
    }
    #[inline(always)]
    fn down(c: f32) -> f32 {
        c
    }
}

impl FloatElem for f64 {
    type C = f64;
    #[inline(always)]
    fn up(self) -> f64 {
        self
    }
    #[inline(always)]
    fn down(c: f64) -> f64 {
        c
    }
}

macro_rules! half_elem {
    ($($t:ty),*) => {$(
        impl FloatElem for $t {
            type C = f32;
            #[inline(always)]
            fn up(self) -> f32 {
                self.to_f32()
            }
            #[inline(always)]
            fn down(c: f32) -> Self {
                <$t>::from_f32(c)
            }
        }
    )*};
}
half_elem!(f16, bf16);

/// Logistic sigmoid that never overflows: with e = e^-|x| ≤ 1 it is 1/(1+e) for x ≥ 0 and
/// e/(1+e) below, which stays accurate deep into the negative tail. One exp, no branch.
#[inline(always)]
fn sigmoid<F: Real>(x: F) -> F {
    let e = (-x.abs()).exp();
    let num = if x >= F::ZERO { F::ONE } else { e };
    num / (F::ONE + e)
}

#[inline(always)]
fn gelu<F: Real>(x: F) -> F {
    F::HALF * x * (F::ONE + (x * F::FRAC_1_SQRT_2).erf())
}

#[inline(always)]
fn gelu_tanh<F: Real>(x: F) -> F {
    let inner = F::SQRT_2_OVER_PI * (x + F::GELU_TANH_C * x * x * x);
    F::HALF * x * (F::ONE + inner.tanh())
}

#[inline(always)]
fn sign<F: Real>(x: F) -> F {
    if x > F::ZERO {
        F::ONE
    } else if x < F::ZERO {
        -F::ONE
    } else {
        // ±0 stays signed zero and NaN stays NaN (numpy's convention).
        x
    }
}

/// The `(min, max)` bounds of a clamp, as given in the params.
fn clamp_bounds(args: &KernelArgs<'_>) -> Result<(Option<f64>, Option<f64>)> {
    match args.params {
        OpParams::Clamp { min, max } => Ok((*min, *max)),
        p => Err(Error::Internal(format!("clamp called with params {p:?}"))),
    }
}

/// Clamp for floats: NaN inputs stay NaN, a NaN bound makes the output NaN, and `min > max`
/// gives `max` everywhere (PyTorch's order: max(x, min) first, then min(., max)).
fn clamp_float<T: FloatElem>(
    dest: &mut Dest<'_, '_>,
    x: &KernelInput<'_>,
    min: Option<f64>,
    max: Option<f64>,
) -> Result<Written> {
    let conv = |b: f64| <T::C as Element>::from_f64(b);
    match (min.map(conv), max.map(conv)) {
        (Some(lo), Some(hi)) => map1::<T, T>(dest, x, move |v| {
            let v = v.up();
            let v = if v < lo || lo.is_nan() { lo } else { v };
            T::down(if v > hi || hi.is_nan() { hi } else { v })
        }),
        (Some(lo), None) => map1::<T, T>(dest, x, move |v| {
            if v.up() < lo || lo.is_nan() {
                T::down(lo)
            } else {
                v
            }
        }),
        (None, Some(hi)) => map1::<T, T>(dest, x, move |v| {
            if v.up() > hi || hi.is_nan() {
                T::down(hi)
            } else {
                v
            }
        }),
        (None, None) => map1::<T, T>(dest, x, |v| v),
    }
}

fn float_unary<T: FloatElem>(args: &KernelArgs<'_>, dest: &mut Dest<'_, '_>) -> Result<Written> {
    let x = &args.inputs[0];
    macro_rules! m {
        (|$v:ident| $e:expr) => {
            map1::<T, T>(dest, x, |v| {
                let $v = v.up();
                T::down($e)
            })
        };
    }
    match args.op {
        OpId::Neg => m!(|v| -v),
        OpId::Abs => m!(|v| v.abs()),
        OpId::Exp => m!(|v| v.exp()),
        OpId::Log => m!(|v| v.ln()),
        OpId::Sqrt => m!(|v| v.sqrt()),
        OpId::Rsqrt => m!(|v| <T::C as Real>::ONE / v.sqrt()),
        OpId::Sin => m!(|v| v.sin()),
        OpId::Cos => m!(|v| v.cos()),
        OpId::Tanh => m!(|v| v.tanh()),
        OpId::Sigmoid => m!(|v| sigmoid(v)),
        // NaN is not below zero, so it passes through (as torch.relu).
        OpId::Relu => m!(|v| if v < <T::C as Real>::ZERO {
            <T::C as Real>::ZERO
        } else {
            v
        }),
        OpId::Gelu => m!(|v| gelu(v)),
        OpId::GeluTanh => m!(|v| gelu_tanh(v)),
        OpId::Silu => m!(|v| v * sigmoid(v)),
        OpId::Erf => m!(|v| v.erf()),
        OpId::Floor => m!(|v| v.floor()),
        OpId::Ceil => m!(|v| v.ceil()),
        OpId::Round => m!(|v| v.round_even()),
        OpId::Sign => m!(|v| sign(v)),
        OpId::Reciprocal => m!(|v| <T::C as Real>::ONE / v),
        OpId::Clamp => {
            let (lo, hi) = clamp_bounds(args)?;
            clamp_float::<T>(dest, x, lo, hi)
        }
        OpId::LogicalNot => logical_not::<T>(dest, x),
        op => Err(Error::Internal(format!(
            "float unary kernel called for {op}"
        ))),
    }
}

/// Integer arithmetic for the unary ops defined on integers.
pub trait IntElem: Element + Ord {
    /// Smallest value, as f64.
    const MIN_F64: f64;
    /// Largest value, as f64 (rounded to nearest, so 2^63 for i64).
    const MAX_F64: f64;
    /// Wrapping negation (u8: 256 - x, as PyTorch).
    fn wneg(self) -> Self;
    /// Wrapping absolute value (identity on u8; i32::MIN stays i32::MIN).
    fn wabs(self) -> Self;
    /// -1, 0 or 1 (0 or 1 for u8).
    fn sign(self) -> Self;
    /// Converts a clamp bound that lies within [`Self::MIN_F64`, `Self::MAX_F64`].
    fn from_bound(v: f64) -> Self;
}

macro_rules! int_elem {
    ($t:ty, $abs:expr, $sign:expr) => {
        impl IntElem for $t {
            const MIN_F64: f64 = <$t>::MIN as f64;
            const MAX_F64: f64 = <$t>::MAX as f64;
            #[inline(always)]
            fn wneg(self) -> Self {
                self.wrapping_neg()
            }
            #[inline(always)]
            fn wabs(self) -> Self {
                ($abs)(self)
            }
            #[inline(always)]
            fn sign(self) -> Self {
                ($sign)(self)
            }
            #[inline(always)]
            fn from_bound(v: f64) -> Self {
                // `as` saturates; the caller has already kept v inside the range.
                v as $t
            }
        }
    };
}
int_elem!(i32, i32::wrapping_abs, i32::signum);
int_elem!(i64, i64::wrapping_abs, i64::signum);
int_elem!(u8, |x: u8| x, |x: u8| (x > 0) as u8);

/// Integer clamp. Bounds round inward (`ceil(min)`, `floor(max)`) so the result never leaves
/// `[min, max]`; bounds beyond the dtype's range drop out, NaN bounds are rejected.
fn clamp_int<T: IntElem>(
    dest: &mut Dest<'_, '_>,
    x: &KernelInput<'_>,
    min: Option<f64>,
    max: Option<f64>,
) -> Result<Written> {
    if min.is_some_and(f64::is_nan) || max.is_some_and(f64::is_nan) {
        return Err(Error::invalid(
            "clamp",
            format!("NaN bound on a {} tensor", T::DTYPE),
        ));
    }
    let lo = min.map(|m| T::from_bound(m.ceil().clamp(T::MIN_F64, T::MAX_F64)));
    let hi = max.map(|m| T::from_bound(m.floor().clamp(T::MIN_F64, T::MAX_F64)));
    match (lo, hi) {
        (Some(lo), Some(hi)) => map1::<T, T>(dest, x, move |v| Ord::min(Ord::max(v, lo), hi)),
        (Some(lo), None) => map1::<T, T>(dest, x, move |v| Ord::max(v, lo)),
        (None, Some(hi)) => map1::<T, T>(dest, x, move |v| Ord::min(v, hi)),
        (None, None) => map1::<T, T>(dest, x, |v| v),
    }
}

fn int_unary<T: IntElem>(args: &KernelArgs<'_>, dest: &mut Dest<'_, '_>) -> Result<Written> {
    let x = &args.inputs[0];
    match args.op {
        OpId::Neg => map1::<T, T>(dest, x, T::wneg),
        OpId::Abs => map1::<T, T>(dest, x, T::wabs),
        OpId::Sign => map1::<T, T>(dest, x, T::sign),
        OpId::Relu => map1::<T, T>(dest, x, |v| Ord::max(v, T::zero())),
        OpId::Floor | OpId::Ceil | OpId::Round => map1::<T, T>(dest, x, |v| v),
        OpId::Clamp => {
            let (lo, hi) = clamp_bounds(args)?;
            clamp_int::<T>(dest, x, lo, hi)
        }
        OpId::LogicalNot => logical_not::<T>(dest, x),
        op => Err(Error::Internal(format!(
            "integer unary kernel called for {op}"
        ))),
    }
}

/// `x == 0` as bool; NaN is nonzero, so logical_not(NaN) is false.
fn logical_not<T: Element>(dest: &mut Dest<'_, '_>, x: &KernelInput<'_>) -> Result<Written> {
    let zero = T::zero();
    map1::<T, Bool8>(dest, x, move |v| Bool8((v == zero) as u8))
}

fn unary(args: &KernelArgs<'_>) -> Result<Storage> {
    new_output(unary_to(args, &mut Dest::New)?)
}

fn unary_into(args: &KernelArgs<'_>, out: &mut KernelOut<'_>) -> Result<()> {
    unary_to(args, &mut Dest::Into(out)).map(drop)
}

fn unary_to(args: &KernelArgs<'_>, dest: &mut Dest<'_, '_>) -> Result<Written> {
    let Some(x) = args.inputs.first() else {
        return Err(Error::Internal(format!(
            "{} kernel called without input",
            args.op
        )));
    };
    match x.dtype {
        DType::F32 => float_unary::<f32>(args, dest),
        DType::F64 => float_unary::<f64>(args, dest),
        DType::F16 => float_unary::<f16>(args, dest),
        DType::BF16 => float_unary::<bf16>(args, dest),
        DType::I32 => int_unary::<i32>(args, dest),
        DType::I64 => int_unary::<i64>(args, dest),
        DType::U8 => int_unary::<u8>(args, dest),
        DType::Bool => match args.op {
            OpId::LogicalNot => logical_not::<Bool8>(dest, x),
            op => Err(Error::DTypeMismatch {
                op: op.name(),
                got: vec![DType::Bool],
                reason: "no bool kernel".into(),
            }),
        },
    }
}

register_kernel!(
    Neg,
    "cpu",
    [F32, F64, F16, BF16, I32, I64, U8],
    unary,
    into = unary_into
);
register_kernel!(
    Abs,
    "cpu",
    [F32, F64, F16, BF16, I32, I64, U8],
    unary,
    into = unary_into
);
register_kernel!(Exp, "cpu", [F32, F64, F16, BF16], unary, into = unary_into);
register_kernel!(Log, "cpu", [F32, F64, F16, BF16], unary, into = unary_into);
register_kernel!(Sqrt, "cpu", [F32, F64, F16, BF16], unary, into = unary_into);
register_kernel!(
    Rsqrt,
    "cpu",
    [F32, F64, F16, BF16],
    unary,
    into = unary_into
);
register_kernel!(Sin, "cpu", [F32, F64, F16, BF16], unary, into = unary_into);
register_kernel!(Cos, "cpu", [F32, F64, F16, BF16], unary, into = unary_into);
register_kernel!(Tanh, "cpu", [F32, F64, F16, BF16], unary, into = unary_into);
register_kernel!(
    Sigmoid,
    "cpu",
    [F32, F64, F16, BF16],
    unary,
    into = unary_into
);
register_kernel!(
    Relu,
    "cpu",
    [F32, F64, F16, BF16, I32, I64, U8],
    unary,
    into = unary_into
);
register_kernel!(Gelu, "cpu", [F32, F64, F16, BF16], unary, into = unary_into);
register_kernel!(
    GeluTanh,
    "cpu",
    [F32, F64, F16, BF16],
    unary,
    into = unary_into
);
register_kernel!(Silu, "cpu", [F32, F64, F16, BF16], unary, into = unary_into);
register_kernel!(Erf, "cpu", [F32, F64, F16, BF16], unary, into = unary_into);
register_kernel!(
    Floor,
    "cpu",
    [F32, F64, F16, BF16, I32, I64, U8],
    unary,
    into = unary_into
);
register_kernel!(
    Ceil,
    "cpu",
    [F32, F64, F16, BF16, I32, I64, U8],
    unary,
    into = unary_into
);
register_kernel!(
    Round,
    "cpu",
    [F32, F64, F16, BF16, I32, I64, U8],
    unary,
    into = unary_into
);
register_kernel!(
    Sign,
    "cpu",
    [F32, F64, F16, BF16, I32, I64, U8],
    unary,
    into = unary_into
);
register_kernel!(
    Reciprocal,
    "cpu",
    [F32, F64, F16, BF16],
    unary,
    into = unary_into
);
register_kernel!(
    Clamp,
    "cpu",
    [F32, F64, F16, BF16, I32, I64, U8],
    unary,
    into = unary_into
);
register_kernel!(
    LogicalNot,
    "cpu",
    [F32, F64, F16, BF16, I32, I64, U8, Bool],
    unary,
    into = unary_into
);
