//! The [`Backend`] trait (upload, download, sync) and [`Storage`], the reference-counted device
//! buffer shared by every view of a tensor. Backends register with
//! [`register_backend!`](crate::register_backend).

use crate::dtype::DType;
use crate::error::{Error, Result};
use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// Interned backend name. Index 0 is always the CPU backend, which lives in st-core; the others
/// are numbered in name order of the backends linked into the binary.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BackendId(pub(crate) u16);

impl BackendId {
    /// The CPU backend.
    pub const CPU: BackendId = BackendId(0);

    /// Looks a backend up by name (`"cpu"`, `"wgpu"`, `"cuda"`, or a third party's).
    pub fn from_name(name: &str) -> Option<BackendId> {
        backend_names()
            .iter()
            .position(|n| *n == name)
            .map(|i| BackendId(i as u16))
    }

    /// The backend's name.
    pub fn name(self) -> &'static str {
        backend_names()[self.0 as usize]
    }

    /// Dense index (used by the kernel table).
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// Every backend linked into this binary.
    pub fn all() -> Vec<BackendId> {
        (0..backend_names().len())
            .map(|i| BackendId(i as u16))
            .collect()
    }
}

impl std::fmt::Debug for BackendId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::fmt::Display for BackendId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A buffer owned by a backend. Views share it through [`Storage`].
pub trait DeviceBuffer: Send + Sync + 'static {
    /// For the owning backend to downcast to its concrete buffer type.
    fn as_any(&self) -> &dyn Any;
    /// Mutable form of [`DeviceBuffer::as_any`], for kernels writing into a given buffer.
    fn as_any_mut(&mut self) -> &mut dyn Any;
    /// Size in bytes.
    fn len_bytes(&self) -> usize;
    /// False for memory that in-place ops must not write (a read-only memory-mapped file);
    /// fixed for the buffer's life. The dispatcher checks it before any write (Note [Writing
    /// into a tensor]).
    fn is_writable(&self) -> bool {
        true
    }
    /// The buffer's bytes when they live in host memory (the CPU backend), for kernels built
    /// outside the backend's crate (custom ops, plugins): a call through this trait runs the
    /// owning backend's code, so it works across separately built plugin libraries, where a
    /// downcast through [`DeviceBuffer::as_any`] may not. `None` for device memory.
    fn host_bytes(&self) -> Option<&[u8]> {
        None
    }
    /// Mutable form of [`DeviceBuffer::host_bytes`]; `None` for device memory and for memory
    /// that is not writable.
    fn host_bytes_mut(&mut self) -> Option<&mut [u8]> {
        None
    }
}

/// A backend buffer together with what every view of it shares: a reader/writer lock that
/// makes in-place writes data-race free, and the version counter autograd checks.
///
/// Note [Storage locking]: every access to a buffer's elements holds its lock — shared for
/// kernel inputs and read-back, exclusive for the output of an in-place or `out=` op — so a
/// write never overlaps a read of the same memory, from any thread. The dispatcher takes all
/// the locks an op needs in one global order (by storage address, one lock per distinct
/// storage), so two ops writing each other's inputs on two threads cannot deadlock. Shared
/// locks are recursive (a thread already reading a buffer may read it again), and nothing
/// that holds a lock calls back into user code.
pub struct StorageCell<B: ?Sized = dyn DeviceBuffer> {
    version: AtomicU64,
    len_bytes: usize,
    writable: bool,
    buffer: RwLock<B>,
}

/// Reference-counted device buffer shared by every view of a tensor (cheap to clone).
#[derive(Clone)]
pub struct Storage(Arc<StorageCell>);

/// Shared access to a storage's buffer (see Note [Storage locking]).
pub type StorageRead<'a> = RwLockReadGuard<'a, dyn DeviceBuffer>;
/// Exclusive access to a storage's buffer (see Note [Storage locking]).
pub type StorageWrite<'a> = RwLockWriteGuard<'a, dyn DeviceBuffer>;

