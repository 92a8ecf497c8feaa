//! Classification losses: [`CrossEntropyLoss`], [`NllLoss`], [`BceLoss`],
//! [`BceWithLogitsLoss`].

use super::reduction::{same_shape, Reduction};
use st_core::{DType, Error, Result, Tensor};

/// Cross entropy of logits `[N, C]` (or `[C]`) against class indices `[N]` (or a scalar) or
/// class probabilities of the logits' shape (`nn.CrossEntropyLoss`).
///
/// Unlike PyTorch, ignoring a class is opt-in: `ignore_index` is `None` by default, and a
/// negative class without it is an [`Error::IndexOutOfRange`] rather than a silently
/// ignored sample.
#[derive(Clone, Default)]
pub struct CrossEntropyLoss {
    /// A weight per class, `[C]`.
    pub weight: Option<Tensor>,
    /// A class index whose samples count for nothing (indices targets only).
    pub ignore_index: Option<i64>,
    /// Mixes the target with the uniform distribution: `(1 - ε)·target + ε / C`.
    pub label_smoothing: f64,
    /// How the per-sample losses are combined; the mean is weighted by the targets' weights.
    pub reduction: Reduction,
}

/// Negative log-likelihood of log-probabilities `[N, C]` (or `[C]`) against class indices
/// (`nn.NLLLoss`); `ignore_index` is opt-in as in [`CrossEntropyLoss`].
#[derive(Clone, Default)]
pub struct NllLoss {
    /// A weight per class, `[C]`.
    pub weight: Option<Tensor>,
    /// A class index whose samples count for nothing.
    pub ignore_index: Option<i64>,
    /// How the per-sample losses are combined; the mean is weighted.
    pub reduction: Reduction,
}

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

/// `[C]` and a scalar target become `[1, C]` and `[1]`; anything else must be `[N, C]`/`[N]`.
fn batch(op: &'static str, input: &Tensor, target: &Tensor) -> Result<(Tensor, Tensor)> {
    match (input.rank(), target.rank()) {
        (2, 1) if input.dims()[0] == target.dims()[0] => Ok((input.clone(), target.clone())),
        (1, 0) => Ok((input.unsqueeze(0)?, target.unsqueeze(0)?)),
        _ => Err(Error::ShapeMismatch {
            op,
            lhs: Box::new(input.shape().clone()),
            rhs: Box::new(target.shape().clone()),
            detail: ": expected input [N, C] with class indices [N], or [C] with a scalar".into(),
        }),
    }
}

fn check_weight(op: &'static str, weight: Option<&Tensor>, classes: usize) -> Result<()> {
    match weight {
        Some(w) if w.dims() != [classes] => Err(Error::ShapeMismatch {
            op,
            lhs: Box::new(w.shape().clone()),
            rhs: Box::new([classes].into()),
            detail: ": the class weight must be [C]".into(),
        }),
        _ => Ok(()),
    }
}

/// Per-sample `-w[t]·logp[t]` of `logp [N, C]` and the per-sample weights `w[t]` (zero where
/// the target is ignored).
fn picked(
    op: &'static str,
    logp: &Tensor,
    target: &Tensor,
    weight: Option<&Tensor>,
    ignore: Option<i64>,
) -> Result<(Tensor, Tensor)> {
    if !target.dtype().is_int() {
        return Err(Error::DTypeMismatch {
            op,
            got: vec![logp.dtype(), target.dtype()],
            reason: "class targets must be integers (or probabilities shaped like the input)"
                .into(),
        });
    }
    let (safe, keep) = match ignore {
        Some(i) => {
            let ignored = target.eq_scalar(i as f64)?;
            (
                target.masked_fill(&ignored, 0.0)?,
                Some(ignored.logical_not()?),
            )
        }
        None => (target.clone(), None),
    };
    let safe = safe.to_dtype(DType::I64)?;
    let nll = logp
        .gather(1, &safe.unsqueeze(1)?)?
        .squeeze(Some(1))?
        .neg()?;
    let mut w = match weight {
        Some(w) => w.to_dtype(logp.dtype())?.index_select(0, &safe)?,
        None => Tensor::ones(safe.shape().clone(), logp.dtype(), &logp.device())?,
    };
    if let Some(k) = keep {
        w = w.mul(&k.to_dtype(logp.dtype())?)?;
    }
    Ok((nll.mul(&w)?, w))
}

fn reduce_weighted(r: Reduction, losses: &Tensor, w: &Tensor) -> Result<Tensor> {
    match r {
        Reduction::Mean => losses.sum_all()?.div(&w.sum_all()?),
        other => other.apply(losses),
    }
}

