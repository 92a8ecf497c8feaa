//! Shape and movement methods (`reshape`, `view`, `permute`, `transpose`, `squeeze`, ...)
//! and conversions (`to`, `cpu`, `float`, `contiguous`, `clone`).

use super::handle::PyTensor;
use crate::device::{extract_device, PyDevice};
use crate::dtype::{extract_dtype, PyDType};
use crate::errors::{type_error, IntoPyResult};
use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple};
use st_core::{DType, Device, Tensor};

/// Sizes given as `f(2, 3)` or `f((2, 3))` / `f([2, 3])`.
pub fn sizes_arg(op: &str, args: &Bound<'_, PyTuple>) -> PyResult<Vec<isize>> {
    let seq = if args.len() == 1 && args.get_item(0)?.extract::<isize>().is_err() {
        args.get_item(0)?
    } else {
        args.clone().into_any()
    };
    seq.extract::<Vec<isize>>().map_err(|_| {
        type_error(
            op,
            format!(
                "sizes must be ints or one sequence of ints, got {}",
                args.repr().map(|r| r.to_string()).unwrap_or_default()
            ),
        )
    })
}

fn run(
    py: Python<'_>,
    t: &Tensor,
    f: impl FnOnce(&Tensor) -> st_core::Result<Tensor> + Send,
) -> PyResult<PyTensor> {
    let t = t.clone();
    py.detach(move || f(&t)).py().map(PyTensor::new)
}

#[pymethods]
impl PyTensor {
    /// A tensor with the same elements and another shape (a view when the layout allows).
    #[pyo3(signature = (*shape))]
    fn reshape(&self, shape: &Bound<'_, PyTuple>) -> PyResult<PyTensor> {
        let s = sizes_arg("reshape", shape)?;
        self.inner.reshape(&s).py().map(PyTensor::new)
    }

    /// A view with another shape (errors when the layout does not allow one).
    #[pyo3(signature = (*shape))]
    fn view(&self, shape: &Bound<'_, PyTuple>) -> PyResult<PyTensor> {
        if shape.len() == 1 {
            let a = shape.get_item(0)?;
            if a.cast::<PyDType>().is_ok() || a.is_instance_of::<PyString>() {
                return Err(type_error(
                    "view",
                    "view(dtype) is not supported; use .to(dtype)",
                ));
            }
        }
        let s = sizes_arg("view", shape)?;
        self.inner.view(&s).py().map(PyTensor::new)
    }

    /// `reshape` to `other`'s shape.
    fn reshape_as(&self, other: &PyTensor) -> PyResult<PyTensor> {
        self.inner
            .reshape_to(other.inner.shape())
            .py()
            .map(PyTensor::new)
    }

    /// `view` with `other`'s shape.
    fn view_as(&self, other: &PyTensor) -> PyResult<PyTensor> {
        let s: Vec<isize> = other.inner.dims().iter().map(|&d| d as isize).collect();
        self.inner.view(&s).py().map(PyTensor::new)
    }

    /// Reorders the dims (a view).
    #[pyo3(signature = (*dims))]
    fn permute(&self, dims: &Bound<'_, PyTuple>) -> PyResult<PyTensor> {
        let d = sizes_arg("permute", dims)?;
        self.inner.permute(&d).py().map(PyTensor::new)
    }

    /// Swaps two dims (a view).
    fn transpose(&self, dim0: isize, dim1: isize) -> PyResult<PyTensor> {
        self.inner.transpose(dim0, dim1).py().map(PyTensor::new)
    }

    /// Alias of `transpose`.
    fn swapaxes(&self, dim0: isize, dim1: isize) -> PyResult<PyTensor> {
        self.transpose(dim0, dim1)
    }

    /// Transpose of a tensor with at most 2 dims.
    fn t(&self) -> PyResult<PyTensor> {
        self.inner.t().py().map(PyTensor::new)
    }

