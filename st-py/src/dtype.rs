//! `spiraltorch.dtype`: the eight element types, as module constants (`st.float32`, ...).

use crate::errors::type_error;
use pyo3::prelude::*;
use st_core::DType;

/// An element type (PyTorch's `torch.dtype`).
#[pyclass(name = "dtype", module = "spiraltorch", frozen, eq, hash)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PyDType {
    /// The st-core dtype.
    pub inner: DType,
}

/// The PyTorch name of a dtype (`float32`, `int64`, `bool`, ...).
pub fn torch_name(d: DType) -> &'static str {
    match d {
        DType::F32 => "float32",
        DType::F64 => "float64",
        DType::F16 => "float16",
        DType::BF16 => "bfloat16",
        DType::I32 => "int32",
        DType::I64 => "int64",
        DType::U8 => "uint8",
        DType::Bool => "bool",
    }
}

/// The dtype named `s` (PyTorch or st-core spelling).
pub fn parse_name(s: &str) -> Option<DType> {
    Some(match s {
        "float32" | "float" => DType::F32,
        "float64" | "double" => DType::F64,
        "float16" | "half" => DType::F16,
        "bfloat16" => DType::BF16,
        "int32" | "int" => DType::I32,
        "int64" | "long" => DType::I64,
        "uint8" => DType::U8,
        "bool" => DType::Bool,
        other => return DType::parse(other),
    })
}

#[pymethods]
impl PyDType {
    fn __repr__(&self) -> String {
        format!("spiraltorch.{}", torch_name(self.inner))
    }

    fn __str__(&self) -> String {
        self.__repr__()
    }

    /// True for float16, bfloat16, float32 and float64.
    #[getter]
    fn is_floating_point(&self) -> bool {
        self.inner.is_float()
    }

    /// True for the signed integer types and floats (PyTorch's `dtype.is_signed`).
    #[getter]
    fn is_signed(&self) -> bool {
        !matches!(self.inner, DType::U8 | DType::Bool)
    }

    /// Bytes per element.
    #[getter]
    fn itemsize(&self) -> usize {
        self.inner.size_in_bytes()
    }

    fn __reduce__(&self, py: Python<'_>) -> PyResult<(Py<PyAny>, (String,))> {
        let f = py.import("spiraltorch")?.getattr("_dtype_from_name")?;
        Ok((f.unbind(), (torch_name(self.inner).to_string(),)))
    }
}

/// A dtype argument: a `spiraltorch.dtype` or its name.
///
/// # Errors
/// TypeError naming `op` for anything else.
pub fn extract_dtype(op: &str, obj: &Bound<'_, PyAny>) -> PyResult<DType> {
    if let Ok(d) = obj.cast::<PyDType>() {
        return Ok(d.get().inner);
    }
    if let Ok(s) = obj.extract::<String>() {
        if let Some(d) = parse_name(&s) {
            return Ok(d);
        }
        return Err(type_error(op, format!("unknown dtype name {s:?}")));
    }
    Err(type_error(
        op,
        format!(
            "dtype must be a spiraltorch.dtype (e.g. spiraltorch.float32), not {}",
            obj.get_type().name()?
        ),
    ))
}

/// An optional dtype argument (`None` stays `None`).
pub fn extract_opt_dtype(op: &str, obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<DType>> {
    match obj {
        None => Ok(None),
        Some(o) if o.is_none() => Ok(None),
        Some(o) => extract_dtype(op, o).map(Some),
    }
}

/// Registers the dtype class and its constants on the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyDType>()?;
    for d in DType::ALL {
        m.add(torch_name(d), PyDType { inner: d })?;
    }
    for (alias, d) in [
        ("float", DType::F32),
        ("double", DType::F64),
        ("half", DType::F16),
        ("int", DType::I32),
        ("long", DType::I64),
    ] {
        m.add(alias, PyDType { inner: d })?;
    }
    Ok(())
}
