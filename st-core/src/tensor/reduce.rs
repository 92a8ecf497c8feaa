//! Reductions over one or several dims (`&[]` = all dims), with keepdim. `mean`, `var`,
//! `std` and `logsumexp` are composites of the primitive reductions.

use super::Tensor;
use crate::dispatch::dispatch;

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::op::{DimVec, OpId, OpParams};
use crate::shape::dims_product;
use crate::shape_check::{normalize_dim, normalize_dims};

impl Tensor {
    fn reduce(&self, op: OpId, dims: &[isize], keepdim: bool) -> Result<Tensor> {
        let dims: DimVec = normalize_dims(op.name(), dims, self.rank())?
            .into_iter()
            .collect();
        dispatch(op, &[self], &OpParams::Reduce { dims, keepdim })
    }

    /// Sum over `dims` (all when empty). Integer and bool inputs sum to i64, as in PyTorch.
    ///
    /// ```
    /// use st_core::{Tensor, Device};
    /// let t = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], [2, 2], &Device::cpu())?;
    /// assert_eq!(t.sum(&[0], false)?.to_vec::<f32>()?, vec![4.0, 6.0]);
    /// assert_eq!(t.sum(&[], false)?.to_scalar::<f32>()?, 10.0);
    /// # Ok::<(), st_core::Error>(())
    /// ```
    pub fn sum(&self, dims: &[isize], keepdim: bool) -> Result<Tensor> {
        self.reduce(OpId::Sum, dims, keepdim)
    }

    /// Sum of all elements (0-d).
    pub fn sum_all(&self) -> Result<Tensor> {
        self.sum(&[], false)
    }

    /// Product over `dims`.
    pub fn prod(&self, dims: &[isize], keepdim: bool) -> Result<Tensor> {
        self.reduce(OpId::Prod, dims, keepdim)
    }

    /// Maximum over `dims` (all when empty), PyTorch's `amax`: values only, NaN propagates,
    /// and the gradient is split evenly among the elements equal to the maximum. For the
    /// index of the maximum along one dim use [`Tensor::max_dim`].
    ///
    /// ```
    /// use st_core::{Tensor, Device};
    /// let t = Tensor::from_vec(vec![1.0f32, 5.0, 3.0, 4.0], [2, 2], &Device::cpu())?;
    /// assert_eq!(t.amax(&[1], false)?.to_vec::<f32>()?, vec![5.0, 4.0]);
    /// assert_eq!(t.amax(&[], false)?.to_scalar::<f32>()?, 5.0);
    /// # Ok::<(), st_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidShape`] when reducing an empty dim.
    pub fn amax(&self, dims: &[isize], keepdim: bool) -> Result<Tensor> {
        self.reduce(OpId::Max, dims, keepdim)
    }

    /// Minimum over `dims` (all when empty), PyTorch's `amin`; see [`Tensor::amax`].
    ///
    /// ```
    /// use st_core::{Tensor, Device};
    /// let t = Tensor::from_vec(vec![1.0f32, 5.0, 3.0, 4.0], [2, 2], &Device::cpu())?;
    /// assert_eq!(t.amin(&[0], false)?.to_vec::<f32>()?, vec![1.0, 4.0]);
    /// # Ok::<(), st_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidShape`] when reducing an empty dim.
    pub fn amin(&self, dims: &[isize], keepdim: bool) -> Result<Tensor> {
        self.reduce(OpId::Min, dims, keepdim)
    }

    /// Maximum along `dim` and its index (i64), PyTorch's `torch.max(x, dim, keepdim)`: the
    /// index is that of the first maximum, and a NaN counts as the maximum (the first NaN's
    /// index, value NaN). The gradient flows to the selected element only. Composite:
    /// argmax + gather.
    ///
    /// ```
    /// use st_core::{Tensor, Device};
    /// let t = Tensor::from_vec(vec![1.0f32, 5.0, 5.0, 4.0, 2.0, 0.0], [2, 3], &Device::cpu())?;
    /// let (values, indices) = t.max_dim(1, false)?;
    /// assert_eq!(values.to_vec::<f32>()?, vec![5.0, 4.0]);
    /// assert_eq!(indices.to_vec::<i64>()?, vec![1, 0]);
    /// # Ok::<(), st_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::DimOutOfRange`] for a bad `dim`; [`Error::InvalidShape`] when `dim` is empty.
    pub fn max_dim(&self, dim: isize, keepdim: bool) -> Result<(Tensor, Tensor)> {
        self.extremum_dim("max_dim", OpId::ArgMax, dim, keepdim)
    }

