//! Backward rules of elementwise ops: unary math, binary arithmetic (with broadcasting),
//! `where` and `masked_fill`.

use super::{mask_as, scalar_like, sum_to_shape};
use crate::error::{Error, Result};
use crate::op::{OpId, OpParams};
use crate::tensor::Tensor;
use std::f64::consts::{FRAC_1_SQRT_2, FRAC_2_SQRT_PI, PI};

/// Gradient of a unary op with input `x` and output `y`.
pub(super) fn unary(
    op: OpId,
    params: &OpParams,
    x: &Tensor,
    y: &Tensor,
    g: &Tensor,
) -> Result<Tensor> {
    use OpId::*;
    let one_minus = |t: &Tensor| t.neg()?.add_scalar(1.0);
    match op {
        Neg => g.neg(),
        // sign(0) = 0: the subgradient PyTorch picks.
        Abs => g.mul(&x.sign()?),
        Exp => g.mul(y),
        Log => g.div(x),
        Sqrt => g.div(&y.mul_scalar(2.0)?),
        // d/dx x^{-1/2} = -1/2 x^{-3/2} = -1/2 y^3.
        Rsqrt => g.mul(&y.mul(y)?.mul(y)?)?.mul_scalar(-0.5),
        Sin => g.mul(&x.cos()?),
        Cos => g.mul(&x.sin()?)?.neg(),
        Tanh => g.mul(&one_minus(&y.mul(y)?)?),
        Sigmoid => g.mul(&y.mul(&one_minus(y)?)?),
        Relu => g.mul(&mask_as(&x.gt_scalar(0.0)?, g)?),
        Gelu => {
            // Φ(x) + x φ(x), Φ the standard normal cdf and φ its density.
            let cdf = x
                .mul_scalar(FRAC_1_SQRT_2)?
                .erf()?
                .add_scalar(1.0)?
                .mul_scalar(0.5)?;
            let pdf = x
                .mul(x)?
                .mul_scalar(-0.5)?
                .exp()?
                .mul_scalar(1.0 / (2.0 * PI).sqrt())?;
            g.mul(&cdf.add(&x.mul(&pdf)?)?)
        }
        GeluTanh => {
            // y = x/2 (1 + tanh u), u = k (x + c x³):
            // dy/dx = (1 + tanh u)/2 + x/2 (1 - tanh² u) k (1 + 3 c x²).
            let (k, c) = ((2.0 / PI).sqrt(), 0.044715);
            let x2 = x.mul(x)?;
            let u = x.add(&x2.mul(x)?.mul_scalar(c)?)?.mul_scalar(k)?;
            let t = u.tanh()?;
            let left = t.add_scalar(1.0)?.mul_scalar(0.5)?;
            let du = x2.mul_scalar(3.0 * c)?.add_scalar(1.0)?.mul_scalar(k)?;
            let right = x.mul_scalar(0.5)?.mul(&one_minus(&t.mul(&t)?)?)?.mul(&du)?;
            g.mul(&left.add(&right)?)
        }
        Silu => {
            // s (1 + x (1 - s)), s = sigmoid(x).
            let s = x.sigmoid()?;
            g.mul(&s.mul(&x.mul(&one_minus(&s)?)?.add_scalar(1.0)?)?)
        }
        Erf => g.mul(&x.mul(x)?.neg()?.exp()?.mul_scalar(FRAC_2_SQRT_PI)?),
        // Piecewise constant: zero gradient (PyTorch does the same).
        Floor | Ceil | Round | Sign => Tensor::zeros(x.shape(), g.dtype(), &g.device()),
        Reciprocal => g.mul(&y.mul(y)?)?.neg(),
        Clamp => {
            let OpParams::Clamp { min, max } = params else {
                return Err(Error::Internal(format!(
                    "backward of clamp: params {params:?}"
                )));
            };
            // The gradient passes where min <= x <= max, bounds included (PyTorch).
            let mut out = g.clone();
            if let Some(lo) = min {
                out = out.mul(&mask_as(&x.ge_scalar(*lo)?, g)?)?;
            }
            if let Some(hi) = max {
                out = out.mul(&mask_as(&x.le_scalar(*hi)?, g)?)?;
            }
            Ok(out)
        }
        _ => Err(Error::Internal(format!("{} is not a unary op", op.name()))),
    }
}

