//! The `Tensor` class: properties, Python conversions (`item`, `tolist`, `__float__`, ...),
//! `__len__`, `__iter__` and `__repr__`.

use crate::device::PyDevice;
use crate::dtype::PyDType;
use crate::errors::{runtime_error, type_error, IntoPyResult};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyList, PyTuple};
use st_core::{DType, Tensor};

/// A SpiralTorch tensor (PyTorch's `torch.Tensor`): an N-d strided array on a device, with
/// autograd. Views share storage with the tensor they come from.
#[pyclass(name = "Tensor", module = "spiraltorch", subclass, frozen, weakref)]
pub struct PyTensor {
    /// The st-core tensor (a cheap, reference-counted handle).
    pub inner: Tensor,
}

impl PyTensor {
    /// Wraps an st-core tensor.
    #[inline]
    pub fn new(inner: Tensor) -> Self {
        PyTensor { inner }
    }
}

/// One element read back as a Python number of the tensor's kind.
fn scalar_to_py<'py>(py: Python<'py>, t: &Tensor) -> PyResult<Bound<'py, PyAny>> {
    let flat = elements(t)?;
    match flat {
        Elements::Float(v) => Ok(PyFloat::new(py, v[0]).into_any()),
        Elements::Int(v) => Ok(PyInt::new(py, v[0]).into_any()),
        Elements::Bool(v) => Ok(PyBool::new(py, v[0]).to_owned().into_any()),
    }
}

/// Every element of a tensor, read back in row-major order as the Python kind it maps to.
pub(crate) enum Elements {
    Float(Vec<f64>),
    Int(Vec<i64>),
    Bool(Vec<bool>),
}

pub(crate) fn elements(t: &Tensor) -> PyResult<Elements> {
    let t = t.detach();
    Ok(match t.dtype() {
        DType::I64 => Elements::Int(t.to_vec::<i64>().py()?),
        DType::I32 | DType::U8 => {
            Elements::Int(t.to_f64_vec().py()?.into_iter().map(|x| x as i64).collect())
        }
        DType::Bool => Elements::Bool(t.to_f64_vec().py()?.into_iter().map(|x| x != 0.0).collect()),
        _ => Elements::Float(t.to_f64_vec().py()?),
    })
}

fn nested<'py>(
    py: Python<'py>,
    dims: &[usize],
    at: &mut usize,
    item: &dyn Fn(Python<'py>, usize) -> Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    match dims.split_first() {
        None => {
            let v = item(py, *at);
            *at += 1;
            Ok(v)
        }
        Some((&n, rest)) => {
            let list = PyList::empty(py);
            for _ in 0..n {
                list.append(nested(py, rest, at, item)?)?;
            }
            Ok(list.into_any())
        }
    }
}

/// The `requires one element` check shared by `item()` and the number conversions.
fn one_element(op: &str, t: &Tensor) -> PyResult<()> {
    if t.numel() != 1 {
        return Err(runtime_error(
            op,
            format!(
                "a Tensor with {} elements (shape {}) cannot be converted to a Python scalar",
                t.numel(),
                t.shape()
            ),
        ));
    }
    Ok(())
}