    /// Minimum along `dim` and its index (i64), PyTorch's `torch.min(x, dim, keepdim)`; see
    /// [`Tensor::max_dim`] (first minimum; NaN counts as the minimum).
    ///
    /// ```
    /// use st_core::{Tensor, Device};
    /// let t = Tensor::from_vec(vec![1.0f32, 5.0, 1.0, 4.0], [2, 2], &Device::cpu())?;
    /// let (values, indices) = t.min_dim(0, true)?;
    /// assert_eq!(values.dims(), &[1, 2]);
    /// assert_eq!(values.to_vec::<f32>()?, vec![1.0, 4.0]);
    /// assert_eq!(indices.to_vec::<i64>()?, vec![0, 1]);
    /// # Ok::<(), st_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::DimOutOfRange`] for a bad `dim`; [`Error::InvalidShape`] when `dim` is empty.
    pub fn min_dim(&self, dim: isize, keepdim: bool) -> Result<(Tensor, Tensor)> {
        self.extremum_dim("min_dim", OpId::ArgMin, dim, keepdim)
    }

    fn extremum_dim(
        &self,
        op: &'static str,
        arg: OpId,
        dim: isize,
        keepdim: bool,
    ) -> Result<(Tensor, Tensor)> {
        let d = normalize_dim(op, dim, self.rank())?;
        if self.rank() > 0 && self.dims()[d] == 0 {
            return Err(Error::InvalidShape {
                op,
                shape: Box::new(self.shape().clone()),
                reason: format!("cannot take the {op} of empty dim {dim}"),
            });
        }
        // argmax is not defined for bool; i32 keeps its order (false < true).
        let key = if self.dtype() == DType::Bool {
            self.to_dtype(DType::I32)?
        } else {
            self.detach()
        };
        let idx = key.arg(arg, Some(d as isize), true)?;
        // gather's gradient scatters `g` to the selected indices only.
        let values = self.gather(d as isize, &idx)?;
        if keepdim || self.rank() == 0 {
            Ok((values, idx))
        } else {
            let d = d as isize;
            Ok((values.squeeze(Some(d))?, idx.squeeze(Some(d))?))
        }
    }

    fn arg(&self, op: OpId, dim: Option<isize>, keepdim: bool) -> Result<Tensor> {
        let dim = dim
            .map(|d| normalize_dim(op.name(), d, self.rank()))
            .transpose()?;
        dispatch(op, &[self], &OpParams::Arg { dim, keepdim })
    }

    /// Index (i64) of the first maximum along `dim`, or in the flattened tensor for `None`.
    pub fn argmax(&self, dim: Option<isize>, keepdim: bool) -> Result<Tensor> {
        self.arg(OpId::ArgMax, dim, keepdim)
    }

    /// Index (i64) of the first minimum along `dim`, or in the flattened tensor for `None`.
    pub fn argmin(&self, dim: Option<isize>, keepdim: bool) -> Result<Tensor> {
        self.arg(OpId::ArgMin, dim, keepdim)
    }

    fn reduced_count(&self, op: &'static str, dims: &[isize]) -> Result<usize> {
        let d = normalize_dims(op, dims, self.rank())?;
        Ok(dims_product(d.iter().map(|&i| self.dims()[i])))
    }

    fn float_only(&self, op: &'static str) -> Result<()> {
        if self.dtype().is_float() {
            Ok(())
        } else {
            Err(Error::DTypeMismatch {
                op,
                got: vec![self.dtype()],
                reason: "needs a floating-point input; cast with to_dtype first".into(),
            })
        }
    }

