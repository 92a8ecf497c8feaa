//! Reference implementations of every op in f64 on host data: naive loops over row-major
//! [`RefTensor`]s, written to be obviously correct. They are the executable specification the
//! conformance kit (`st_core::testing`, feature `testing`) compares every backend against.

pub mod binary;
pub mod index;
pub mod nn;
pub mod reduce;
pub mod unary;

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::Shape;
use crate::tensor::Tensor;

/// A row-major host tensor of f64 values.
#[derive(Clone, Debug, PartialEq)]
pub struct RefTensor {
    /// Dims (empty for a 0-d scalar).
    pub shape: Vec<usize>,
    /// Values in row-major order (`shape.iter().product()` of them).
    pub data: Vec<f64>,
}

impl RefTensor {
    /// A tensor of `shape` holding `data`.
    ///
    /// # Errors
    /// [`Error::ElementCount`] when the lengths disagree.
    pub fn new(shape: &[usize], data: Vec<f64>) -> Result<RefTensor> {
        if data.len() != shape.iter().product::<usize>() {
            return Err(Error::ElementCount {
                op: "reference",
                len: data.len(),
                shape: Box::new(sh(shape)),
            });
        }
        Ok(RefTensor {
            shape: shape.to_vec(),
            data,
        })
    }

    /// A 0-d tensor.
    pub fn scalar(v: f64) -> RefTensor {
        RefTensor {
            shape: vec![],
            data: vec![v],
        }
    }

    /// `out[idx] = f(idx)` for every multi-index of `shape`, in row-major order.
    pub fn from_fn(shape: &[usize], mut f: impl FnMut(&[usize]) -> f64) -> RefTensor {
        let mut data = Vec::with_capacity(shape.iter().product());
        for_each_index(shape, |i| data.push(f(i)));
        RefTensor {
            shape: shape.to_vec(),
            data,
        }
    }

    /// Reads a tensor back from any device and dtype.
    ///
    /// # Errors
    /// Errors of the read-back.
    pub fn from_tensor(t: &Tensor) -> Result<RefTensor> {
        Ok(RefTensor {
            shape: t.dims().to_vec(),
            data: t.to_f64_vec()?,
        })
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.data.len()
    }

    /// Number of dims.
    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    /// Row-major strides.
    pub fn strides(&self) -> Vec<usize> {
        strides(&self.shape)
    }

    /// Flat position of a multi-index (no bounds check beyond the slice access of `at`).
    pub fn offset(&self, idx: &[usize]) -> usize {
        idx.iter().zip(self.strides()).map(|(i, s)| i * s).sum()
    }

    /// The element at a multi-index.
    ///
    /// # Errors
    /// [`Error::IndexOutOfRange`] when the index is outside the shape.
    pub fn at(&self, idx: &[usize]) -> Result<f64> {
        for (&i, &n) in idx.iter().zip(&self.shape) {
            if i >= n {
                return Err(Error::IndexOutOfRange {
                    op: "reference",
                    index: i as i64,
                    size: n,
                });
            }
        }
        if idx.len() != self.rank() {
            return Err(Error::InvalidShape {
                op: "reference",
                shape: Box::new(sh(&self.shape)),
                reason: format!("index {idx:?} has the wrong rank"),
            });
        }
        Ok(self.data[self.offset(idx)])
    }

    /// Applies `f` to every element.
    pub fn map(&self, f: impl Fn(f64) -> f64) -> RefTensor {
        RefTensor {
            shape: self.shape.clone(),
            data: self.data.iter().map(|&v| f(v)).collect(),
        }
    }

    /// Rounds every element to what `dtype` can hold (float rounding, integer truncation and
    /// two's-complement wrap-around, bool as `!= 0`): the value a kernel of that dtype stores.
    pub fn round_to(&self, dtype: DType) -> RefTensor {
        self.map(|v| round_to(v, dtype))
    }

