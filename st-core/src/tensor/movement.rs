//! Views and movement: reshape, permute, transpose, narrow/slice, select, expand, squeeze,
//! unsqueeze, flatten, contiguous. Views share storage; only `contiguous` (and a reshape that
//! cannot be a view) copies.

use super::Tensor;
use crate::autograd;
use crate::dispatch::dispatch;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::op::{DimVec, OpId, OpParams};
use crate::shape::{dims_product, Shape};
use crate::shape_check::normalize_dim;

impl Tensor {
    fn view_op(&self, op: OpId, params: OpParams, layout: Layout) -> Tensor {
        autograd::record(op, &params, &[self], self.view_with_layout(layout))
    }

    /// Resolves a shape that may contain one `-1` (as `isize` dims) against `numel`.
    fn resolve_shape(&self, op: &'static str, dims: &[isize]) -> Result<Shape> {
        let numel = self.numel();
        let mut infer = None;
        for (i, &d) in dims.iter().enumerate() {
            if d == -1 {
                if infer.replace(i).is_some() {
                    return Err(Error::invalid(
                        op,
                        format!("only one -1 allowed in {dims:?}"),
                    ));
                }
            } else if d < 0 {
                return Err(Error::invalid(op, format!("invalid size {d} in {dims:?}")));
            }
        }
        let mut out: Vec<usize> = dims.iter().map(|&d| d.max(0) as usize).collect();
        let mismatch = |out: &[usize]| Error::ElementCount {
            op,
            len: numel,
            shape: Box::new(Shape::new(out)),
        };
        if let Some(i) = infer {
            // The product of the known dims (the -1 counts as 1 here); an overflow cannot
            // divide an element count that exists.
            out[i] = 1;
            let known = Shape::new(&out)
                .checked_numel()
                .ok_or_else(|| mismatch(&out))?;
            if known == 0 || !numel.is_multiple_of(known) {
                return Err(mismatch(&out));
            }
            out[i] = numel / known;
        }
        let shape = Shape::new(&out);
        if shape.checked_numel() != Some(numel) {
            return Err(mismatch(&out));
        }
        Ok(shape)
    }

    /// Reshapes (a view when strides allow, a copy otherwise). One dim may be `-1`.
    ///
    /// ```
    /// use st_core::{Tensor, Device, DType};
    /// let t = Tensor::arange(0.0, 6.0, 1.0, DType::F32, &Device::cpu())?;
    /// assert_eq!(t.reshape(&[2, -1])?.dims(), &[2, 3]);
    /// # Ok::<(), st_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::ElementCount`] when the element count differs.
    pub fn reshape(&self, dims: &[isize]) -> Result<Tensor> {
        let shape = self.resolve_shape("reshape", dims)?;
        self.reshape_to(&shape)
    }

    /// Reshapes to an explicit shape.
    pub fn reshape_to(&self, shape: &Shape) -> Result<Tensor> {
        if shape.checked_numel() != Some(self.numel()) {
            return Err(Error::ElementCount {
                op: "reshape",
                len: self.numel(),
                shape: Box::new(shape.clone()),
            });
        }
        if shape == self.shape() {
            return Ok(self.clone());
        }
        let src = match self.layout().reshaped(shape) {
            Some(l) => return Ok(self.view_op(OpId::Reshape, OpParams::Shape(shape.clone()), l)),
            None => self.contiguous()?,
        };
        let l = src.layout().reshaped(shape).ok_or_else(|| {
            Error::Internal("contiguous tensor could not be reshaped as a view".into())
        })?;
        Ok(src.view_op(OpId::Reshape, OpParams::Shape(shape.clone()), l))
    }

    /// A view with a new shape; errors instead of copying (PyTorch's `view`).
    ///
    /// # Errors
    /// [`Error::InvalidShape`] when the strides do not allow a view.
    pub fn view(&self, dims: &[isize]) -> Result<Tensor> {
        let shape = self.resolve_shape("view", dims)?;
        match self.layout().reshaped(&shape) {
            Some(l) => Ok(self.view_op(OpId::Reshape, OpParams::Shape(shape), l)),
            None => Err(Error::InvalidShape {
                op: "view",
                shape: Box::new(self.shape().clone()),
                reason: format!(
                    "strides {:?} are incompatible with shape {shape}; use reshape()",
                    self.strides()
                ),
            }),
        }
    }

