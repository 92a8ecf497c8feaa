//! copy (strided → contiguous), cast and fill.
//!
//! Casts read each source exactly through the widest type of its kind (i64 for integers and
//! bool, f32 for f32/f16/bf16, f64 for f64) and convert once, so i64 values beyond 2^53 survive
//! integer round trips and int → float rounds a single time.

use super::into::fill_into;
use super::util::{buf, map1, new_output, Dest, Written};
use crate::backend::Storage;
use crate::cpu::CpuBuffer;
use crate::dispatch::{KernelArgs, KernelInput, KernelOut};
use crate::dtype::{Bool8, DType, Element};
use crate::error::{Error, Result};
use crate::op::OpParams;
use crate::register_kernel;
use crate::with_dtype;
use half::{bf16, f16};

fn copy(args: &KernelArgs<'_>) -> Result<Storage> {
    let x = &args.inputs[0];
    with_dtype!(x.dtype, T, {
        if let Some(off) = x.layout.contiguous_offset() {
            let data = buf::<T>(x)?;
            return Ok(CpuBuffer::from_slice(&data[off..off + x.layout.numel()])?.into_storage());
        }
        new_output(map1::<T, T>(&mut Dest::New, x, |v| v)?)
    })
}

/// `copy_`: writes the input into the view; the input being the view itself copies nothing.
fn copy_into(args: &KernelArgs<'_>, out: &mut KernelOut<'_>) -> Result<()> {
    let x = &args.inputs[0];
    if x.is_output() {
        return Ok(());
    }
    with_dtype!(x.dtype, T, {
        map1::<T, T>(&mut Dest::Into(out), x, |v| v).map(drop)
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

fn cast_pair<T: CastElem, U: CastElem>(
    dest: &mut Dest<'_, '_>,
    x: &KernelInput<'_>,
) -> Result<Written> {
    match T::VIA {
        Via::Int => map1::<T, U>(dest, x, |v| U::cast_from_i64(v.get_i64())),
        Via::F32 => map1::<T, U>(dest, x, |v| U::cast_from_f32(v.get_f32())),
        Via::F64 => map1::<T, U>(dest, x, |v| U::cast_from_f64(v.to_f64())),
    }
}

fn cast_to<T: CastElem>(args: &KernelArgs<'_>, dest: &mut Dest<'_, '_>) -> Result<Written> {
    let x = &args.inputs[0];
    match args.out_dtype {
        DType::F32 => cast_pair::<T, f32>(dest, x),
        DType::F64 => cast_pair::<T, f64>(dest, x),
        DType::F16 => cast_pair::<T, f16>(dest, x),
        DType::BF16 => cast_pair::<T, bf16>(dest, x),
        DType::I32 => cast_pair::<T, i32>(dest, x),
        DType::I64 => cast_pair::<T, i64>(dest, x),
        DType::U8 => cast_pair::<T, u8>(dest, x),
        DType::Bool => cast_pair::<T, Bool8>(dest, x),
    }
}

fn cast(args: &KernelArgs<'_>) -> Result<Storage> {
    new_output(cast_any(args, &mut Dest::New)?)
}

fn cast_into(args: &KernelArgs<'_>, out: &mut KernelOut<'_>) -> Result<()> {
    if args.inputs.first().is_some_and(|x| x.is_output()) {
        // Same storage, layout and dtype: the values are already there.
        return Ok(());
    }
    cast_any(args, &mut Dest::Into(out)).map(drop)
}

fn cast_any(args: &KernelArgs<'_>, dest: &mut Dest<'_, '_>) -> Result<Written> {
    let Some(x) = args.inputs.first() else {
        return Err(Error::Internal("cast kernel called without input".into()));
    };
    match x.dtype {
        DType::F32 => cast_to::<f32>(args, dest),
        DType::F64 => cast_to::<f64>(args, dest),
        DType::F16 => cast_to::<f16>(args, dest),
        DType::BF16 => cast_to::<bf16>(args, dest),
        DType::I32 => cast_to::<i32>(args, dest),
        DType::I64 => cast_to::<i64>(args, dest),
        DType::U8 => cast_to::<u8>(args, dest),
        DType::Bool => cast_to::<Bool8>(args, dest),
    }
}

fn fill(args: &KernelArgs<'_>) -> Result<Storage> {
    let OpParams::Fill { value, .. } = args.params else {
        return Err(Error::Internal("fill without Fill params".into()));
    };
    with_dtype!(args.out_dtype, T, {
        let mut out = CpuBuffer::for_output(args.out_dtype, args.out_shape.numel())?;
        out.as_mut_slice::<T>()?.fill(T::from_f64(*value));
        Ok(out.into_storage())
    })
}

fn fill_to(args: &KernelArgs<'_>, out: &mut KernelOut<'_>) -> Result<()> {
    let OpParams::Fill { value, .. } = args.params else {
        return Err(Error::Internal("fill without Fill params".into()));
    };
    with_dtype!(args.out_dtype, T, {
        fill_into::<T>(out, T::from_f64(*value))
    })
}

register_kernel!(
    Copy,
    "cpu",
    [F32, F64, F16, BF16, I32, I64, U8, Bool],
    copy,
    into = copy_into
);
register_kernel!(
    Cast,
    "cpu",
    [F32, F64, F16, BF16, I32, I64, U8, Bool],
    cast,
    into = cast_into
);
register_kernel!(
    Fill,
    "cpu",
    [F32, F64, F16, BF16, I32, I64, U8, Bool],
    fill,
    into = fill_to
);
