//! Batched matmul with broadcasting batch dims (`shaders/matmul.wgsl`): f32 and f16 (f32
//! accumulation, Note [f16 kernels]), tiled with workgroup memory. Inputs are contiguous (the dispatcher copies strided ones first); 1-D
//! operands follow `torch.matmul` (a vector is a row of A or a column of B, its dim dropped).

use super::{dev, float_prelude, raw, Meta};
use st_core::dispatch::{KernelArgs, KernelCaps};
use st_core::register_kernel;
use st_core::storage::Storage;
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

fn matmul(args: &KernelArgs<'_>) -> Result<Storage> {
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
    let mut meta = Meta::default();
    meta.u(name, m)?
        .u(name, n)?
        .u(name, k)?
        .u(name, n_batch)?
        .u(name, br)?;
    meta.u(name, a.layout.offset())?
        .u(name, b.layout.offset())?;
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
    let g = dev()?;
    let out_bytes = super::bytes_of(args.out_shape.numel(), dt);
    let out = g.alloc(out_bytes);
    let groups = [n.div_ceil(16) as u32, m.div_ceil(16) as u32, n_batch as u32];
    if n_batch > u32::MAX as usize {
        return Err(crate::error::too_large(name, format!("{n_batch} batches")));
    }
    let src = || source(dt);
    let bufs = [raw(a, name)?, raw(b, name)?, out.raw()];
    if k == 0 {
        // An empty inner dim gives zeros (written in whole words; the buffer is word-padded).
        let zeros = vec![0u8; out_bytes.next_multiple_of(4)];
        if !zeros.is_empty() {
            g.queue.write_buffer(out.raw(), 0, &zeros);
        }
    } else {
        g.run(
            &format!("matmul/{dt}"),
            "main",
            &src,
            &meta.0,
            &bufs,
            groups,
        )?;
    }
    Ok(Storage::new(out))
}

register_kernel!(Matmul, "wgpu", [F32, F16], matmul, KernelCaps::CONTIGUOUS);
