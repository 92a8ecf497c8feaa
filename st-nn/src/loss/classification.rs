//! Classification losses: [`CrossEntropyLoss`], [`NllLoss`], [`BceLoss`],
//! [`BceWithLogitsLoss`].

use super::reduction::{same_shape, Reduction};
use st_core::{DType, Device, Error, Result, Tensor};

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

/// What [`picked`] returns: per-sample `-w[t]·logp[t]`, the per-sample weights `w[t]` (zero
/// where ignored) and, with `ignore_index`, the keep mask (1 where not ignored).
struct Picked {
    losses: Tensor,
    weights: Tensor,
    keep: Option<Tensor>,
}

/// Gathers the target log-probabilities of `logp [N, C]`.
fn picked(
    op: &'static str,
    logp: &Tensor,
    target: &Tensor,
    weight: Option<&Tensor>,
    ignore: Option<i64>,
) -> Result<Picked> {
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
            // The N class indices are masked on the host: GPU backends may lack i64
            // arithmetic (WGSL has no i64); they go back as indices and a float mask.
            let dev = logp.device();
            let t = target.to(&Device::cpu())?;
            let ignored = t.eq_scalar(i as f64)?;
            let safe = t.masked_fill(&ignored, 0.0)?.to_dtype(DType::I64)?;
            let keep = ignored.logical_not()?.to_dtype(logp.dtype())?;
            (safe.to(&dev)?, Some(keep.to(&dev)?))
        }
        None => (target.to_dtype(DType::I64)?, None),
    };
    let nll = logp
        .gather(1, &safe.unsqueeze(1)?)?
        .squeeze(Some(1))?
        .neg()?;
    let mut w = match weight {
        Some(w) => w.to_dtype(logp.dtype())?.index_select(0, &safe)?,
        None => Tensor::ones(safe.shape().clone(), logp.dtype(), &logp.device())?,
    };
    if let Some(k) = &keep {
        w = w.mul(k)?;
    }
    Ok(Picked {
        losses: nll.mul(&w)?,
        weights: w,
        keep,
    })
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
        let p = picked("NLLLoss", &x, &t, self.weight.as_ref(), self.ignore_index)?;
        reduce_weighted(self.reduction, &p.losses, &p.weights)
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
        let p = picked(OP, &logp, &t, self.weight.as_ref(), self.ignore_index)?;
        let nll = reduce_weighted(self.reduction, &p.losses, &p.weights)?;
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
        if let Some(k) = &p.keep {
            smooth = smooth.mul(k)?;
        }
        let smooth = match self.reduction {
            Reduction::Mean => smooth.sum_all()?.div(&p.weights.sum_all()?)?,
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
