//! Basic indexing with Python's rules: [`Tensor::index`] (a view, `t[1:3, ::2, 0]`) and
//! [`Tensor::slice_assign`] (a write through that view, `t[1:3, ::2] = x`).

use super::Tensor;
use crate::autograd::{no_grad, reads_saved};
use crate::device::Device;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::op::OpId;

/// One entry of a basic index, as in Python's `t[...]`.
///
/// Rust ranges convert into it, so `t.index(&[(1..3).into(), SliceIndex::from(..)])` reads
/// as `t[1:3, :]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SliceIndex {
    /// An integer: takes one entry and removes the dim (negative counts from the end).
    Index(isize),
    /// `start:end:step`: `None` ends mean the whole dim; negative ends count from the end and
    /// are clamped, as in Python. `step` must be positive (PyTorch also rejects negative
    /// steps).
    Slice {
        /// First entry (inclusive); `None` is 0.
        start: Option<isize>,
        /// Last entry (exclusive); `None` is the dim's size.
        end: Option<isize>,
        /// Stride between taken entries.
        step: usize,
    },
    /// `None` / `np.newaxis`: inserts a dim of size 1.
    NewAxis,
    /// `...`: as many full slices as needed so the other entries reach the last dims.
    Ellipsis,
}

impl SliceIndex {
    /// `start:end:step` with every bound given.
    pub fn range(start: isize, end: isize, step: usize) -> SliceIndex {
        SliceIndex::Slice {
            start: Some(start),
            end: Some(end),
            step,
        }
    }

    /// `::step`.
    pub fn step(step: usize) -> SliceIndex {
        SliceIndex::Slice {
            start: None,
            end: None,
            step,
        }
    }

    /// `:` (the whole dim).
    pub fn full() -> SliceIndex {
        SliceIndex::step(1)
    }
}

impl From<isize> for SliceIndex {
    fn from(i: isize) -> Self {
        SliceIndex::Index(i)
    }
}

impl From<std::ops::RangeFull> for SliceIndex {
    fn from(_: std::ops::RangeFull) -> Self {
        SliceIndex::full()
    }
}

impl From<std::ops::Range<isize>> for SliceIndex {
    fn from(r: std::ops::Range<isize>) -> Self {
        SliceIndex::range(r.start, r.end, 1)
    }
}

impl From<std::ops::RangeFrom<isize>> for SliceIndex {
    fn from(r: std::ops::RangeFrom<isize>) -> Self {
        SliceIndex::Slice {
            start: Some(r.start),
            end: None,
            step: 1,
        }
    }
}

impl From<std::ops::RangeTo<isize>> for SliceIndex {
    fn from(r: std::ops::RangeTo<isize>) -> Self {
        SliceIndex::Slice {
            start: None,
            end: Some(r.end),
            step: 1,
        }
    }
}

impl Tensor {
    /// The view `self[idx...]` under Python's basic-indexing rules: integers select (and
    /// drop the dim), slices keep it, [`SliceIndex::NewAxis`] inserts a dim of size 1 and one
    /// [`SliceIndex::Ellipsis`] stands for the dims not named. Dims past the last entry are
    /// taken whole. Nothing is copied.
    ///
    /// ```
    /// use st_core::{Tensor, Device, DType, SliceIndex};
    /// let t = Tensor::arange(0.0, 12.0, 1.0, DType::F32, &Device::cpu())?.reshape(&[3, 4])?;
    /// // t[1:, ::2]
    /// let v = t.index(&[(1..).into(), SliceIndex::step(2)])?;
    /// assert_eq!(v.to_vec::<f32>()?, vec![4.0, 6.0, 8.0, 10.0]);
    /// # Ok::<(), st_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for more entries than dims, two ellipses or a zero step;
    /// [`Error::IndexOutOfRange`] for an integer outside its dim.
    pub fn index(&self, idx: &[SliceIndex]) -> Result<Tensor> {
        let named = idx
            .iter()
            .filter(|i| !matches!(i, SliceIndex::NewAxis | SliceIndex::Ellipsis))
            .count();
        let ellipses = idx
            .iter()
            .filter(|i| matches!(i, SliceIndex::Ellipsis))
            .count();
        if ellipses > 1 {
            return Err(Error::invalid(
                "index",
                "an index can only have a single ellipsis ('...')",
            ));
        }
        if named > self.rank() {
            return Err(Error::InvalidShape {
                op: "index",
                shape: Box::new(self.shape().clone()),
                reason: format!(
                    "too many indices: {named} given for a tensor of {} dims",
                    self.rank()
                ),
            });
        }
        let mut out = self.clone();
        // `d` is the dim of `out` that the next entry applies to.
        let mut d = 0usize;
        for entry in idx {
            match entry {
                SliceIndex::Index(i) => out = out.select(d as isize, *i)?,
                SliceIndex::Slice { start, end, step } => {
                    let n = out.dims()[d] as isize;
                    out = out.slice(d as isize, start.unwrap_or(0), end.unwrap_or(n), *step)?;
                    d += 1;
                }
                SliceIndex::NewAxis => {
                    out = out.unsqueeze(d as isize)?;
                    d += 1;
                }
                SliceIndex::Ellipsis => d += self.rank() - named,
            }
        }
        Ok(out)
    }