    /// Reorders dims (`perm[i]` is the source dim of output dim `i`; negatives allowed).
    pub fn permute(&self, perm: &[isize]) -> Result<Tensor> {
        let rank = self.rank();
        let p: DimVec = perm
            .iter()
            .map(|&d| normalize_dim("permute", d, rank))
            .collect::<Result<_>>()?;
        let l = self.layout().permuted("permute", &p)?;
        Ok(self.view_op(OpId::Permute, OpParams::Perm(p), l))
    }

    /// Swaps two dims.
    pub fn transpose(&self, d0: isize, d1: isize) -> Result<Tensor> {
        let rank = self.rank();
        if rank < 2 {
            return Ok(self.clone());
        }
        let (a, b) = (
            normalize_dim("transpose", d0, rank)?,
            normalize_dim("transpose", d1, rank)?,
        );
        let mut perm: Vec<isize> = (0..rank as isize).collect();
        perm.swap(a, b);
        self.permute(&perm)
    }

    /// Transpose of a ≤2-d tensor (PyTorch's `t`).
    ///
    /// # Errors
    /// [`Error::InvalidShape`] for rank > 2.
    pub fn t(&self) -> Result<Tensor> {
        if self.rank() > 2 {
            return Err(Error::InvalidShape {
                op: "t",
                shape: Box::new(self.shape().clone()),
                reason: "expects a tensor with <= 2 dims; use transpose(d0, d1)".into(),
            });
        }
        self.transpose(0, 1)
    }

    /// Elements `start..start+len` of `dim` (a view).
    ///
    /// # Errors
    /// [`Error::IndexOutOfRange`] when `start + len` exceeds the dim (PyTorch errors too;
    /// [`Tensor::slice`] clamps instead).
    pub fn narrow(&self, dim: isize, start: usize, len: usize) -> Result<Tensor> {
        let d = normalize_dim("narrow", dim, self.rank())?;
        let Some(&size) = self.dims().get(d) else {
            return Err(Error::InvalidShape {
                op: "narrow",
                shape: Box::new(self.shape().clone()),
                reason: "cannot narrow a 0-d tensor".into(),
            });
        };
        match start.checked_add(len) {
            Some(end) if end <= size => self.slice(d as isize, start as isize, end as isize, 1),
            _ => Err(Error::IndexOutOfRange {
                op: "narrow",
                index: i64::try_from(start.saturating_add(len)).unwrap_or(i64::MAX),
                size,
            }),
        }
    }

    /// Python-style slice `start:end:step` of `dim` (negative start/end count from the end and
    /// are clamped; `step` ≥ 1). A view.
    ///
    /// ```
    /// use st_core::{Tensor, Device, DType};
    /// let t = Tensor::arange(0.0, 10.0, 1.0, DType::F64, &Device::cpu())?;
    /// assert_eq!(t.slice(0, 1, -1, 3)?.to_vec::<f64>()?, vec![1.0, 4.0, 7.0]);
    /// # Ok::<(), st_core::Error>(())
    /// ```
    pub fn slice(&self, dim: isize, start: isize, end: isize, step: usize) -> Result<Tensor> {
        let d = normalize_dim("slice", dim, self.rank())?;
        if self.rank() == 0 {
            return Err(Error::InvalidShape {
                op: "slice",
                shape: Box::new(self.shape().clone()),
                reason: "cannot slice a 0-d tensor".into(),
            });
        }
        if step == 0 {
            return Err(Error::invalid("slice", "step must be positive"));
        }
        let n = self.dims()[d] as isize;
        let clamp = |i: isize| if i < 0 { (i + n).clamp(0, n) } else { i.min(n) };
        let (s, e) = (clamp(start), clamp(end));
        let len = if e > s {
            ((e - s) as usize).div_ceil(step)
        } else {
            0
        };
        let s = s as usize;
        let l = self.layout().sliced(d, s, len, step);
        Ok(self.view_op(
            OpId::Slice,
            OpParams::Slice {
                dim: d,
                start: s,
                len,
                step,
            },
            l,
        ))
    }

