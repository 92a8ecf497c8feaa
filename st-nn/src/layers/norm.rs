//! Normalisation layers: [`LayerNorm`] and batch normalisation ([`BatchNorm1d`],
//! [`BatchNorm2d`]) with running statistics and `num_batches_tracked`.

use super::linear::param;
use crate::module::{Mode, Module, Visitor, VisitorMut};
use st_core::{default_device, no_grad, DType, Device, Error, Result, Tensor};

/// Layer normalisation over the trailing `normalized_shape` dimensions (`nn.LayerNorm`):
/// biased variance, `eps = 1e-5`, weight ones and bias zeros.
pub struct LayerNorm {
    /// Scale, shaped `normalized_shape` (when affine).
    pub weight: Option<Tensor>,
    /// Shift, shaped `normalized_shape` (when affine).
    pub bias: Option<Tensor>,
    normalized: Vec<usize>,
    eps: f64,
}

impl LayerNorm {
    /// LayerNorm over `normalized_shape` with an affine transform, f32 on the default device.
    ///
    /// # Errors
    /// Allocation errors.
    pub fn new(normalized_shape: &[usize]) -> Result<LayerNorm> {
        LayerNorm::build(normalized_shape, 1e-5, true, DType::F32, &default_device())
    }

    /// LayerNorm with every option.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an empty shape or a non-positive `eps`.
    pub fn build(
        normalized_shape: &[usize],
        eps: f64,
        affine: bool,
        dtype: DType,
        device: &Device,
    ) -> Result<LayerNorm> {
        if normalized_shape.is_empty() || !crate::check::positive(eps) {
            return Err(Error::invalid(
                "LayerNorm",
                format!("need a non-empty normalized_shape and eps > 0, got {normalized_shape:?}, {eps}"),
            ));
        }
        let (weight, bias) = if affine {
            let w = param(normalized_shape, dtype, device)?;
            crate::init::ones_(&w)?;
            (Some(w), Some(param(normalized_shape, dtype, device)?))
        } else {
            (None, None)
        };
        Ok(LayerNorm {
            weight,
            bias,
            normalized: normalized_shape.to_vec(),
            eps,
        })
    }
}

impl Module for LayerNorm {
    /// # Errors
    /// [`Error::ShapeMismatch`] when the trailing dimensions are not `normalized_shape`.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let k = self.normalized.len();
        if x.rank() < k || x.dims()[x.rank() - k..] != self.normalized[..] {
            return Err(Error::ShapeMismatch {
                op: "LayerNorm",
                lhs: Box::new(x.shape().clone()),
                rhs: Box::new(self.normalized.as_slice().into()),
                detail: ": the input must end with normalized_shape".into(),
            });
        }
        let dims: Vec<isize> = (1..=k as isize).map(|i| -i).collect();
        let mean = x.mean(&dims, true)?;
        let var = x.var(&dims, 0, true)?;
        let mut y = x.sub(&mean)?.mul(&var.add_scalar(self.eps)?.rsqrt()?)?;
        if let Some(w) = &self.weight {
            y = y.mul(w)?;
        }
        if let Some(b) = &self.bias {
            y = y.add(b)?;
        }
        Ok(y)
    }

    fn visit(&self, v: &mut Visitor<'_>) {
        if let Some(w) = &self.weight {
            v.param("weight", w);
        }
        if let Some(b) = &self.bias {
            v.param("bias", b);
        }
    }

    fn visit_mut(&mut self, v: &mut VisitorMut<'_>) {
        if let Some(w) = &mut self.weight {
            v.param("weight", w);
        }
        if let Some(b) = &mut self.bias {
            v.param("bias", b);
        }
    }
}

/// Batch normalisation over the channel dimension 1 (`nn.BatchNorm1d` for `D = 1`: input
/// `[N, C]` or `[N, C, L]`; `nn.BatchNorm2d` for `D = 2`: `[N, C, H, W]`).
///
/// In training it normalises with the batch's biased variance and updates the running mean
/// and the running (unbiased) variance with `momentum` (0.1; `None` is the cumulative
/// average), counting `num_batches_tracked`. In evaluation it uses the running statistics.
pub struct BatchNorm<const D: usize> {
    /// Scale `[C]` (ones).
    pub weight: Tensor,
    /// Shift `[C]` (zeros).
    pub bias: Tensor,
    /// Running mean `[C]` (a buffer).
    pub running_mean: Tensor,
    /// Running variance `[C]` (a buffer).
    pub running_var: Tensor,
    /// Batches seen in training: an i64 scalar buffer that stays on the CPU wherever the
    /// module moves (a host-side counter; GPU backends may lack i64 arithmetic), and is read
    /// without a device sync for the cumulative average.
    pub num_batches_tracked: Tensor,
    momentum: Option<f64>,
    eps: f64,
    mode: Mode,
}

