//! Joining, splitting and indexing: cat, stack, split, chunk, index_select, gather,
//! scatter_add, embedding.

use super::Tensor;
use crate::alloc::try_vec_with_capacity;
use crate::dispatch::dispatch;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::op::{OpId, OpParams};
use crate::shape_check::normalize_dim;

impl Tensor {
    /// Concatenates tensors along `dim` (all of one dtype and device).
    ///
    /// ```
    /// use st_core::{Tensor, Device};
    /// let a = Tensor::from_vec(vec![1.0f32, 2.0], [1, 2], &Device::cpu())?;
    /// let b = Tensor::from_vec(vec![3.0f32, 4.0], [1, 2], &Device::cpu())?;
    /// assert_eq!(Tensor::cat(&[&a, &b], 0)?.dims(), &[2, 2]);
    /// # Ok::<(), st_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when shapes differ outside `dim`; [`Error::InvalidArgument`]
    /// for an empty list.
    pub fn cat(tensors: &[&Tensor], dim: isize) -> Result<Tensor> {
        let first = tensors
            .first()
            .ok_or_else(|| Error::invalid("cat", "needs at least one tensor"))?;
        let d = normalize_dim("cat", dim, first.rank())?;
        if first.rank() == 0 {
            return Err(Error::InvalidShape {
                op: "cat",
                shape: Box::new(first.shape().clone()),
                reason: "zero-dimensional tensors cannot be concatenated".into(),
            });
        }
        dispatch(OpId::Cat, tensors, &OpParams::Dim(d))
    }

    /// Stacks equally shaped tensors along a new dim `dim`. Composite: unsqueeze + cat.
    pub fn stack(tensors: &[&Tensor], dim: isize) -> Result<Tensor> {
        let first = tensors
            .first()
            .ok_or_else(|| Error::invalid("stack", "needs at least one tensor"))?;
        let d = normalize_dim("stack", dim, first.rank() + 1)?;
        for t in tensors {
            if t.shape() != first.shape() {
                return Err(Error::ShapeMismatch {
                    op: "stack",
                    lhs: Box::new(first.shape().clone()),
                    rhs: Box::new(t.shape().clone()),
                    detail: ": all tensors must have the same shape".into(),
                });
            }
        }
        let u: Vec<Tensor> = tensors
            .iter()
            .map(|t| t.unsqueeze(d as isize))
            .collect::<Result<_>>()?;
        let refs: Vec<&Tensor> = u.iter().collect();
        Tensor::cat(&refs, d as isize)
    }

    /// Splits into views of `size` elements along `dim` (the last may be smaller).
    pub fn split(&self, size: usize, dim: isize) -> Result<Vec<Tensor>> {
        if size == 0 {
            return Err(Error::invalid("split", "split size must be positive"));
        }
        let d = normalize_dim("split", dim, self.rank())?;
        let n = *self
            .dims()
            .get(d)
            .ok_or_else(|| Error::invalid("split", "cannot split a 0-d tensor"))?;
        // One view per piece, in fallibly allocated memory: an empty tensor's dim may be
        // huge, and so may the number of pieces asked for.
        let pieces = n.div_ceil(size).max(1);
        let mut out = try_vec_with_capacity(pieces)?;
        for s in (0..n.max(1)).step_by(size) {
            out.push(self.narrow(d as isize, s.min(n), size.min(n - s.min(n)))?);
        }
        Ok(out)
    }

    /// Splits into `chunks` nearly equal views along `dim` (PyTorch `chunk`).
    pub fn chunk(&self, chunks: usize, dim: isize) -> Result<Vec<Tensor>> {
        if chunks == 0 {
            return Err(Error::invalid("chunk", "number of chunks must be positive"));
        }
        let d = normalize_dim("chunk", dim, self.rank())?;
        let n = *self
            .dims()
            .get(d)
            .ok_or_else(|| Error::invalid("chunk", "cannot chunk a 0-d tensor"))?;
        self.split(n.div_ceil(chunks).max(1), d as isize)
    }

    /// Selects entries `index` (i64, 0-d or 1-d) along `dim`.
    ///
    /// # Errors
    /// [`Error::IndexOutOfRange`] for an index outside the dim.
    pub fn index_select(&self, dim: isize, index: &Tensor) -> Result<Tensor> {
        let d = normalize_dim("index_select", dim, self.rank())?;
        dispatch(OpId::IndexSelect, &[self, index], &OpParams::Dim(d))
    }

    /// `out[i][j] = self[index[i][j]][j]` for `dim = 0` (PyTorch `gather`).
    pub fn gather(&self, dim: isize, index: &Tensor) -> Result<Tensor> {
        let d = normalize_dim("gather", dim, self.rank())?;
        dispatch(OpId::Gather, &[self, index], &OpParams::Dim(d))
    }

    /// Returns a copy of `self` with `src` added at `index` along `dim` (PyTorch `scatter_add`).
    pub fn scatter_add(&self, dim: isize, index: &Tensor, src: &Tensor) -> Result<Tensor> {
        let d = normalize_dim("scatter_add", dim, self.rank())?;
        dispatch(OpId::ScatterAdd, &[self, index, src], &OpParams::Dim(d))
    }

    /// Embedding lookup: rows of `self` (`[num, dim]`) at integer `ids` of any shape, giving
    /// `ids.shape + [dim]`. Composite: index_select + reshape.
    pub fn embedding(&self, ids: &Tensor) -> Result<Tensor> {
        if self.rank() != 2 {
            return Err(Error::InvalidShape {
                op: "embedding",
                shape: Box::new(self.shape().clone()),
                reason: "weight must be [num_embeddings, embedding_dim]".into(),
            });
        }
        if !matches!(ids.dtype(), DType::I64 | DType::I32) {
            return Err(Error::DTypeMismatch {
                op: "embedding",
                got: vec![self.dtype(), ids.dtype()],
                reason: "ids must be i64 or i32 (float and bool ids are not truncated)".into(),
            });
        }
        let ids64 = ids.to_dtype(DType::I64)?;
        let flat = ids64.reshape(&[-1])?;
        let rows = self.index_select(0, &flat)?;
        let mut dims = ids.dims().to_vec();
        dims.push(self.dims()[1]);
        rows.reshape_to(&crate::Shape::new(&dims))
    }
}
