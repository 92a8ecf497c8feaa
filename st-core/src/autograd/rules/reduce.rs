//! Backward rules of reductions (sum, prod, max, min) and of softmax / log_softmax.

use super::{keepdim_shape, mask_as};
use crate::autograd::is_grad_enabled;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::op::OpId;
use crate::shape::Shape;
use crate::tensor::Tensor;

/// Gradient of `y = op(x, dims)` for a sum, prod, max or min reduction, keepdim or not.
pub(super) fn reduction(
    op: OpId,
    dims: &[usize],
    x: &Tensor,
    y: &Tensor,
    g: &Tensor,
) -> Result<Tensor> {
    let keep = keepdim_shape(x.shape(), dims);
    // With keepdim the reduced dims are already 1; without, put them back so `g` and `y`
    // broadcast against `x`.
    let g_k = g.reshape_to(&keep)?;
    let idims: Vec<isize> = dims.iter().map(|&d| d as isize).collect();
    match op {
        OpId::Sum => g_k.expand(x.shape()),
        OpId::Prod => prod(x, &idims, dims, &g_k),
        OpId::Max | OpId::Min => {
            // Split evenly among the elements equal to the extremum (ties share it).
            let y_k = y.reshape_to(&keep)?;
            let hit = mask_as(&x.eq(&y_k)?, g)?;
            let count = hit.sum(&idims, true)?;
            g_k.mul(&hit)?.div(&count)
        }
        _ => Err(Error::Internal(format!(
            "{} is not a reduction with a gradient",
            op.name()
        ))),
    }
}

/// d prod / d x_i = product of the other elements, computed without dividing by zero: with
/// `p` the product of the nonzero elements of the slice and `z` its number of zeros,
/// the gradient is `p / x_i` when `z = 0`; `p` at the zero and 0 elsewhere when `z = 1`;
/// and 0 everywhere when `z >= 2`.
///
/// That masking is piecewise constant, so when the pass is recorded (`create_graph`) and `x`
/// has a zero, its second derivative would be wrong (the exclusive product of an element next
/// to a zero depends on the zero); the rule then uses [`prod_others`] instead.
fn prod(x: &Tensor, dims: &[isize], udims: &[usize], g_k: &Tensor) -> Result<Tensor> {
    let is_zero = x.eq_scalar(0.0)?;
    let zeros_f = mask_as(&is_zero, g_k)?;
    if is_grad_enabled() && x.requires_grad() && zeros_f.sum_all()?.to_f64_vec()?[0] > 0.0 {
        return g_k.mul(&prod_others(x, udims)?);
    }
    let z = zeros_f.sum(dims, true)?;
    let x_safe = x.masked_fill(&is_zero, 1.0)?;
    let p = x_safe.prod(dims, true)?;
    // x_safe is 1 at the zeros, so p / x_safe is the exclusive product in both live cases.
    let others = p.div(&x_safe)?;
    let no_zero = mask_as(&z.eq_scalar(0.0)?, g_k)?;
    let one_zero = mask_as(&z.eq_scalar(1.0)?, g_k)?;
    let live = zeros_f.mul(&one_zero)?.add(&no_zero)?;
    g_k.mul(&others)?.mul(&live)
}

/// The product of the other elements of each element's slice over `dims`, by multiplication
/// only (differentiable everywhere, zeros included): the reduced dims are moved last and
/// flattened to `n`, each slice is repeated `n` times with the diagonal set to one, and the
/// repeats are multiplied out. Costs `n` times the memory of `x`.
fn prod_others(x: &Tensor, dims: &[usize]) -> Result<Tensor> {
    let kept: Vec<usize> = (0..x.rank()).filter(|d| !dims.contains(d)).collect();
    let perm: Vec<usize> = kept.iter().chain(dims).copied().collect();
    let moved: Vec<usize> = perm.iter().map(|&d| x.dims()[d]).collect();
    let n: usize = dims.iter().map(|&d| x.dims()[d]).product();
    let mut flat: Vec<usize> = moved[..kept.len()].to_vec();
    flat.push(n);
    let perm_i: Vec<isize> = perm.iter().map(|&d| d as isize).collect();
    let xf = x.permute(&perm_i)?.reshape_to(&Shape::new(&flat))?;
    let mut rep = flat.clone();
    rep.push(n);
    // rep[.., i, j] = x_j, then the j = i entries are set to 1.
    let xr = xf.unsqueeze(-2)?.expand(&Shape::new(&rep))?;
    let diag = Tensor::eye(n, DType::Bool, &x.device())?.expand(&Shape::new(&rep))?;
    let others = xr.masked_fill(&diag, 1.0)?.prod(&[-1], false)?;
    let mut inverse = vec![0isize; perm.len()];
    for (i, &p) in perm.iter().enumerate() {
        inverse[p] = i as isize;
    }
    others.reshape_to(&Shape::new(&moved))?.permute(&inverse)
}

/// Gradient of softmax (`y (g - Σ g y)`) or log_softmax (`g - e^y Σ g`) along `dim`.
pub(super) fn softmax(op: OpId, dim: usize, y: &Tensor, g: &Tensor) -> Result<Tensor> {
    let d = [dim as isize];
    match op {
        OpId::Softmax => {
            let gy = g.mul(y)?;
            gy.sub(&y.mul(&gy.sum(&d, true)?)?)
        }
        OpId::LogSoftmax => g.sub(&y.exp()?.mul(&g.sum(&d, true)?)?),
        _ => Err(Error::Internal(format!("{} is not a softmax", op.name()))),
    }
}