/// Reduces a gradient computed on the broadcast output back to `input`'s shape, or `None`
/// when the input does not require a gradient.
fn to_input(input: &Tensor, grad: impl FnOnce() -> Result<Tensor>) -> Result<Option<Tensor>> {
    if !input.requires_grad() {
        return Ok(None);
    }
    Ok(Some(sum_to_shape(&grad()?, input.shape())?))
}

/// Gradients of a binary op `y = op(a, b)` (inputs broadcast to `y`'s shape).
pub(super) fn binary(
    op: OpId,
    a: &Tensor,
    b: &Tensor,
    y: &Tensor,
    g: &Tensor,
) -> Result<Vec<Option<Tensor>>> {
    use OpId::*;
    let (ga, gb) = match op {
        Add => (
            to_input(a, || Ok(g.clone()))?,
            to_input(b, || Ok(g.clone()))?,
        ),
        Sub => (to_input(a, || Ok(g.clone()))?, to_input(b, || g.neg())?),
        Mul => (to_input(a, || g.mul(b))?, to_input(b, || g.mul(a))?),
        Div => {
            // d/da = 1/b, d/db = -a/b² = -(g/b)·a/b.
            let g_over_b = g.div(b)?;
            (
                to_input(a, || Ok(g_over_b.clone()))?,
                to_input(b, || g_over_b.mul(a)?.div(b)?.neg())?,
            )
        }
        Pow => pow(a, b, y, g)?,
        Maximum | Minimum => {
            // The larger (smaller) operand takes the gradient; ties split it evenly (PyTorch).
            let wins = if op == Maximum { a.gt(b)? } else { a.lt(b)? };
            let tie = mask_as(&a.eq(b)?, g)?.mul_scalar(0.5)?;
            let wa = mask_as(&wins, g)?.add(&tie)?;
            let da = g.mul(&wa)?;
            (to_input(a, || Ok(da.clone()))?, to_input(b, || g.sub(&da))?)
        }
        _ => return Err(Error::Internal(format!("{} is not a binary op", op.name()))),
    };
    Ok(vec![ga, gb])
}

/// `y = a^b`: d/da = b a^{b-1} (0 where b = 0, so 0^0 has gradient 0) and
/// d/db = y ln a, taken as 0 where a <= 0 (ln undefined there; PyTorch masks a = 0 the same
/// way and lets a < 0 produce NaN, which this rule does not).
fn pow(a: &Tensor, b: &Tensor, y: &Tensor, g: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
    let ga = to_input(a, || {
        let d = g.mul(b)?.mul(&a.pow(&b.sub_scalar(1.0)?)?)?;
        d.masked_fill(&b.eq_scalar(0.0)?.expand(d.shape())?, 0.0)
    })?;
    let gb = to_input(b, || {
        let nonpos = a.le_scalar(0.0)?;
        let ln_a = a.masked_fill(&nonpos, 1.0)?.log()?;
        let d = g.mul(y)?.mul(&ln_a)?;
        d.masked_fill(&nonpos.expand(d.shape())?, 0.0)
    })?;
    Ok((ga, gb))
}

/// `where(cond, a, b)`: the gradient goes to `a` where `cond` holds and to `b` elsewhere.
pub(super) fn where_cond(
    cond: &Tensor,
    a: &Tensor,
    b: &Tensor,
    g: &Tensor,
) -> Result<Vec<Option<Tensor>>> {
    let zero = scalar_like(g, 0.0)?;
    let ga = to_input(a, || cond.where_cond(g, &zero))?;
    let gb = to_input(b, || cond.where_cond(&zero, g))?;
    Ok(vec![None, ga, gb])
}

/// `masked_fill(x, mask, v)`: filled positions get no gradient.
pub(super) fn masked_fill(x: &Tensor, mask: &Tensor, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
    Ok(vec![to_input(x, || g.masked_fill(mask, 0.0))?, None])
}
