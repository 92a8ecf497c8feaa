//! cat, index_select, gather and scatter_add (`shaders/index.wgsl`). cat, index_select and
//! gather move whole words, so they serve f32, i32 and i64, and `f16` elements in the f16
//! variant (Note [f16 kernels]); scatter_add adds f32 or f16 (rounded after each addition, as
//! the CPU kernel does).
//! Index tensors (i64) are range-checked on the device (Note [Device-side index checks]), so an
//! out-of-range index is an `IndexOutOfRange` error naming it, as on the CPU.
//!
//! # Note [Device-side index checks]
//!
//! `take` and `scatter_add` check every index they read against the indexed dim's size; the
//! first invocation that finds one outside records it in a 16-byte flag buffer (zeroed before
//! the dispatch) and the kernel skips it. After the dispatch the host reads those 16 bytes, not
//! the index tensor, and returns `IndexOutOfRange` with the recorded index. When the indexed
//! dim is empty every index is out of range but no invocation may run (the output is empty):
//! the host then reads the first index alone to name it.

use super::{dev, raw, Meta, COMMON};
use crate::buffer::WgpuBuffer;
use crate::device::{read_back, Gpu};
use st_core::backend::Storage;
use st_core::dispatch::{KernelArgs, KernelInput};
use st_core::op::{OpId, OpParams};
use st_core::register_kernel;
use st_core::shape::Shape;
use st_core::{DType, Error, Result};

const LIB: &str = include_str!("../../shaders/index.wgsl");

/// Elements of the variant's `st_w` per element of `dt` (and fails on a device without f16
/// for the f16 variant).
fn words(op: &'static str, dt: DType) -> Result<u32> {
    match dt {
        DType::F32 | DType::I32 => Ok(1),
        DType::F16 => {
            super::require_f16(op, [dt])?;
            Ok(1)
        }
        DType::I64 => Ok(2),
        _ => Err(super::no_wgsl(op, dt)),
    }
}

/// The WGSL of the word variant (f32, i32, i64) or, for `dt` f16, the f16 variant.
pub fn source(dt: DType) -> String {
    let prelude = if dt == DType::F16 {
        "enable f16;\nalias st_w = f16;\n\
         fn st_w2f(v: f16) -> f32 { return f32(v); }\n\
         fn st_f2w(v: f32) -> f16 { return f16(v); }\n\
         fn st_round(v: f32) -> f32 { return f32(f16(v)); }\n"
    } else {
        "alias st_w = u32;\n\
         fn st_w2f(v: u32) -> f32 { return bitcast<f32>(v); }\n\
         fn st_f2w(v: f32) -> u32 { return bitcast<u32>(v); }\n\
         fn st_round(v: f32) -> f32 { return v; }\n"
    };
    format!("{prelude}{COMMON}{LIB}")
}

/// Pipeline-cache key of the variant for `dt`.
fn key(dt: DType) -> &'static str {
    if dt == DType::F16 {
        "index/f16"
    } else {
        "index/words"
    }
}

/// Elementwise-style meta: numel, rank, 4 slots, shape, then the views (offset, strides).
fn meta(
    op: &'static str,
    shape: &Shape,
    slots: [u32; 4],
    views: &[(usize, Vec<isize>)],
) -> Result<Meta> {
    let mut m = Meta::default();
    m.u(op, shape.numel())?.u(op, shape.rank())?;
    for s in slots {
        m.bits(s);
    }
    for &d in shape.dims() {
        m.u(op, d)?;
    }
    for (off, strides) in views {
        m.u(op, *off)?;
        for &s in strides {
            m.i(op, s)?;
        }
    }
    Ok(m)
}

/// A zeroed flag buffer for the device-side check (Note [Device-side index checks]).
fn err_buffer(g: &Gpu) -> WgpuBuffer {
    let b = g.alloc(16);
    g.queue.write_buffer(b.raw(), 0, &[0u8; 16]);
    b
}

/// Reads the flag buffer after the dispatch.
fn check_flag(op: &'static str, err: &WgpuBuffer, size: usize) -> Result<()> {
    let bytes = read_back(err, DType::I32, 0, 4)?;
    let w: Vec<u32> = bytes
        .chunks_exact(4)
        .map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    if w[0] == 0 {
        return Ok(());
    }
    let index = ((u64::from(w[2]) << 32) | u64::from(w[1])) as i64;
    Err(Error::IndexOutOfRange { op, index, size })
}

/// Every index is out of range of an empty dim, though no invocation may run: names the first.
fn check_empty_dim(op: &'static str, idx: &KernelInput<'_>, size: usize) -> Result<()> {
    let l = &idx.layout;
    if size > 0 || l.numel() == 0 {
        return Ok(());
    }
    let first = l.offsets().next().unwrap_or(0);
    let b = read_back(idx.buffer()?, DType::I64, first, 1)?;
    let index = i64::from_ne_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
    Err(Error::IndexOutOfRange { op, index, size })
}

