//! copy (strided → contiguous), cast and fill.
//!
//! Casts read each source exactly through the widest type of its kind (i64 for integers and
//! bool, f32 for f32/f16/bf16, f64 for f64) and convert once, so i64 values beyond 2^53 survive
//! integer round trips and int → float rounds a single time.

use super::util::{buf, map1};
use crate::cpu::CpuBuffer;
use crate::dispatch::{KernelArgs, KernelInput};
use crate::dtype::{Bool8, DType, Element};
use crate::error::{Error, Result};
use crate::op::OpParams;
use crate::register_kernel;
use crate::storage::Storage;
use crate::with_dtype;
use half::{bf16, f16};

fn copy(args: &KernelArgs<'_>) -> Result<Storage> {
    let x = &args.inputs[0];
    with_dtype!(x.dtype, T, {
        if let Some(off) = x.layout.contiguous_offset() {
            let data = buf::<T>(x)?;
            return Ok(CpuBuffer::from_slice(&data[off..off + x.layout.numel()])?.into_storage());
        }
        map1::<T, T>(x, |v| v)
    })
}

/// How a source element is read for casting: exactly, through the widest type that holds
/// every value of its dtype.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Via {
    /// Integers and bool, read as i64.
    Int,
    /// f32, f16 and bf16, read as f32.
    F32,
    /// f64.
    F64,
}

/// One dtype's conversions for [`cast`]. Integer targets wrap from integers (PyTorch's
/// C-style casts) and truncate toward zero, saturating, from floats (NaN → 0); bool targets
/// take `!= 0` (NaN → true); float targets round to nearest once.
trait CastElem: Element {
    /// How this type is read as a cast source.
    const VIA: Via;
    /// The value as i64 (integers and bool only).
    fn get_i64(self) -> i64;
    /// The value as f32 (f32, f16, bf16 only; exact).
    fn get_f32(self) -> f32;
    /// From an integer.
    fn cast_from_i64(v: i64) -> Self;
    /// From an f32.
    fn cast_from_f32(v: f32) -> Self;
    /// From an f64.
    fn cast_from_f64(v: f64) -> Self;
}

