//! Reference elementwise unary functions in f64, and [`unary`] applying one to a tensor.

use super::RefTensor;
use crate::error::{Error, Result};
use crate::op::OpId;

/// `e^x`.
pub fn exp(x: f64) -> f64 {
    x.exp()
}

/// Logistic sigmoid `1 / (1 + e^-x)`.
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Error function (`libm`'s, accurate to a few ulp in f64).
pub fn erf(x: f64) -> f64 {
    libm::erf(x)
}

/// Exact GELU: `x · Φ(x) = x · (1 + erf(x/√2)) / 2`.
pub fn gelu(x: f64) -> f64 {
    0.5 * x * (1.0 + erf(x / std::f64::consts::SQRT_2))
}

/// Tanh-approximated GELU (PyTorch `approximate='tanh'`):
/// `x/2 · (1 + tanh(√(2/π) · (x + 0.044715 x³)))`.
pub fn gelu_tanh(x: f64) -> f64 {
    let c = (2.0 / std::f64::consts::PI).sqrt();
    0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh())
}

/// SiLU: `x · sigmoid(x)`.
pub fn silu(x: f64) -> f64 {
    x * sigmoid(x)
}

/// Round half to even (PyTorch's `round`).
pub fn round_half_even(x: f64) -> f64 {
    x.round_ties_even()
}

/// Sign: -1, 0 or 1 (NaN stays NaN).
pub fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        x
    }
}

/// `max(x, 0)`.
pub fn relu(x: f64) -> f64 {
    if x > 0.0 || x.is_nan() {
        x
    } else {
        0.0
    }
}

/// Clamp into `[min, max]`, either bound optional (`min` applied first, as PyTorch).
pub fn clamp(x: f64, min: Option<f64>, max: Option<f64>) -> f64 {
    let mut v = x;
    if let Some(lo) = min {
        if v < lo {
            v = lo;
        }
    }
    if let Some(hi) = max {
        if v > hi {
            v = hi;
        }
    }
    v
}

/// The scalar function of a parameterless elementwise unary op.
///
/// # Errors
/// [`Error::InvalidArgument`] for an op that is not a parameterless unary op.
pub fn unary_fn(op: OpId) -> Result<fn(f64) -> f64> {
    use OpId::*;
    Ok(match op {
        Neg => |x| -x,
        Abs => f64::abs,
        Exp => exp,
        Log => f64::ln,
        Sqrt => f64::sqrt,
        Rsqrt => |x| 1.0 / x.sqrt(),
        Sin => f64::sin,
        Cos => f64::cos,
        Tanh => f64::tanh,
        Sigmoid => sigmoid,
        Relu => relu,
        Gelu => gelu,
        GeluTanh => gelu_tanh,
        Silu => silu,
        Erf => erf,
        Floor => f64::floor,
        Ceil => f64::ceil,
        Round => round_half_even,
        Sign => sign,
        Reciprocal => |x| 1.0 / x,
        LogicalNot => |x| (x == 0.0) as u8 as f64,
        _ => {
            return Err(Error::invalid(
                "reference unary",
                format!("{op} is not a unary op"),
            ))
        }
    })
}

/// Applies unary op `op` elementwise.
///
/// # Errors
/// As [`unary_fn`].
pub fn unary(op: OpId, x: &RefTensor) -> Result<RefTensor> {
    Ok(x.map(unary_fn(op)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_is_half_to_even() {
        let r: Vec<f64> = [0.5, 1.5, 2.5, -0.5, -1.5, 2.4, -2.6]
            .iter()
            .map(|&x| round_half_even(x))
            .collect();
        assert_eq!(r, vec![0.0, 2.0, 2.0, -0.0, -2.0, 2.0, -3.0]);
    }

    #[test]
    fn gelu_forms_agree_roughly() {
        for x in [-3.0, -1.0, 0.0, 0.5, 2.0] {
            assert!((gelu(x) - gelu_tanh(x)).abs() < 2e-3, "{x}");
        }
        assert!((gelu(1.0) - 0.841_344_746_068_542_9).abs() < 1e-12);
    }
}
