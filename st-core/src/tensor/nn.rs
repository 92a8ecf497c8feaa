//! Neural-network ops: matmul, softmax / log_softmax, cross_entropy, conv2d, im2col / col2im,
//! max_pool2d, avg_pool2d.

use super::Tensor;
use crate::dispatch::dispatch;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::op::{Conv2dParams, OpId, OpParams, WindowParams};
use crate::shape::Shape;
use crate::shape_check::normalize_dim;

impl Tensor {
    /// Matrix product with PyTorch semantics: 1-d operands are promoted to matrices and the
    /// added dim removed; leading (batch) dims broadcast.
    ///
    /// ```
    /// use st_core::{Tensor, Device};
    /// let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], [2, 2], &Device::cpu())?;
    /// let v = Tensor::from_vec(vec![1.0f32, 1.0], [2], &Device::cpu())?;
    /// assert_eq!(a.matmul(&v)?.to_vec::<f32>()?, vec![3.0, 7.0]);
    /// # Ok::<(), st_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when inner dims differ or batch dims do not broadcast.
    pub fn matmul(&self, rhs: &Tensor) -> Result<Tensor> {
        dispatch(OpId::Matmul, &[self, rhs], &OpParams::None)
    }

    /// Softmax along `dim` (max-subtracted, numerically stable).
    pub fn softmax(&self, dim: isize) -> Result<Tensor> {
        let d = normalize_dim("softmax", dim, self.rank())?;
        dispatch(OpId::Softmax, &[self], &OpParams::Dim(d))
    }

    /// Log-softmax along `dim` (numerically stable).
    pub fn log_softmax(&self, dim: isize) -> Result<Tensor> {
        let d = normalize_dim("log_softmax", dim, self.rank())?;
        dispatch(OpId::LogSoftmax, &[self], &OpParams::Dim(d))
    }

    /// Mean cross-entropy of `self` (logits `[N, C]`, or `[C]`) against class indices
    /// `target` (`[N]`, or 0-d), as PyTorch's `F.cross_entropy`. Composite.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for mismatched batch sizes; [`Error::DTypeMismatch`] when
    /// `target` is not an integer tensor; [`Error::IndexOutOfRange`] for a class outside `[0, C)`.
    pub fn cross_entropy(&self, target: &Tensor) -> Result<Tensor> {
        let (logits, target) = match (self.rank(), target.rank()) {
            (2, 1) if self.dims()[0] == target.dims()[0] => (self.clone(), target.clone()),
            (1, 0) => (self.unsqueeze(0)?, target.unsqueeze(0)?),
            _ => {
                return Err(Error::ShapeMismatch {
                    op: "cross_entropy",
                    lhs: Box::new(self.shape().clone()),
                    rhs: Box::new(target.shape().clone()),
                    detail: ": expected logits [N, C] with target [N]".into(),
                })
            }
        };
        if !target.dtype().is_int() {
            return Err(Error::DTypeMismatch {
                op: "cross_entropy",
                got: vec![self.dtype(), target.dtype()],
                reason: "target must hold integer class indices".into(),
            });
        }
        // A fused override (dispatch/fused.rs) gets logits [N, C] and targets [N].
        crate::dispatch::fused::run_fused(
            OpId::CrossEntropy,
            &[&logits, &target],
            &OpParams::None,
            crate::Shape::scalar(),
            logits.dtype(),
            |x| cross_entropy_composite(&x[0], &x[1]),
        )
    }