    /// The dims reversed (for 2-d: the transpose).
    #[getter(T)]
    fn big_t(&self) -> PyResult<PyTensor> {
        let r = self.inner.rank() as isize;
        let perm: Vec<isize> = (0..r).rev().collect();
        self.inner.permute(&perm).py().map(PyTensor::new)
    }

    /// The last two dims swapped.
    #[getter(mT)]
    fn m_t(&self) -> PyResult<PyTensor> {
        self.inner.transpose(-2, -1).py().map(PyTensor::new)
    }

    /// Inserts a dim of size 1.
    fn unsqueeze(&self, dim: isize) -> PyResult<PyTensor> {
        self.inner.unsqueeze(dim).py().map(PyTensor::new)
    }

    /// Removes dims of size 1 (all of them, or `dim`).
    #[pyo3(signature = (dim = None))]
    fn squeeze(&self, dim: Option<isize>) -> PyResult<PyTensor> {
        self.inner.squeeze(dim).py().map(PyTensor::new)
    }

    /// Merges dims `start_dim..=end_dim` into one.
    #[pyo3(signature = (start_dim = 0, end_dim = -1))]
    fn flatten(&self, start_dim: isize, end_dim: isize) -> PyResult<PyTensor> {
        self.inner
            .flatten(start_dim, end_dim)
            .py()
            .map(PyTensor::new)
    }

    /// A 1-d view or copy of all elements.
    fn ravel(&self) -> PyResult<PyTensor> {
        self.inner.reshape(&[-1]).py().map(PyTensor::new)
    }

    /// Broadcasts to `sizes` (`-1` keeps a dim) without copying.
    #[pyo3(signature = (*sizes))]
    fn expand(&self, sizes: &Bound<'_, PyTuple>) -> PyResult<PyTensor> {
        let s = sizes_arg("expand", sizes)?;
        let rank = self.inner.rank();
        if s.len() < rank {
            return Err(crate::errors::value_error(
                "expand",
                format!(
                    "the number of sizes provided ({}) must be at least the number of dims ({rank})",
                    s.len()
                ),
            ));
        }
        let lead = s.len() - rank;
        let mut dims = Vec::with_capacity(s.len());
        for (i, &v) in s.iter().enumerate() {
            if v == -1 {
                if i < lead {
                    return Err(crate::errors::value_error(
                        "expand",
                        "-1 is not allowed for a new leading dim",
                    ));
                }
                dims.push(self.inner.dims()[i - lead]);
            } else if v < 0 {
                return Err(crate::errors::value_error(
                    "expand",
                    format!("invalid size {v}"),
                ));
            } else {
                dims.push(v as usize);
            }
        }
        self.inner.broadcast_to(&dims).py().map(PyTensor::new)
    }

    /// `expand` to `other`'s shape.
    fn expand_as(&self, other: &PyTensor) -> PyResult<PyTensor> {
        self.inner
            .broadcast_to(other.inner.dims())
            .py()
            .map(PyTensor::new)
    }

    /// Broadcasts to `shape` (NumPy's `broadcast_to`).
    fn broadcast_to(&self, shape: Vec<usize>) -> PyResult<PyTensor> {
        self.inner.broadcast_to(&shape).py().map(PyTensor::new)
    }

    /// `length` entries of `dim` from `start` (a view).
    fn narrow(&self, dim: isize, start: usize, length: usize) -> PyResult<PyTensor> {
        self.inner
            .narrow(dim, start, length)
            .py()
            .map(PyTensor::new)
    }

    /// Entry `index` of `dim`, removing the dim (a view).
    fn select(&self, dim: isize, index: isize) -> PyResult<PyTensor> {
        self.inner.select(dim, index).py().map(PyTensor::new)
    }

    /// A row-major copy, or `self` when already contiguous.
    fn contiguous(&self, py: Python<'_>) -> PyResult<PyTensor> {
        run(py, &self.inner, |t| t.contiguous())
    }

    /// A copy with its own storage (gradients flow back to `self`).
    fn clone(&self, py: Python<'_>) -> PyResult<PyTensor> {
        run(py, &self.inner, |t| t.copy())
    }