#[pymethods]
impl PyTensor {
    /// The dims, as a tuple.
    #[getter]
    fn shape<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.inner.dims())
    }

    /// The element type.
    #[getter]
    fn dtype(&self) -> PyDType {
        PyDType {
            inner: self.inner.dtype(),
        }
    }

    /// The device.
    #[getter]
    fn device(&self) -> PyDevice {
        PyDevice {
            inner: self.inner.device(),
        }
    }

    /// Number of dims.
    #[getter]
    fn ndim(&self) -> usize {
        self.inner.rank()
    }

    /// Number of dims (PyTorch's `dim()`).
    fn dim(&self) -> usize {
        self.inner.rank()
    }

    /// Number of elements.
    fn numel(&self) -> usize {
        self.inner.numel()
    }

    /// Number of elements (PyTorch's `nelement()`).
    fn nelement(&self) -> usize {
        self.inner.numel()
    }

    /// The dims as a tuple, or the size of one dim.
    #[pyo3(signature = (dim = None))]
    fn size<'py>(&self, py: Python<'py>, dim: Option<isize>) -> PyResult<Bound<'py, PyAny>> {
        match dim {
            None => Ok(PyTuple::new(py, self.inner.dims())?.into_any()),
            Some(d) => Ok(PyInt::new(py, self.inner.size(d).py()?).into_any()),
        }
    }

    /// Strides in elements, or the stride of one dim.
    #[pyo3(signature = (dim = None))]
    fn stride<'py>(&self, py: Python<'py>, dim: Option<isize>) -> PyResult<Bound<'py, PyAny>> {
        let strides = self.inner.strides();
        match dim {
            None => Ok(PyTuple::new(py, strides)?.into_any()),
            Some(d) => {
                let rank = strides.len() as isize;
                let i = if d < 0 { d + rank } else { d };
                if i < 0 || i >= rank {
                    return Err(crate::errors::index_error(
                        "stride",
                        format!("dimension {d} out of range for a tensor of rank {rank}"),
                    ));
                }
                Ok(PyInt::new(py, strides[i as usize]).into_any())
            }
        }
    }

    /// Offset of element 0 in the storage, in elements.
    fn storage_offset(&self) -> usize {
        self.inner.layout().offset()
    }

    /// Bytes per element.
    fn element_size(&self) -> usize {
        self.inner.dtype().size_in_bytes()
    }

    /// True for row-major layouts without gaps.
    fn is_contiguous(&self) -> bool {
        self.inner.is_contiguous()
    }

    /// True for float dtypes.
    fn is_floating_point(&self) -> bool {
        self.inner.dtype().is_float()
    }

    /// True when the tensor lives on the CPU.
    #[getter]
    fn is_cpu(&self) -> bool {
        self.inner.device().is_cpu()
    }

    /// The value of a one-element tensor as a Python number.
    fn item<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        one_element("item", &self.inner)?;
        let t = self.inner.clone();
        let t = py.detach(move || t.contiguous()).py()?;
        scalar_to_py(py, &t)
    }

    /// The elements as nested Python lists (a number for a 0-d tensor).
    fn tolist<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let dims = self.inner.dims().to_vec();
        let els = elements(&self.inner)?;
        let mut at = 0;
        match els {
            Elements::Float(v) => nested(py, &dims, &mut at, &|py, i| {
                PyFloat::new(py, v[i]).into_any()
            }),
            Elements::Int(v) => {
                nested(py, &dims, &mut at, &|py, i| PyInt::new(py, v[i]).into_any())
            }
            Elements::Bool(v) => nested(py, &dims, &mut at, &|py, i| {
                PyBool::new(py, v[i]).to_owned().into_any()
            }),
        }
    }

    fn __float__(&self) -> PyResult<f64> {
        one_element("__float__", &self.inner)?;
        Ok(self.inner.to_f64_vec().py()?[0])
    }

    fn __int__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        one_element("__int__", &self.inner)?;
        let v = scalar_to_py(py, &self.inner)?;
        py.get_type::<PyInt>().call1((v,))
    }

    fn __index__(&self) -> PyResult<i64> {
        if !(self.inner.dtype().is_int() || self.inner.dtype() == DType::Bool)
            || self.inner.numel() != 1
        {
            return Err(PyTypeError::new_err(format!(
                "only integer tensors of a single element can be converted to an index (this \
                 one is {} of shape {})",
                crate::dtype::torch_name(self.inner.dtype()),
                self.inner.shape()
            )));
        }
        let t = self.inner.to_dtype(DType::I64).py()?;
        Ok(t.to_vec::<i64>().py()?[0])
    }

    fn __bool__(&self) -> PyResult<bool> {
        if self.inner.numel() != 1 {
            return Err(runtime_error(
                "__bool__",
                format!(
                    "Boolean value of Tensor with {} values (shape {}) is ambiguous",
                    self.inner.numel(),
                    self.inner.shape()
                ),
            ));
        }
        Ok(self.inner.to_f64_vec().py()?[0] != 0.0)
    }

    fn __len__(&self) -> PyResult<usize> {
        match self.inner.dims().first() {
            Some(&n) => Ok(n),
            None => Err(type_error("len", "len() of a 0-d tensor")),
        }
    }

    fn __iter__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let t = &slf.get().inner;
        if t.rank() == 0 {
            return Err(type_error("iter", "iteration over a 0-d tensor"));
        }
        let rows: Vec<PyTensor> = (0..t.dims()[0] as isize)
            .map(|i| t.select(0, i).map(PyTensor::new))
            .collect::<st_core::Result<_>>()
            .py()?;
        PyList::new(slf.py(), rows)?
            .try_iter()
            .map(|i| i.into_any())
    }

    fn __hash__(slf: &Bound<'_, Self>) -> isize {
        slf.as_ptr() as isize
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let py = slf.py();
        py.import("spiraltorch._format")?
            .getattr("tensor_repr")?
            .call1((slf,))?
            .extract()
    }

    /// Keeps numpy from treating a tensor as a sequence in mixed operations: numpy defers to
    /// the tensor's reflected operators.
    #[classattr]
    fn __array_priority__() -> f64 {
        1000.0
    }
}
