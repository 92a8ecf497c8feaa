//! `Layout { shape, strides, offset }`: how a tensor's elements sit in its storage. Every view
//! (reshape, permute, narrow, expand, squeeze, ...) is a new layout over the same storage.

use crate::error::{Error, Result};
use crate::shape::{Shape, INLINE_RANK};
use crate::shape_check::normalize_dim;
use smallvec::SmallVec;

/// Strides in elements (may be 0 for broadcast dims; never negative here).
pub type Strides = SmallVec<[isize; INLINE_RANK]>;

/// Shape, strides (in elements) and offset (in elements) of a view into a storage buffer.
///
/// The element count and whether the view is contiguous are computed once, when the layout is
/// built: the dispatcher and kernels ask both on every call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    shape: Shape,
    strides: Strides,
    offset: usize,
    numel: usize,
    contiguous: bool,
}

impl Layout {
    /// A row-major contiguous layout starting at offset 0.
    #[inline]
    pub fn contiguous(shape: impl Into<Shape>) -> Self {
        let shape = shape.into();
        let strides = shape.contiguous_strides();
        // Row-major by construction (a zero dim makes the view empty, which counts as
        // contiguous), so only the element count needs computing.
        Layout {
            numel: shape.numel(),
            shape,
            strides,
            offset: 0,
            contiguous: true,
        }
    }

    /// A layout from raw parts. The caller guarantees every addressed element lies inside the
    /// storage it is used with (see [`Layout::check_fits`]).
    ///
    /// A view with no elements addresses nothing, so its offset is normalized to 0: kernels
    /// may then take `[offset, offset + numel)` of any buffer, even an empty one.
    #[inline]
    pub fn from_parts(shape: Shape, strides: Strides, offset: usize) -> Self {
        let numel = shape.numel();
        let contiguous = numel == 0 || row_major(shape.dims(), &strides);
        Layout {
            shape,
            strides,
            offset: if numel == 0 { 0 } else { offset },
            numel,
            contiguous,
        }
    }

    /// Checks that this layout is well formed and addresses only elements below `len`: one
    /// stride per dim, no negative stride, an element count that fits in `isize`, and no
    /// offset overflow.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming `op` and what is wrong.
    pub fn check_fits(&self, op: &'static str, len: usize) -> Result<()> {
        if self.strides.len() != self.rank() {
            return Err(Error::invalid(
                op,
                format!(
                    "layout has {} strides for the {} dims of {}",
                    self.strides.len(),
                    self.rank(),
                    self.shape
                ),
            ));
        }
        self.shape.valid_numel(op)?;
        if self.numel == 0 {
            return Ok(());
        }
        let mut last = self.offset;
        for (&d, &s) in self.shape.dims().iter().zip(&self.strides) {
            let step = usize::try_from(s)
                .ok()
                .and_then(|s| s.checked_mul(d - 1))
                .ok_or_else(|| {
                    Error::invalid(op, format!("stride {s} of layout {self:?} is not usable"))
                })?;
            last = last
                .checked_add(step)
                .ok_or_else(|| Error::invalid(op, format!("layout {self:?} overflows")))?;
        }
        if last >= len {
            return Err(Error::invalid(
                op,
                format!("layout {self:?} reaches element {last} of a buffer of {len} elements"),
            ));
        }
        Ok(())
    }

    /// Recomputes the cached element count and contiguity after editing the parts in place.
    fn refreshed(self) -> Self {
        Layout::from_parts(self.shape, self.strides, self.offset)
    }

    /// The shape.
    #[inline]
    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    /// Dimension sizes.
    #[inline]
    pub fn dims(&self) -> &[usize] {
        self.shape.dims()
    }

    /// Strides in elements.
    #[inline]
    pub fn strides(&self) -> &[isize] {
        &self.strides
    }

    /// Offset of the first element, in elements.
    #[inline]
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Number of elements.
    #[inline]
    pub fn numel(&self) -> usize {
        self.numel
    }

    /// Rank.
    #[inline]
    pub fn rank(&self) -> usize {
        self.shape.rank()
    }

    /// True when elements are laid out row-major without gaps (size-1 dims are ignored; an
    /// empty view is contiguous).
    #[inline]
    pub fn is_contiguous(&self) -> bool {
        self.contiguous
    }

    /// The start offset when the view is contiguous, so kernels can take a plain slice
    /// `[offset, offset + numel)`.
    #[inline]
    pub fn contiguous_offset(&self) -> Option<usize> {
        self.is_contiguous().then_some(self.offset)
    }

