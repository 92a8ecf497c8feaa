//! Comparison and logical kernels (eq, ne, lt, le, gt, ge, logical_and, logical_or) producing bool.
//!
//! Inputs arrive broadcast to the output shape and share one dtype. Comparisons use the
//! element type's IEEE `PartialOrd` (half's f16/bf16 included), so any comparison with NaN is
//! false except `ne`, and -0 equals +0. Logical ops treat nonzero (NaN included) as true.

use super::util::{map2, new_output, Dest, Written};
use crate::backend::Storage;
use crate::dispatch::{KernelArgs, KernelOut};
use crate::dtype::{Bool8, Element};
use crate::error::{Error, Result};
use crate::op::OpId;
use crate::register_kernel;
use crate::with_dtype;

fn run<T: Element>(args: &KernelArgs<'_>, dest: &mut Dest<'_, '_>) -> Result<Written> {
    let (a, b) = match args.inputs {
        [a, b] => (a, b),
        _ => {
            return Err(Error::Internal(format!(
                "{} kernel called with {} inputs",
                args.op,
                args.inputs.len()
            )))
        }
    };
    let z = T::zero();
    let b8 = |v: bool| Bool8(v as u8);
    match args.op {
        OpId::Eq => map2::<T, Bool8>(dest, a, b, move |x, y| b8(x == y)),
        OpId::Ne => map2::<T, Bool8>(dest, a, b, move |x, y| b8(x != y)),
        OpId::Lt => map2::<T, Bool8>(dest, a, b, move |x, y| b8(x < y)),
        OpId::Le => map2::<T, Bool8>(dest, a, b, move |x, y| b8(x <= y)),
        OpId::Gt => map2::<T, Bool8>(dest, a, b, move |x, y| b8(x > y)),
        OpId::Ge => map2::<T, Bool8>(dest, a, b, move |x, y| b8(x >= y)),
        OpId::LogicalAnd => map2::<T, Bool8>(dest, a, b, move |x, y| b8(x != z && y != z)),
        OpId::LogicalOr => map2::<T, Bool8>(dest, a, b, move |x, y| b8(x != z || y != z)),
        op => Err(Error::Internal(format!("compare kernel called for {op}"))),
    }
}

fn compare(args: &KernelArgs<'_>) -> Result<Storage> {
    new_output(compare_to(args, &mut Dest::New)?)
}

fn compare_into(args: &KernelArgs<'_>, out: &mut KernelOut<'_>) -> Result<()> {
    compare_to(args, &mut Dest::Into(out)).map(drop)
}

fn compare_to(args: &KernelArgs<'_>, dest: &mut Dest<'_, '_>) -> Result<Written> {
    let Some(a) = args.inputs.first() else {
        return Err(Error::Internal(format!(
            "{} kernel called without input",
            args.op
        )));
    };
    with_dtype!(a.dtype, T, { run::<T>(args, dest) })
}

register_kernel!(
    Eq,
    "cpu",
    [F32, F64, F16, BF16, I32, I64, U8, Bool],
    compare,
    into = compare_into
);
register_kernel!(
    Ne,
    "cpu",
    [F32, F64, F16, BF16, I32, I64, U8, Bool],
    compare,
    into = compare_into
);
register_kernel!(
    Lt,
    "cpu",
    [F32, F64, F16, BF16, I32, I64, U8, Bool],
    compare,
    into = compare_into
);
register_kernel!(
    Le,
    "cpu",
    [F32, F64, F16, BF16, I32, I64, U8, Bool],
    compare,
    into = compare_into
);
register_kernel!(
    Gt,
    "cpu",
    [F32, F64, F16, BF16, I32, I64, U8, Bool],
    compare,
    into = compare_into
);
register_kernel!(
    Ge,
    "cpu",
    [F32, F64, F16, BF16, I32, I64, U8, Bool],
    compare,
    into = compare_into
);
register_kernel!(
    LogicalAnd,
    "cpu",
    [F32, F64, F16, BF16, I32, I64, U8, Bool],
    compare,
    into = compare_into
);
register_kernel!(
    LogicalOr,
    "cpu",
    [F32, F64, F16, BF16, I32, I64, U8, Bool],
    compare,
    into = compare_into
);
