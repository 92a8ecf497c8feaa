//! The [`Backend`] trait (upload, download, sync) and [`Storage`], the reference-counted device
//! buffer shared by every view of a tensor. Backends register with
//! [`register_backend!`](crate::register_backend).

use crate::device::BackendId;
use crate::dtype::DType;
use crate::error::{Error, Result};
use std::any::Any;
use std::sync::{Arc, OnceLock};

/// A buffer owned by a backend. Views share it through [`Storage`].
pub trait DeviceBuffer: Send + Sync + 'static {
    /// For the owning backend to downcast to its concrete buffer type.
    fn as_any(&self) -> &dyn Any;
    /// Size in bytes.
    fn len_bytes(&self) -> usize;
}

/// Reference-counted device buffer shared by views.
pub type Storage = Arc<dyn DeviceBuffer>;

/// A compute backend: moves bytes in and out of its buffers. Kernels are registered separately
/// with `register_kernel!`.
pub trait Backend: Send + Sync + 'static {
    /// Backend name, equal to the name used in `register_kernel!`.
    fn name(&self) -> &'static str;
    /// Number of devices.
    fn device_count(&self) -> usize;
    /// Copies host bytes (`dtype` elements, native endianness) into a new buffer.
    fn upload(&self, ordinal: usize, dtype: DType, bytes: &[u8]) -> Result<Storage>;
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
            $crate::storage::BackendReg { name: $name, open: $open }
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
