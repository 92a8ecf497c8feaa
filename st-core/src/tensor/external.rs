//! Tensors over memory SpiralTorch does not own ([`Tensor::from_blob`]), copies from raw bytes
//! ([`Tensor::from_bytes`]) and borrowed bytes out ([`Tensor::as_bytes`]). See Note [External
//! memory] in `cpu/external.rs` for ownership and aliasing.

use super::Tensor;
use crate::backend::{backend, StorageRead};
use crate::cpu::{CpuBuffer, MemoryAccess};
use crate::device::Device;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::shape::Shape;
use parking_lot::{MappedRwLockReadGuard, RwLockReadGuard};
use std::any::Any;
use std::sync::Arc;

/// The bytes of a contiguous CPU tensor, borrowed without a copy (from [`Tensor::as_bytes`]).
/// Dereferences to `[u8]`.
///
/// The guard holds the storage's shared lock (Note [Storage locking] in `backend.rs`): while
/// it lives, in-place writes to the storage from other threads wait, and an in-place write
/// from the thread holding it deadlocks, as a `RefCell` borrow would panic. Drop it before
/// writing (or read with [`Tensor::to_bytes`], which copies).
pub struct TensorBytes<'a>(MappedRwLockReadGuard<'a, [u8]>);

impl std::ops::Deref for TensorBytes<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for TensorBytes<'_> {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for TensorBytes<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TensorBytes({} bytes)", self.0.len())
    }
}

/// Bool elements are bytes holding 0 or 1; any other byte is rejected where bytes come in.
///
/// # Errors
/// [`Error::InvalidArgument`] naming `op` and the first offending byte.
pub(crate) fn check_bools(op: &'static str, dtype: DType, bytes: &[u8]) -> Result<()> {
    if dtype != DType::Bool {
        return Ok(());
    }
    match bytes.iter().position(|&b| b > 1) {
        None => Ok(()),
        Some(i) => Err(Error::invalid(
            op,
            format!("bool elements must be 0 or 1, byte {i} is {}", bytes[i]),
        )),
    }
}

impl Tensor {
    /// A CPU tensor over `len` elements of `dtype` at `ptr`, without a copy (PyTorch's
    /// `torch::from_blob`). `ptr` is element 0 of the view; `strides` (in elements, one per
    /// dim, non-negative) place the others, all of which must lie among the `len` elements.
    /// The tensor and its views keep `owner` alive and drop it after the last of them (and
    /// every autograd copy) is gone, so the owner's `Drop` is where the memory is freed.
    /// With [`MemoryAccess::ReadWrite`], in-place ops write the memory (bumping
    /// [`Tensor::version`]) and the writes are visible to the owner; with
    /// [`MemoryAccess::ReadOnly`] every in-place write is an error.
    ///
    /// ```
    /// use st_core::{cpu::MemoryAccess, DType, Tensor};
    /// use std::sync::Arc;
    /// let data: Arc<Vec<f32>> = Arc::new(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    /// // A 3×2 view of the 2×3 row-major data: its transpose.
    /// // SAFETY: the six floats live as long as `data`, which the tensor keeps, and nothing
    /// // writes them.
    /// let t = unsafe {
    ///     Tensor::from_blob(data.as_ptr() as *mut u8, 6, DType::F32, [3, 2], &[1, 3],
    ///                       data.clone(), MemoryAccess::ReadOnly)?
    /// };
    /// assert_eq!(t.to_vec::<f32>()?, [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    /// # Ok::<(), st_core::Error>(())
    /// ```
    ///
    /// # Safety
    /// While `owner` lives, the `len * dtype.size_in_bytes()` bytes at `ptr` must be valid for
    /// reads (and for writes with [`MemoryAccess::ReadWrite`]), and nothing else may write
    /// them, nor read them while an in-place op on the tensor writes them. Bool elements
    /// must be 0 or 1.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `ptr` is null (and `len > 0`) or not aligned to the
    /// element size, when the strides are not one non-negative stride per dim, or when the
    /// view reaches past `len` elements.
    pub unsafe fn from_blob(
        ptr: *mut u8,
        len: usize,
        dtype: DType,
        shape: impl Into<Shape>,
        strides: &[isize],
        owner: Arc<dyn Any + Send + Sync>,
        access: MemoryAccess,
    ) -> Result<Tensor> {
        let layout = Layout::from_parts(shape.into(), strides.into(), 0);
        layout.check_fits("from_blob", len)?;
        // SAFETY: the caller's contract is `CpuBuffer::from_external`'s.
        let buffer = unsafe { CpuBuffer::from_external(ptr, len, dtype, owner, access)? };
        Ok(Tensor::wrap(
            buffer.into_storage(),
            layout,
            dtype,
            Device::cpu(),
        ))
    }