    /// Mean over `dims` (float inputs only, as in PyTorch). Composite: sum / count.
    ///
    /// f16/bf16 inputs are reduced in f32 and rounded back once, as PyTorch does, so large
    /// counts neither overflow the sum nor the divisor.
    pub fn mean(&self, dims: &[isize], keepdim: bool) -> Result<Tensor> {
        self.float_only("mean")?;
        if matches!(self.dtype(), DType::F16 | DType::BF16) {
            return self
                .to_dtype(DType::F32)?
                .mean(dims, keepdim)?
                .to_dtype(self.dtype());
        }
        let n = self.reduced_count("mean", dims)?;
        self.sum(dims, keepdim)?.div_scalar(n as f64)
    }

    /// Sums over the dims that broadcasting `shape` to `self.shape()` added or stretched, so
    /// the result has `shape` (PyTorch's `sum_to_size`): how a backward rule reduces the
    /// gradient of a broadcast input.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when `shape` does not broadcast to `self.shape()`.
    pub fn sum_to_size(&self, shape: impl Into<crate::Shape>) -> Result<Tensor> {
        crate::autograd::sum_to_shape(self, &shape.into())
    }

    /// Variance over `dims` with Bessel's `correction` (1 = unbiased, PyTorch's default).
    pub fn var(&self, dims: &[isize], correction: usize, keepdim: bool) -> Result<Tensor> {
        self.float_only("var")?;
        if matches!(self.dtype(), DType::F16 | DType::BF16) {
            let v = self.to_dtype(DType::F32)?.var(dims, correction, keepdim)?;
            return v.to_dtype(self.dtype());
        }
        let n = self.reduced_count("var", dims)?;
        let mu = self.mean(dims, true)?;
        let d = self.sub(&mu)?;
        let ss = d.mul(&d)?.sum(dims, keepdim)?;
        ss.div_scalar(n.saturating_sub(correction) as f64)
    }

    /// Standard deviation: `sqrt(var)`.
    pub fn std(&self, dims: &[isize], correction: usize, keepdim: bool) -> Result<Tensor> {
        self.var(dims, correction, keepdim)?.sqrt()
    }

    /// `log(sum(exp(x)))` over `dims`, computed stably as `m + log(sum(exp(x - m)))`.
    pub fn logsumexp(&self, dims: &[isize], keepdim: bool) -> Result<Tensor> {
        self.float_only("logsumexp")?;
        let d = normalize_dims("logsumexp", dims, self.rank())?;
        let out: Vec<usize> = (0..self.rank())
            .filter_map(|i| match (d.contains(&i), keepdim) {
                (false, _) => Some(self.dims()[i]),
                (true, true) => Some(1),
                (true, false) => None,
            })
            .collect();
        let params = OpParams::Reduce {
            dims: d.iter().copied().collect(),
            keepdim,
        };
        let dims_owned = dims.to_vec();
        // A fused override (dispatch/fused.rs) gets the normalized dims in `params`.
        crate::dispatch::fused::run_fused(
            OpId::LogSumExp,
            &[self],
            &params,
            crate::Shape::new(&out),
            self.dtype(),
            move |x| x[0].logsumexp_composite(&dims_owned, keepdim),
        )
    }

    fn logsumexp_composite(&self, dims: &[isize], keepdim: bool) -> Result<Tensor> {
        if self.numel() == 0 {
            return self.exp()?.sum(dims, keepdim)?.log();
        }
        // The shift is a constant for the gradient (it cancels exactly).
        let m = self.amax(dims, true)?.detach();
        let m = m.where_cond_finite()?;
        let s = self.sub(&m)?.exp()?.sum(dims, true)?.log()?.add(&m)?;
        if keepdim {
            Ok(s)
        } else {
            let d = normalize_dims("logsumexp", dims, self.rank())?;
            let keep: Vec<usize> = s
                .dims()
                .iter()
                .enumerate()
                .filter(|(i, _)| !d.contains(i))
                .map(|(_, &v)| v)
                .collect();
            s.reshape_to(&crate::Shape::new(&keep))
        }
    }

    /// Replaces ±inf (from all -inf rows) by 0 so the logsumexp shift stays finite.
    fn where_cond_finite(&self) -> Result<Tensor> {
        let inf = self.abs()?.eq_scalar(f64::INFINITY)?;
        self.masked_fill(&inf, 0.0)
    }
}
