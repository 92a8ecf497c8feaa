//! cat, index_select, gather and scatter_add kernels.
//!
//! cat and index_select move whole `inner` blocks (the elements after the indexed dim) with
//! `copy_from_slice`; gather and scatter_add walk the index tensor and address the data through
//! its strides. Index values are never wrapped: a negative or too large index is
//! [`Error::IndexOutOfRange`] naming the op.

use super::binary::Arith;
use super::util::{buf, elems, PAR_CHUNK, PAR_THRESHOLD};
use crate::backend::Storage;
use crate::cpu::CpuBuffer;
use crate::dispatch::KernelArgs;
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::op::OpParams;
use crate::register_kernel;
use crate::shape::{dims_product, Shape};
use crate::with_dtype;
use half::{bf16, f16};
use rayon::prelude::*;
use std::borrow::Cow;

fn dim_param(args: &KernelArgs<'_>) -> Result<usize> {
    match args.params {
        OpParams::Dim(d) => Ok(*d),
        p => Err(Error::Internal(format!(
            "{}: expected Dim params, got {p:?}",
            args.op
        ))),
    }
}

/// Size of dim `d` and the product of the dims after it (1 and 1 for a 0-d shape).
fn size_inner(dims: &[usize], d: usize) -> (usize, usize) {
    match dims.get(d) {
        Some(&n) => (n, dims_product(dims[d + 1..].iter().copied())),
        None => (1, 1),
    }
}

/// Checks `0 <= i < size` and converts to usize.
#[inline]
fn check(op: &'static str, i: i64, size: usize) -> Result<usize> {
    if i < 0 || i as u64 >= size as u64 {
        Err(Error::IndexOutOfRange { op, index: i, size })
    } else {
        Ok(i as usize)
    }
}