    /// True when no two elements of the view share an address, so it can be written (PyTorch
    /// rejects writes to views with internal overlap, like an expanded tensor). Exact for every
    /// layout the view ops make; an exotic interleaving that would need a search counts as
    /// overlapping.
    pub fn is_non_overlapping(&self) -> bool {
        let mut dims: SmallVec<[(usize, usize); 8]> = self
            .shape
            .dims()
            .iter()
            .zip(self.strides.iter())
            .filter(|(d, _)| **d > 1)
            .map(|(d, s)| (*d, s.unsigned_abs()))
            .collect();
        if self.numel() == 0 {
            return true;
        }
        dims.sort_unstable_by_key(|&(_, s)| s);
        // Each dim must step past everything the smaller-stride dims span.
        let mut span = 0usize;
        for (d, s) in dims {
            if s <= span {
                return false;
            }
            span = match (d - 1).checked_mul(s).and_then(|x| x.checked_add(span)) {
                Some(v) => v,
                None => return false,
            };
        }
        true
    }

    /// One past the largest element index addressed (0 for an empty view).
    pub fn max_extent(&self) -> usize {
        if self.numel() == 0 {
            return 0;
        }
        let mut last = self.offset as isize;
        for (d, s) in self.shape.dims().iter().zip(self.strides.iter()) {
            last += (*d as isize - 1) * s;
        }
        last as usize + 1
    }

    /// A view with a new shape, when the strides allow it without copying (PyTorch's `view`).
    /// Returns `None` when a copy is required.
    pub fn reshaped(&self, shape: &Shape) -> Option<Layout> {
        if self.is_contiguous() {
            return Some(Layout::from_parts(
                shape.clone(),
                shape.contiguous_strides(),
                self.offset,
            ));
        }
        // Merge old dims into chunks that are contiguous among themselves, then split each chunk
        // into the new dims (the algorithm of PyTorch's computeStride).
        let old_d = self.dims();
        let old_s = &self.strides;
        let new_d = shape.dims();
        let mut new_s: Strides = SmallVec::from_elem(0, new_d.len());
        let mut view_d = new_d.len() as isize - 1;
        let mut chunk_base_stride = *old_s.last().unwrap_or(&1);
        let mut tensor_numel = 1usize;
        let mut view_numel = 1usize;
        for tensor_d in (0..old_d.len()).rev() {
            tensor_numel *= old_d[tensor_d];
            if tensor_d == 0
                || (old_d[tensor_d - 1] != 1
                    && old_s[tensor_d - 1] != tensor_numel as isize * chunk_base_stride)
            {
                while view_d >= 0 && (view_numel < tensor_numel || new_d[view_d as usize] == 1) {
                    new_s[view_d as usize] = view_numel as isize * chunk_base_stride;
                    view_numel *= new_d[view_d as usize];
                    view_d -= 1;
                }
                if view_numel != tensor_numel {
                    return None;
                }
                if tensor_d > 0 {
                    chunk_base_stride = old_s[tensor_d - 1];
                    tensor_numel = 1;
                    view_numel = 1;
                }
            }
        }
        if view_d != -1 {
            return None;
        }
        Some(Layout::from_parts(shape.clone(), new_s, self.offset))
    }

    /// Reorders dims: output dim `i` is input dim `perm[i]`.
    pub fn permuted(&self, op: &'static str, perm: &[usize]) -> Result<Layout> {
        let rank = self.rank();
        let mut seen: SmallVec<[bool; 64]> = SmallVec::from_elem(false, rank);
        if perm.len() != rank
            || perm
                .iter()
                .any(|&p| p >= rank || std::mem::replace(&mut seen[p], true))
        {
            return Err(Error::invalid(
                op,
                format!(
                    "{perm:?} is not a permutation of the {rank} dims of {}",
                    self.shape
                ),
            ));
        }
        let shape = Shape(perm.iter().map(|&p| self.shape.dim(p)).collect());
        let strides = perm.iter().map(|&p| self.strides[p]).collect();
        Ok(Layout::from_parts(shape, strides, self.offset))
    }