    /// 2-d convolution, NCHW input and OIHW weight, with optional bias `[O]`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when channels/groups do not fit.
    pub fn conv2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        p: Conv2dParams,
    ) -> Result<Tensor> {
        let y = dispatch(OpId::Conv2d, &[self, weight], &OpParams::Conv2d(p))?;
        match bias {
            None => Ok(y),
            Some(b) => {
                if b.rank() != 1 || b.dims()[0] != weight.dims()[0] {
                    return Err(Error::ShapeMismatch {
                        op: "conv2d",
                        lhs: Box::new(weight.shape().clone()),
                        rhs: Box::new(b.shape().clone()),
                        detail: ": bias must be [out_channels]".into(),
                    });
                }
                y.add(&b.reshape(&[1, -1, 1, 1])?)
            }
        }
    }

    /// Extracts sliding windows: `[N, C, H, W]` → `[N, C·kh·kw, L]` (PyTorch `unfold`).
    pub fn im2col(&self, p: WindowParams) -> Result<Tensor> {
        dispatch(OpId::Im2Col, &[self], &OpParams::Window(p))
    }

    /// Sums windows back into an image: `[N, C·kh·kw, L]` → `[N, C, H, W]` (PyTorch `fold`).
    pub fn col2im(&self, p: WindowParams) -> Result<Tensor> {
        dispatch(OpId::Col2Im, &[self], &OpParams::Window(p))
    }

    fn pool_windows(
        &self,
        op: &'static str,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        pad_value: f64,
    ) -> Result<(Tensor, Shape, WindowParams)> {
        if self.rank() != 4 {
            return Err(Error::InvalidShape {
                op,
                shape: Box::new(self.shape().clone()),
                reason: "expected [N, C, H, W]".into(),
            });
        }
        if padding[0] > kernel[0] / 2 || padding[1] > kernel[1] / 2 {
            return Err(Error::invalid(
                op,
                format!("padding {padding:?} must be at most half of kernel {kernel:?}"),
            ));
        }
        let d = self.dims();
        let p = WindowParams {
            kernel,
            stride,
            padding,
            dilation: [1, 1],
            pad_value,
            image: [d[2], d[3]],
        };
        let cols = self.im2col(p)?;
        let [oh, ow] = p.out_hw();
        let (n, c) = (d[0], d[1]);
        let cols = cols.reshape_to(&Shape::new(&[n, c, kernel[0] * kernel[1], oh * ow]))?;
        Ok((cols, Shape::new(&[n, c, oh, ow]), p))
    }

    /// 2-d max pooling (padding reads as -inf). Composite: im2col + amax, and when a gradient
    /// is needed, im2col + gather at the element PyTorch's kernel selects (see Note [max_pool2d
    /// gradient]).
    ///
    /// ```
    /// use st_core::{Tensor, Device};
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], [1, 1, 2, 2], &Device::cpu())?;
    /// assert_eq!(x.max_pool2d([2, 2], [1, 1], [0, 0])?.to_vec::<f32>()?, vec![4.0]);
    /// # Ok::<(), st_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidShape`] unless the input is `[N, C, H, W]`; [`Error::InvalidArgument`]
    /// for padding over half the kernel or a window larger than the padded image.
    pub fn max_pool2d(
        &self,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> Result<Tensor> {
        let (cols, out, p) =
            self.pool_windows("max_pool2d", kernel, stride, padding, f64::NEG_INFINITY)?;
        if !(self.requires_grad() && crate::autograd::is_grad_enabled()) {
            return cols.amax(&[2], false)?.reshape_to(&out);
        }
        let idx = pool_argmax(&cols.detach(), p)?;
        cols.gather(2, &idx)?.reshape_to(&out)
    }

    /// 2-d average pooling (zero padding counted, PyTorch's `count_include_pad=True`).
    /// Composite: im2col + mean.
    pub fn avg_pool2d(
        &self,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> Result<Tensor> {
        let (cols, out, _) = self.pool_windows("avg_pool2d", kernel, stride, padding, 0.0)?;
        cols.mean(&[2], false)?.reshape_to(&out)
    }
}

// Note [max_pool2d gradient]
// PyTorch's max_pool2d kernels (CPU and CUDA) scan each window's in-image cells row-major with
// `if (val > maxval || isnan(val))`, starting from maxval = -inf at the first in-image cell.
// The whole gradient of a window goes to the cell that scan ends on: the first maximum, the
// last NaN when the window holds NaNs, and the first in-image cell when every in-image cell
// is -inf (never a padding cell). Splitting the gradient among ties, as `amax` does, differs
// from it. `pool_argmax` finds that cell with one i32 argmax whose key ranks NaN cells
// above maxima and later NaNs above earlier ones, while maxima tie (argmax keeps the first).

/// The window position (i64, `[N, C, 1, L]`) PyTorch's max_pool2d selects in `cols`
/// (`[N, C, kh·kw, L]`, padding read as -inf). See Note [max_pool2d gradient].
fn pool_argmax(cols: &Tensor, p: WindowParams) -> Result<Tensor> {
    let kk = cols.dims()[2];
    let m = cols.amax(&[2], true)?;
    let mut hit = cols.eq(&m)?.to_dtype(DType::I32)?;
    if p.padding != [0, 0] {
        // 1 at the window positions inside the image, 0 at padding.
        let ones = Tensor::ones([1, 1, p.image[0], p.image[1]], cols.dtype(), &cols.device())?;
        let inside = ones.im2col(WindowParams {
            pad_value: 0.0,
            ..p
        })?;
        let inside = inside.reshape_to(&Shape::new(&[1, 1, kk, cols.dims()[3]]))?;
        hit = hit.mul(&inside.to_dtype(DType::I32)?)?;
    }
    let nan = cols.ne(cols)?.to_dtype(DType::I32)?;
    let rank = Tensor::arange(0.0, kk as f64, 1.0, DType::I32, &cols.device())?
        .reshape_to(&Shape::new(&[1, 1, kk, 1]))?
        .add_scalar(2.0 * kk as f64)?;
    let key = nan.mul(&rank)?.add(&hit.mul_scalar(kk as f64)?)?;
    key.argmax(Some(2), true)
}

/// `cross_entropy` as written: `-mean(log_softmax(logits)[i, target[i]])`.
fn cross_entropy_composite(logits: &Tensor, target: &Tensor) -> Result<Tensor> {
    let idx = target.to_dtype(DType::I64)?.unsqueeze(1)?;
    let picked = logits.log_softmax(1)?.gather(1, &idx)?;
    picked.mean(&[], false)?.neg()
}
