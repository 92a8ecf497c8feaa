//! copy (strided → contiguous), cast and fill.

use super::util::{buf, map1};
use crate::cpu::CpuBuffer;
use crate::dispatch::KernelArgs;
use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::op::OpParams;
use crate::register_kernel;
use crate::storage::Storage;
use crate::with_dtype;

fn copy(args: &KernelArgs<'_>) -> Result<Storage> {
    let x = &args.inputs[0];
    with_dtype!(x.dtype, T, {
        if let Some(off) = x.layout.contiguous_offset() {
            let data = buf::<T>(x)?;
            return Ok(CpuBuffer::from_slice(&data[off..off + x.layout.numel()]).into_storage());
        }
        map1::<T, T>(x, |v| v)
    })
}

fn cast_to<T: Element>(args: &KernelArgs<'_>) -> Result<Storage> {
    let x = &args.inputs[0];
    with_dtype!(args.out_dtype, U, { cast_pair::<T, U>(x) })
}

fn cast_pair<T: Element, U: Element>(x: &crate::dispatch::KernelInput<'_>) -> Result<Storage> {
    map1::<T, U>(x, |v| U::from_f64(v.to_f64()))
}

fn cast(args: &KernelArgs<'_>) -> Result<Storage> {
    with_dtype!(args.inputs[0].dtype, T, { cast_to::<T>(args) })
}

fn fill(args: &KernelArgs<'_>) -> Result<Storage> {
    let OpParams::Fill { value, .. } = args.params else {
        return Err(Error::Internal("fill without Fill params".into()));
    };
    with_dtype!(args.out_dtype, T, {
        let mut out = CpuBuffer::for_output(args.out_dtype, args.out_shape.numel());
        out.as_mut_slice::<T>().fill(T::from_f64(*value));
        Ok(out.into_storage())
    })
}

register_kernel!(Copy, "cpu", [F32, F64, F16, BF16, I32, I64, U8, Bool], copy);
register_kernel!(Cast, "cpu", [F32, F64, F16, BF16, I32, I64, U8, Bool], cast);
register_kernel!(Fill, "cpu", [F32, F64, F16, BF16, I32, I64, U8, Bool], fill);
