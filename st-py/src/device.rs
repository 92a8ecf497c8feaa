//! `spiraltorch.device`: where a tensor lives (`"cpu"`, `"wgpu"`, `"wgpu:0"`).

use crate::errors::{type_error, IntoPyResult};
use pyo3::prelude::*;
use st_core::Device;

/// A device (PyTorch's `torch.device`): a backend name and an index.
#[pyclass(name = "device", module = "spiraltorch", frozen, eq, hash)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PyDevice {
    /// The st-core device.
    pub inner: Device,
}

#[pymethods]
impl PyDevice {
    /// `device("cpu")`, `device("wgpu:0")` or `device("wgpu", 0)`.
    #[new]
    #[pyo3(signature = (spec, index = None))]
    fn new(spec: &Bound<'_, PyAny>, index: Option<usize>) -> PyResult<Self> {
        let mut d = extract_device("device", spec)?;
        if let Some(i) = index {
            d = Device::new(d.backend().name(), i).py()?;
        }
        Ok(PyDevice { inner: d })
    }

    /// The backend name (`"cpu"`, `"wgpu"`).
    #[getter]
    fn r#type(&self) -> &'static str {
        self.inner.backend().name()
    }

    /// The device index within its backend.
    #[getter]
    fn index(&self) -> usize {
        self.inner.ordinal()
    }

    fn __repr__(&self) -> String {
        format!("device(type='{}', index={})", self.r#type(), self.index())
    }

    fn __str__(&self) -> String {
        if self.inner.is_cpu() {
            "cpu".into()
        } else {
            self.inner.to_string()
        }
    }
}

/// Parses `"cpu"`, `"wgpu"` or `"wgpu:1"` and opens the device.
///
/// # Errors
/// ValueError for a malformed string; RuntimeError when the backend is not linked or has
/// no such device (no adapter on this machine).
pub fn parse_device(op: &str, s: &str) -> PyResult<Device> {
    let (name, idx) = match s.split_once(':') {
        Some((n, i)) => {
            let i = i.trim().parse::<usize>().map_err(|_| {
                crate::errors::value_error(op, format!("invalid device string {s:?}"))
            })?;
            (n.trim(), i)
        }
        None => (s.trim(), 0),
    };
    if name == "cpu" {
        if idx != 0 {
            return Err(crate::errors::value_error(
                op,
                format!("there is only one cpu device, got {s:?}"),
            ));
        }
        return Ok(Device::cpu());
    }
    Device::new(name, idx).py()
}

/// A device argument: a `spiraltorch.device` or a string.
///
/// # Errors
/// TypeError for other objects; the errors of [`parse_device`].
pub fn extract_device(op: &str, obj: &Bound<'_, PyAny>) -> PyResult<Device> {
    if let Ok(d) = obj.cast::<PyDevice>() {
        return Ok(d.get().inner);
    }
    if let Ok(s) = obj.extract::<String>() {
        return parse_device(op, &s);
    }
    Err(type_error(
        op,
        format!(
            "device must be a string such as 'cpu' or 'wgpu:0', or a spiraltorch.device, not {}",
            obj.get_type().name()?
        ),
    ))
}

/// An optional device argument; `None` is st-core's default device.
pub fn extract_opt_device(op: &str, obj: Option<&Bound<'_, PyAny>>) -> PyResult<Device> {
    match obj {
        None => Ok(st_core::default_device()),
        Some(o) if o.is_none() => Ok(st_core::default_device()),
        Some(o) => extract_device(op, o),
    }
}
