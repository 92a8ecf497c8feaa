//! The checked operations of [`Shape`] — element counts, dim normalization, broadcasting —
//! which return this crate's [`Error`]s. They live apart from `shape.rs` so that `error.rs`
//! can name [`Shape`] in its variants while `shape.rs` imports neither (no error↔shape
//! import cycle).

use crate::error::{Error, Result};
use crate::shape::{Shape, INLINE_RANK};
use smallvec::SmallVec;

impl Shape {
    /// The element count, for `op` that is about to build a tensor of this shape.
    ///
    /// # Errors
    /// [`Error::InvalidShape`] naming `op` when the count exceeds `isize::MAX`.
    #[inline]
    pub fn valid_numel(&self, op: &'static str) -> Result<usize> {
        self.checked_numel().ok_or_else(|| self.too_large(op))
    }

    #[cold]
    fn too_large(&self, op: &'static str) -> Error {
        Error::InvalidShape {
            op,
            shape: Box::new(self.clone()),
            reason: "a dim or the number of elements exceeds isize::MAX".into(),
        }
    }

    /// Normalizes a possibly negative dim for `op` (PyTorch convention: `-1` is the last dim).
    pub fn normalize_dim(&self, op: &'static str, dim: isize) -> Result<usize> {
        normalize_dim(op, dim, self.rank())
    }

    /// NumPy broadcasting of two shapes.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] naming `op` when a pair of dims differs and neither is 1.
    pub fn broadcast(op: &'static str, a: &Shape, b: &Shape) -> Result<Shape> {
        if a == b {
            return Ok(a.clone());
        }
        let rank = a.rank().max(b.rank());
        let mut out: SmallVec<[usize; INLINE_RANK]> = SmallVec::from_elem(0, rank);
        for i in 0..rank {
            let da = if i < rank - a.rank() {
                1
            } else {
                a.0[i - (rank - a.rank())]
            };
            let db = if i < rank - b.rank() {
                1
            } else {
                b.0[i - (rank - b.rank())]
            };
            out[i] = if da == db || db == 1 {
                da
            } else if da == 1 {
                db
            } else {
                return Err(Error::ShapeMismatch {
                    op,
                    lhs: Box::new(a.clone()),
                    rhs: Box::new(b.clone()),
                    detail: format!(": dim {i} has sizes {da} and {db}, cannot broadcast"),
                });
            };
        }
        Ok(Shape(out))
    }
}

/// Normalizes a possibly negative `dim` against `rank`.
///
/// # Errors
/// [`Error::DimOutOfRange`] when `dim` is outside `[-rank, rank)` (a 0-d tensor accepts 0 and -1).
pub fn normalize_dim(op: &'static str, dim: isize, rank: usize) -> Result<usize> {
    let r = rank.max(1) as isize;
    let d = if dim < 0 { dim + r } else { dim };
    if d < 0 || d >= r {
        return Err(Error::DimOutOfRange { op, dim, rank });
    }
    Ok(d as usize)
}

/// Normalizes and sorts a list of dims, rejecting duplicates. An empty list means all dims.
pub fn normalize_dims(op: &'static str, dims: &[isize], rank: usize) -> Result<Vec<usize>> {
    if dims.is_empty() {
        return Ok((0..rank).collect());
    }
    let mut out = Vec::with_capacity(dims.len());
    for &d in dims {
        let n = normalize_dim(op, d, rank)?;
        if rank == 0 {
            continue;
        }
        if out.contains(&n) {
            return Err(Error::invalid(
                op,
                format!("dim {d} appears more than once in {dims:?}"),
            ));
        }
        out.push(n);
    }
    out.sort_unstable();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::Shape;
    use proptest::prelude::*;

    #[test]
    fn broadcast_follows_numpy() {
        let s = |d: &[usize]| Shape::new(d);
        assert_eq!(
            Shape::broadcast("t", &s(&[2, 1, 3]), &s(&[4, 1])).unwrap(),
            s(&[2, 4, 3])
        );
        assert_eq!(Shape::broadcast("t", &s(&[]), &s(&[5])).unwrap(), s(&[5]));
        assert_eq!(
            Shape::broadcast("t", &s(&[0, 1]), &s(&[3])).unwrap(),
            s(&[0, 3])
        );
        let e = Shape::broadcast("add", &s(&[2, 3]), &s(&[4])).unwrap_err();
        assert!(matches!(e, Error::ShapeMismatch { op: "add", .. }), "{e}");
    }

    #[test]
    fn normalize_dim_accepts_negative_and_rejects_out_of_range() {
        assert_eq!(normalize_dim("t", -1, 3).unwrap(), 2);
        assert!(matches!(
            normalize_dim("t", 3, 3),
            Err(Error::DimOutOfRange { .. })
        ));
        assert!(matches!(
            normalize_dim("t", -4, 3),
            Err(Error::DimOutOfRange { .. })
        ));
        assert_eq!(normalize_dim("t", -1, 0).unwrap(), 0);
    }

    proptest! {
        #[test]
        fn broadcast_is_commutative_and_idempotent(
            a in proptest::collection::vec(0usize..4, 0..5),
            b in proptest::collection::vec(0usize..4, 0..5),
        ) {
            let (a, b) = (Shape::new(&a), Shape::new(&b));
            let ab = Shape::broadcast("t", &a, &b);
            let ba = Shape::broadcast("t", &b, &a);
            prop_assert_eq!(ab.is_ok(), ba.is_ok());
            if let (Ok(ab), Ok(ba)) = (ab, ba) {
                prop_assert_eq!(&ab, &ba);
                prop_assert!(a.broadcasts_to(&ab));
                prop_assert!(b.broadcasts_to(&ab));
                prop_assert_eq!(Shape::broadcast("t", &ab, &a).unwrap(), ab);
            }
        }
    }
}