/// `nn.BatchNorm1d`.
pub type BatchNorm1d = BatchNorm<1>;
/// `nn.BatchNorm2d`.
pub type BatchNorm2d = BatchNorm<2>;

impl<const D: usize> BatchNorm<D> {
    const NAME: &'static str = if D == 1 { "BatchNorm1d" } else { "BatchNorm2d" };

    /// Batch norm over `channels` with PyTorch's defaults, f32 on the default device.
    ///
    /// # Errors
    /// Allocation errors.
    pub fn new(channels: usize) -> Result<Self> {
        Self::build(channels, 1e-5, Some(0.1), DType::F32, &default_device())
    }

    /// Batch norm with every option.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a non-positive `eps` or a momentum outside `[0, 1]`.
    pub fn build(
        channels: usize,
        eps: f64,
        momentum: Option<f64>,
        dtype: DType,
        device: &Device,
    ) -> Result<Self> {
        if !crate::check::positive(eps) || momentum.is_some_and(|m| !(0.0..=1.0).contains(&m)) {
            return Err(Error::invalid(
                Self::NAME,
                format!("need eps > 0 and momentum in [0, 1], got {eps}, {momentum:?}"),
            ));
        }
        let weight = param(&[channels], dtype, device)?;
        crate::init::ones_(&weight)?;
        Ok(BatchNorm {
            weight,
            bias: param(&[channels], dtype, device)?,
            running_mean: Tensor::zeros([channels], dtype, device)?,
            running_var: Tensor::ones([channels], dtype, device)?,
            num_batches_tracked: Tensor::zeros([], DType::I64, &Device::cpu())?,
            momentum,
            eps,
            mode: Mode::default(),
        })
    }

    fn check(&self, x: &Tensor) -> Result<()> {
        let ranks: &[usize] = if D == 1 { &[2, 3] } else { &[4] };
        let c = self.weight.dims()[0];
        if !ranks.contains(&x.rank()) || x.dims()[1] != c {
            return Err(Error::ShapeMismatch {
                op: Self::NAME,
                lhs: Box::new(x.shape().clone()),
                rhs: Box::new(self.weight.shape().clone()),
                detail: format!(
                    ": expected rank {} input with {c} channels in dimension 1",
                    if D == 1 { "2 or 3" } else { "4" }
                ),
            });
        }
        Ok(())
    }
}

impl<const D: usize> Module for BatchNorm<D> {
    /// # Errors
    /// [`Error::ShapeMismatch`] for the wrong rank or channel count; in training,
    /// [`Error::InvalidArgument`] when there is only one value per channel.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.check(x)?;
        let bshape: Vec<isize> = (0..x.rank()).map(|d| if d == 1 { -1 } else { 1 }).collect();
        let dims: Vec<isize> = (0..x.rank() as isize).filter(|&d| d != 1).collect();
        let (mean, var) = if self.mode.is_training() {
            let n = x.numel() / x.dims()[1].max(1);
            if n <= 1 {
                return Err(Error::invalid(
                    Self::NAME,
                    format!(
                        "expected more than 1 value per channel when training, got input {:?}",
                        x.dims()
                    ),
                ));
            }
            let mean = x.mean(&dims, false)?;
            let var = x.var(&dims, 0, false)?;
            let _g = no_grad();
            self.num_batches_tracked.add_scalar_(1.0)?;
            let m = match self.momentum {
                Some(m) => m,
                None => 1.0 / self.num_batches_tracked.to_scalar::<i64>()? as f64,
            };
            self.running_mean.mul_scalar_(1.0 - m)?;
            self.running_mean.add_scaled_(&mean.detach(), m)?;
            self.running_var.mul_scalar_(1.0 - m)?;
            self.running_var
                .add_scaled_(&var.detach(), m * n as f64 / (n - 1) as f64)?;
            (mean, var)
        } else {
            (self.running_mean.clone(), self.running_var.clone())
        };
        let scale = var.add_scalar(self.eps)?.rsqrt()?.mul(&self.weight)?;
        let shift = self.bias.sub(&mean.mul(&scale)?)?;
        x.mul(&scale.reshape(&bshape)?)?
            .add(&shift.reshape(&bshape)?)
    }

    fn visit(&self, v: &mut Visitor<'_>) {
        v.param("weight", &self.weight);
        v.param("bias", &self.bias);
        v.buffer("running_mean", &self.running_mean);
        v.buffer("running_var", &self.running_var);
        v.buffer("num_batches_tracked", &self.num_batches_tracked);
        v.mode(&self.mode);
    }

    fn visit_mut(&mut self, v: &mut VisitorMut<'_>) {
        v.param("weight", &mut self.weight);
        v.param("bias", &mut self.bias);
        v.buffer("running_mean", &mut self.running_mean);
        v.buffer("running_var", &mut self.running_var);
        // num_batches_tracked stays on the host (see the field).
    }
}