    /// Reorders dims: output dim `i` is input dim `perm[i]`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `perm` is not a permutation of the dims.
    pub fn permute(&self, perm: &[usize]) -> Result<RefTensor> {
        let mut seen = vec![false; self.rank()];
        for &p in perm {
            if p >= self.rank() || std::mem::replace(&mut seen[p], true) {
                return Err(Error::invalid(
                    "reference permute",
                    format!("bad permutation {perm:?}"),
                ));
            }
        }
        if perm.len() != self.rank() {
            return Err(Error::invalid(
                "reference permute",
                format!("bad permutation {perm:?}"),
            ));
        }
        let shape: Vec<usize> = perm.iter().map(|&p| self.shape[p]).collect();
        let st = self.strides();
        Ok(RefTensor::from_fn(&shape, |i| {
            let off: usize = i.iter().zip(perm).map(|(&x, &p)| x * st[p]).sum();
            self.data[off]
        }))
    }

    /// Swaps the last two dims (rank ≥ 2).
    ///
    /// # Errors
    /// [`Error::InvalidShape`] for rank < 2.
    pub fn transpose_last(&self) -> Result<RefTensor> {
        let r = self.rank();
        if r < 2 {
            return Err(Error::InvalidShape {
                op: "reference transpose",
                shape: Box::new(sh(&self.shape)),
                reason: "needs rank >= 2".into(),
            });
        }
        let mut perm: Vec<usize> = (0..r).collect();
        perm.swap(r - 2, r - 1);
        self.permute(&perm)
    }

    /// NumPy broadcast to `shape`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the shapes do not broadcast.
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<RefTensor> {
        let out = broadcast_shape(&self.shape, shape)?;
        if out != shape {
            return Err(mismatch("reference broadcast", &self.shape, shape));
        }
        let lead = shape.len() - self.rank();
        let st = self.strides();
        Ok(RefTensor::from_fn(shape, |i| {
            let off: usize = (0..self.rank())
                .map(|k| {
                    if self.shape[k] == 1 {
                        0
                    } else {
                        i[lead + k] * st[k]
                    }
                })
                .sum();
            self.data[off]
        }))
    }

    /// The same data with another shape of equal element count.
    ///
    /// # Errors
    /// [`Error::ElementCount`] when the counts differ.
    pub fn reshape(&self, shape: &[usize]) -> Result<RefTensor> {
        RefTensor::new(shape, self.data.clone())
    }

    /// Python-style `start..start + len*step` slice of one dim with `step`.
    ///
    /// # Errors
    /// [`Error::DimOutOfRange`] / [`Error::IndexOutOfRange`] for a bad dim or range.
    pub fn slice(&self, dim: usize, start: usize, len: usize, step: usize) -> Result<RefTensor> {
        if dim >= self.rank() {
            return Err(Error::DimOutOfRange {
                op: "reference slice",
                dim: dim as isize,
                rank: self.rank(),
            });
        }
        if len > 0 && start + (len - 1) * step >= self.shape[dim] {
            let last = (start + (len - 1) * step) as i64;
            return Err(Error::IndexOutOfRange {
                op: "reference slice",
                index: last,
                size: self.shape[dim],
            });
        }
        let mut shape = self.shape.clone();
        shape[dim] = len;
        let mut src = vec![0; self.rank()];
        Ok(RefTensor::from_fn(&shape, |i| {
            src.copy_from_slice(i);
            src[dim] = start + i[dim] * step;
            self.data[self.offset(&src)]
        }))
    }
}

/// The value a `dtype` element stores for `v`: floats round to nearest, integers truncate
/// toward zero and wrap (two's complement, as the kernels' wrapping arithmetic), bool is
/// `v != 0`. NaN and ±inf pass through for floats.
pub fn round_to(v: f64, dtype: DType) -> f64 {
    match dtype {
        DType::F64 => v,
        DType::F32 => v as f32 as f64,
        DType::F16 => half::f16::from_f64(v).to_f64(),
        DType::BF16 => half::bf16::from_f64(v).to_f64(),
        DType::I32 => wrap(v, 32, true),
        DType::I64 => wrap(v, 64, true),
        DType::U8 => wrap(v, 8, false),
        DType::Bool => (v != 0.0) as u8 as f64,
    }
}