fn cat<T: Element>(args: &KernelArgs<'_>, d: usize) -> Result<Storage> {
    let numel = args.out_shape.numel();
    let mut out = CpuBuffer::for_output(args.out_dtype, numel)?;
    if numel == 0 {
        return Ok(out.into_storage());
    }
    let (total, inner) = size_inner(args.out_shape.dims(), d);
    let row_len = total * inner;
    // Each input contributes a block of `dims[d] * inner` elements to every output row.
    let parts: Vec<(Cow<'_, [T]>, usize)> = args
        .inputs
        .iter()
        .map(|inp| Ok((elems::<T>(inp)?, size_inner(inp.layout.dims(), d).0 * inner)))
        .collect::<Result<_>>()?;
    let fill_row = |(o, row): (usize, &mut [T])| {
        let mut col = 0;
        for (src, w) in &parts {
            row[col..col + w].copy_from_slice(&src[o * w..(o + 1) * w]);
            col += w;
        }
    };
    let o = out.as_mut_slice::<T>()?;
    if numel >= PAR_THRESHOLD {
        let min_rows = (PAR_CHUNK / row_len).max(1);
        o.par_chunks_mut(row_len)
            .enumerate()
            .with_min_len(min_rows)
            .for_each(fill_row);
    } else {
        o.chunks_mut(row_len).enumerate().for_each(fill_row);
    }
    Ok(out.into_storage())
}

fn cat_kernel(args: &KernelArgs<'_>) -> Result<Storage> {
    let d = dim_param(args)?;
    if args.out_shape.rank() == 0 {
        return Err(Error::InvalidShape {
            op: "cat",
            shape: Box::new(args.out_shape.clone()),
            reason: "zero-dimensional tensors cannot be concatenated".into(),
        });
    }
    with_dtype!(args.out_dtype, T, { cat::<T>(args, d) })
}

fn index_select<T: Element>(args: &KernelArgs<'_>, d: usize) -> Result<Storage> {
    let (x, index) = (&args.inputs[0], &args.inputs[1]);
    let ids = elems::<i64>(index)?;
    let (n, inner) = size_inner(x.layout.dims(), d);
    if x.layout.rank() == 0 && ids.len() != 1 {
        return Err(Error::InvalidShape {
            op: "index_select",
            shape: Box::new(index.layout.shape().clone()),
            reason: "indexing a 0-d tensor takes exactly one index".into(),
        });
    }
    let ids: Vec<usize> = ids
        .iter()
        .map(|&i| check("index_select", i, n))
        .collect::<Result<_>>()?;
    let numel = args.out_shape.numel();
    let mut out = CpuBuffer::for_output(args.out_dtype, numel)?;
    if numel == 0 {
        return Ok(out.into_storage());
    }
    let src = elems::<T>(x)?;
    let k = ids.len();
    // Output row q (of `inner` elements) is input row (q / k) * n + ids[q % k].
    let copy_row = |(q, row): (usize, &mut [T])| {
        let r = (q / k) * n + ids[q % k];
        row.copy_from_slice(&src[r * inner..(r + 1) * inner]);
    };
    let o = out.as_mut_slice::<T>()?;
    if numel >= PAR_THRESHOLD {
        let min_rows = (PAR_CHUNK / inner).max(1);
        o.par_chunks_mut(inner)
            .enumerate()
            .with_min_len(min_rows)
            .for_each(copy_row);
    } else {
        o.chunks_mut(inner).enumerate().for_each(copy_row);
    }
    Ok(out.into_storage())
}

fn index_select_kernel(args: &KernelArgs<'_>) -> Result<Storage> {
    let d = dim_param(args)?;
    with_dtype!(args.out_dtype, T, { index_select::<T>(args, d) })
}

/// Storage offsets, in row-major order over `shape`, of a view with `strides` and `offset`,
/// except that dim `d` contributes nothing (it is addressed through the index values).
fn bases(shape: &Shape, strides: &[isize], offset: usize, d: usize) -> Layout {
    let mut s: crate::layout::Strides = strides.iter().copied().collect();
    if let Some(sd) = s.get_mut(d) {
        *sd = 0;
    }
    Layout::from_parts(shape.clone(), s, offset)
}

fn gather<T: Element>(args: &KernelArgs<'_>, d: usize) -> Result<Storage> {
    let (x, index) = (&args.inputs[0], &args.inputs[1]);
    let data = buf::<T>(x)?;
    let ids = elems::<i64>(index)?;
    let (n, stride) = match x.layout.dims().get(d) {
        Some(&n) => (n, x.layout.strides()[d]),
        None => (1, 0),
    };
    let mut out = CpuBuffer::for_output(args.out_dtype, args.out_shape.numel())?;
    let o = out.as_mut_slice::<T>()?;
    let base = bases(
        index.layout.shape(),
        x.layout.strides(),
        x.layout.offset(),
        d,
    );
    for ((o, &i), b) in o.iter_mut().zip(ids.iter()).zip(base.offsets()) {
        let i = check("gather", i, n)?;
        *o = data[(b as isize + i as isize * stride) as usize];
    }
    Ok(out.into_storage())
}

fn gather_kernel(args: &KernelArgs<'_>) -> Result<Storage> {
    let d = dim_param(args)?;
    with_dtype!(args.out_dtype, T, { gather::<T>(args, d) })
}

fn scatter_add<T: Arith>(args: &KernelArgs<'_>, d: usize) -> Result<Storage> {
    let (x, index, src) = (&args.inputs[0], &args.inputs[1], &args.inputs[2]);
    let ids = elems::<i64>(index)?;
    let s = buf::<T>(src)?;
    let mut out = CpuBuffer::from_slice::<T>(&elems::<T>(x)?)?;
    let o = out.as_mut_slice::<T>()?;
    let out_strides = x.layout.shape().contiguous_strides();
    let (n, stride) = match x.layout.dims().get(d) {
        Some(&n) => (n, out_strides[d]),
        None => (1, 0),
    };
    let dst = bases(index.layout.shape(), &out_strides, 0, d);
    let src_at = Layout::from_parts(
        index.layout.shape().clone(),
        src.layout.strides().iter().copied().collect(),
        src.layout.offset(),
    );
    for ((&i, b), so) in ids.iter().zip(dst.offsets()).zip(src_at.offsets()) {
        let i = check("scatter_add", i, n)?;
        let at = (b as isize + i as isize * stride) as usize;
        o[at] = T::add(o[at], s[so]);
    }
    Ok(out.into_storage())
}

fn scatter_add_kernel(args: &KernelArgs<'_>) -> Result<Storage> {
    let d = dim_param(args)?;
    match args.out_dtype {
        DType::F32 => scatter_add::<f32>(args, d),
        DType::F64 => scatter_add::<f64>(args, d),
        DType::F16 => scatter_add::<f16>(args, d),
        DType::BF16 => scatter_add::<bf16>(args, d),
        DType::I32 => scatter_add::<i32>(args, d),
        DType::I64 => scatter_add::<i64>(args, d),
        DType::U8 => scatter_add::<u8>(args, d),
        DType::Bool => Err(Error::DTypeMismatch {
            op: "scatter_add",
            got: args.inputs.iter().map(|i| i.dtype).collect(),
            reason: "not defined for bool".into(),
        }),
    }
}

register_kernel!(
    Cat,
    "cpu",
    [F32, F64, F16, BF16, I32, I64, U8, Bool],
    cat_kernel
);
register_kernel!(
    IndexSelect,
    "cpu",
    [F32, F64, F16, BF16, I32, I64, U8, Bool],
    index_select_kernel
);
register_kernel!(
    Gather,
    "cpu",
    [F32, F64, F16, BF16, I32, I64, U8, Bool],
    gather_kernel
);
register_kernel!(
    ScatterAdd,
    "cpu",
    [F32, F64, F16, BF16, I32, I64, U8],
    scatter_add_kernel
);