    /// Keeps elements `start, start+step, ...` below `end` of dim `dim` (all normalized).
    ///
    /// The caller guarantees `start + (len - 1) * step < dims[dim]` when `len > 0`, so every
    /// offset computed here is one of an existing element. The offset and strides of a view
    /// with no elements address nothing, so they saturate instead of overflowing (the dims
    /// of an empty tensor may be huge).
    pub fn sliced(&self, dim: usize, start: usize, len: usize, step: usize) -> Layout {
        let mut l = self.clone();
        l.shape.0[dim] = len;
        if l.shape.checked_numel().is_some_and(|n| n > 0) {
            l.offset += start * self.strides[dim] as usize;
        }
        // With one element or none the stride of `dim` never moves to another element; a
        // huge step then must not overflow it.
        if len > 1 {
            l.strides[dim] = l.strides[dim].saturating_mul(step as isize);
        }
        l.refreshed()
    }

    /// Removes dim `dim` by fixing its index.
    pub fn selected(&self, dim: usize, index: usize) -> Layout {
        let mut l = self.clone();
        l.shape.0.remove(dim);
        l.strides.remove(dim);
        if l.shape.checked_numel().is_some_and(|n| n > 0) {
            l.offset += index * self.strides[dim] as usize;
        }
        l.refreshed()
    }

    /// Inserts a size-1 dim at `dim` (already normalized to `[0, rank]`).
    pub fn unsqueezed(&self, dim: usize) -> Layout {
        let mut l = self.clone();
        let stride = if dim < self.rank() {
            self.strides[dim].saturating_mul(self.shape.dim(dim) as isize)
        } else {
            1
        };
        l.shape.0.insert(dim, 1);
        l.strides.insert(dim, stride);
        l.refreshed()
    }

    /// Removes dim `dim`, which must have size 1.
    pub fn squeezed(&self, dim: usize) -> Layout {
        let mut l = self.clone();
        l.shape.0.remove(dim);
        l.strides.remove(dim);
        l.refreshed()
    }

    /// Broadcasts to `target` (stride 0 on expanded dims).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the shape does not broadcast to `target`.
    pub fn broadcast_as(&self, op: &'static str, target: &Shape) -> Result<Layout> {
        if &self.shape == target {
            return Ok(self.clone());
        }
        target.valid_numel(op)?;
        if !self.shape.broadcasts_to(target) {
            return Err(Error::ShapeMismatch {
                op,
                lhs: Box::new(self.shape.clone()),
                rhs: Box::new(target.clone()),
                detail: ": the first cannot be expanded to the second".into(),
            });
        }
        let off = target.rank() - self.rank();
        let strides = (0..target.rank())
            .map(|i| {
                if i < off || self.shape.dim(i - off) == 1 && target.dim(i) != 1 {
                    0
                } else {
                    self.strides[i - off]
                }
            })
            .collect();
        Ok(Layout::from_parts(target.clone(), strides, self.offset))
    }

    /// Iterator over the storage offsets of every element, in row-major order.
    pub fn offsets(&self) -> StridedOffsets<'_> {
        StridedOffsets::new(self)
    }

    /// Normalizes a dim against this layout's rank.
    pub fn dim_index(&self, op: &'static str, dim: isize) -> Result<usize> {
        normalize_dim(op, dim, self.rank())
    }
}

/// True when `strides` are the row-major strides of `dims` (size-1 dims are ignored).
#[inline]
fn row_major(dims: &[usize], strides: &[isize]) -> bool {
    let mut expected = 1isize;
    for (&d, &s) in dims.iter().zip(strides).rev() {
        if d != 1 {
            if s != expected {
                return false;
            }
            expected = expected.saturating_mul(d as isize);
        }
    }
    true
}

/// Row-major iterator over the storage offsets of a [`Layout`].
pub struct StridedOffsets<'a> {
    layout: &'a Layout,
    index: SmallVec<[usize; INLINE_RANK]>,
    next: isize,
    remaining: usize,
}

impl<'a> StridedOffsets<'a> {
    fn new(layout: &'a Layout) -> Self {
        StridedOffsets {
            layout,
            index: SmallVec::from_elem(0, layout.rank()),
            next: layout.offset as isize,
            remaining: layout.numel(),
        }
    }
}

