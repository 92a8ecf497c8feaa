//! [`Linear`]: `y = x Wᵀ + b`.

use crate::init;
use crate::module::{Module, Visitor, VisitorMut};
use st_core::{default_device, DType, Device, Error, Result, Tensor};

/// A fully connected layer (`nn.Linear`): weight `[out, in]`, bias `[out]`, PyTorch's default
/// initialisation (U(±1/√in) for both).
pub struct Linear {
    /// `[out_features, in_features]`.
    pub weight: Tensor,
    /// `[out_features]`, when the layer has a bias.
    pub bias: Option<Tensor>,
}

/// A new parameter of `dims`, f32 on the default device, requiring grad.
pub(crate) fn param(dims: &[usize], dtype: DType, device: &Device) -> Result<Tensor> {
    Tensor::zeros(dims, dtype, device)?.requires_grad_()
}

impl Linear {
    /// A layer with a bias, f32 on the default device.
    ///
    /// # Errors
    /// Allocation errors.
    pub fn new(in_features: usize, out_features: usize) -> Result<Linear> {
        Linear::build(
            in_features,
            out_features,
            true,
            DType::F32,
            &default_device(),
        )
    }

    /// A layer with or without a bias, of `dtype` on `device`.
    ///
    /// # Errors
    /// [`Error::DTypeMismatch`] for a non-float dtype; allocation errors.
    pub fn build(
        in_features: usize,
        out_features: usize,
        bias: bool,
        dtype: DType,
        device: &Device,
    ) -> Result<Linear> {
        let weight = param(&[out_features, in_features], dtype, device)?;
        let bias = if bias {
            Some(param(&[out_features], dtype, device)?)
        } else {
            None
        };
        init::default_linear_(&weight, bias.as_ref())?;
        Ok(Linear { weight, bias })
    }

    /// `in_features`.
    pub fn in_features(&self) -> usize {
        self.weight.dims()[1]
    }

    /// `out_features`.
    pub fn out_features(&self) -> usize {
        self.weight.dims()[0]
    }
}

impl Module for Linear {
    /// `x [*, in]` to `[*, out]`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] naming `Linear` when the last dimension is not `in_features`.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if x.rank() == 0 || x.dims()[x.rank() - 1] != self.in_features() {
            return Err(Error::ShapeMismatch {
                op: "Linear",
                lhs: Box::new(x.shape().clone()),
                rhs: Box::new(self.weight.shape().clone()),
                detail: format!(
                    ": input's last dimension must be in_features = {}",
                    self.in_features()
                ),
            });
        }
        let y = x.matmul(&self.weight.t()?)?;
        match &self.bias {
            Some(b) => y.add(b),
            None => Ok(y),
        }
    }

    fn visit(&self, v: &mut Visitor<'_>) {
        v.param("weight", &self.weight);
        if let Some(b) = &self.bias {
            v.param("bias", b);
        }
    }

    fn visit_mut(&mut self, v: &mut VisitorMut<'_>) {
        v.param("weight", &mut self.weight);
        if let Some(b) = &mut self.bias {
            v.param("bias", b);
        }
    }
}
