//! Host memory that a [`CpuBuffer`] wraps without owning it: a `Vec` moved in, a memory-mapped
//! file, or any region handed over with an owner object that keeps it alive.
//!
//! Note [External memory]: the buffer holds a pointer, a byte length, whether it may be
//! written, and an `Arc` owner. The memory stays valid while the owner lives, and the buffer
//! holds the owner until the last storage handle (every view, every saved autograd copy) is
//! gone; dropping it then drops the owner, whose own `Drop` frees the memory. Such memory is
//! never recycled: the large-buffer pool only takes back the buffer's own chunk vectors, and
//! the tiny-storage cache only reuses cells around inline buffers (see
//! [`CpuBuffer::into_storage`]). External memory is only aligned to its element size, so
//! every typed view is checked: a reinterpretation that needs more alignment is an error.

use super::buffer::CpuBuffer;
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use std::any::Any;
use std::ptr::NonNull;
use std::sync::Arc;

/// Whether wrapped memory may be written by in-place ops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryAccess {
    /// Reads only: every in-place write into it is an error (a memory-mapped file, a numpy
    /// array that is not writeable).
    ReadOnly,
    /// Reads and in-place writes; writes are visible through the owner's memory.
    ReadWrite,
}

/// A region of host memory owned by someone else (see Note [External memory]).
pub(crate) struct ExternalMem {
    ptr: NonNull<u8>,
    bytes: usize,
    writable: bool,
    /// Keeps the memory alive; dropped with the buffer, after the last view.
    _owner: Arc<dyn Any + Send + Sync>,
}

// SAFETY: the region is plain bytes reached only through `&self`/`&mut self` of the buffer,
// which the storage lock serializes (Note [Storage locking]); the owner is `Send + Sync`, and
// `ExternalMem::new`'s contract makes the memory valid from any thread while it lives.
unsafe impl Send for ExternalMem {}
// SAFETY: as for `Send`: shared access only reads, and writes need `&mut self`.
unsafe impl Sync for ExternalMem {}

impl ExternalMem {
    /// Wraps `bytes` bytes at `ptr`.
    ///
    /// # Safety
    /// While `owner` lives, `[ptr, ptr + bytes)` must be valid for reads (and for writes when
    /// `writable`), and nothing but this buffer may write it (nor read it while this buffer
    /// writes it).
    unsafe fn new(
        ptr: NonNull<u8>,
        bytes: usize,
        writable: bool,
        owner: Arc<dyn Any + Send + Sync>,
    ) -> ExternalMem {
        ExternalMem {
            ptr,
            bytes,
            writable,
            _owner: owner,
        }
    }

    /// The region's bytes.
    #[inline]
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: `new`'s contract: the region is valid for reads while the owner (held by
        // `self`) lives, and nothing writes it while `&self` is borrowed.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.bytes) }
    }

    /// The region's bytes for writing, or `None` for read-only memory.
    #[inline]
    pub(crate) fn bytes_mut(&mut self) -> Option<&mut [u8]> {
        if !self.writable {
            return None;
        }
        // SAFETY: `new`'s contract: writable memory is valid for writes while the owner
        // lives and only this buffer accesses it; `&mut self` makes the borrow unique.
        Some(unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.bytes) })
    }

    /// True when in-place writes may go into the region.
    #[inline]
    pub(crate) fn writable(&self) -> bool {
        self.writable
    }
}

/// The checks every external region passes: a non-null pointer aligned to its element size
/// (null is allowed for an empty region) and a byte size that fits `isize`. Returns the
/// pointer to use and the region's size in bytes.
fn checked_region(
    op: &'static str,
    ptr: *mut u8,
    len: usize,
    dtype: DType,
) -> Result<(NonNull<u8>, usize)> {
    let es = dtype.size_in_bytes();
    let bytes = len
        .checked_mul(es)
        .filter(|&b| b <= isize::MAX as usize)
        .ok_or_else(|| {
            Error::invalid(
                op,
                format!("{len} {dtype} elements do not fit in the address space"),
            )
        })?;
    let Some(ptr) = NonNull::new(ptr) else {
        if len == 0 {
            // An empty region reads nothing: any aligned non-null address will do.
            return Ok((NonNull::<u64>::dangling().cast(), 0));
        }
        return Err(Error::invalid(
            op,
            format!("null pointer for {len} {dtype} elements"),
        ));
    };
    if !(ptr.as_ptr() as usize).is_multiple_of(es) {
        return Err(Error::invalid(
            op,
            format!(
                "memory at address {:#x} is not aligned to the {es} bytes of a {dtype} element; \
                 zero-copy wrapping needs element alignment (copy it with Tensor::from_bytes)",
                ptr.as_ptr() as usize
            ),
        ));
    }
    Ok((ptr, bytes))
}

impl CpuBuffer {
    /// Wraps `len` elements of `dtype` at `ptr`, owned by `owner`, without copying (see Note
    /// [External memory]).
    ///
    /// # Safety
    /// While `owner` lives, the `len * dtype.size_in_bytes()` bytes at `ptr` must be valid
    /// for reads, and for writes when `access` is [`MemoryAccess::ReadWrite`]; nothing else
    /// may write them (nor read them while an in-place op writes them). Dropping `owner`'s
    /// last handle may free the memory.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `ptr` is null (with `len > 0`), not aligned to the
    /// element size, or the byte size overflows.
    pub unsafe fn from_external(
        ptr: *mut u8,
        len: usize,
        dtype: DType,
        owner: Arc<dyn Any + Send + Sync>,
        access: MemoryAccess,
    ) -> Result<CpuBuffer> {
        let (ptr, bytes) = checked_region("from_blob", ptr, len, dtype)?;
        // SAFETY: the caller's contract is `ExternalMem::new`'s, for this region.
        let mem = unsafe { ExternalMem::new(ptr, bytes, access == MemoryAccess::ReadWrite, owner) };
        Ok(CpuBuffer::from_external_mem(mem, dtype, len))
    }

    /// Takes `data` over without copying: the vector becomes the buffer's owner and is freed
    /// (by the global allocator, never pooled) after the last view. Spare capacity stays
    /// allocated until then.
    pub fn from_vec<T: Element>(mut data: Vec<T>) -> CpuBuffer {
        let len = data.len();
        // A vector's pointer is never null (dangling and aligned when nothing is allocated).
        let ptr = NonNull::new(data.as_mut_ptr()).unwrap_or(NonNull::dangling());
        // A vector never holds more than `isize::MAX` bytes, so this cannot overflow.
        let bytes = std::mem::size_of_val(data.as_slice());
        // Moving the vector into the `Arc` moves only its header: the elements stay at `ptr`.
        let owner: Arc<dyn Any + Send + Sync> = Arc::new(data);
        // SAFETY: the vector's `len` initialized elements are valid for reads and writes for
        // as long as `owner` keeps it alive, and nobody else can reach them: the vector was
        // moved in and the `Arc` is type-erased.
        let mem = unsafe { ExternalMem::new(ptr.cast(), bytes, true, owner) };
        CpuBuffer::from_external_mem(mem, T::DTYPE, len)
    }
}