fn wrap(v: f64, bits: u32, signed: bool) -> f64 {
    if !v.is_finite() {
        return 0.0;
    }
    let t = v.trunc() as i128;
    let m = 1i128 << bits;
    let mut r = t.rem_euclid(m);
    if signed && r >= m / 2 {
        r -= m;
    }
    r as f64
}

/// Row-major strides of `shape`.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for k in (0..shape.len().saturating_sub(1)).rev() {
        s[k] = s[k + 1] * shape[k + 1];
    }
    s
}

/// Calls `f` with every multi-index of `shape` in row-major order (once, with `[]`, for 0-d;
/// never for a shape with a zero dim).
pub fn for_each_index(shape: &[usize], mut f: impl FnMut(&[usize])) {
    if shape.contains(&0) {
        return;
    }
    let mut idx = vec![0usize; shape.len()];
    loop {
        f(&idx);
        let mut k = shape.len();
        loop {
            if k == 0 {
                return;
            }
            k -= 1;
            idx[k] += 1;
            if idx[k] < shape[k] {
                break;
            }
            idx[k] = 0;
        }
    }
}

/// NumPy broadcast of two shapes.
///
/// # Errors
/// [`Error::ShapeMismatch`] when they do not broadcast.
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let r = a.len().max(b.len());
    let mut out = vec![0; r];
    for k in 0..r {
        let da = if k + a.len() >= r {
            a[k + a.len() - r]
        } else {
            1
        };
        let db = if k + b.len() >= r {
            b[k + b.len() - r]
        } else {
            1
        };
        out[k] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return Err(mismatch("reference broadcast", a, b)),
        };
    }
    Ok(out)
}

pub(crate) fn sh(dims: &[usize]) -> Shape {
    Shape::new(dims)
}

pub(crate) fn mismatch(op: &'static str, a: &[usize], b: &[usize]) -> Error {
    Error::ShapeMismatch {
        op,
        lhs: Box::new(sh(a)),
        rhs: Box::new(sh(b)),
        detail: String::new(),
    }
}

/// Normalizes a possibly negative dim against `rank`.
///
/// # Errors
/// [`Error::DimOutOfRange`].
pub fn norm_dim(op: &'static str, dim: isize, rank: usize) -> Result<usize> {
    let r = rank.max(1) as isize;
    let d = if dim < 0 { dim + r } else { dim };
    if d < 0 || d >= r {
        return Err(Error::DimOutOfRange { op, dim, rank });
    }
    Ok(d as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_to_wraps_and_rounds() {
        assert_eq!(round_to(-1.0, DType::U8), 255.0);
        assert_eq!(round_to(2.9, DType::I32), 2.0);
        assert_eq!(round_to(-2.9, DType::I64), -2.0);
        assert_eq!(round_to(2147483648.0, DType::I32), -2147483648.0);
        assert_eq!(round_to(0.1, DType::F32), 0.1f32 as f64);
        assert_eq!(round_to(-3.0, DType::Bool), 1.0);
    }

    #[test]
    fn index_iteration_and_views() {
        let mut n = 0;
        for_each_index(&[2, 0, 3], |_| n += 1);
        for_each_index(&[], |_| n += 10);
        assert_eq!(n, 10);
        let t = RefTensor::from_fn(&[2, 3], |i| (i[0] * 10 + i[1]) as f64);
        assert_eq!(
            t.transpose_last().unwrap().data,
            vec![0.0, 10.0, 1.0, 11.0, 2.0, 12.0]
        );
        assert_eq!(
            t.slice(1, 0, 2, 2).unwrap().data,
            vec![0.0, 2.0, 10.0, 12.0]
        );
        let b = RefTensor::new(&[3], vec![1.0, 2.0, 3.0])
            .unwrap()
            .broadcast_to(&[2, 3])
            .unwrap();
        assert_eq!(b.data, vec![1.0, 2.0, 3.0, 1.0, 2.0, 3.0]);
        assert!(broadcast_shape(&[2, 3], &[4]).is_err());
        assert_eq!(broadcast_shape(&[2, 1, 3], &[4, 1]).unwrap(), vec![2, 4, 3]);
    }
}