fn cat(args: &KernelArgs<'_>) -> Result<Storage> {
    let op = "cat";
    let OpParams::Dim(d) = args.params else {
        return Err(Error::Internal(format!(
            "cat: unexpected params {:?}",
            args.params
        )));
    };
    let w = words(op, args.out_dtype)?;
    let g = dev()?;
    let out = g.alloc(args.out_shape.numel() * args.out_dtype.size_in_bytes());
    let out_strides = args.out_shape.contiguous_strides();
    let mut start = 0usize;
    for inp in args.inputs {
        let l = &inp.layout;
        let dst_off = start * out_strides.get(*d).copied().unwrap_or(0) as usize;
        let views = [
            (l.offset(), l.strides().to_vec()),
            (dst_off, out_strides.to_vec()),
        ];
        let m = meta(op, l.shape(), [w, 0, 0, 0], &views)?;
        let src = || source(args.out_dtype);
        g.run(
            key(args.out_dtype),
            "cat_copy",
            &src,
            &m.0,
            &[raw(inp, op)?, out.raw()],
            g.grid_1d(l.numel() as u64),
        )?;
        start += l.dims().get(*d).copied().unwrap_or(1);
    }
    Ok(Storage::new(out))
}

fn take(args: &KernelArgs<'_>) -> Result<Storage> {
    let op = args.op.name();
    let OpParams::Dim(d) = *args.params else {
        return Err(Error::Internal(format!(
            "{op}: unexpected params {:?}",
            args.params
        )));
    };
    let [x, idx] = args.inputs else {
        return Err(Error::Internal(format!("{op} kernel needs 2 inputs")));
    };
    let w = words(op, x.dtype)?;
    let xl = &x.layout;
    let rank = args.out_shape.rank();
    let size = if xl.rank() == 0 { 1 } else { xl.dims()[d] };
    if u32::try_from(size).is_err() {
        return Err(crate::error::too_large(op, size));
    }
    check_empty_dim(op, idx, size)?;
    let x_d_stride = if xl.rank() == 0 { 0 } else { xl.strides()[d] };
    let mut x_strides = xl.strides().to_vec();
    if rank > 0 {
        x_strides[d] = 0;
    }
    let idx_strides: Vec<isize> = if args.op == OpId::IndexSelect {
        let s = idx.layout.strides().first().copied().unwrap_or(0);
        (0..rank).map(|k| if k == d { s } else { 0 }).collect()
    } else {
        idx.layout.strides().to_vec()
    };
    let views = [(xl.offset(), x_strides), (idx.layout.offset(), idx_strides)];
    let m = meta(
        op,
        args.out_shape,
        [w, 0, x_d_stride as i32 as u32, size as u32],
        &views,
    )?;
    let g = dev()?;
    let out = g.alloc(args.out_shape.numel() * args.out_dtype.size_in_bytes());
    let src = || source(x.dtype);
    let err = err_buffer(&g);
    let bufs = [raw(x, op)?, out.raw(), raw(idx, op)?, err.raw()];
    g.run(
        key(x.dtype),
        "take",
        &src,
        &m.0,
        &bufs,
        g.grid_1d(args.out_shape.numel() as u64),
    )?;
    check_flag(op, &err, size)?;
    Ok(Storage::new(out))
}

fn scatter_add(args: &KernelArgs<'_>) -> Result<Storage> {
    let op = "scatter_add";
    let OpParams::Dim(d) = *args.params else {
        return Err(Error::Internal(format!(
            "{op}: unexpected params {:?}",
            args.params
        )));
    };
    let [x, idx, src_t] = args.inputs else {
        return Err(Error::Internal(format!("{op} kernel needs 3 inputs")));
    };
    if !matches!(x.dtype, DType::F32 | DType::F16) {
        return Err(super::no_wgsl(op, x.dtype));
    }
    super::require_f16(op, [x.dtype])?;
    let xl = &x.layout;
    let size = if xl.rank() == 0 { 1 } else { xl.dims()[d] };
    if u32::try_from(size).is_err() {
        return Err(crate::error::too_large(op, size));
    }
    check_empty_dim(op, idx, size)?;
    let rank = xl.rank();
    let shp = 6 + rank + 3 * (rank + 1);
    let views = [
        (xl.offset(), xl.strides().to_vec()),
        (idx.layout.offset(), idx.layout.strides().to_vec()),
        (src_t.layout.offset(), src_t.layout.strides().to_vec()),
    ];
    let mut m = meta(op, args.out_shape, [1, d as u32, 0, shp as u32], &views)?;
    for &n in idx.layout.dims() {
        m.u(op, n)?;
    }
    let g = dev()?;
    let out = g.alloc(super::bytes_of(args.out_shape.numel(), x.dtype));
    let src = || source(x.dtype);
    let err = err_buffer(&g);
    let bufs = [
        raw(x, op)?,
        out.raw(),
        raw(idx, op)?,
        err.raw(),
        raw(src_t, op)?,
    ];
    g.run(
        key(x.dtype),
        "scatter_add",
        &src,
        &m.0,
        &bufs,
        g.grid_1d(args.out_shape.numel() as u64),
    )?;
    check_flag(op, &err, size)?;
    Ok(Storage::new(out))
}

register_kernel!(Cat, "wgpu", [F32, F16, I32, I64], cat);
register_kernel!(IndexSelect, "wgpu", [F32, F16, I32, I64], take);
register_kernel!(Gather, "wgpu", [F32, F16, I32, I64], take);
register_kernel!(ScatterAdd, "wgpu", [F32, F16], scatter_add);
