//! Reference binary, comparison, logical and selection ops with NumPy broadcasting.

use super::{broadcast_shape, mismatch, RefTensor};
use crate::error::{Error, Result};
use crate::op::OpId;

/// `out = f(a, b)` with NumPy broadcasting.
///
/// # Errors
/// [`Error::ShapeMismatch`] when the shapes do not broadcast.
pub fn zip(a: &RefTensor, b: &RefTensor, f: impl Fn(f64, f64) -> f64) -> Result<RefTensor> {
    let shape = broadcast_shape(&a.shape, &b.shape)?;
    let (a, b) = (a.broadcast_to(&shape)?, b.broadcast_to(&shape)?);
    let data = a.data.iter().zip(&b.data).map(|(&x, &y)| f(x, y)).collect();
    RefTensor::new(&shape, data)
}

/// max with NaN propagation.
pub fn maximum(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a >= b {
        a
    } else {
        b
    }
}

/// min with NaN propagation.
pub fn minimum(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a <= b {
        a
    } else {
        b
    }
}

/// The scalar function of a binary arithmetic, comparison or logical op. `integer` selects
/// the integer kernels' semantics for `div` (truncation; 0 for a zero divisor) and `pow`
/// (0 for a negative exponent). Comparisons and logical ops give 0/1.
///
/// # Errors
/// [`Error::InvalidArgument`] for an op that is not binary.
pub fn binary_fn(op: OpId, integer: bool) -> Result<fn(f64, f64) -> f64> {
    use OpId::*;
    Ok(match (op, integer) {
        (Add, _) => |x, y| x + y,
        (Sub, _) => |x, y| x - y,
        (Mul, _) => |x, y| x * y,
        (Div, false) => |x, y| x / y,
        (Div, true) => |x, y| if y == 0.0 { 0.0 } else { (x / y).trunc() },
        (Pow, false) => f64::powf,
        (Pow, true) => |x, y| if y < 0.0 { 0.0 } else { x.powf(y) },
        (Maximum, _) => maximum,
        (Minimum, _) => minimum,
        (Eq, _) => |x, y| (x == y) as u8 as f64,
        (Ne, _) => |x, y| (x != y) as u8 as f64,
        (Lt, _) => |x, y| (x < y) as u8 as f64,
        (Le, _) => |x, y| (x <= y) as u8 as f64,
        (Gt, _) => |x, y| (x > y) as u8 as f64,
        (Ge, _) => |x, y| (x >= y) as u8 as f64,
        (LogicalAnd, _) => |x, y| (x != 0.0 && y != 0.0) as u8 as f64,
        (LogicalOr, _) => |x, y| (x != 0.0 || y != 0.0) as u8 as f64,
        _ => {
            return Err(Error::invalid(
                "reference binary",
                format!("{op} is not a binary op"),
            ))
        }
    })
}

/// Applies binary op `op` with broadcasting (see [`binary_fn`] for `integer`).
///
/// # Errors
/// As [`binary_fn`] and [`zip`].
pub fn binary(op: OpId, a: &RefTensor, b: &RefTensor, integer: bool) -> Result<RefTensor> {
    zip(a, b, binary_fn(op, integer)?)
}

/// `cond ? a : b` elementwise, all three broadcast together.
///
/// # Errors
/// [`Error::ShapeMismatch`] when the shapes do not broadcast.
pub fn where_cond(cond: &RefTensor, a: &RefTensor, b: &RefTensor) -> Result<RefTensor> {
    let shape = broadcast_shape(&cond.shape, &broadcast_shape(&a.shape, &b.shape)?)?;
    let (c, a, b) = (
        cond.broadcast_to(&shape)?,
        a.broadcast_to(&shape)?,
        b.broadcast_to(&shape)?,
    );
    let data = (0..c.numel())
        .map(|i| {
            if c.data[i] != 0.0 {
                a.data[i]
            } else {
                b.data[i]
            }
        })
        .collect();
    RefTensor::new(&shape, data)
}

/// `x` with `value` where `mask` (broadcast to `x`'s shape) is nonzero.
///
/// # Errors
/// [`Error::ShapeMismatch`] when the mask does not broadcast to `x`'s shape.
pub fn masked_fill(x: &RefTensor, mask: &RefTensor, value: f64) -> Result<RefTensor> {
    if broadcast_shape(&x.shape, &mask.shape)? != x.shape {
        return Err(mismatch("reference masked_fill", &x.shape, &mask.shape));
    }
    let m = mask.broadcast_to(&x.shape)?;
    let data = x
        .data
        .iter()
        .zip(&m.data)
        .map(|(&v, &k)| if k != 0.0 { value } else { v })
        .collect();
    RefTensor::new(&x.shape, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_binary_ops() {
        let a = RefTensor::new(&[2, 1], vec![1.0, 2.0]).unwrap();
        let b = RefTensor::new(&[3], vec![10.0, 20.0, 30.0]).unwrap();
        let s = binary(OpId::Sub, &a, &b, false).unwrap();
        assert_eq!(s.shape, vec![2, 3]);
        assert_eq!(s.data, vec![-9.0, -19.0, -29.0, -8.0, -18.0, -28.0]);
        let d = binary(
            OpId::Div,
            &RefTensor::scalar(-7.0),
            &RefTensor::scalar(2.0),
            true,
        )
        .unwrap();
        assert_eq!(d.data, vec![-3.0]);
        assert!(maximum(f64::NAN, 1.0).is_nan());
    }

    #[test]
    fn where_and_masked_fill() {
        let c = RefTensor::new(&[2], vec![1.0, 0.0]).unwrap();
        let w = where_cond(
            &c,
            &RefTensor::scalar(5.0),
            &RefTensor::new(&[2, 1], vec![1.0, 2.0]).unwrap(),
        )
        .unwrap();
        assert_eq!(w.data, vec![5.0, 1.0, 5.0, 2.0]);
        let x = RefTensor::new(&[2, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(
            masked_fill(&x, &c, 0.0).unwrap().data,
            vec![0.0, 2.0, 0.0, 4.0]
        );
        assert!(masked_fill(&c, &x, 0.0).is_err());
    }
}
