//! Binary arithmetic with broadcasting: add, sub, mul, div, pow, maximum, minimum.
//! Inputs arrive broadcast to the output shape and promoted to one dtype.

use super::util::{map2, new_output, Dest, Written};
use crate::backend::Storage;
use crate::dispatch::{KernelArgs, KernelOut};
use crate::dtype::{Bool8, DType};
use crate::error::{Error, Result};
use crate::op::OpId;
use crate::register_kernel;
use half::{bf16, f16};

/// Arithmetic of one element type, as the binary kernels need it.
pub trait Arith: crate::dtype::Element {
    /// a + b (wrapping for integers).
    fn add(a: Self, b: Self) -> Self;
    /// a - b.
    fn sub(a: Self, b: Self) -> Self;
    /// a * b.
    fn mul(a: Self, b: Self) -> Self;
    /// a / b.
    fn div(a: Self, b: Self) -> Self;
    /// a ** b.
    fn pow(a: Self, b: Self) -> Self;
    /// max(a, b), propagating NaN.
    fn max(a: Self, b: Self) -> Self;
    /// min(a, b), propagating NaN.
    fn min(a: Self, b: Self) -> Self;
}

macro_rules! float_arith {
    ($($t:ty),*) => {$(
        impl Arith for $t {
            #[inline(always)] fn add(a: Self, b: Self) -> Self { a + b }
            #[inline(always)] fn sub(a: Self, b: Self) -> Self { a - b }
            #[inline(always)] fn mul(a: Self, b: Self) -> Self { a * b }
            #[inline(always)] fn div(a: Self, b: Self) -> Self { a / b }
            #[inline(always)] fn pow(a: Self, b: Self) -> Self { a.powf(b) }
            #[inline(always)] fn max(a: Self, b: Self) -> Self {
                if a.is_nan() || b.is_nan() { Self::NAN } else if a >= b { a } else { b }
            }
            #[inline(always)] fn min(a: Self, b: Self) -> Self {
                if a.is_nan() || b.is_nan() { Self::NAN } else if a <= b { a } else { b }
            }
        }
    )*};
}
float_arith!(f32, f64);

macro_rules! half_arith {
    ($($t:ty),*) => {$(
        impl Arith for $t {
            #[inline(always)] fn add(a: Self, b: Self) -> Self { <$t>::from_f32(a.to_f32() + b.to_f32()) }
            #[inline(always)] fn sub(a: Self, b: Self) -> Self { <$t>::from_f32(a.to_f32() - b.to_f32()) }
            #[inline(always)] fn mul(a: Self, b: Self) -> Self { <$t>::from_f32(a.to_f32() * b.to_f32()) }
            #[inline(always)] fn div(a: Self, b: Self) -> Self { <$t>::from_f32(a.to_f32() / b.to_f32()) }
            #[inline(always)] fn pow(a: Self, b: Self) -> Self { <$t>::from_f32(a.to_f32().powf(b.to_f32())) }
            #[inline(always)] fn max(a: Self, b: Self) -> Self { <$t>::from_f32(<f32 as Arith>::max(a.to_f32(), b.to_f32())) }
            #[inline(always)] fn min(a: Self, b: Self) -> Self { <$t>::from_f32(<f32 as Arith>::min(a.to_f32(), b.to_f32())) }
        }
    )*};
}

half_arith!(f16, bf16);

macro_rules! int_arith {
    ($($t:ty),*) => {$(
        impl Arith for $t {
            #[inline(always)] fn add(a: Self, b: Self) -> Self { a.wrapping_add(b) }
            #[inline(always)] fn sub(a: Self, b: Self) -> Self { a.wrapping_sub(b) }
            #[inline(always)] fn mul(a: Self, b: Self) -> Self { a.wrapping_mul(b) }
            // Integer division truncates; division by zero yields 0 rather than trapping
            // (true division of integers is promoted to float before reaching here).
            #[inline(always)] fn div(a: Self, b: Self) -> Self { a.checked_div(b).unwrap_or(0) }
            // PyTorch's integer pow: wraps on overflow; a negative exponent gives 0 except
            // for bases 1 and -1. The whole exponent counts (no truncation to 32 bits).
            #[inline(always)] fn pow(a: Self, b: Self) -> Self {
                let e = b as i64;
                if e < 0 {
                    return match a as i64 {
                        1 => 1 as $t,
                        -1 => if e % 2 == 0 { 1 as $t } else { a },
                        _ => 0 as $t,
                    };
                }
                if let Ok(small) = u32::try_from(e) {
                    return a.wrapping_pow(small);
                }
                let (mut base, mut e, mut acc) = (a, e as u64, 1 as $t);
                while e > 0 {
                    if e & 1 == 1 {
                        acc = acc.wrapping_mul(base);
                    }
                    base = base.wrapping_mul(base);
                    e >>= 1;
                }
                acc
            }
            #[inline(always)] fn max(a: Self, b: Self) -> Self { Ord::max(a, b) }
            #[inline(always)] fn min(a: Self, b: Self) -> Self { Ord::min(a, b) }
        }
    )*};
}
int_arith!(i32, i64, u8);