macro_rules! cast_int {
    ($($t:ty),*) => {$(
        impl CastElem for $t {
            const VIA: Via = Via::Int;
            #[inline(always)]
            fn get_i64(self) -> i64 {
                self as i64
            }
            #[inline(always)]
            fn get_f32(self) -> f32 {
                self as f32
            }
            #[inline(always)]
            fn cast_from_i64(v: i64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn cast_from_f32(v: f32) -> Self {
                v as $t
            }
            #[inline(always)]
            fn cast_from_f64(v: f64) -> Self {
                v as $t
            }
        }
    )*};
}
cast_int!(i32, i64, u8);

impl CastElem for Bool8 {
    const VIA: Via = Via::Int;
    #[inline(always)]
    fn get_i64(self) -> i64 {
        (self.0 != 0) as i64
    }
    #[inline(always)]
    fn get_f32(self) -> f32 {
        (self.0 != 0) as u8 as f32
    }
    #[inline(always)]
    fn cast_from_i64(v: i64) -> Self {
        Bool8((v != 0) as u8)
    }
    #[inline(always)]
    fn cast_from_f32(v: f32) -> Self {
        Bool8((v != 0.0) as u8)
    }
    #[inline(always)]
    fn cast_from_f64(v: f64) -> Self {
        Bool8((v != 0.0) as u8)
    }
}

impl CastElem for f32 {
    const VIA: Via = Via::F32;
    #[inline(always)]
    fn get_i64(self) -> i64 {
        self as i64
    }
    #[inline(always)]
    fn get_f32(self) -> f32 {
        self
    }
    #[inline(always)]
    fn cast_from_i64(v: i64) -> Self {
        v as f32
    }
    #[inline(always)]
    fn cast_from_f32(v: f32) -> Self {
        v
    }
    #[inline(always)]
    fn cast_from_f64(v: f64) -> Self {
        v as f32
    }
}

impl CastElem for f64 {
    const VIA: Via = Via::F64;
    #[inline(always)]
    fn get_i64(self) -> i64 {
        self as i64
    }
    #[inline(always)]
    fn get_f32(self) -> f32 {
        self as f32
    }
    #[inline(always)]
    fn cast_from_i64(v: i64) -> Self {
        v as f64
    }
    #[inline(always)]
    fn cast_from_f32(v: f32) -> Self {
        v as f64
    }
    #[inline(always)]
    fn cast_from_f64(v: f64) -> Self {
        v
    }
}

macro_rules! cast_half {
    ($($t:ty),*) => {$(
        impl CastElem for $t {
            const VIA: Via = Via::F32;
            #[inline(always)]
            fn get_i64(self) -> i64 {
                self.to_f32() as i64
            }
            #[inline(always)]
            fn get_f32(self) -> f32 {
                self.to_f32()
            }
            // Through f32, as PyTorch's c10::Half / c10::BFloat16 conversions do: exact for
            // every integer in f16's range, and PyTorch's two roundings for large ones in bf16.
            #[inline(always)]
            fn cast_from_i64(v: i64) -> Self {
                <$t>::from_f32(v as f32)
            }
            #[inline(always)]
            fn cast_from_f32(v: f32) -> Self {
                <$t>::from_f32(v)
            }
            #[inline(always)]
            fn cast_from_f64(v: f64) -> Self {
                <$t>::from_f64(v)
            }
        }
    )*};
}
cast_half!(f16, bf16);

fn cast_pair<T: CastElem, U: CastElem>(x: &KernelInput<'_>) -> Result<Storage> {
    match T::VIA {
        Via::Int => map1::<T, U>(x, |v| U::cast_from_i64(v.get_i64())),
        Via::F32 => map1::<T, U>(x, |v| U::cast_from_f32(v.get_f32())),
        Via::F64 => map1::<T, U>(x, |v| U::cast_from_f64(v.to_f64())),
    }
}

fn cast_to<T: CastElem>(args: &KernelArgs<'_>) -> Result<Storage> {
    let x = &args.inputs[0];
    match args.out_dtype {
        DType::F32 => cast_pair::<T, f32>(x),
        DType::F64 => cast_pair::<T, f64>(x),
        DType::F16 => cast_pair::<T, f16>(x),
        DType::BF16 => cast_pair::<T, bf16>(x),
        DType::I32 => cast_pair::<T, i32>(x),
        DType::I64 => cast_pair::<T, i64>(x),
        DType::U8 => cast_pair::<T, u8>(x),
        DType::Bool => cast_pair::<T, Bool8>(x),
    }
}

fn cast(args: &KernelArgs<'_>) -> Result<Storage> {
    let Some(x) = args.inputs.first() else {
        return Err(Error::Internal("cast kernel called without input".into()));
    };
    match x.dtype {
        DType::F32 => cast_to::<f32>(args),
        DType::F64 => cast_to::<f64>(args),
        DType::F16 => cast_to::<f16>(args),
        DType::BF16 => cast_to::<bf16>(args),
        DType::I32 => cast_to::<i32>(args),
        DType::I64 => cast_to::<i64>(args),
        DType::U8 => cast_to::<u8>(args),
        DType::Bool => cast_to::<Bool8>(args),
    }
}

fn fill(args: &KernelArgs<'_>) -> Result<Storage> {
    let OpParams::Fill { value, .. } = args.params else {
        return Err(Error::Internal("fill without Fill params".into()));
    };
    with_dtype!(args.out_dtype, T, {
        let mut out = CpuBuffer::for_output(args.out_dtype, args.out_shape.numel())?;
        out.as_mut_slice::<T>().fill(T::from_f64(*value));
        Ok(out.into_storage())
    })
}

register_kernel!(Copy, "cpu", [F32, F64, F16, BF16, I32, I64, U8, Bool], copy);
register_kernel!(Cast, "cpu", [F32, F64, F16, BF16, I32, I64, U8, Bool], cast);
register_kernel!(Fill, "cpu", [F32, F64, F16, BF16, I32, I64, U8, Bool], fill);
