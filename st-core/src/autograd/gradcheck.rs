//! Finite-difference gradient checking: autograd's gradients against central differences, as
//! `torch.autograd.gradcheck` does.
//!
//! The function may return a tensor of any shape. It is reduced to the scalar
//! `L = Σ f(x) ⊙ w` with `w` a fixed, non-uniform weight tensor, so every output element
//! (and any permutation or misplacement of them) shows up in the gradient.

use super::backward::backward;
use super::grad_mode::{is_grad_enabled, no_grad};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::Shape;
use crate::tensor::Tensor;

/// Step and tolerances of [`gradcheck`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GradcheckOptions {
    /// Finite-difference step.
    pub eps: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance (relative to the numeric gradient).
    pub rtol: f64,
}

impl Default for GradcheckOptions {
    /// `eps = 1e-6`, `atol = 1e-5`, `rtol = 1e-4`, suited to f64 inputs.
    fn default() -> Self {
        GradcheckOptions {
            eps: 1e-6,
            atol: 1e-5,
            rtol: 1e-4,
        }
    }
}

/// Checks the gradients of `f` with respect to every input that has `requires_grad` against
/// central finite differences: element `j` of input `i` must satisfy
/// `|analytic - numeric| <= atol + rtol·|numeric|`.
///
/// Checked inputs must be f64; the others (indices, masks) may have any dtype and are passed
/// through unchanged. `f` is called on fresh leaves that share the inputs' data, so no
/// gradient is left on the caller's tensors (tensors that `f` captures itself do receive
/// gradients). Values of `f` must not depend on anything but its arguments.
///
/// ```
/// use st_core::autograd::gradcheck::{gradcheck, GradcheckOptions};
/// use st_core::{Tensor, Device};
/// let x = Tensor::from_vec(vec![0.5f64, -1.0, 2.0], [3], &Device::cpu())?.requires_grad_()?;
/// gradcheck(&|t| t[0].mul(&t[0]), &[x], GradcheckOptions::default())?;
/// # Ok::<(), st_core::Error>(())
/// ```
///
/// # Errors
/// [`Error::Autograd`] naming the input index, the element (flat and multi-index) and both
/// values on a mismatch, or when no input requires grad or grad mode is off;
/// [`Error::DTypeMismatch`] for a checked input that is not f64 or a non-float output;
/// [`Error::InvalidArgument`] for a non-positive step or negative tolerances; errors of `f`
/// and of the backward pass.
pub fn gradcheck(
    f: &dyn Fn(&[Tensor]) -> Result<Tensor>,
    inputs: &[Tensor],
    opts: GradcheckOptions,
) -> Result<()> {
    validate(inputs, &opts)?;
    let checked: Vec<usize> = (0..inputs.len())
        .filter(|&i| inputs[i].requires_grad())
        .collect();
    let leaves: Vec<Tensor> = inputs
        .iter()
        .map(|t| {
            let leaf = t.detach();
            if t.requires_grad() {
                leaf.set_requires_grad(true)?;
            }
            Ok(leaf)
        })
        .collect::<Result<_>>()?;

    // Analytic gradients of L = Σ f(x) ⊙ w.
    let out = f(&leaves)?;
    if !out.dtype().is_float() {
        return Err(Error::DTypeMismatch {
            op: "gradcheck",
            got: vec![out.dtype()],
            reason: "the function must return a floating-point tensor".into(),
        });
    }
    let w = weights(out.numel());
    if out.requires_grad() {
        let wt = Tensor::from_f64_slice(&w, out.shape().clone(), out.dtype(), &out.device())?;
        backward(&out.mul(&wt)?.sum_all()?, None)?;
    }
    let out_shape = out.shape().clone();
    drop(out);

    let _guard = no_grad();
    for &i in &checked {
        let analytic = match leaves[i].grad() {
            Some(g) => g.to_f64_vec()?,
            // Not reached by the graph: the gradient is zero.
            None => vec![0.0; inputs[i].numel()],
        };
        let base = inputs[i].to_f64_vec()?;
        let loss_at = |j: usize, delta: f64| -> Result<f64> {
            let mut v = base.clone();
            v[j] += delta;
            let xi = Tensor::from_f64_slice(
                &v,
                inputs[i].shape().clone(),
                DType::F64,
                &inputs[i].device(),
            )?;
            let mut args = leaves.clone();
            args[i] = xi;
            let y = f(&args)?;
            if y.shape() != &out_shape {
                return Err(Error::Autograd(format!(
                    "gradcheck: the function returned shape {} for a perturbed input, {} before",
                    y.shape(),
                    out_shape
                )));
            }
            Ok(y.to_f64_vec()?.iter().zip(&w).map(|(a, b)| a * b).sum())
        };
        let mut first: Option<String> = None;
        let mut bad = 0usize;
        for (j, &a) in analytic.iter().enumerate() {
            let numeric = (loss_at(j, opts.eps)? - loss_at(j, -opts.eps)?) / (2.0 * opts.eps);
            let tol = opts.atol + opts.rtol * numeric.abs();
            let diff = (a - numeric).abs();
            // NaN on either side counts as a mismatch.
            if diff.is_nan() || diff > tol {
                bad += 1;
                first.get_or_insert_with(|| {
                    format!(
                        "gradcheck: input {i} element {j} (index {:?}): analytic {a:e}, numeric \
                         {numeric:e}, |diff| {:e} > tolerance {tol:e}",
                        multi_index(inputs[i].shape(), j),
                        diff
                    )
                });
            }
        }
        if let Some(msg) = first {
            return Err(Error::Autograd(format!(
                "{msg} ({bad} of {} elements of input {i} of shape {} differ)",
                analytic.len(),
                inputs[i].shape()
            )));
        }
    }
    Ok(())
}

