//! Reference reductions over dims with keepdim (sum, prod, max, min), arg-reductions, and the
//! composites mean, var, std and logsumexp.

use super::{for_each_index, norm_dim, RefTensor};
use crate::error::{Error, Result};
use crate::op::OpId;

/// Normalized, sorted, deduplicated dims; `[]` means every dim (as in the Tensor API).
///
/// # Errors
/// [`Error::DimOutOfRange`].
pub fn norm_dims(op: &'static str, dims: &[isize], rank: usize) -> Result<Vec<usize>> {
    if dims.is_empty() {
        return Ok((0..rank).collect());
    }
    let mut d: Vec<usize> = dims
        .iter()
        .map(|&x| norm_dim(op, x, rank))
        .collect::<Result<_>>()?;
    d.sort_unstable();
    d.dedup();
    if rank == 0 {
        d.clear();
    }
    Ok(d)
}

fn out_shape(shape: &[usize], dims: &[usize], keepdim: bool) -> Vec<usize> {
    let mut out = Vec::new();
    for (i, &n) in shape.iter().enumerate() {
        if !dims.contains(&i) {
            out.push(n);
        } else if keepdim {
            out.push(1);
        }
    }
    out
}

/// Folds the elements of each reduced group with `f`, starting from `init`.
///
/// # Errors
/// [`Error::DimOutOfRange`].
pub fn fold(
    x: &RefTensor,
    dims: &[isize],
    keepdim: bool,
    init: f64,
    f: impl Fn(f64, f64) -> f64,
) -> Result<RefTensor> {
    let d = norm_dims("reference reduce", dims, x.rank())?;
    let kept = out_shape(&x.shape, &d, true);
    let mut acc = RefTensor::from_fn(&kept, |_| init);
    let st = acc.strides();
    for_each_index(&x.shape, |i| {
        let o: usize = i
            .iter()
            .enumerate()
            .map(|(k, &v)| if d.contains(&k) { 0 } else { v * st[k] })
            .sum();
        acc.data[o] = f(acc.data[o], x.data[x.offset(i)]);
    });
    acc.reshape(&out_shape(&x.shape, &d, keepdim))
}

/// Sum, product, max or min over `dims` (`[]` = all). Max/min propagate NaN.
///
/// # Errors
/// [`Error::DimOutOfRange`]; [`Error::InvalidShape`] for max/min over an empty group.
pub fn reduce(op: OpId, x: &RefTensor, dims: &[isize], keepdim: bool) -> Result<RefTensor> {
    match op {
        OpId::Sum => fold(x, dims, keepdim, 0.0, |a, v| a + v),
        OpId::Prod => fold(x, dims, keepdim, 1.0, |a, v| a * v),
        OpId::Max | OpId::Min => {
            let d = norm_dims("reference reduce", dims, x.rank())?;
            if d.iter().any(|&k| x.shape[k] == 0) {
                return Err(Error::InvalidShape {
                    op: op.name(),
                    shape: Box::new(super::sh(&x.shape)),
                    reason: "empty reduction without identity".into(),
                });
            }
            let (init, pick): (f64, fn(f64, f64) -> f64) = if op == OpId::Max {
                (f64::NEG_INFINITY, super::binary::maximum)
            } else {
                (f64::INFINITY, super::binary::minimum)
            };
            fold(x, dims, keepdim, init, pick)
        }
        _ => Err(Error::invalid(
            "reference reduce",
            format!("{op} is not a reduction"),
        )),
    }
}

/// Index of the first maximum (`ArgMax`) or minimum (`ArgMin`) along `dim`, or of the
/// flattened tensor for `None`. NaN counts as the extremum, as in PyTorch.
///
/// # Errors
/// [`Error::DimOutOfRange`]; [`Error::InvalidShape`] for an empty group.
pub fn arg(op: OpId, x: &RefTensor, dim: Option<isize>, keepdim: bool) -> Result<RefTensor> {
    let better = |cand: f64, best: f64| -> bool {
        if best.is_nan() {
            false
        } else if cand.is_nan() {
            true
        } else if op == OpId::ArgMax {
            cand > best
        } else {
            cand < best
        }
    };
    let empty = || Error::InvalidShape {
        op: op.name(),
        shape: Box::new(super::sh(&x.shape)),
        reason: "empty arg-reduction".into(),
    };
    let Some(dim) = dim else {
        if x.numel() == 0 {
            return Err(empty());
        }
        let mut best = 0;
        for i in 1..x.numel() {
            if better(x.data[i], x.data[best]) {
                best = i;
            }
        }
        let shape = if keepdim { vec![1; x.rank()] } else { vec![] };
        return RefTensor::new(&shape, vec![best as f64]);
    };
    if x.rank() == 0 {
        norm_dim(op.name(), dim, 0)?;
        return Ok(RefTensor::scalar(0.0));
    }
    let d = norm_dim(op.name(), dim, x.rank())?;
    let n = x.shape[d];
    if n == 0 {
        return Err(empty());
    }
    let kept = out_shape(&x.shape, &[d], true);
    let mut src = vec![0; x.rank()];
    let out = RefTensor::from_fn(&kept, |i| {
        src.copy_from_slice(i);
        let mut best = 0;
        for j in 1..n {
            src[d] = j;
            let cand = x.data[x.offset(&src)];
            src[d] = best;
            if better(cand, x.data[x.offset(&src)]) {
                best = j;
            }
        }
        best as f64
    });
    out.reshape(&out_shape(&x.shape, &[d], keepdim))
}

