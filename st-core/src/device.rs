//! Devices: a backend (an interned name such as `"cpu"` or `"wgpu"`) plus an ordinal.

pub use crate::backend::BackendId;
use crate::backend::{backend_names, backend_table};
use crate::error::{Error, Result};

/// Where a tensor lives.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Device {
    backend: BackendId,
    ordinal: usize,
}

impl Device {
    /// The host CPU.
    pub const fn cpu() -> Device {
        Device {
            backend: BackendId::CPU,
            ordinal: 0,
        }
    }

    /// Device `ordinal` of the backend called `backend`, checking that the backend is linked
    /// and that it opens. Backend crates offer a shorthand that also links them
    /// (`st_backend_wgpu::device(0)`); st-core names no backend besides the CPU.
    ///
    /// # Errors
    /// [`Error::BackendUnavailable`] when the backend is not linked, fails to open, or has fewer
    /// devices.
    pub fn new(backend: &str, ordinal: usize) -> Result<Device> {
        let id = BackendId::from_name(backend).ok_or_else(|| Error::BackendUnavailable {
            backend: backend.to_string(),
            reason: format!(
                "not linked into this binary (linked: {:?}); add the backend crate and `use \
                 st_backend_{backend} as _;`",
                backend_names()
            ),
        })?;
        let b = backend_table().get(id)?;
        let count = b.device_count();
        if ordinal >= count {
            return Err(Error::BackendUnavailable {
                backend: backend.to_string(),
                reason: format!("device {ordinal} requested but only {count} present"),
            });
        }
        Ok(Device {
            backend: id,
            ordinal,
        })
    }

    /// The backend.
    #[inline]
    pub fn backend(&self) -> BackendId {
        self.backend
    }

    /// Device index within the backend.
    #[inline]
    pub fn ordinal(&self) -> usize {
        self.ordinal
    }

    /// True for the CPU.
    #[inline]
    pub fn is_cpu(&self) -> bool {
        self.backend == BackendId::CPU
    }

    /// Waits for all queued work on this device to finish.
    pub fn sync(&self) -> Result<()> {
        backend_table().get(self.backend)?.sync(self.ordinal)
    }
}

impl Default for Device {
    fn default() -> Self {
        Device::cpu()
    }
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.backend.name(), self.ordinal)
    }
}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.backend.name(), self.ordinal)
    }
}