    /// Writes `src` into the region `self[idx...]` (Python's `t[1:3, ::2] = x`): `src` is
    /// broadcast to the region and cast to `self`'s dtype, as [`Tensor::copy_`] does, and
    /// the write goes into `self`'s storage (so into every view sharing it).
    ///
    /// With autograd, `self` gets the history "old values outside the region, `src` inside":
    /// the gradient of the region flows to `src` and the rest to `self`'s old history.
    ///
    /// ```
    /// use st_core::{Tensor, Device, DType, SliceIndex};
    /// let t = Tensor::zeros([2, 3], DType::F32, &Device::cpu())?;
    /// let x = Tensor::from_vec(vec![7.0f32, 8.0], [2], &Device::cpu())?;
    /// t.slice_assign(&[SliceIndex::full(), SliceIndex::range(0, 3, 2)], &x)?; // t[:, ::2] = x
    /// assert_eq!(t.to_vec::<f32>()?, vec![7.0, 0.0, 8.0, 7.0, 0.0, 8.0]);
    /// # Ok::<(), st_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Tensor::index`] for the index; as [`Tensor::copy_`] for `src` (shape that does
    /// not broadcast to the region, a dtype that cannot be cast, overlapping `self`); and
    /// [`Error::Autograd`] per Note [In-place autograd] (`tensor/inplace.rs`).
    pub fn slice_assign(&self, idx: &[SliceIndex], src: &Tensor) -> Result<()> {
        let region = self.index(idx)?;
        let tracks = self.check_inplace_grad("slice_assign", OpId::Copy, &[src])?;
        if !tracks {
            return region.copy_(src);
        }
        // The history of "old outside, src inside" as out-of-place ops, built before the
        // write so it reads the old values: where(mask, scatter(src), old).
        let new = self.assigned(idx, &region, src)?;
        {
            let _g = no_grad();
            region.copy_(src)?;
        }
        self.adopt_history(&new);
        Ok(())
    }

    /// `self` with `region` (a view of it at `idx`) replaced by `src`, out of place and with
    /// autograd history.
    fn assigned(&self, idx: &[SliceIndex], region: &Tensor, src: &Tensor) -> Result<Tensor> {
        let old = self.snapshot();
        let old = if reads_saved(OpId::Where).0 {
            old.copy()?
        } else {
            old
        };
        let numel = self.numel();
        // The flat positions of the region, from the same indexing applied to an arange
        // (host memory: they depend only on shapes).
        let positions = {
            let _g = no_grad();
            let cpu = Device::cpu();
            let all = Tensor::arange(0.0, numel as f64, 1.0, DType::I64, &cpu)?
                .reshape_to(self.shape())?;
            all.index(idx)?.contiguous()?.reshape(&[-1])?
        };
        let mut mask = vec![0u8; numel];
        for p in positions.to_vec::<i64>()? {
            mask[p as usize] = 1;
        }
        let dev = self.device();
        let mask = Tensor::from_vec(mask, self.shape().clone(), &Device::cpu())?
            .to_dtype(DType::Bool)?
            .to(&dev)?;
        let positions = positions.to(&dev)?;
        let src = src.to(&dev)?.to_dtype(self.dtype())?;
        let src = src.expand(region.shape())?.contiguous()?.reshape(&[-1])?;
        let zeros = Tensor::zeros([numel], self.dtype(), &dev)?;
        let scattered = zeros
            .scatter_add(0, &positions, &src)?
            .reshape_to(self.shape())?;
        mask.where_cond(&scattered, &old)
    }
}