impl Iterator for StridedOffsets<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let out = self.next as usize;
        let dims = self.layout.dims();
        let strides = self.layout.strides();
        // Wrapping: stepping past the end of a dim and back is exact in two's complement,
        // and the stride of a size-1 dim (which may be anything) cancels out.
        for d in (0..dims.len()).rev() {
            self.index[d] += 1;
            self.next = self.next.wrapping_add(strides[d]);
            if self.index[d] < dims[d] {
                break;
            }
            self.next = self
                .next
                .wrapping_sub(strides[d].wrapping_mul(dims[d] as isize));
            self.index[d] = 0;
        }
        Some(out)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for StridedOffsets<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn offsets(l: &Layout) -> Vec<usize> {
        l.offsets().collect()
    }

    #[test]
    fn transpose_then_reshape_needs_copy() {
        let l = Layout::contiguous([2, 3]);
        let t = l.permuted("t", &[1, 0]).unwrap();
        assert_eq!(offsets(&t), vec![0, 3, 1, 4, 2, 5]);
        assert!(t.reshaped(&Shape::new(&[6])).is_none());
        // Splitting a dim of a transposed view is still a view.
        let s = t.reshaped(&Shape::new(&[3, 2, 1])).unwrap();
        assert_eq!(offsets(&s), offsets(&t));
    }

    #[test]
    fn slice_with_step_and_select() {
        let l = Layout::contiguous([4, 5]);
        let s = l.sliced(1, 1, 2, 2); // cols 1, 3
        assert_eq!(offsets(&s), vec![1, 3, 6, 8, 11, 13, 16, 18]);
        let r = l.selected(0, 2);
        assert_eq!(offsets(&r), vec![10, 11, 12, 13, 14]);
    }

    #[test]
    fn broadcast_as_uses_zero_strides() {
        let l = Layout::contiguous([3, 1]);
        let b = l.broadcast_as("t", &Shape::new(&[2, 3, 2])).unwrap();
        assert_eq!(offsets(&b), vec![0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2]);
        assert!(l.broadcast_as("t", &Shape::new(&[4, 2])).is_err());
    }

    proptest! {
        /// The cached element count and contiguity flag agree with the element offsets after
        /// any chain of views: contiguous means exactly `offset, offset + 1, ...` in order.
        #[test]
        fn cached_numel_and_contiguity_match_offsets(
            dims in proptest::collection::vec(0usize..4, 0..5),
            steps in proptest::collection::vec((0usize..6, 0usize..8, 1usize..3), 0..5),
        ) {
            let mut l = Layout::contiguous(Shape::new(&dims));
            for (kind, pick, step) in steps {
                let rank = l.rank();
                l = match kind {
                    0 if rank > 1 => {
                        let mut perm: Vec<usize> = (0..rank).collect();
                        perm.swap(pick % rank, 0);
                        l.permuted("t", &perm).unwrap()
                    }
                    1 if rank > 0 => {
                        let d = pick % rank;
                        let size = l.dims()[d];
                        let start = if size > 0 { pick % size } else { 0 };
                        let len = (size - start).div_ceil(step);
                        l.sliced(d, start, len, step)
                    }
                    2 if rank > 0 && l.dims()[pick % rank] > 0 => {
                        let d = pick % rank;
                        let i = pick % l.dims()[d];
                        l.selected(d, i)
                    }
                    3 => l.unsqueezed(pick % (rank + 1)),
                    4 if rank > 0 && l.dims()[pick % rank] == 1 => l.squeezed(pick % rank),
                    5 => {
                        let mut target = vec![step];
                        target.extend_from_slice(l.dims());
                        l.broadcast_as("t", &Shape::new(&target)).unwrap()
                    }
                    _ => l,
                };
                let offs = offsets(&l);
                prop_assert_eq!(l.numel(), offs.len());
                let row_major = offs.iter().enumerate().all(|(i, &o)| o == l.offset() + i);
                prop_assert_eq!(l.is_contiguous(), row_major, "{:?}", l);
            }
        }

        #[test]
        fn reshape_view_preserves_element_order(
            dims in proptest::collection::vec(1usize..4, 1..5),
            perm_seed in 0usize..120,
            split in 0usize..3,
        ) {
            let l = Layout::contiguous(Shape::new(&dims));
            let mut perm: Vec<usize> = (0..dims.len()).collect();
            let n = perm.len();
            for i in 0..n { perm.swap(i, (perm_seed / (i + 1)) % n); }
            let p = l.permuted("t", &perm).unwrap();
            let numel = p.numel();
            let target = if split == 0 { vec![numel] } else { vec![1, numel] };
            if let Some(r) = p.reshaped(&Shape::new(&target)) {
                prop_assert_eq!(offsets(&r), offsets(&p));
            } else {
                prop_assert!(!p.is_contiguous());
            }
            // Reshaping to the same dims is always a view with the same order.
            let same = p.reshaped(p.shape()).unwrap();
            prop_assert_eq!(offsets(&same), offsets(&p));
            prop_assert!(p.max_extent() <= numel);
        }
    }
}
