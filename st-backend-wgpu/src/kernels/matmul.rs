//! Batched matmul with broadcasting batch dims (`shaders/matmul.wgsl`): f32 and f16 (f32
//! accumulation, Note [f16 kernels]), tiled with workgroup memory. Inputs are contiguous (the
//! dispatcher copies strided ones first); 1-D operands follow `torch.matmul` (a vector is a
//! row of A or a column of B, its dim dropped). The output is any strided view: a new
//! contiguous buffer, or an existing tensor in the output-buffer form (`matmul_out`).

use super::{dev, float_prelude, raw, Meta};
use crate::buffer::WgpuBuffer;
use st_core::backend::Storage;
use st_core::dispatch::{KernelArgs, KernelCaps, KernelOut};
use st_core::layout::Layout;
use st_core::register_kernel;
use st_core::{DType, Error, Result};

const LIB: &str = include_str!("../../shaders/matmul.wgsl");

/// Batch strides (in elements) of a contiguous operand with `dims`, right-aligned against the
/// output batch shape `out_b`; broadcast dims get stride 0.
fn batch_strides(dims: &[usize], mat: usize, out_b: &[usize]) -> Vec<usize> {
    let nb = dims.len().saturating_sub(2);
    let own = &dims[..nb];
    let mut strides = vec![0; out_b.len()];
    let mut acc = mat;
    for i in (0..nb).rev() {
        let o = out_b.len() - nb + i;
        strides[o] = if own[i] == 1 { 0 } else { acc };
        acc *= own[i];
    }
    strides
}

/// The WGSL of the f32 or f16 variant.
pub fn source(dt: DType) -> String {
    format!("{}{LIB}", float_prelude(dt))
}

/// The dispatch of one matmul: `meta` words, workgroup grid, and the inner size `k`.
struct Plan {
    meta: Meta,
    groups: [u32; 3],
    k: usize,
}

/// Plans `a @ b` writing output element (batch, row, col) at `out_off + Σ batch_i ·
/// out_bstrides[i] + row · out_rs + col · out_cs`: the contiguous result when `out` is `None`,
/// the view `out` (of the output's shape) otherwise.
fn plan(args: &KernelArgs<'_>, out: Option<&Layout>) -> Result<Plan> {
    let name = "matmul";
    let [a, b] = args.inputs else {
        return Err(Error::Internal("matmul kernel needs 2 inputs".into()));
    };
    let dt = a.dtype;
    if !matches!(dt, DType::F32 | DType::F16) || b.dtype != dt {
        return Err(super::no_wgsl(name, a.dtype));
    }
    super::require_f16(name, [dt])?;
    let (ad, bd) = (a.layout.dims(), b.layout.dims());
    let m = if ad.len() >= 2 { ad[ad.len() - 2] } else { 1 };
    let k = ad[ad.len() - 1];
    let n = if bd.len() >= 2 { bd[bd.len() - 1] } else { 1 };
    let ab = &ad[..ad.len().saturating_sub(2)];
    let bb = &bd[..bd.len().saturating_sub(2)];
    let br = ab.len().max(bb.len());
    let mut out_b = vec![1; br];
    for (i, &v) in ab.iter().enumerate() {
        out_b[br - ab.len() + i] = v;
    }
    for (i, &v) in bb.iter().enumerate() {
        let o = &mut out_b[br - bb.len() + i];
        *o = if *o == 1 { v } else { *o };
    }
    let n_batch: usize = out_b.iter().product();
    if n_batch > u32::MAX as usize {
        return Err(crate::error::too_large(name, format!("{n_batch} batches")));
    }
    // Output strides: batch dims, then the row dim when `a` has one, the column dim when `b`
    // has one (torch.matmul drops a vector operand's dim).
    let (o_off, o_bs, o_rs, o_cs) = match out {
        None => {
            let mut bs = vec![0isize; br];
            let mut acc = (m * n) as isize;
            for i in (0..br).rev() {
                bs[i] = acc;
                acc *= out_b[i] as isize;
            }
            (0, bs, n as isize, 1)
        }
        Some(l) => {
            let st = l.strides();
            let want = br + usize::from(ad.len() >= 2) + usize::from(bd.len() >= 2);
            if st.len() != want {
                return Err(Error::Internal(format!(
                    "matmul: output view of rank {} for operands {ad:?} @ {bd:?}",
                    st.len()
                )));
            }
            let rs = if ad.len() >= 2 { st[br] } else { 0 };
            let cs = if bd.len() >= 2 { st[st.len() - 1] } else { 0 };
            (l.offset(), st[..br].to_vec(), rs, cs)
        }
    };
    let mut meta = Meta::default();
    meta.u(name, m)?
        .u(name, n)?
        .u(name, k)?
        .u(name, n_batch)?
        .u(name, br)?;
    meta.u(name, a.layout.offset())?
        .u(name, b.layout.offset())?
        .u(name, o_off)?
        .i(name, o_rs)?
        .i(name, o_cs)?;
    for &v in &out_b {
        meta.u(name, v)?;
    }
    for v in batch_strides(ad, m * k, &out_b) {
        meta.u(name, v)?;
    }
    let b_mat = if bd.len() >= 2 { k * n } else { k };
    for v in batch_strides(bd, b_mat, &out_b) {
        meta.u(name, v)?;
    }
    for v in o_bs {
        meta.i(name, v)?;
    }
    let groups = [n.div_ceil(16) as u32, m.div_ceil(16) as u32, n_batch as u32];
    Ok(Plan { meta, groups, k })
}

fn matmul(args: &KernelArgs<'_>) -> Result<Storage> {
    let name = "matmul";
    let p = plan(args, None)?;
    let [a, b] = args.inputs else {
        return Err(Error::Internal("matmul kernel needs 2 inputs".into()));
    };
    let dt = a.dtype;
    let g = dev()?;
    let out_bytes = super::bytes_of(args.out_shape.numel(), dt);
    let out = g.alloc(out_bytes);
    if p.k == 0 {
        // An empty inner dim gives zeros (written in whole words; the buffer is word-padded).
        let zeros = vec![0u8; out_bytes.next_multiple_of(4)];
        if !zeros.is_empty() {
            g.queue.write_buffer(out.raw(), 0, &zeros);
        }
    } else {
        let bufs = [raw(a, name)?, raw(b, name)?, out.raw()];
        g.run(
            &format!("matmul/{dt}"),
            "main",
            &|| source(dt),
            &p.meta.0,
            &bufs,
            p.groups,
        )?;
    }
    Ok(Storage::new(out))
}

/// The output-buffer form: stores into the view `out` (an empty inner dim stores zeros).
fn matmul_into(args: &KernelArgs<'_>, out: &mut KernelOut<'_>) -> Result<()> {
    let name = "matmul";
    let p = plan(args, Some(out.layout))?;
    let [a, b] = args.inputs else {
        return Err(Error::Internal("matmul kernel needs 2 inputs".into()));
    };
    let dt = a.dtype;
    let ob = WgpuBuffer::downcast(&*out.buffer, name)?;
    let bufs = [raw(a, name)?, raw(b, name)?, ob.raw()];
    let g = dev()?;
    g.run(
        &format!("matmul/{dt}"),
        "main",
        &|| source(dt),
        &p.meta.0,
        &bufs,
        p.groups,
    )
}

register_kernel!(
    Matmul,
    "wgpu",
    [F32, F16],
    matmul,
    KernelCaps::CONTIGUOUS,
    into = matmul_into
);
