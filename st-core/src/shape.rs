//! Shapes, NumPy broadcasting and dimension helpers.

use smallvec::SmallVec;

/// Inline capacity of shape/stride vectors: tensors up to rank 6 never allocate for metadata.
pub const INLINE_RANK: usize = 6;

/// Dimension sizes of a tensor. Rank 0 is a scalar; a zero anywhere means no elements.
#[derive(Eq, Default)]
pub struct Shape(pub(crate) SmallVec<[usize; INLINE_RANK]>);

// Hand-written: the derived versions go through `memcmp` and an element-by-element `extend`,
// which cost more than the rest of a small op's dispatch.
impl Clone for Shape {
    #[inline]
    fn clone(&self) -> Self {
        Shape(SmallVec::from_slice(&self.0))
    }
}

impl std::hash::Hash for Shape {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.as_slice().hash(state);
    }
}

impl PartialEq for Shape {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len() && self.0.iter().zip(other.0.iter()).all(|(a, b)| a == b)
    }
}

impl Shape {
    /// The shape of a 0-d tensor.
    pub fn scalar() -> Self {
        Shape(SmallVec::new())
    }

    /// Builds a shape from dimension sizes.
    pub fn new(dims: &[usize]) -> Self {
        Shape(SmallVec::from_slice(dims))
    }

    /// Dimension sizes.
    #[inline]
    pub fn dims(&self) -> &[usize] {
        &self.0
    }

    /// Number of dimensions.
    #[inline]
    pub fn rank(&self) -> usize {
        self.0.len()
    }

    /// Number of elements (1 for a scalar, 0 if any dimension is 0).
    ///
    /// A shape whose element count does not fit in `isize` (see [`Shape::checked_numel`])
    /// reports `usize::MAX`, a count no buffer can have: every path that allocates or builds a
    /// tensor checks [`Shape::valid_numel`] first, so such a shape never becomes a tensor.
    #[inline]
    pub fn numel(&self) -> usize {
        self.checked_numel().unwrap_or(usize::MAX)
    }

    /// Number of elements, or `None` when it exceeds `isize::MAX` (the largest count whose
    /// strides and byte offsets are representable). A zero dim makes the count 0 whatever
    /// the other dims are.
    ///
    /// Every dim must also fit in `isize` (as in PyTorch, whose sizes are `int64`), even when
    /// another dim is 0: strides and index arithmetic over the dims then stay in range.
    #[inline]
    pub fn checked_numel(&self) -> Option<usize> {
        if self.0.iter().any(|&d| d > isize::MAX as usize) {
            return None;
        }
        match dims_product(self.0.iter().copied()) {
            usize::MAX => None,
            n => Some(n),
        }
    }

    /// Row-major (C) strides for this shape, in elements.
    ///
    /// Exact for every shape whose [`Shape::checked_numel`] exists; the strides of the
    /// outer dims of an empty shape with huge other dims saturate (no element is addressed
    /// through them).
    #[inline]
    pub fn contiguous_strides(&self) -> SmallVec<[isize; INLINE_RANK]> {
        let mut strides: SmallVec<[isize; INLINE_RANK]> = SmallVec::from_elem(1, self.rank());
        let mut acc = 1isize;
        for (s, &d) in strides.iter_mut().zip(self.0.iter()).rev() {
            *s = acc;
            acc = acc.saturating_mul(isize::try_from(d.max(1)).unwrap_or(isize::MAX));
        }
        strides
    }

    /// Size of dimension `d` (already normalized).
    #[inline]
    pub fn dim(&self, d: usize) -> usize {
        self.0[d]
    }

    /// True when `self` broadcasts to `target` (used by expand).
    pub fn broadcasts_to(&self, target: &Shape) -> bool {
        if self.rank() > target.rank() {
            return false;
        }
        let off = target.rank() - self.rank();
        self.0
            .iter()
            .enumerate()
            .all(|(i, &d)| d == 1 || d == target.0[i + off])
    }
}

/// The product of some dims of a shape, with [`Shape::numel`]'s semantics: 0 when any dim is
/// 0, exact when the product fits in `isize`, `usize::MAX` otherwise. For the dims of a valid
/// tensor (whose element count fits) every such sub-product is exact; an empty tensor's other
/// dims may be huge, and their product must not overflow.
pub fn dims_product(dims: impl IntoIterator<Item = usize>) -> usize {
    let mut n = 1usize;
    let mut overflow = false;
    for d in dims {
        if d == 0 {
            return 0;
        }
        match n.checked_mul(d) {
            Some(m) => n = m,
            None => overflow = true,
        }
    }
    if overflow || n > isize::MAX as usize {
        usize::MAX
    } else {
        n
    }
}

impl std::fmt::Debug for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.dims())
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.dims())
    }
}

impl From<&[usize]> for Shape {
    fn from(d: &[usize]) -> Self {
        Shape::new(d)
    }
}

impl<const N: usize> From<[usize; N]> for Shape {
    fn from(d: [usize; N]) -> Self {
        Shape::new(&d)
    }
}

impl<const N: usize> From<&[usize; N]> for Shape {
    fn from(d: &[usize; N]) -> Self {
        Shape::new(d)
    }
}

impl From<Vec<usize>> for Shape {
    fn from(d: Vec<usize>) -> Self {
        Shape::new(&d)
    }
}

impl From<&Vec<usize>> for Shape {
    fn from(d: &Vec<usize>) -> Self {
        Shape::new(d)
    }
}

impl From<()> for Shape {
    fn from(_: ()) -> Self {
        Shape::scalar()
    }
}

impl From<usize> for Shape {
    fn from(d: usize) -> Self {
        Shape::new(&[d])
    }
}

impl From<&Shape> for Shape {
    fn from(s: &Shape) -> Self {
        s.clone()
    }
}