    /// Removes `dim` by taking index `index` (negative counts from the end).
    ///
    /// # Errors
    /// [`Error::IndexOutOfRange`].
    pub fn select(&self, dim: isize, index: isize) -> Result<Tensor> {
        let d = normalize_dim("select", dim, self.rank())?;
        if self.rank() == 0 {
            return Err(Error::InvalidShape {
                op: "select",
                shape: Box::new(self.shape().clone()),
                reason: "cannot select from a 0-d tensor".into(),
            });
        }
        let n = self.dims()[d];
        let i = if index < 0 { index + n as isize } else { index };
        if i < 0 || i as usize >= n {
            return Err(Error::IndexOutOfRange {
                op: "select",
                index: index as i64,
                size: n,
            });
        }
        self.slice(d as isize, i, i + 1, 1)?
            .squeeze(Some(d as isize))
    }

    /// Broadcasts to `shape` without copying (stride 0 on new/expanded dims).
    pub fn expand(&self, shape: &Shape) -> Result<Tensor> {
        if shape == self.shape() {
            return Ok(self.clone());
        }
        let l = self.layout().broadcast_as("expand", shape)?;
        Ok(self.view_op(OpId::Expand, OpParams::Shape(shape.clone()), l))
    }

    /// [`Tensor::expand`] taking dims.
    pub fn broadcast_to(&self, dims: &[usize]) -> Result<Tensor> {
        self.expand(&Shape::new(dims))
    }

    /// Removes size-1 dims: one (`Some(dim)`, a no-op if its size is not 1) or all (`None`).
    pub fn squeeze(&self, dim: Option<isize>) -> Result<Tensor> {
        let dims: Vec<usize> = match dim {
            Some(d) => {
                let d = normalize_dim("squeeze", d, self.rank())?;
                if self.rank() == 0 || self.dims()[d] != 1 {
                    return Ok(self.clone());
                }
                self.dims()
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != d)
                    .map(|(_, &s)| s)
                    .collect()
            }
            None => self.dims().iter().copied().filter(|&s| s != 1).collect(),
        };
        self.reshape_to(&Shape::new(&dims))
    }

    /// Inserts a size-1 dim at `dim` (in `[-rank-1, rank]`).
    pub fn unsqueeze(&self, dim: isize) -> Result<Tensor> {
        let d = normalize_dim("unsqueeze", dim, self.rank() + 1)?;
        let mut dims = self.dims().to_vec();
        dims.insert(d, 1);
        self.reshape_to(&Shape::new(&dims))
    }

    /// Merges dims `start..=end` into one.
    pub fn flatten(&self, start: isize, end: isize) -> Result<Tensor> {
        if self.rank() == 0 {
            return self.reshape_to(&Shape::new(&[1]));
        }
        let (s, e) = (
            normalize_dim("flatten", start, self.rank())?,
            normalize_dim("flatten", end, self.rank())?,
        );
        if s > e {
            return Err(Error::invalid(
                "flatten",
                format!("start dim {start} after end dim {end}"),
            ));
        }
        let d = self.dims();
        let mut out: Vec<usize> = d[..s].to_vec();
        out.push(dims_product(d[s..=e].iter().copied()));
        out.extend_from_slice(&d[e + 1..]);
        self.reshape_to(&Shape::new(&out))
    }

    /// A row-major copy, or `self` when already contiguous.
    pub fn contiguous(&self) -> Result<Tensor> {
        if self.is_contiguous() {
            return Ok(self.clone());
        }
        dispatch(OpId::Copy, &[self], &OpParams::None)
    }

    /// Always copies into a new contiguous buffer (PyTorch's `clone`).
    pub fn copy(&self) -> Result<Tensor> {
        dispatch(OpId::Copy, &[self], &OpParams::None)
    }
}