    /// A tensor holding a copy of `bytes`: native-endian elements of `dtype`, row-major, on
    /// `device`. The bytes may sit at any address (the copy is aligned); to wrap memory
    /// without copying, use [`Tensor::from_vec`] or [`Tensor::from_blob`].
    ///
    /// ```
    /// use st_core::{Device, DType, Tensor};
    /// let bytes: Vec<u8> = [1.5f32, -2.0].iter().flat_map(|x| x.to_ne_bytes()).collect();
    /// let t = Tensor::from_bytes(&bytes, DType::F32, [2], &Device::cpu())?;
    /// assert_eq!(t.to_vec::<f32>()?, [1.5, -2.0]);
    /// # Ok::<(), st_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the byte count is not a whole number of elements, or
    /// for a bool byte other than 0 or 1; [`Error::ElementCount`] when the element count is
    /// not the shape's; backend errors.
    pub fn from_bytes(
        bytes: &[u8],
        dtype: DType,
        shape: impl Into<Shape>,
        device: &Device,
    ) -> Result<Tensor> {
        let shape = shape.into();
        let es = dtype.size_in_bytes();
        if !bytes.len().is_multiple_of(es) {
            return Err(Error::invalid(
                "from_bytes",
                format!(
                    "{} bytes are not a whole number of {dtype} elements ({es} bytes each)",
                    bytes.len()
                ),
            ));
        }
        let shape = super::create::element_count("from_bytes", shape, bytes.len() / es)?;
        check_bools("from_bytes", dtype, bytes)?;
        let storage = backend(device.backend())?.upload(device.ordinal(), dtype, bytes)?;
        Ok(Tensor::wrap(
            storage,
            Layout::contiguous(shape),
            dtype,
            *device,
        ))
    }

    /// The elements' bytes (native endianness, row-major), borrowed without a copy: for
    /// contiguous CPU tensors, including views such as a row range. The guard holds the
    /// storage's shared lock; see [`TensorBytes`] for what that means for in-place writes.
    /// [`Tensor::to_bytes`] copies instead and works for any tensor on any device.
    ///
    /// ```
    /// use st_core::{Device, Tensor};
    /// let t = Tensor::from_vec(vec![1u8, 2, 3, 4], [2, 2], &Device::cpu())?;
    /// assert_eq!(&*t.as_bytes()?, &[1, 2, 3, 4]);
    /// assert_eq!(&*t.narrow(0, 1, 1)?.as_bytes()?, &[3, 4]);
    /// assert!(t.t()?.as_bytes().is_err()); // not contiguous
    /// # Ok::<(), st_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a tensor that is not on the CPU or not contiguous.
    pub fn as_bytes(&self) -> Result<TensorBytes<'_>> {
        if !self.is_contiguous() {
            return Err(Error::invalid(
                "as_bytes",
                format!(
                    "needs a contiguous tensor, this one has shape {} and strides {:?}; use \
                     to_bytes() (copies) or .contiguous() first",
                    self.shape(),
                    self.strides()
                ),
            ));
        }
        let es = self.dtype().size_in_bytes();
        let start = self.layout().offset() * es;
        let end = start + self.numel() * es;
        let guard = self.read_cpu("as_bytes", |b| {
            b.bytes()
                .get(start..end)
                .ok_or_else(|| Error::Internal("tensor view outside its cpu buffer".into()))
        })?;
        Ok(TensorBytes(guard))
    }

    /// Shared access to part of this CPU tensor's buffer, chosen by `f`, under the storage's
    /// read lock (for zero-copy reads out of a tensor).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming `op` for a tensor that is not on the CPU; `f`'s
    /// errors.
    pub(crate) fn read_cpu<U: ?Sized>(
        &self,
        op: &'static str,
        f: impl FnOnce(&CpuBuffer) -> Result<&U>,
    ) -> Result<MappedRwLockReadGuard<'_, U>> {
        if !self.device().is_cpu() {
            return Err(Error::invalid(
                op,
                format!(
                    "needs a tensor in CPU memory, this one ({} of shape {}) is on {}; move it \
                     with .to(&Device::cpu()) first",
                    self.dtype(),
                    self.shape(),
                    self.device()
                ),
            ));
        }
        let guard: StorageRead<'_> = self.storage().read();
        let mut err = None;
        RwLockReadGuard::try_map(guard, |buf| {
            let picked = CpuBuffer::downcast(buf).and_then(f);
            picked.map_err(|e| err = Some(e)).ok()
        })
        .map_err(|_| err.unwrap_or_else(|| Error::Internal(format!("{op}: no cpu buffer"))))
    }
}