fn validate(inputs: &[Tensor], opts: &GradcheckOptions) -> Result<()> {
    let eps_ok = opts.eps > 0.0 && opts.eps.is_finite();
    let tol_ok = opts.atol >= 0.0 && opts.rtol >= 0.0;
    if !eps_ok || !tol_ok {
        return Err(Error::invalid(
            "gradcheck",
            format!("eps must be positive and tolerances non-negative, got {opts:?}"),
        ));
    }
    if !is_grad_enabled() {
        return Err(Error::Autograd(
            "gradcheck: called with grad mode off (under no_grad)".into(),
        ));
    }
    if !inputs.iter().any(|t| t.requires_grad()) {
        return Err(Error::Autograd(
            "gradcheck: no input requires grad; mark the inputs to check with requires_grad_()"
                .into(),
        ));
    }
    for (i, t) in inputs.iter().enumerate() {
        if t.requires_grad() && t.dtype() != DType::F64 {
            return Err(Error::DTypeMismatch {
                op: "gradcheck",
                got: vec![t.dtype()],
                reason: format!("checked input {i} must be f64 for finite differences"),
            });
        }
    }
    Ok(())
}

/// Deterministic weights `±k/16`, `k` in `1..=32`: never zero, distinct enough to expose
/// misplaced gradients, and exact in every float dtype.
fn weights(n: usize) -> Vec<f64> {
    (0..n as u64)
        .map(|i| {
            // splitmix64 of the element index.
            let mut z = i.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            let k = (z % 32 + 1) as f64 / 16.0;
            if (z >> 32) & 1 == 0 {
                k
            } else {
                -k
            }
        })
        .collect()
}

/// Row-major multi-index of flat element `j`.
fn multi_index(shape: &Shape, mut j: usize) -> Vec<usize> {
    let mut idx = vec![0; shape.rank()];
    for (k, &d) in shape.dims().iter().enumerate().rev() {
        if d > 0 {
            idx[k] = j % d;
            j /= d;
        }
    }
    idx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_are_nonzero_and_exact_in_half_precision() {
        let w = weights(257);
        assert!(w.iter().all(|&v| v != 0.0 && v.abs() <= 2.0));
        for &v in &w {
            assert_eq!(half::bf16::from_f64(v).to_f64(), v);
        }
        assert!(w.iter().any(|&v| v < 0.0) && w.iter().any(|&v| v > 0.0));
    }

    #[test]
    fn multi_index_is_row_major() {
        let s = Shape::new(&[2, 3, 4]);
        assert_eq!(multi_index(&s, 0), vec![0, 0, 0]);
        assert_eq!(multi_index(&s, 23), vec![1, 2, 3]);
        assert_eq!(multi_index(&s, 13), vec![1, 0, 1]);
    }
}
