//! [`CpuBuffer`]: 16-byte aligned host memory, viewed as a slice of any element type, with a
//! pool that recycles large freed buffers so hot loops do not pay page faults on every output.

use super::external::ExternalMem;
use crate::alloc::{out_of_memory, try_vec_with_capacity};
use crate::backend::{DeviceBuffer, Storage, StorageCell};
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use parking_lot::Mutex;
use std::any::Any;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One 16-byte, 16-aligned chunk: the largest alignment the system allocator serves on its
/// fast path (wider alignment goes through `posix_memalign`, which costs more than a whole
/// small elementwise op). Unaligned SIMD loads are full speed on current x86 and ARM cores.
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C, align(16))]
struct Chunk([u8; CHUNK]);

const CHUNK: usize = 16;

/// Buffers up to this many chunks (64 bytes) live inside the buffer struct itself: a scalar or
/// a tiny tensor costs no separate heap allocation.
const INLINE_CHUNKS: usize = 4;

/// The memory of a buffer: inline for tiny buffers, on the heap, or wrapped from an owner
/// (see Note [External memory] in `cpu/external.rs`).
enum Mem {
    Inline([Chunk; INLINE_CHUNKS]),
    Heap(Vec<Chunk>),
    External(ExternalMem),
}

impl Mem {
    #[inline]
    fn bytes(&self) -> &[u8] {
        match self {
            Mem::Inline(a) => bytemuck::cast_slice(a),
            Mem::Heap(v) => bytemuck::cast_slice(v),
            Mem::External(e) => e.bytes(),
        }
    }

    /// The bytes for writing; `None` for read-only external memory.
    #[inline]
    fn bytes_mut(&mut self) -> Option<&mut [u8]> {
        match self {
            Mem::Inline(a) => Some(bytemuck::cast_slice_mut(a)),
            Mem::Heap(v) => Some(bytemuck::cast_slice_mut(v)),
            Mem::External(e) => e.bytes_mut(),
        }
    }
}

/// Buffers at least this large go back to the pool when freed.
const POOL_MIN_BYTES: usize = 1 << 20;
/// Upper bound on pooled memory.
const POOL_MAX_BYTES: usize = 1 << 30;

struct Pool {
    by_chunks: BTreeMap<usize, Vec<Vec<Chunk>>>,
    bytes: usize,
    hits: u64,
    misses: u64,
}

thread_local! {
    /// The storage of this thread's most recent tiny (inline) output, for reuse by the next
    /// one once its tensors are gone (see [`CpuBuffer::into_storage`]).
    static RECENT_TINY: Cell<Option<Arc<StorageCell<CpuBuffer>>>> = const { Cell::new(None) };
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    by_chunks: BTreeMap::new(),
    bytes: 0,
    hits: 0,
    misses: 0,
});

/// Statistics of the CPU buffer pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolStats {
    /// Bytes held in the pool, ready for reuse.
    pub pooled_bytes: usize,
    /// Large allocations served from the pool.
    pub hits: u64,
    /// Large allocations that needed fresh memory.
    pub misses: u64,
}

/// Current pool statistics.
pub fn pool_stats() -> PoolStats {
    let p = POOL.lock();
    PoolStats {
        pooled_bytes: p.bytes,
        hits: p.hits,
        misses: p.misses,
    }
}

fn take_chunks(n: usize) -> Result<Mem> {
    if n <= INLINE_CHUNKS {
        return Ok(Mem::Inline([Chunk([0; CHUNK]); INLINE_CHUNKS]));
    }
    if n * CHUNK >= POOL_MIN_BYTES {
        let mut p = POOL.lock();
        // Accept a pooled buffer up to 1/8 larger than needed.
        let key = p.by_chunks.range(n..=n + n / 8).next().map(|(k, _)| *k);
        if let Some(k) = key {
            let list = p.by_chunks.get_mut(&k).expect("key just found");
            let mut v = list.pop().expect("pool lists are never empty");
            if list.is_empty() {
                p.by_chunks.remove(&k);
            }
            p.bytes -= v.capacity() * CHUNK;
            p.hits += 1;
            // The pooled vector may hold fewer chunks than its capacity (it was itself cut
            // from a larger one): grow it within its capacity, or cut it.
            v.resize(n, Chunk([0; CHUNK]));
            return Ok(Mem::Heap(v));
        }
        p.misses += 1;
    }
    // Advise before the first write: the zero fill below is what faults the pages in, so with
    // the advice they arrive as huge pages.
    let mut v: Vec<Chunk> = try_vec_with_capacity(n)?;
    advise_huge_pages(v.spare_capacity_mut());
    v.resize(n, Chunk([0; CHUNK]));
    Ok(Mem::Heap(v))
}

