//! Advanced-index assignment: [`Tensor::index_put_`], the write behind Python's
//! `t[idx_tensor] = v` and `t[mask] = v`.
//!
//! The positions are worked out on the host (index values decide them, and they must be
//! bounds-checked before anything is written), then the write is one out-of-place composite
//! (`where` over a `scatter_add`) copied into `self`. The composite is also the write's
//! autograd history, so gradients reach both the old values and `values`.

use super::Tensor;
use crate::autograd::{no_grad, reads_saved};
use crate::device::Device;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::op::OpId;
use crate::shape::Shape;

impl Tensor {
    /// Writes `values` at the positions `indices` pick (PyTorch's `index_put_`):
    /// `self[indices[0], indices[1], ...] = values`, or `+=` with `accumulate`.
    ///
    /// - Integer index tensors (i64, i32, u8 is *not* an index) index the leading dims,
    ///   broadcast together to a shape `B`; negative entries count from the end. The region
    ///   has shape `B + self.dims[indices.len()..]`.
    /// - A bool tensor stands for the coordinates of its true entries (one index per dim it
    ///   covers), as in PyTorch.
    /// - `values` broadcasts to the region and is cast to `self`'s dtype.
    /// - Repeated positions: with `accumulate` every value is added; without it the last
    ///   one written wins (PyTorch leaves that case unspecified).
    ///
    /// ```
    /// use st_core::{Tensor, Device, DType};
    /// let cpu = Device::cpu();
    /// let t = Tensor::zeros([3, 2], DType::F32, &cpu)?;
    /// let rows = Tensor::from_vec(vec![2i64, 0], [2], &cpu)?;
    /// let v = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], [2, 2], &cpu)?;
    /// t.index_put_(&[&rows], &v, false)?; // t[[2, 0]] = v
    /// assert_eq!(t.to_vec::<f32>()?, vec![3.0, 4.0, 0.0, 0.0, 1.0, 2.0]);
    /// # Ok::<(), st_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::DTypeMismatch`] for an index that is not i64/i32/bool;
    /// [`Error::InvalidShape`] for more indexed dims than `self` has or a bool index whose
    /// shape differs from the dims it covers; [`Error::ShapeMismatch`] when the indices do
    /// not broadcast together or `values` not to the region; [`Error::IndexOutOfRange`];
    /// and the errors of [`Tensor::copy_`] (overlapping `self`, Note [In-place autograd]).
    /// Nothing is written when any check fails.
    pub fn index_put_(&self, indices: &[&Tensor], values: &Tensor, accumulate: bool) -> Result<()> {
        let plan = Plan::new(self, indices)?;
        let tracks = self.check_inplace_grad("index_put_", OpId::Copy, &[values])?;
        let new = {
            let _g = (!tracks).then(no_grad);
            self.put(&plan, values, accumulate)?
        };
        {
            let _g = no_grad();
            self.copy_(&new)?;
        }
        if tracks {
            self.adopt_history(&new);
        }
        Ok(())
    }

    /// `self` with the plan's positions written, out of place.
    fn put(&self, plan: &Plan, values: &Tensor, accumulate: bool) -> Result<Tensor> {
        let dev = self.device();
        let dt = self.dtype();
        let mut region = plan.batch.dims().to_vec();
        region.extend_from_slice(&self.dims()[plan.covered..]);
        let region = Shape::new(&region);
        if !values.shape().broadcasts_to(&region) {
            return Err(Error::ShapeMismatch {
                op: "index_put_",
                lhs: Box::new(values.shape().clone()),
                rhs: Box::new(region),
                detail: ": values must broadcast to the indexed region".into(),
            });
        }
        let old = self.snapshot();
        let old = if reads_saved(OpId::Where).0 {
            old.copy()?
        } else {
            old
        };
        let inner: usize = self.dims()[plan.covered..].iter().product();
        let vals = values
            .to(&dev)?
            .to_dtype(dt)?
            .expand(&region)?
            .contiguous()?
            .reshape(&[-1])?;
        let numel = self.numel();
        let zeros = Tensor::zeros([numel], dt, &dev)?;
        if accumulate {
            let pos = element_positions(&plan.rows, inner);
            let pos = Tensor::from_vec(pos, [plan.rows.len() * inner], &Device::cpu())?.to(&dev)?;
            let added = zeros
                .scatter_add(0, &pos, &vals)?
                .reshape_to(self.shape())?;
            return old.add(&added);
        }
        // Without accumulation the last write of each row wins: keep only that one.
        let mut last = vec![usize::MAX; plan.row_count];
        for (n, &r) in plan.rows.iter().enumerate() {
            last[r as usize] = n;
        }
        let kept: Vec<(i64, usize)> = plan
            .rows
            .iter()
            .enumerate()
            .filter(|&(n, &r)| last[r as usize] == n)
            .map(|(n, &r)| (r, n))
            .collect();
        let rows: Vec<i64> = kept.iter().map(|k| k.0).collect();
        let from: Vec<i64> =
            element_positions(&kept.iter().map(|k| k.1 as i64).collect::<Vec<_>>(), inner);
        let pos = element_positions(&rows, inner);
        let mut mask = vec![0u8; numel];
        for &p in &pos {
            mask[p as usize] = 1;
        }
        let cpu = Device::cpu();
        let n = pos.len();
        let pos = Tensor::from_vec(pos, [n], &cpu)?.to(&dev)?;
        let from = Tensor::from_vec(from, [n], &cpu)?.to(&dev)?;
        let mask = Tensor::from_vec(mask, self.shape().clone(), &cpu)?
            .to_dtype(DType::Bool)?
            .to(&dev)?;
        let picked = vals.index_select(0, &from)?;
        let scattered = zeros
            .scatter_add(0, &pos, &picked)?
            .reshape_to(self.shape())?;
        mask.where_cond(&scattered, &old)
    }
}

