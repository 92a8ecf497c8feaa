//! ndarray interop (feature `ndarray`): `Tensor::from(array)` without a copy,
//! [`Tensor::to_ndarray`] and the zero-copy [`Tensor::as_array_view`].
//!
//! Note [ndarray conversions]: which conversions copy.
//! - `Tensor::from(Array<T, D>)` takes the array's vector over (see [`Tensor::from_vec`]) and
//!   keeps its offset and strides, so standard, transposed (`.reversed_axes()`), sliced and
//!   stepped (`slice_move(s![.., ..;2])`) arrays convert without a copy, as strided tensor
//!   views. st-core has no negative strides: an array with a negative stride on an axis longer
//!   than one (`invert_axis`, `s![..;-1]`) is copied into row-major order, the one case that
//!   copies. Borrowed views cannot be moved in; convert `view.to_owned()`.
//! - [`Tensor::to_ndarray`] always copies (any device, any layout), into a standard-layout
//!   array.
//! - [`Tensor::as_array_view`] never copies: it views a CPU tensor's memory with the tensor's
//!   own strides (transposed, sliced and expanded views included) under the storage's read
//!   lock.

use super::Tensor;
use crate::cpu::CpuBuffer;
use crate::device::Device;
use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::shape::Shape;
use ::ndarray::{Array, ArrayD, ArrayViewD, Dimension, IxDyn, ShapeBuilder};
use parking_lot::MappedRwLockReadGuard;

impl<T: Element, D: Dimension> From<Array<T, D>> for Tensor {
    /// A CPU tensor over the array's memory, with its strides; no copy except for negative
    /// strides (see Note [ndarray conversions]).
    ///
    /// ```
    /// use ndarray::{array, s};
    /// use st_core::Tensor;
    /// let a = array![[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]].reversed_axes(); // 3×2, strided
    /// let t = Tensor::from(a);
    /// assert_eq!((t.dims(), t.strides()), (&[3, 2][..], &[1, 3][..]));
    /// assert_eq!(t.to_vec::<f32>()?, [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    /// # Ok::<(), st_core::Error>(())
    /// ```
    fn from(a: Array<T, D>) -> Tensor {
        let dims: Vec<usize> = a.shape().to_vec();
        let negative = a.strides().iter().zip(&dims).any(|(&s, &d)| s < 0 && d > 1);
        if negative {
            // Not representable as an st-core view: copy in row-major (logical) order.
            let data: Vec<T> = a.iter().copied().collect();
            return Tensor::wrap(
                CpuBuffer::from_vec(data).into_storage(),
                Layout::contiguous(Shape::from(dims)),
                T::DTYPE,
                Device::cpu(),
            );
        }
        // The stride of an axis of length 0 or 1 never moves: any non-negative one will do.
        let strides = a.strides().iter().map(|s| s.abs()).collect();
        let (data, offset) = a.into_raw_vec_and_offset();
        let layout = Layout::from_parts(Shape::from(dims), strides, offset.unwrap_or(0));
        Tensor::wrap(
            CpuBuffer::from_vec(data).into_storage(),
            layout,
            T::DTYPE,
            Device::cpu(),
        )
    }
}

/// A zero-copy ndarray view of a CPU tensor (from [`Tensor::as_array_view`]); call
/// [`ArrayViewGuard::view`] for the `ArrayViewD`.
///
/// Like [`TensorBytes`](crate::TensorBytes), it holds the storage's shared lock: in-place
/// writes to the tensor's storage wait for it on other threads and deadlock on this one.
pub struct ArrayViewGuard<'a, T> {
    data: MappedRwLockReadGuard<'a, [T]>,
    dims: Vec<usize>,
    strides: Vec<usize>,
    offset: usize,
}

impl<T> std::fmt::Debug for ArrayViewGuard<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ArrayViewGuard(shape {:?}, strides {:?})",
            self.dims, self.strides
        )
    }
}

impl<T> ArrayViewGuard<'_, T> {
    /// The tensor's elements as an ndarray view with the tensor's shape and strides.
    pub fn view(&self) -> ArrayViewD<'_, T> {
        let shape = IxDyn(&self.dims).strides(IxDyn(&self.strides));
        // SAFETY: `as_array_view` checked the layout with `Layout::check_fits` against the
        // slice: strides are non-negative and every element the view addresses (starting at
        // `offset`; an empty view addresses none and has offset 0) lies inside `data`, whose
        // pointer is non-null and aligned for `T`. The storage's read lock, held by `data` for
        // the view's lifetime (it borrows `self`), keeps SpiralTorch from writing the memory,
        // and external owners promise the same (Note [External memory]). Aliased elements
        // (stride 0) are allowed in ndarray's read-only views.
        unsafe { ArrayViewD::from_shape_ptr(shape, self.data.as_ptr().add(self.offset)) }
    }
}

impl Tensor {
    /// Copies the elements into a standard-layout (row-major) ndarray; any device, any
    /// layout.
    ///
    /// ```
    /// use st_core::{Device, Tensor};
    /// let t = Tensor::from_vec(vec![1i32, 2, 3, 4, 5, 6], [2, 3], &Device::cpu())?;
    /// let a = t.t()?.to_ndarray::<i32>()?;
    /// assert_eq!(a, ndarray::array![[1, 4], [2, 5], [3, 6]].into_dyn());
    /// # Ok::<(), st_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::ReadBackDType`] when `T` is not the tensor's dtype; backend errors.
    pub fn to_ndarray<T: Element>(&self) -> Result<ArrayD<T>> {
        let data = self.to_vec::<T>()?;
        ArrayD::from_shape_vec(IxDyn(self.dims()), data)
            .map_err(|e| Error::Internal(format!("to_ndarray: {e}")))
    }

    /// A zero-copy ndarray view of a CPU tensor, with the tensor's strides (transposed,
    /// sliced and expanded views need no copy). The guard holds the storage's read lock; see
    /// [`ArrayViewGuard`].
    ///
    /// ```
    /// use st_core::{Device, Tensor};
    /// let t = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0], [2, 3], &Device::cpu())?;
    /// let t2 = t.t()?;
    /// let g = t2.as_array_view::<f64>()?;
    /// assert_eq!(g.view(), ndarray::array![[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]].into_dyn());
    /// assert_eq!(g.view().strides(), &[1, 3]);
    /// # Ok::<(), st_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::ReadBackDType`] when `T` is not the tensor's dtype; [`Error::InvalidArgument`]
    /// for a tensor that is not on the CPU.
    pub fn as_array_view<T: Element>(&self) -> Result<ArrayViewGuard<'_, T>> {
        if T::DTYPE != self.dtype() {
            return Err(Error::ReadBackDType {
                op: "as_array_view",
                actual: self.dtype(),
                requested: T::DTYPE,
            });
        }
        let layout = self.layout();
        let data = self.read_cpu("as_array_view", |b| {
            let data = b.as_slice::<T>()?;
            layout.check_fits("as_array_view", data.len())?;
            Ok(data)
        })?;
        Ok(ArrayViewGuard {
            data,
            dims: layout.dims().to_vec(),
            // Non-negative: `check_fits` above rejects any other.
            strides: layout.strides().iter().map(|&s| s.unsigned_abs()).collect(),
            offset: layout.offset(),
        })
    }
}