impl Arith for Bool8 {
    #[inline(always)]
    fn add(a: Self, b: Self) -> Self {
        Bool8(a.0 | b.0)
    }
    #[inline(always)]
    fn sub(a: Self, b: Self) -> Self {
        Bool8(a.0 ^ b.0)
    }
    #[inline(always)]
    fn mul(a: Self, b: Self) -> Self {
        Bool8(a.0 & b.0)
    }
    #[inline(always)]
    fn div(a: Self, b: Self) -> Self {
        Bool8(a.0 & b.0)
    }
    #[inline(always)]
    fn pow(a: Self, b: Self) -> Self {
        Bool8(a.0 | (b.0 ^ 1))
    }
    #[inline(always)]
    fn max(a: Self, b: Self) -> Self {
        Bool8(a.0 | b.0)
    }
    #[inline(always)]
    fn min(a: Self, b: Self) -> Self {
        Bool8(a.0 & b.0)
    }
}

fn run<T: Arith>(args: &KernelArgs<'_>, dest: &mut Dest<'_, '_>) -> Result<Written> {
    let (a, b) = (&args.inputs[0], &args.inputs[1]);
    match args.op {
        OpId::Add => map2::<T, T>(dest, a, b, T::add),
        OpId::Sub => map2::<T, T>(dest, a, b, T::sub),
        OpId::Mul => map2::<T, T>(dest, a, b, T::mul),
        OpId::Div => map2::<T, T>(dest, a, b, T::div),
        OpId::Pow => map2::<T, T>(dest, a, b, T::pow),
        OpId::Maximum => map2::<T, T>(dest, a, b, T::max),
        OpId::Minimum => map2::<T, T>(dest, a, b, T::min),
        op => Err(Error::Internal(format!("binary kernel called for {op}"))),
    }
}

fn binary(args: &KernelArgs<'_>) -> Result<Storage> {
    new_output(binary_to(args, &mut Dest::New)?)
}

fn binary_into(args: &KernelArgs<'_>, out: &mut KernelOut<'_>) -> Result<()> {
    binary_to(args, &mut Dest::Into(out)).map(drop)
}

fn binary_to(args: &KernelArgs<'_>, dest: &mut Dest<'_, '_>) -> Result<Written> {
    match args.inputs[0].dtype {
        DType::F32 => run::<f32>(args, dest),
        DType::F64 => run::<f64>(args, dest),
        DType::F16 => run::<f16>(args, dest),
        DType::BF16 => run::<bf16>(args, dest),
        DType::I32 => run::<i32>(args, dest),
        DType::I64 => run::<i64>(args, dest),
        DType::U8 => run::<u8>(args, dest),
        DType::Bool => run::<Bool8>(args, dest),
    }
}

register_kernel!(
    Add,
    "cpu",
    [F32, F64, F16, BF16, I32, I64, U8, Bool],
    binary,
    into = binary_into
);
register_kernel!(
    Sub,
    "cpu",
    [F32, F64, F16, BF16, I32, I64, U8],
    binary,
    into = binary_into
);
register_kernel!(
    Mul,
    "cpu",
    [F32, F64, F16, BF16, I32, I64, U8, Bool],
    binary,
    into = binary_into
);
register_kernel!(
    Div,
    "cpu",
    [F32, F64, F16, BF16, I32, I64, U8],
    binary,
    into = binary_into
);
register_kernel!(
    Pow,
    "cpu",
    [F32, F64, F16, BF16, I32, I64, U8],
    binary,
    into = binary_into
);
register_kernel!(
    Maximum,
    "cpu",
    [F32, F64, F16, BF16, I32, I64, U8, Bool],
    binary,
    into = binary_into
);
register_kernel!(
    Minimum,
    "cpu",
    [F32, F64, F16, BF16, I32, I64, U8, Bool],
    binary,
    into = binary_into
);