/// Smallest buffer worth backing with transparent huge pages (one 2 MiB page).
#[cfg(target_os = "linux")]
const HUGE_PAGE: usize = 2 << 20;

/// Asks Linux to back a large fresh buffer with transparent huge pages (`MADV_HUGEPAGE`; most
/// distributions enable THP only for regions that ask). Streaming through tens of megabytes
/// of 4 KiB pages costs a TLB miss per page, which caps single-core bandwidth far below what
/// the memory delivers; PyTorch's allocator asks the same. Only whole pages inside the buffer
/// are advised, and a refusal is harmless (the memory stays on normal pages).
#[cfg(target_os = "linux")]
fn advise_huge_pages(v: &[std::mem::MaybeUninit<Chunk>]) {
    let bytes = std::mem::size_of_val(v);
    if bytes < 2 * HUGE_PAGE {
        return;
    }
    const PAGE: usize = 4096;
    let start = (v.as_ptr() as usize).next_multiple_of(PAGE);
    let end = (v.as_ptr() as usize + bytes) & !(PAGE - 1);
    if end > start {
        // SAFETY: [start, end) lies inside the live (not yet written) allocation `v` and is
        // page aligned; madvise with MADV_HUGEPAGE changes only how the kernel backs those
        // pages, never their contents, and its result (an advice) needs no handling.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages(_v: &[std::mem::MaybeUninit<Chunk>]) {}

/// Host memory holding `len` elements of `dtype`.
pub struct CpuBuffer {
    chunks: Mem,
    dtype: DType,
    len: usize,
}

impl CpuBuffer {
    /// A buffer for `len` elements with unspecified (but initialized) contents: pooled memory
    /// is reused as is. Kernels overwrite every element.
    ///
    /// # Errors
    /// [`Error::OutOfMemory`] with the requested size when the memory cannot be had.
    #[inline]
    pub fn for_output(dtype: DType, len: usize) -> Result<CpuBuffer> {
        let es = dtype.size_in_bytes();
        let bytes = len
            .checked_mul(es)
            .filter(|&b| b <= isize::MAX as usize)
            .ok_or_else(|| out_of_memory(len, es))?;
        Ok(CpuBuffer {
            chunks: take_chunks(bytes.div_ceil(CHUNK))?,
            dtype,
            len,
        })
    }

    /// A buffer holding a copy of `data`.
    ///
    /// # Errors
    /// [`Error::OutOfMemory`] as [`CpuBuffer::for_output`].
    pub fn from_slice<T: Element>(data: &[T]) -> Result<CpuBuffer> {
        let mut b = CpuBuffer::for_output(T::DTYPE, data.len())?;
        b.as_mut_slice::<T>()?.copy_from_slice(data);
        Ok(b)
    }

    /// A buffer holding a copy of raw bytes of `dtype` elements. The bytes may sit at any
    /// address: the copy is aligned.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the byte count is not a multiple of the element size.
    pub fn from_bytes(dtype: DType, bytes: &[u8]) -> Result<CpuBuffer> {
        let es = dtype.size_in_bytes();
        if !bytes.len().is_multiple_of(es) {
            return Err(Error::invalid(
                "upload",
                format!(
                    "{} bytes is not a whole number of {dtype} elements",
                    bytes.len()
                ),
            ));
        }
        let mut b = CpuBuffer::for_output(dtype, bytes.len() / es)?;
        b.bytes_mut()?.copy_from_slice(bytes);
        Ok(b)
    }

    /// A buffer over external memory holding `len` elements of `dtype` (the constructors are
    /// in `cpu/external.rs`).
    pub(super) fn from_external_mem(mem: ExternalMem, dtype: DType, len: usize) -> CpuBuffer {
        CpuBuffer {
            chunks: Mem::External(mem),
            dtype,
            len,
        }
    }

    /// Element type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True when the buffer wraps memory it does not own (see Note [External memory]).
    pub fn is_external(&self) -> bool {
        matches!(self.chunks, Mem::External(_))
    }

    /// The raw bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.chunks.bytes()[..self.len_bytes()]
    }

    /// The raw bytes for writing.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for read-only external memory (a memory-mapped file).
    fn bytes_mut(&mut self) -> Result<&mut [u8]> {
        let n = self.len_bytes();
        let dtype = self.dtype;
        match self.chunks.bytes_mut() {
            Some(b) => Ok(&mut b[..n]),
            None => Err(Error::invalid(
                "write",
                format!(
                    "a cpu buffer of {} {dtype} elements is read-only memory",
                    self.len
                ),
            )),
        }
    }

    /// The bytes of the buffer as elements of `T`: its elements when `T` is its dtype's Rust
    /// type. Another `T` reinterprets the bytes (every element type is plain data), as a
    /// tensor built with [`crate::Tensor::from_storage`] over another dtype's buffer does.
    /// Trailing bytes that do not make a whole `T` are left out.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the memory is not aligned for `T`: only external
    /// memory can be (it is aligned to its own element size, which may be less than `T`'s).
    #[inline]
    pub fn as_slice<T: Element>(&self) -> Result<&[T]> {
        let n = self.len_bytes() / std::mem::size_of::<T>() * std::mem::size_of::<T>();
        let bytes = &self.chunks.bytes()[..n];
        bytemuck::try_cast_slice(bytes)
            .map_err(|_| misaligned::<T>(self.len, self.dtype, bytes.as_ptr()))
    }

    /// Mutable elements as `T` (see [`CpuBuffer::as_slice`]).
    ///
    /// # Errors
    /// As [`CpuBuffer::as_slice`]; [`Error::InvalidArgument`] for read-only memory.
    #[inline]
    pub fn as_mut_slice<T: Element>(&mut self) -> Result<&mut [T]> {
        let n = self.len_bytes() / std::mem::size_of::<T>() * std::mem::size_of::<T>();
        let (len, dtype) = (self.len, self.dtype);
        let bytes = &mut self.bytes_mut()?[..n];
        let at = bytes.as_ptr();
        bytemuck::try_cast_slice_mut(bytes).map_err(|_| misaligned::<T>(len, dtype, at))
    }

    /// Wraps into shared [`Storage`].
    ///
    /// A tiny buffer (stored inline) reuses this thread's most recent tiny storage when no
    /// tensor holds it any more, instead of a fresh heap allocation: a loop of small ops then
    /// allocates only the tensor handle per op. Besides the saved `malloc`/`free`, this keeps
    /// small-op speed independent of the allocator's state: with glibc, a 112-byte request
    /// served from a 144-byte free chunk whose cache bin is full takes the slow path on every
    /// call (see `docs/benchmarks.md`).
    ///
    /// Only cells whose buffer is inline enter the cache, and a cell is reused only when no
    /// handle holds it, so external memory (Note [External memory]) is never handed out again.
    pub fn into_storage(self) -> Storage {
        if !matches!(self.chunks, Mem::Inline(_)) {
            return Storage::new(self);
        }
        let recent = RECENT_TINY.try_with(Cell::take).ok().flatten();
        let arc = match recent {
            Some(mut arc) => match Arc::get_mut(&mut arc) {
                Some(cell) => {
                    // Nothing else holds it: a fresh storage (version 0) in the old allocation.
                    cell.reset(self);
                    arc
                }
                // Still part of a live tensor: leave it to that tensor.
                None => Arc::new(StorageCell::new(self)),
            },
            None => Arc::new(StorageCell::new(self)),
        };
        // Fails only while the thread is shutting down; the buffer is then simply not kept.
        let _ = RECENT_TINY.try_with(|r| r.set(Some(Arc::clone(&arc))));
        Storage::from_cell(arc)
    }

    /// Downcasts a kernel input buffer to a CPU buffer.
    ///
    /// # Errors
    /// [`Error::Internal`] when the buffer belongs to another backend (the dispatcher checks
    /// devices first, so this signals a bug).
    #[inline]
    pub fn downcast(buf: &dyn DeviceBuffer) -> Result<&CpuBuffer> {
        buf.as_any()
            .downcast_ref::<CpuBuffer>()
            .ok_or_else(|| Error::Internal("cpu kernel received a non-cpu buffer".into()))
    }

    /// Downcasts a kernel output buffer to a CPU buffer.
    ///
    /// # Errors
    /// As [`CpuBuffer::downcast`].
    #[inline]
    pub fn downcast_mut(buf: &mut dyn DeviceBuffer) -> Result<&mut CpuBuffer> {
        buf.as_any_mut()
            .downcast_mut::<CpuBuffer>()
            .ok_or_else(|| Error::Internal("cpu kernel received a non-cpu output buffer".into()))
    }
}

/// The error for viewing `len` elements of `dtype` at `bytes` as `T` elements that need more
/// alignment than the memory has.
#[cold]
fn misaligned<T: Element>(len: usize, dtype: DType, at: *const u8) -> Error {
    Error::invalid(
        "cpu buffer",
        format!(
            "memory of {len} {dtype} elements at address {:#x} is not aligned for {} elements \
             ({} bytes); copy the tensor (.copy()) before viewing it as {}",
            at as usize,
            T::DTYPE,
            std::mem::align_of::<T>(),
            T::DTYPE,
        ),
    )
}

impl Drop for CpuBuffer {
    fn drop(&mut self) {
        // Inline memory needs no freeing, and external memory goes back to its owner (dropped
        // with the buffer): only the buffer's own heap chunks may enter the pool.
        let Mem::Heap(chunks) = &mut self.chunks else {
            return;
        };
        let cap = chunks.capacity();
        if cap * CHUNK < POOL_MIN_BYTES {
            return;
        }
        let mut p = POOL.lock();
        if p.bytes + cap * CHUNK > POOL_MAX_BYTES {
            return;
        }
        let v = std::mem::take(chunks);
        p.bytes += cap * CHUNK;
        p.by_chunks.entry(cap).or_default().push(v);
    }
}

impl DeviceBuffer for CpuBuffer {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn len_bytes(&self) -> usize {
        self.len * self.dtype.size_in_bytes()
    }

    fn is_writable(&self) -> bool {
        match &self.chunks {
            Mem::External(e) => e.writable(),
            Mem::Inline(_) | Mem::Heap(_) => true,
        }
    }

    fn host_bytes(&self) -> Option<&[u8]> {
        Some(self.bytes())
    }

    fn host_bytes_mut(&mut self) -> Option<&mut [u8]> {
        self.bytes_mut().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_buffers_are_reused() {
        let n = (4 << 20) / 4 + 17; // an unusual size no other test uses
        drop(CpuBuffer::for_output(DType::F32, n).unwrap());
        let before = pool_stats().hits;
        let b = CpuBuffer::for_output(DType::F32, n).unwrap();
        assert_eq!(b.len(), n);
        assert!(pool_stats().hits > before);
    }

    /// A pooled vector shorter than its capacity is grown to the requested size (it was a
    /// slice-out-of-range panic: a buffer cut from a larger pooled one goes back under its
    /// capacity, and a later request between its length and capacity got the short vector).
    #[test]
    fn pooled_buffers_cut_from_larger_ones_serve_any_size_they_fit() {
        let big = (3 << 20) / 16 + 1001; // chunks; an unusual size no other test uses
        drop(CpuBuffer::for_output(DType::U8, big * 16).unwrap());
        // Served from the pool and cut to fewer chunks, then returned with that length.
        let cut = big - big / 10;
        drop(CpuBuffer::for_output(DType::U8, cut * 16).unwrap());
        // A request between the cut length and the capacity.
        let mut b = CpuBuffer::for_output(DType::U8, (cut + big / 20) * 16).unwrap();
        assert_eq!(b.as_mut_slice::<u8>().unwrap().len(), (cut + big / 20) * 16);
        assert_eq!(b.bytes().len(), (cut + big / 20) * 16);
    }

    #[test]
    fn tiny_and_heap_buffers_hold_their_data() {
        for n in [0usize, 1, 15, 16, 17, 100] {
            let data: Vec<f32> = (0..n).map(|i| i as f32 * 0.5 - 3.0).collect();
            let b = CpuBuffer::from_slice(&data).unwrap();
            assert_eq!(b.as_slice::<f32>().unwrap(), &data[..]);
            assert_eq!(b.bytes().len(), n * 4);
            assert_eq!(b.as_slice::<f32>().unwrap().as_ptr() as usize % 16, 0);
        }
    }

    /// A tiny storage is reused only once nothing holds it: a live tensor or a view of a
    /// dropped one keeps its data, and a reused storage carries the new values.
    #[test]
    fn tiny_storage_is_reused_only_when_free() {
        use crate::{Device, Tensor};
        let cpu = Device::cpu();
        let x = Tensor::from_vec(vec![1.0f32, 2.0], [2], &cpu).unwrap();
        let y = Tensor::from_vec(vec![10.0f32, 20.0], [2], &cpu).unwrap();
        let a = x.add(&y).unwrap();
        let b = x.mul(&y).unwrap();
        assert!(!a.same_storage(&b), "a live output was handed out again");
        let view = a.reshape(&[2, 1]).unwrap();
        drop(a);
        let c = x.sub(&y).unwrap();
        assert!(
            !c.same_storage(&view),
            "storage under a live view was reused"
        );
        assert_eq!(view.to_vec::<f32>().unwrap(), [11.0, 22.0]);
        assert_eq!(b.to_vec::<f32>().unwrap(), [10.0, 40.0]);
        assert_eq!(c.to_vec::<f32>().unwrap(), [-9.0, -18.0]);
        // Once every holder is gone the next tiny output takes that storage over, with its
        // own values.
        let freed = c.storage().addr();
        drop((view, c));
        let d = x.div(&y).unwrap();
        assert_eq!(d.storage().addr(), freed);
        assert_eq!(d.to_vec::<f32>().unwrap(), [0.1, 0.1]);
        // Storage made on another thread is never shared with this one's outputs.
        let (x2, y2) = (x.clone(), y.clone());
        let e = std::thread::spawn(move || x2.add(&y2).unwrap())
            .join()
            .unwrap();
        let f = x.add(&y).unwrap();
        assert!(!e.same_storage(&f));
        assert_eq!(e.to_vec::<f32>().unwrap(), f.to_vec::<f32>().unwrap());
    }

    #[test]
    fn impossible_allocations_are_errors() {
        for n in [usize::MAX, usize::MAX / 4, 1 << 60, 1_000_000_000_000] {
            match CpuBuffer::for_output(DType::F32, n) {
                Err(Error::OutOfMemory { backend, bytes }) => {
                    assert_eq!(backend, "cpu");
                    assert_eq!(bytes, n.saturating_mul(4));
                }
                other => panic!("{n} f32: {:?}", other.map(|b| b.len())),
            }
        }
        assert!(matches!(
            try_vec_with_capacity::<f64>(1 << 61),
            Err(Error::OutOfMemory { .. })
        ));
        assert!(matches!(
            try_vec_with_capacity::<u8>(1 << 50),
            Err(Error::OutOfMemory { bytes, .. }) if bytes == 1 << 50
        ));
    }

    #[test]
    fn slices_are_aligned_and_sized() {
        let b = CpuBuffer::from_slice(&[1.0f64, 2.0, 3.0]).unwrap();
        assert_eq!(b.as_slice::<f64>().unwrap(), &[1.0, 2.0, 3.0]);
        assert_eq!(b.as_slice::<f64>().unwrap().as_ptr() as usize % 16, 0);
        assert_eq!(b.bytes().len(), 24);
    }
}
