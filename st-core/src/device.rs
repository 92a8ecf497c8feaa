//! Devices: a backend (an interned name such as `"cpu"` or `"wgpu"`) plus an ordinal.

use crate::backend::{backend_names, backend_table};
use crate::error::{Error, Result};

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

static DEFAULT_DEVICE: parking_lot::Mutex<Device> = parking_lot::Mutex::new(Device::cpu());

/// Sets the device new tensors default to, and publishes `BackendChanged` on the global event
/// bus when it changes.
pub fn set_default_device(device: Device) {
    let changed = {
        let mut d = DEFAULT_DEVICE.lock();
        let changed = *d != device;
        *d = device;
        changed
    };
    if changed {
        crate::events::global_event_bus().publish(&crate::events::PluginEvent::BackendChanged {
            backend: device.to_string(),
        });
    }
}

/// The default device (the CPU unless [`set_default_device`] changed it).
pub fn default_device() -> Device {
    *DEFAULT_DEVICE.lock()
}