    /// Moves and/or casts: `to(device)`, `to(dtype)`, `to(device, dtype)`, `to(other)`, or
    /// keywords `device=`, `dtype=`.
    #[pyo3(signature = (*args, dtype = None, device = None, non_blocking = false, copy = false))]
    fn to(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        dtype: Option<&Bound<'_, PyAny>>,
        device: Option<&Bound<'_, PyAny>>,
        non_blocking: bool,
        copy: bool,
    ) -> PyResult<PyTensor> {
        let _ = non_blocking;
        let mut dt: Option<DType> = match dtype {
            Some(d) if !d.is_none() => Some(extract_dtype("to", d)?),
            _ => None,
        };
        let mut dev: Option<Device> = match device {
            Some(d) if !d.is_none() => Some(extract_device("to", d)?),
            _ => None,
        };
        for a in args.iter() {
            if let Ok(t) = a.cast::<PyTensor>() {
                dt = Some(t.get().inner.dtype());
                dev = Some(t.get().inner.device());
            } else if a.cast::<PyDType>().is_ok() {
                dt = Some(extract_dtype("to", &a)?);
            } else if a.cast::<PyDevice>().is_ok() || a.is_instance_of::<PyString>() {
                let s = a.extract::<String>().ok();
                match s.as_deref().and_then(crate::dtype::parse_name) {
                    Some(d) if s.as_deref() != Some("cpu") => dt = Some(d),
                    _ => dev = Some(extract_device("to", &a)?),
                }
            } else if a.is_none() {
            } else {
                return Err(type_error(
                    "to",
                    format!(
                        "expected a device, dtype or tensor, got {}",
                        a.get_type().name()?
                    ),
                ));
            }
        }
        run(py, &self.inner, move |t| {
            let mut r = t.clone();
            if let Some(d) = dev {
                r = r.to(&d)?;
            }
            if let Some(d) = dt {
                r = r.to_dtype(d)?;
            }
            if copy && r.same_storage(t) {
                r = r.copy()?;
            }
            Ok(r)
        })
    }

    /// A copy on the CPU (`self` when already there).
    fn cpu(&self, py: Python<'_>) -> PyResult<PyTensor> {
        run(py, &self.inner, |t| t.to(&Device::cpu()))
    }

    /// Cast to float32.
    fn float(&self) -> PyResult<PyTensor> {
        self.inner.to_dtype(DType::F32).py().map(PyTensor::new)
    }
    /// Cast to float64.
    fn double(&self) -> PyResult<PyTensor> {
        self.inner.to_dtype(DType::F64).py().map(PyTensor::new)
    }
    /// Cast to float16.
    fn half(&self) -> PyResult<PyTensor> {
        self.inner.to_dtype(DType::F16).py().map(PyTensor::new)
    }
    /// Cast to bfloat16.
    fn bfloat16(&self) -> PyResult<PyTensor> {
        self.inner.to_dtype(DType::BF16).py().map(PyTensor::new)
    }
    /// Cast to int64.
    fn long(&self) -> PyResult<PyTensor> {
        self.inner.to_dtype(DType::I64).py().map(PyTensor::new)
    }
    /// Cast to int32.
    fn int(&self) -> PyResult<PyTensor> {
        self.inner.to_dtype(DType::I32).py().map(PyTensor::new)
    }
    /// Cast to uint8.
    fn byte(&self) -> PyResult<PyTensor> {
        self.inner.to_dtype(DType::U8).py().map(PyTensor::new)
    }
    /// Cast to bool.
    fn bool(&self) -> PyResult<PyTensor> {
        self.inner.to_dtype(DType::Bool).py().map(PyTensor::new)
    }
    /// Cast to `other`'s dtype.
    fn type_as(&self, other: &PyTensor) -> PyResult<PyTensor> {
        self.inner
            .to_dtype(other.inner.dtype())
            .py()
            .map(PyTensor::new)
    }
}
