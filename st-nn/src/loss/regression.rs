//! Regression losses: [`MseLoss`], [`L1Loss`], [`SmoothL1Loss`].

use super::reduction::{same_shape, Reduction};
use st_core::{Error, Result, Tensor};

/// Mean squared error `(x - y)²` (`nn.MSELoss`).
#[derive(Clone, Copy, Debug, Default)]
pub struct MseLoss {
    /// How the per-element losses are combined.
    pub reduction: Reduction,
}

/// Mean absolute error `|x - y|` (`nn.L1Loss`).
#[derive(Clone, Copy, Debug, Default)]
pub struct L1Loss {
    /// How the per-element losses are combined.
    pub reduction: Reduction,
}

/// Smooth L1 (`nn.SmoothL1Loss`): `0.5 d² / β` where `|d| < β`, else `|d| - 0.5 β`.
#[derive(Clone, Copy, Debug)]
pub struct SmoothL1Loss {
    /// How the per-element losses are combined.
    pub reduction: Reduction,
    /// The threshold β (default 1); β = 0 is the L1 loss.
    pub beta: f64,
}

impl Default for SmoothL1Loss {
    fn default() -> Self {
        SmoothL1Loss {
            reduction: Reduction::Mean,
            beta: 1.0,
        }
    }
}

impl MseLoss {
    /// The loss of `input` against `target` (same shape).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the shapes differ.
    pub fn forward(&self, input: &Tensor, target: &Tensor) -> Result<Tensor> {
        same_shape("MSELoss", input, target)?;
        let d = input.sub(target)?;
        self.reduction.apply(&d.mul(&d)?)
    }
}

impl L1Loss {
    /// The loss of `input` against `target` (same shape).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the shapes differ.
    pub fn forward(&self, input: &Tensor, target: &Tensor) -> Result<Tensor> {
        same_shape("L1Loss", input, target)?;
        self.reduction.apply(&input.sub(target)?.abs()?)
    }
}

impl SmoothL1Loss {
    /// The loss of `input` against `target` (same shape).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the shapes differ; [`Error::InvalidArgument`] for a
    /// negative β.
    pub fn forward(&self, input: &Tensor, target: &Tensor) -> Result<Tensor> {
        same_shape("SmoothL1Loss", input, target)?;
        if !crate::check::nonneg(self.beta) {
            return Err(Error::invalid(
                "SmoothL1Loss",
                format!("beta must be >= 0, got {}", self.beta),
            ));
        }
        let a = input.sub(target)?.abs()?;
        if self.beta == 0.0 {
            return self.reduction.apply(&a);
        }
        let quad = a.mul(&a)?.mul_scalar(0.5 / self.beta)?;
        let lin = a.sub_scalar(0.5 * self.beta)?;
        self.reduction
            .apply(&a.lt_scalar(self.beta)?.where_cond(&quad, &lin)?)
    }
}