impl<B: DeviceBuffer> StorageCell<B> {
    /// A cell at version 0 around `buffer`.
    pub fn new(buffer: B) -> StorageCell<B> {
        StorageCell {
            version: AtomicU64::new(0),
            len_bytes: buffer.len_bytes(),
            writable: buffer.is_writable(),
            buffer: RwLock::new(buffer),
        }
    }

    /// The buffer, when the caller owns the cell exclusively. The caller must not change the
    /// buffer's size or writability.
    pub fn get_mut(&mut self) -> &mut B {
        self.buffer.get_mut()
    }

    /// Replaces the buffer of an exclusively owned cell with `buffer` at version 0, keeping
    /// the allocation (for backends that recycle small storages).
    pub fn reset(&mut self, buffer: B) {
        self.len_bytes = buffer.len_bytes();
        self.writable = buffer.is_writable();
        *self.version.get_mut() = 0;
        *self.buffer.get_mut() = buffer;
    }
}

impl Storage {
    /// Shares `buffer` as a new storage at version 0.
    pub fn new<B: DeviceBuffer>(buffer: B) -> Storage {
        Storage(Arc::new(StorageCell::new(buffer)))
    }

    /// Wraps a cell already in an `Arc` (for backends that keep typed handles to recycle).
    pub fn from_cell<B: DeviceBuffer>(cell: Arc<StorageCell<B>>) -> Storage {
        Storage(cell)
    }

    /// Shared access to the buffer; blocks while an in-place op writes it. Recursive: a thread
    /// that already reads this storage gets a second guard at once.
    #[inline]
    pub fn read(&self) -> StorageRead<'_> {
        self.0.buffer.read_recursive()
    }

    /// Exclusive access to the buffer, for writing its elements. Blocks while others read it;
    /// a thread that holds a [`Storage::read`] guard of this storage must not call it.
    /// Writers bump the version with [`Storage::bump_version`].
    #[inline]
    pub fn write(&self) -> StorageWrite<'_> {
        self.0.buffer.write()
    }

    /// Size in bytes (fixed for the buffer's life, recorded when it was shared; needs no lock).
    #[inline]
    pub fn len_bytes(&self) -> usize {
        self.0.len_bytes
    }

    /// False when in-place ops must not write this storage (read-only external memory such as
    /// a memory-mapped file; see [`DeviceBuffer::is_writable`]). Needs no lock.
    #[inline]
    pub fn is_writable(&self) -> bool {
        self.0.writable
    }

    /// The version counter: how many in-place writes this storage has had (PyTorch's
    /// `_version`, shared by every view).
    #[inline]
    pub fn version(&self) -> u64 {
        self.0.version.load(Ordering::Acquire)
    }

    /// Records one in-place write (called by whoever wrote the elements).
    #[inline]
    pub fn bump_version(&self) {
        self.0.version.fetch_add(1, Ordering::AcqRel);
    }

    /// True when both handles share one buffer.
    #[inline]
    pub fn ptr_eq(&self, other: &Storage) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// An address identifying the buffer, for ordering lock acquisition.
    #[inline]
    pub(crate) fn addr(&self) -> usize {
        Arc::as_ptr(&self.0) as *const u8 as usize
    }

    /// Number of handles sharing this storage (tensors, views, autograd's saved copies).
    pub fn handle_count(&self) -> usize {
        Arc::strong_count(&self.0)
    }
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Storage({} bytes, version {})",
            self.len_bytes(),
            self.version()
        )
    }
}

