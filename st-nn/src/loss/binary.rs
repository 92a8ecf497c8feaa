//! Binary losses: [`BceLoss`] of probabilities and [`BceWithLogitsLoss`] of logits.

use super::reduction::{same_shape, Reduction};
use st_core::{DType, Error, Result, Tensor};

/// Binary cross entropy of probabilities (`nn.BCELoss`); logs are clamped at -100 as in
/// PyTorch, so a probability of exactly 0 or 1 gives a finite loss.
#[derive(Clone, Default)]
pub struct BceLoss {
    /// A weight broadcast against the per-element losses.
    pub weight: Option<Tensor>,
    /// How the per-element losses are combined.
    pub reduction: Reduction,
}

/// Binary cross entropy of logits (`nn.BCEWithLogitsLoss`), computed stably as
/// `max(x, 0) - x·t + log(1 + e^-|x|)`, with `pos_weight` scaling the positive term.
#[derive(Clone, Default)]
pub struct BceWithLogitsLoss {
    /// A weight broadcast against the per-element losses.
    pub weight: Option<Tensor>,
    /// A weight of positive examples per class, broadcast along the last dimension.
    pub pos_weight: Option<Tensor>,
    /// How the per-element losses are combined.
    pub reduction: Reduction,
}

impl BceLoss {
    /// The loss of probabilities `input` in [0, 1] against `target` (same shape).
    ///
    /// Inside (0, 1) this is `-(t·log p + (1 - t)·log(1 - p))` with autograd through it (higher
    /// derivatives included). At exactly 0 or 1 the value uses the log clamped at -100 and the
    /// gradient is PyTorch's `(p - t) / max(p·(1 - p), 1e-12)`, so it is finite (zero where
    /// `p == t`) instead of `0·∞`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the shapes differ; [`Error::InvalidArgument`] when an
    /// input lies outside [0, 1], as PyTorch.
    pub fn forward(&self, input: &Tensor, target: &Tensor) -> Result<Tensor> {
        same_shape("BCELoss", input, target)?;
        if input.numel() > 0 {
            let lo = input
                .amin(&[], false)?
                .to_dtype(DType::F64)?
                .to_scalar::<f64>()?;
            let hi = input
                .amax(&[], false)?
                .to_dtype(DType::F64)?
                .to_scalar::<f64>()?;
            if !(0.0..=1.0).contains(&lo) || !(0.0..=1.0).contains(&hi) {
                return Err(Error::invalid(
                    "BCELoss",
                    format!("all elements of input should be between 0 and 1, got [{lo}, {hi}]"),
                ));
            }
        }
        let interior = input.gt_scalar(0.0)?.logical_and(&input.lt_scalar(1.0)?)?;
        // The interior branch reads 0.5 at the boundary, so its gradient there is finite and
        // `where` routes none of it (Note: a NaN there would leak through `0·NaN`).
        let p = interior.where_cond(input, &Tensor::full_like(input, 0.5)?)?;
        let log_p = p.log()?.clamp(Some(-100.0), None)?;
        let log_q = p.neg()?.add_scalar(1.0)?.log()?.clamp(Some(-100.0), None)?;
        let q_t = target.neg()?.add_scalar(1.0)?;
        let inner = target.mul(&log_p)?.add(&q_t.mul(&log_q)?)?.neg()?;
        // At p = 0 the loss is 100·t, at p = 1 it is 100·(1 - t); the gradient is
        // (p - t)·1e12, carried by `(p - p.detach())·g`, which is zero in value.
        let (pd, td) = (input.detach(), target.detach());
        let at0 = pd.eq_scalar(0.0)?.to_dtype(pd.dtype())?;
        let at1 = pd.eq_scalar(1.0)?.to_dtype(pd.dtype())?;
        let edge_value = td
            .mul(&at0)?
            .add(&td.neg()?.add_scalar(1.0)?.mul(&at1)?)?
            .mul_scalar(100.0)?;
        let g = pd.sub(&td)?.mul_scalar(1e12)?;
        let edge = edge_value.add(&input.sub(&pd)?.mul(&g)?)?;
        let mut l = interior.where_cond(&inner, &edge)?;
        if let Some(w) = &self.weight {
            l = l.mul(w)?;
        }
        self.reduction.apply(&l)
    }
}

impl BceWithLogitsLoss {
    /// The loss of logits `input` against `target` (same shape).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the shapes differ.
    pub fn forward(&self, input: &Tensor, target: &Tensor) -> Result<Tensor> {
        same_shape("BCEWithLogitsLoss", input, target)?;
        // softplus(-x) = log(1 + e^-|x|) + max(-x, 0), without overflow.
        let sp_neg = input
            .abs()?
            .neg()?
            .exp()?
            .add_scalar(1.0)?
            .log()?
            .add(&input.neg()?.relu()?)?;
        let mut l = match &self.pos_weight {
            // (1 - t)·x + (1 + (pw - 1)·t)·softplus(-x)
            Some(pw) => {
                let coef = pw.sub_scalar(1.0)?.mul(target)?.add_scalar(1.0)?;
                target
                    .neg()?
                    .add_scalar(1.0)?
                    .mul(input)?
                    .add(&coef.mul(&sp_neg)?)?
            }
            // x - x·t + softplus(-x)
            None => input.sub(&input.mul(target)?)?.add(&sp_neg)?,
        };
        if let Some(w) = &self.weight {
            l = l.mul(w)?;
        }
        self.reduction.apply(&l)
    }
}