/// The rows (flat positions over the covered leading dims) that an index selects.
struct Plan {
    /// Broadcast shape of the indices: the leading part of the region's shape.
    batch: Shape,
    /// How many leading dims of `self` the indices cover.
    covered: usize,
    /// Row-major flat position over the covered dims, one per element of `batch`.
    rows: Vec<i64>,
    /// Number of distinct rows: the product of the covered dims.
    row_count: usize,
}

impl Plan {
    fn new(t: &Tensor, indices: &[&Tensor]) -> Result<Plan> {
        // Bool masks become one integer index per dim they cover.
        let mut ints: Vec<(Shape, Vec<i64>)> = Vec::with_capacity(indices.len());
        let mut covered = 0usize;
        for ix in indices {
            match ix.dtype() {
                DType::I64 | DType::I32 => {
                    ints.push((
                        ix.shape().clone(),
                        ix.to_dtype(DType::I64)?.to_vec::<i64>()?,
                    ));
                    covered += 1;
                }
                DType::Bool if ix.rank() == 0 => {
                    return Err(Error::InvalidShape {
                        op: "index_put_",
                        shape: Box::new(ix.shape().clone()),
                        reason: "a 0-d bool index is not supported; use a 1-element mask".into(),
                    })
                }
                DType::Bool => {
                    let k = ix.rank();
                    let dims = t
                        .dims()
                        .get(covered..covered + ix.rank())
                        .ok_or_else(|| too_many(t, covered + k))?;
                    if dims != ix.dims() {
                        return Err(Error::InvalidShape {
                            op: "index_put_",
                            shape: Box::new(ix.shape().clone()),
                            reason: format!(
                                "a bool index must have the shape of the dims it covers, {:?}",
                                dims
                            ),
                        });
                    }
                    let flags = ix.to_dtype(DType::U8)?.to_vec::<u8>()?;
                    let trues: Vec<usize> = (0..flags.len()).filter(|&i| flags[i] != 0).collect();
                    for d in 0..ix.rank() {
                        let stride: usize = dims[d + 1..].iter().product();
                        let coords = trues
                            .iter()
                            .map(|&i| ((i / stride) % dims[d]) as i64)
                            .collect();
                        ints.push((Shape::new(&[trues.len()]), coords));
                    }
                    covered += ix.rank();
                }
                other => {
                    return Err(Error::DTypeMismatch {
                        op: "index_put_",
                        got: vec![t.dtype(), other],
                        reason: "tensors used as indices must be i64, i32 or bool".into(),
                    })
                }
            }
        }
        if covered > t.rank() {
            return Err(too_many(t, covered));
        }
        let mut batch = Shape::new(&[]);
        for (s, _) in &ints {
            batch = Shape::broadcast("index_put_", &batch, s)?;
        }
        let n = batch.numel();
        let mut rows = vec![0i64; n];
        let mut size_after = 1i64;
        for (d, (shape, vals)) in ints.iter().enumerate().rev() {
            let size = t.dims()[d];
            let bcast = broadcast_positions(shape, &batch);
            for (row, &src) in rows.iter_mut().zip(&bcast) {
                let i = vals[src];
                let w = if i < 0 { i + size as i64 } else { i };
                if w < 0 || w >= size as i64 {
                    return Err(Error::IndexOutOfRange {
                        op: "index_put_",
                        index: i,
                        size,
                    });
                }
                *row += w * size_after;
            }
            size_after *= size as i64;
        }
        Ok(Plan {
            row_count: t.dims()[..covered].iter().product(),
            batch,
            covered,
            rows,
        })
    }
}

fn too_many(t: &Tensor, covered: usize) -> Error {
    Error::InvalidShape {
        op: "index_put_",
        shape: Box::new(t.shape().clone()),
        reason: format!(
            "too many indices: {covered} dims indexed in a tensor of {} dims",
            t.rank()
        ),
    }
}

/// For each element of `target` (row-major), the flat position in a tensor of `shape`
/// broadcast to it.
fn broadcast_positions(shape: &Shape, target: &Shape) -> Vec<usize> {
    let td = target.dims();
    let off = td.len() - shape.rank();
    let sd = shape.dims();
    let mut strides = vec![0usize; td.len()];
    let mut acc = 1usize;
    for d in (0..sd.len()).rev() {
        strides[off + d] = if sd[d] == 1 { 0 } else { acc };
        acc *= sd[d];
    }
    let mut out = Vec::with_capacity(target.numel());
    let mut idx = vec![0usize; td.len()];
    for _ in 0..target.numel() {
        out.push(idx.iter().zip(&strides).map(|(i, s)| i * s).sum());
        for d in (0..td.len()).rev() {
            idx[d] += 1;
            if idx[d] < td[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    out
}

/// Flat element positions of whole rows of `inner` elements.
fn element_positions(rows: &[i64], inner: usize) -> Vec<i64> {
    let inner = inner as i64;
    rows.iter()
        .flat_map(|&r| (0..inner).map(move |j| r * inner + j))
        .collect()
}