fn count(x: &RefTensor, dims: &[isize]) -> Result<f64> {
    let d = norm_dims("reference reduce", dims, x.rank())?;
    Ok(d.iter().map(|&k| x.shape[k]).product::<usize>() as f64)
}

/// Mean over `dims` (NaN for an empty group).
///
/// # Errors
/// [`Error::DimOutOfRange`].
pub fn mean(x: &RefTensor, dims: &[isize], keepdim: bool) -> Result<RefTensor> {
    let n = count(x, dims)?;
    Ok(reduce(OpId::Sum, x, dims, keepdim)?.map(|s| s / n))
}

/// Variance over `dims` with `correction` (1 = unbiased); divides by `max(n - correction, 0)`.
///
/// # Errors
/// [`Error::DimOutOfRange`].
pub fn var(x: &RefTensor, dims: &[isize], correction: usize, keepdim: bool) -> Result<RefTensor> {
    let n = count(x, dims)?;
    let mu = mean(x, dims, true)?;
    let dev = super::binary::zip(x, &mu, |a, m| (a - m) * (a - m))?;
    let denom = (n - correction as f64).max(0.0);
    Ok(reduce(OpId::Sum, &dev, dims, keepdim)?.map(|s| s / denom))
}

/// Standard deviation: `sqrt(var)`.
///
/// # Errors
/// [`Error::DimOutOfRange`].
pub fn std(x: &RefTensor, dims: &[isize], correction: usize, keepdim: bool) -> Result<RefTensor> {
    Ok(var(x, dims, correction, keepdim)?.map(f64::sqrt))
}

/// `log(Σ exp(x))` over `dims`, computed with the max shift (so large inputs do not overflow);
/// `-inf` for an empty group or an all `-inf` group.
///
/// # Errors
/// [`Error::DimOutOfRange`].
pub fn logsumexp(x: &RefTensor, dims: &[isize], keepdim: bool) -> Result<RefTensor> {
    if x.numel() == 0 {
        return Ok(reduce(OpId::Sum, x, dims, keepdim)?.map(f64::ln));
    }
    let m =
        fold(x, dims, true, f64::NEG_INFINITY, f64::max)?
            .map(|v| if v.is_finite() { v } else { 0.0 });
    let e = super::binary::zip(x, &m, |a, s| (a - s).exp())?;
    let s = reduce(OpId::Sum, &e, dims, true)?;
    let r = super::binary::zip(&s, &m, |a, s| a.ln() + s)?;
    let d = norm_dims("reference logsumexp", dims, x.rank())?;
    r.reshape(&out_shape(&x.shape, &d, keepdim))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> RefTensor {
        RefTensor::new(&[2, 3], vec![1.0, 5.0, 3.0, 4.0, 2.0, 6.0]).unwrap()
    }

    #[test]
    fn reductions_over_dims() {
        assert_eq!(
            reduce(OpId::Sum, &t(), &[0], false).unwrap().data,
            vec![5.0, 7.0, 9.0]
        );
        let m = reduce(OpId::Max, &t(), &[-1], true).unwrap();
        assert_eq!((m.shape.clone(), m.data), (vec![2, 1], vec![5.0, 6.0]));
        assert_eq!(
            reduce(OpId::Prod, &t(), &[], false).unwrap().data,
            vec![720.0]
        );
        assert!(reduce(
            OpId::Max,
            &RefTensor::new(&[0, 2], vec![]).unwrap(),
            &[0],
            false
        )
        .is_err());
    }

    #[test]
    fn arg_and_moments() {
        assert_eq!(
            arg(OpId::ArgMax, &t(), Some(1), false).unwrap().data,
            vec![1.0, 2.0]
        );
        assert_eq!(
            arg(OpId::ArgMin, &t(), None, false).unwrap().data,
            vec![0.0]
        );
        let v = var(
            &RefTensor::new(&[4], vec![1.0, 2.0, 3.0, 4.0]).unwrap(),
            &[],
            1,
            false,
        )
        .unwrap();
        assert!((v.data[0] - 5.0 / 3.0).abs() < 1e-15);
        let l = logsumexp(
            &RefTensor::new(&[2], vec![1000.0, 1000.0]).unwrap(),
            &[0],
            false,
        )
        .unwrap();
        assert!((l.data[0] - (1000.0 + 2f64.ln())).abs() < 1e-9);
    }
}