impl NllLoss {
    /// The loss of log-probabilities `input` against class indices `target`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for mismatched batch sizes or a weight not `[C]`;
    /// [`Error::DTypeMismatch`] for non-integer targets; [`Error::IndexOutOfRange`] for a
    /// class outside `[0, C)` that is not `ignore_index`.
    pub fn forward(&self, input: &Tensor, target: &Tensor) -> Result<Tensor> {
        let (x, t) = batch("NLLLoss", input, target)?;
        check_weight("NLLLoss", self.weight.as_ref(), x.dims()[1])?;
        let (l, w) = picked("NLLLoss", &x, &t, self.weight.as_ref(), self.ignore_index)?;
        reduce_weighted(self.reduction, &l, &w)
    }
}

impl CrossEntropyLoss {
    /// The loss of `input` logits against `target` class indices or probabilities.
    ///
    /// # Errors
    /// As [`NllLoss::forward`]; [`Error::InvalidArgument`] for `label_smoothing` outside
    /// `[0, 1]` or `ignore_index` with probability targets.
    pub fn forward(&self, input: &Tensor, target: &Tensor) -> Result<Tensor> {
        const OP: &str = "CrossEntropyLoss";
        let eps = self.label_smoothing;
        if !(0.0..=1.0).contains(&eps) {
            return Err(Error::invalid(
                OP,
                format!("label_smoothing must be in [0, 1], got {eps}"),
            ));
        }
        if target.dtype().is_float() {
            return self.probabilities(input, target);
        }
        let plain = self.weight.is_none() && self.ignore_index.is_none() && eps == 0.0;
        if plain && self.reduction == Reduction::Mean {
            // st-core's op, which a backend may override with a fused kernel.
            return input.cross_entropy(target);
        }
        let (x, t) = batch(OP, input, target)?;
        let c = x.dims()[1];
        check_weight(OP, self.weight.as_ref(), c)?;
        let logp = x.log_softmax(1)?;
        let (nll, w) = picked(OP, &logp, &t, self.weight.as_ref(), self.ignore_index)?;
        let nll = reduce_weighted(self.reduction, &nll, &w)?;
        if eps == 0.0 {
            return Ok(nll);
        }
        // PyTorch's smoothing term: -Σ_c w_c·logp_c per sample, zero where ignored, reduced
        // like the NLL term (the mean divides by the summed target weights).
        let wl = match &self.weight {
            Some(cw) => logp.mul(&cw.to_dtype(logp.dtype())?)?,
            None => logp.clone(),
        };
        let mut smooth = wl.sum(&[1], false)?.neg()?;
        if let Some(i) = self.ignore_index {
            smooth = smooth.masked_fill(&t.eq_scalar(i as f64)?, 0.0)?;
        }
        let smooth = match self.reduction {
            Reduction::Mean => smooth.sum_all()?.div(&w.sum_all()?)?,
            other => other.apply(&smooth)?,
        };
        nll.mul_scalar(1.0 - eps)?
            .add(&smooth.mul_scalar(eps / c as f64)?)
    }

    fn probabilities(&self, input: &Tensor, target: &Tensor) -> Result<Tensor> {
        const OP: &str = "CrossEntropyLoss";
        same_shape(OP, input, target)?;
        if self.ignore_index.is_some() {
            return Err(Error::invalid(
                OP,
                "ignore_index applies to class-index targets only",
            ));
        }
        let (x, t) = if input.rank() == 1 {
            (input.unsqueeze(0)?, target.unsqueeze(0)?)
        } else {
            (input.clone(), target.clone())
        };
        if x.rank() != 2 {
            return Err(Error::InvalidShape {
                op: OP,
                shape: Box::new(input.shape().clone()),
                reason: "expected logits [N, C] or [C]".into(),
            });
        }
        let c = x.dims()[1];
        check_weight(OP, self.weight.as_ref(), c)?;
        let eps = self.label_smoothing;
        let t = if eps > 0.0 {
            t.mul_scalar(1.0 - eps)?.add_scalar(eps / c as f64)?
        } else {
            t
        };
        let mut terms = x.log_softmax(1)?.mul(&t)?;
        if let Some(w) = &self.weight {
            terms = terms.mul(&w.to_dtype(x.dtype())?)?;
        }
        let per_sample = terms.sum(&[1], false)?.neg()?;
        // With probabilities the mean divides by N, whatever the weights (as PyTorch).
        self.reduction.apply(&per_sample)
    }
}

impl BceLoss {
    /// The loss of probabilities `input` in [0, 1] against `target` (same shape).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the shapes differ.
    pub fn forward(&self, input: &Tensor, target: &Tensor) -> Result<Tensor> {
        same_shape("BCELoss", input, target)?;
        let log_p = input.log()?.clamp(Some(-100.0), None)?;
        let log_q = input
            .neg()?
            .add_scalar(1.0)?
            .log()?
            .clamp(Some(-100.0), None)?;
        let q_t = target.neg()?.add_scalar(1.0)?;
        let mut l = target.mul(&log_p)?.add(&q_t.mul(&log_q)?)?.neg()?;
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
