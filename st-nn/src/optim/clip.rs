//! Gradient clipping: [`clip_grad_norm_`] and [`clip_grad_value_`].

use st_core::{no_grad, DType, Error, Result, Tensor};

/// Scales the gradients of `params` in place so that their joint `norm_type`-norm is at most
/// `max_norm` (`torch.nn.utils.clip_grad_norm_`); returns the norm before clipping.
/// `norm_type` may be `f64::INFINITY` (the largest absolute value).
///
/// # Errors
/// [`Error::InvalidArgument`] for a negative `max_norm` or a `norm_type` below 1;
/// with `error_if_nonfinite`, [`Error::InvalidArgument`] when the norm is NaN or infinite.
pub fn clip_grad_norm_(
    params: &[Tensor],
    max_norm: f64,
    norm_type: f64,
    error_if_nonfinite: bool,
) -> Result<f64> {
    if !crate::check::nonneg(max_norm) || (norm_type.is_nan() || norm_type < 1.0) {
        return Err(Error::invalid(
            "clip_grad_norm_",
            format!("need max_norm >= 0 and norm_type >= 1, got {max_norm} and {norm_type}"),
        ));
    }
    let _g = no_grad();
    let grads: Vec<Tensor> = params.iter().filter_map(Tensor::grad).collect();
    if grads.is_empty() {
        return Ok(0.0);
    }
    let mut total = 0.0f64;
    for g in &grads {
        let a = g.abs()?;
        if norm_type.is_infinite() {
            let m = a
                .amax(&[], false)?
                .to_dtype(DType::F64)?
                .to_scalar::<f64>()?;
            total = if m.is_nan() { m } else { total.max(m) };
        } else {
            let s = a
                .to_dtype(DType::F64)?
                .pow_scalar(norm_type)?
                .sum_all()?
                .to_scalar::<f64>()?;
            total += s;
        }
    }
    let norm = if norm_type.is_infinite() {
        total
    } else {
        total.powf(1.0 / norm_type)
    };
    if error_if_nonfinite && !norm.is_finite() {
        return Err(Error::invalid(
            "clip_grad_norm_",
            format!("the total norm of order {norm_type} of the gradients is non-finite ({norm})"),
        ));
    }
    let coef = max_norm / (norm + 1e-6);
    if coef < 1.0 {
        for g in &grads {
            g.mul_scalar_(coef)?;
        }
    }
    Ok(norm)
}

/// Clamps every gradient of `params` to `[-clip, clip]` in place
/// (`torch.nn.utils.clip_grad_value_`).
///
/// # Errors
/// [`Error::InvalidArgument`] for a negative `clip`.
pub fn clip_grad_value_(params: &[Tensor], clip: f64) -> Result<()> {
    if !crate::check::nonneg(clip) {
        return Err(Error::invalid(
            "clip_grad_value_",
            format!("clip value must be >= 0, got {clip}"),
        ));
    }
    let _g = no_grad();
    for g in params.iter().filter_map(Tensor::grad) {
        g.clamp_(Some(-clip), Some(clip))?;
    }
    Ok(())
}
