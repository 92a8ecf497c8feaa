//! Backward rules of the views (reshape, permute, expand, slice), cat and the index ops
//! (index_select, gather, scatter_add).

use super::sum_to_shape;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::op::{OpId, OpParams};
use crate::shape::Shape;
use crate::tensor::Tensor;

/// Gradient of a view op with input `x`.
pub(super) fn view(op: OpId, params: &OpParams, x: &Tensor, g: &Tensor) -> Result<Tensor> {
    match (op, params) {
        (OpId::Reshape, _) => g.reshape_to(x.shape()),
        (OpId::Permute, OpParams::Perm(perm)) => {
            let mut inverse = vec![0isize; perm.len()];
            for (i, &p) in perm.iter().enumerate() {
                *inverse.get_mut(p).ok_or_else(|| bad(op, params))? = i as isize;
            }
            g.permute(&inverse)
        }
        (OpId::Expand, _) => sum_to_shape(g, x.shape()),
        (
            OpId::Slice,
            &OpParams::Slice {
                dim,
                start,
                len,
                step,
            },
        ) => slice(x, g, dim, start, len, step),
        _ => Err(bad(op, params)),
    }
}

fn bad(op: OpId, params: &OpParams) -> Error {
    Error::Internal(format!(
        "backward of {}: unexpected params {params:?}",
        op.name()
    ))
}

/// Zeros with `shape`, in `g`'s dtype and on its device.
fn zeros(shape: &Shape, g: &Tensor) -> Result<Tensor> {
    Tensor::zeros(shape.clone(), g.dtype(), &g.device())
}

/// `x.slice(dim, start, len, step)`: `g` goes back to the sliced positions, zeros elsewhere.
fn slice(
    x: &Tensor,
    g: &Tensor,
    dim: usize,
    start: usize,
    len: usize,
    step: usize,
) -> Result<Tensor> {
    let n = *x.dims().get(dim).ok_or_else(|| {
        Error::Internal(format!(
            "backward of slice: dim {dim} of shape {}",
            x.shape()
        ))
    })?;
    if len == 0 || g.numel() == 0 {
        return zeros(x.shape(), g);
    }
    // One element is a contiguous slice whatever the step (a huge step must not overflow
    // the index range below).
    if step == 1 || len == 1 {
        let after = n.saturating_sub(start + len);
        if start == 0 && after == 0 {
            return Ok(g.clone());
        }
        let block = |size: usize| {
            let mut d = x.dims().to_vec();
            d[dim] = size;
            zeros(&Shape::new(&d), g)
        };
        let mut parts = Vec::with_capacity(3);
        if start > 0 {
            parts.push(block(start)?);
        }
        parts.push(g.clone());
        if after > 0 {
            parts.push(block(after)?);
        }
        let refs: Vec<&Tensor> = parts.iter().collect();
        return Tensor::cat(&refs, dim as isize);
    }
    let end = (start + len * step) as f64;
    let idx = Tensor::arange(start as f64, end, step as f64, DType::I64, &g.device())?;
    let idx = along(&idx, g.rank(), dim)?.expand(g.shape())?;
    zeros(x.shape(), g)?.scatter_add(dim as isize, &idx, g)
}

/// A 1-d (or 0-d) index reshaped to `[1, .., n, .., 1]` with `n` at `dim`, rank `rank`.
fn along(index: &Tensor, rank: usize, dim: usize) -> Result<Tensor> {
    let mut d = vec![1usize; rank];
    d[dim] = index.numel();
    index.reshape_to(&Shape::new(&d))
}

/// Gradients of `cat(inputs, dim)`: the matching slice of `g` for each input.
pub(super) fn cat(inputs: &[&Tensor], dim: usize, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
    let mut offset = 0;
    let mut out = Vec::with_capacity(inputs.len());
    for t in inputs {
        let len = *t.dims().get(dim).ok_or_else(|| {
            Error::Internal(format!("backward of cat: dim {dim} of shape {}", t.shape()))
        })?;
        out.push(if t.requires_grad() {
            Some(g.narrow(dim as isize, offset, len)?)
        } else {
            None
        });
        offset += len;
    }
    Ok(out)
}

/// Gradients of index_select, gather and scatter_add (the index itself gets none).
pub(super) fn index(
    op: OpId,
    inputs: &[&Tensor],
    dim: usize,
    g: &Tensor,
) -> Result<Vec<Option<Tensor>>> {
    let (x, index) = (inputs[0], inputs[1]);
    let d = dim as isize;
    match op {
        OpId::IndexSelect => {
            if x.rank() == 0 {
                return Ok(vec![Some(g.reshape_to(x.shape())?), None]);
            }
            let idx = along(index, x.rank(), dim)?.expand(g.shape())?;
            Ok(vec![
                Some(zeros(x.shape(), g)?.scatter_add(d, &idx, g)?),
                None,
            ])
        }
        OpId::Gather => Ok(vec![
            Some(zeros(x.shape(), g)?.scatter_add(d, index, g)?),
            None,
        ]),
        OpId::ScatterAdd => {
            let src = inputs[2];
            let g_src = if src.requires_grad() {
                // Only the leading `index.shape` block of src is read; the rest gets zeros.
                Some(zero_pad_to(&g.gather(d, index)?, src.shape())?)
            } else {
                None
            };
            Ok(vec![Some(g.clone()), None, g_src])
        }
        _ => Err(Error::Internal(format!("{} is not an index op", op.name()))),
    }
}

/// Pads `t` with trailing zeros along every dim up to `shape` (each dim of `t` is no larger).
fn zero_pad_to(t: &Tensor, shape: &Shape) -> Result<Tensor> {
    if t.rank() != shape.rank() {
        return Err(Error::Internal(format!(
            "zero_pad_to: {} to {shape}",
            t.shape()
        )));
    }
    let mut cur = t.clone();
    for k in 0..shape.rank() {
        let (have, want) = (cur.dims()[k], shape.dim(k));
        if have < want {
            let mut d = cur.dims().to_vec();
            d[k] = want - have;
            let z = zeros(&Shape::new(&d), t)?;
            cur = Tensor::cat(&[&cur, &z], k as isize)?;
        }
    }
    Ok(cur)
}