/// A compute backend: moves bytes in and out of its buffers. Kernels are registered separately
/// with `register_kernel!`.
pub trait Backend: Send + Sync + 'static {
    /// Backend name, equal to the name used in `register_kernel!`.
    fn name(&self) -> &'static str;
    /// Number of devices.
    fn device_count(&self) -> usize;
    /// Copies host bytes (`dtype` elements, native endianness) into a new buffer.
    fn upload(&self, ordinal: usize, dtype: DType, bytes: &[u8]) -> Result<Storage>;
    /// A new buffer for `numel` elements of `dtype` whose contents are unspecified (the caller
    /// writes every element), for outputs that a kernel fills through [`KernelOut`]. The
    /// default uploads zeros; backends override it to skip that copy.
    ///
    /// [`KernelOut`]: crate::dispatch::KernelOut
    ///
    /// # Errors
    /// [`Error::OutOfMemory`] or backend errors.
    fn alloc(&self, ordinal: usize, dtype: DType, numel: usize) -> Result<Storage> {
        let bytes = numel
            .checked_mul(dtype.size_in_bytes())
            .filter(|&b| b <= isize::MAX as usize)
            .ok_or_else(|| Error::OutOfMemory {
                backend: self.name().to_string(),
                bytes: numel.saturating_mul(dtype.size_in_bytes()),
            })?;
        self.upload(ordinal, dtype, &vec![0u8; bytes])
    }
    /// Reads `numel` elements starting at element `offset` back to the host.
    fn download(
        &self,
        buffer: &dyn DeviceBuffer,
        dtype: DType,
        offset: usize,
        numel: usize,
    ) -> Result<Vec<u8>>;
    /// Waits for queued work on device `ordinal`.
    fn sync(&self, ordinal: usize) -> Result<()>;
    /// Human-readable description of device `ordinal` (adapter name, limits, ...).
    fn describe(&self, ordinal: usize) -> String;
    /// Why the registered kernels of `dtype` cannot run on device `ordinal` (a device feature
    /// they need is missing), or `None` when they can (the default). Those kernels must then
    /// fail with an [`Error::Backend`] whose message contains this reason; the conformance
    /// suite expects exactly that.
    fn dtype_unsupported(&self, _ordinal: usize, _dtype: DType) -> Option<String> {
        None
    }
}

/// Link-time record of a backend, submitted with [`register_backend!`](crate::register_backend).
pub struct BackendReg {
    /// Backend name (`"cpu"`, `"wgpu"`, ...).
    pub name: &'static str,
    /// Opens the backend. Called once, on first use; an error marks it unavailable.
    pub open: fn() -> Result<Arc<dyn Backend>>,
}

inventory::collect!(BackendReg);

/// Registers a backend: `register_backend!("wgpu", open_fn)`.
#[macro_export]
macro_rules! register_backend {
    ($name:expr, $open:path) => {
        $crate::inventory::submit! {
            $crate::backend::BackendReg { name: $name, open: $open }
        }
    };
}

/// The opened backends, indexed by [`BackendId`].
pub struct BackendTable {
    names: Vec<&'static str>,
    opens: Vec<fn() -> Result<Arc<dyn Backend>>>,
    instances: Vec<OnceLock<std::result::Result<Arc<dyn Backend>, String>>>,
}

impl BackendTable {
    fn build() -> BackendTable {
        let mut regs: Vec<&BackendReg> = inventory::iter::<BackendReg>.into_iter().collect();
        // CPU first (BackendId::CPU == 0), then by name; a duplicate name keeps the first.
        regs.sort_by_key(|r| (r.name != "cpu", r.name));
        regs.dedup_by_key(|r| r.name);
        BackendTable {
            names: regs.iter().map(|r| r.name).collect(),
            opens: regs.iter().map(|r| r.open).collect(),
            instances: regs.iter().map(|_| OnceLock::new()).collect(),
        }
    }

    /// The backend instance, opening it on first use.
    ///
    /// # Errors
    /// [`Error::BackendUnavailable`] when opening failed (now or earlier).
    pub fn get(&self, id: BackendId) -> Result<&Arc<dyn Backend>> {
        let i = id.index();
        let slot = self.instances[i]
            .get_or_init(|| (self.opens[i])().map_err(Error::into_unavailable_reason));
        slot.as_ref().map_err(|reason| Error::BackendUnavailable {
            backend: self.names[i].to_string(),
            reason: reason.clone(),
        })
    }
}

static TABLE: OnceLock<BackendTable> = OnceLock::new();

/// The process-wide backend table.
pub fn backend_table() -> &'static BackendTable {
    TABLE.get_or_init(BackendTable::build)
}

/// Names of the linked backends, indexed by [`BackendId`].
pub fn backend_names() -> &'static [&'static str] {
    &backend_table().names
}

/// The backend for `id`.
pub fn backend(id: BackendId) -> Result<&'static Arc<dyn Backend>> {
    backend_table().get(id)
}
