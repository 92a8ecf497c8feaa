//! numpy interop without copies: `st.from_numpy(a)` wraps the array's memory (keeping the
//! array alive), `t.numpy()` returns an array over the tensor's memory (keeping the tensor
//! alive), and `__array__` lets numpy read tensors.
//!
//! Note [numpy sharing]: `t.numpy()` shares memory for every CPU tensor, whatever its
//! strides (as PyTorch does); tensors on other devices are copied to the host first, so
//! writes to that array are not seen by the tensor. `from_numpy` shares arrays with native
//! byte order, element-aligned data and non-negative strides; it raises ValueError for the
//! others (PyTorch does the same for negative strides), and `st.as_tensor`/`st.tensor`
//! copy them instead.

use super::handle::PyTensor;
use crate::errors::{type_error, value_error, IntoPyResult};
use numpy::npyffi::{self, npy_intp, NPY_ARRAY_WRITEABLE, NPY_TYPES, PY_ARRAY_API};
use numpy::{PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::prelude::*;
use st_core::cpu::{CpuBuffer, MemoryAccess};
use st_core::{DType, Tensor};
use std::os::raw::{c_int, c_void};
use std::sync::Arc;

/// Keeps a Python object alive from Rust (the numpy array under a tensor).
struct PyOwner(#[allow(dead_code)] Py<PyAny>);

/// True for `numpy.ndarray` instances.
pub fn is_ndarray(obj: &Bound<'_, PyAny>) -> bool {
    obj.cast::<PyUntypedArray>().is_ok()
}

/// True for numpy scalars (`np.float32(1)`, `np.int64(2)`, `np.bool_(True)`).
pub fn is_numpy_scalar(obj: &Bound<'_, PyAny>) -> bool {
    let t = obj.get_type();
    t.module().map(|m| m == "numpy").unwrap_or(false)
        && obj.hasattr("dtype").unwrap_or(false)
        && obj.hasattr("item").unwrap_or(false)
}

/// The numpy kind character (`b'f'`, `b'i'`, `b'u'`, `b'b'`) of a numpy scalar.
pub fn scalar_kind(obj: &Bound<'_, PyAny>) -> PyResult<u8> {
    let kind: String = obj.getattr("dtype")?.getattr("kind")?.extract()?;
    Ok(kind.bytes().next().unwrap_or(b'f'))
}

fn dtype_of(descr: &Bound<'_, numpy::PyArrayDescr>) -> PyResult<DType> {
    let (kind, size) = (descr.kind(), descr.itemsize());
    Ok(match (kind, size) {
        (b'f', 2) => DType::F16,
        (b'f', 4) => DType::F32,
        (b'f', 8) => DType::F64,
        (b'i', 4) => DType::I32,
        (b'i', 8) => DType::I64,
        (b'u', 1) => DType::U8,
        (b'b', 1) => DType::Bool,
        _ => {
            return Err(type_error(
                "from_numpy",
                format!(
                    "can't convert a numpy array of dtype {}; the supported types are float64, \
                     float32, float16, int64, int32, uint8 and bool",
                    descr.str()?
                ),
            ))
        }
    })
}

fn typenum(op: &str, d: DType) -> PyResult<NPY_TYPES> {
    Ok(match d {
        DType::F32 => NPY_TYPES::NPY_FLOAT,
        DType::F64 => NPY_TYPES::NPY_DOUBLE,
        DType::F16 => NPY_TYPES::NPY_HALF,
        DType::I32 => NPY_TYPES::NPY_INT,
        DType::I64 => NPY_TYPES::NPY_LONGLONG,
        DType::U8 => NPY_TYPES::NPY_UBYTE,
        DType::Bool => NPY_TYPES::NPY_BOOL,
        DType::BF16 => {
            return Err(type_error(
                op,
                "numpy has no bfloat16 dtype; convert with .float() first",
            ))
        }
    })
}

/// Wraps a numpy array's memory in a CPU tensor without copying; with `copy_fallback`,
/// arrays that cannot be shared (see Note [numpy sharing]) are copied instead of rejected.
pub fn array_to_tensor(obj: &Bound<'_, PyAny>, copy_fallback: bool) -> PyResult<Tensor> {
    let arr = obj
        .cast::<PyUntypedArray>()
        .map_err(|_| type_error("from_numpy", "expected a numpy.ndarray"))?;
    let descr = arr.dtype();
    let dtype = dtype_of(&descr)?;
    let es = dtype.size_in_bytes();
    let shape = arr.shape().to_vec();
    let byte_strides = arr.strides().to_vec();
    // SAFETY: `arr` is a live ndarray; reading its `data` and `flags` fields is what numpy's
    // own PyArray_DATA / PyArray_FLAGS macros do.
    let (data, flags) = unsafe {
        let p = arr.as_array_ptr();
        ((*p).fields.data as *mut u8, (*p).fields.flags)
    };
    let native = descr.byteorder() != b'>';
    let aligned = (data as usize).is_multiple_of(es);
    let strides_ok = byte_strides
        .iter()
        .all(|&s| s >= 0 && (s as usize).is_multiple_of(es));
    if !(native && aligned && strides_ok) {
        if !copy_fallback {
            let why = if !strides_ok {
                "at least one stride is negative or not a multiple of the element size"
            } else if !native {
                "its byte order is not the machine's"
            } else {
                "its data is not aligned to the element size"
            };
            return Err(value_error(
                "from_numpy",
                format!(
                    "the array cannot be shared: {why}; copy it first (np.ascontiguousarray) \
                     or use spiraltorch.tensor(a)"
                ),
            ));
        }
        let py = obj.py();
        let np = py.import("numpy")?;
        let c = np.call_method1("ascontiguousarray", (obj,))?;
        let c = c.call_method1(
            "astype",
            (c.getattr("dtype")?.call_method1("newbyteorder", ("=",))?,),
        )?;
        return array_to_tensor(&c, false);
    }
    let strides: Vec<isize> = byte_strides.iter().map(|&s| s / es as isize).collect();
    let numel: usize = shape.iter().product();
    let len = if numel == 0 {
        0
    } else {
        1 + shape
            .iter()
            .zip(&strides)
            .map(|(&n, &s)| (n - 1) * s as usize)
            .sum::<usize>()
    };
    let access = if flags & NPY_ARRAY_WRITEABLE != 0 {
        MemoryAccess::ReadWrite
    } else {
        MemoryAccess::ReadOnly
    };
    let owner = Arc::new(PyOwner(obj.clone().unbind()));
    // SAFETY: the `len` elements at `data` are the array's memory (its shape and strides
    // reach no further), valid while the array lives; the tensor holds the array through
    // `owner`. Writes by other holders of the array are the aliasing PyTorch's from_numpy
    // also allows; bool arrays hold 0/1 bytes.
    unsafe { Tensor::from_blob(data, len, dtype, shape, &strides, owner, access) }.py()
}

/// Address of element 0 of a CPU tensor (0 for other devices).
pub fn data_ptr(t: &Tensor) -> PyResult<usize> {
    if !t.device().is_cpu() {
        return Ok(0);
    }
    let guard = t.storage().read();
    let buf = CpuBuffer::downcast(&*guard).py()?;
    Ok(buf.bytes().as_ptr() as usize + t.layout().offset() * t.dtype().size_in_bytes())
}

/// A numpy array over the memory of a CPU tensor (`base` keeps the tensor alive); a copy for
/// tensors on other devices. See Note [numpy sharing].
pub fn tensor_to_array<'py>(
    py: Python<'py>,
    t: &Tensor,
    base: Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let tn = typenum("numpy", t.dtype())?;
    let (t, base) = if t.device().is_cpu() {
        (t.clone(), base)
    } else {
        let c = t.to(&st_core::Device::cpu()).py()?;
        let b = Bound::new(py, PyTensor::new(c.clone()))?.into_any();
        (c, b)
    };
    let es = t.dtype().size_in_bytes();
    let writable = t.storage().is_writable();
    let base_ptr: *mut u8 = {
        if writable {
            let mut guard = t.storage().write();
            let buf = CpuBuffer::downcast_mut(&mut *guard).py()?;
            buf.as_mut_slice::<u8>().py()?.as_mut_ptr()
        } else {
            let guard = t.storage().read();
            CpuBuffer::downcast(&*guard).py()?.bytes().as_ptr() as *mut u8
        }
    };
    let mut dims: Vec<npy_intp> = t.dims().iter().map(|&d| d as npy_intp).collect();
    let mut strides: Vec<npy_intp> = t
        .strides()
        .iter()
        .map(|&s| (s * es as isize) as npy_intp)
        .collect();
    // SAFETY: the offset stays inside the buffer: st-core's layouts are checked against it.
    let data = unsafe { base_ptr.add(t.layout().offset() * es) };
    let flags = if writable { NPY_ARRAY_WRITEABLE } else { 0 };
    // SAFETY: numpy's C API, called with the GIL held: the descr reference is stolen by
    // PyArray_NewFromDescr; dims/strides describe memory inside the tensor's buffer (which
    // `base` keeps alive, and SetBaseObject makes the array hold), and the buffer does not
    // move while a storage handle exists.
    unsafe {
        let api = &PY_ARRAY_API;
        let descr = api.PyArray_DescrFromType(py, tn as c_int);
        if descr.is_null() {
            return Err(PyErr::fetch(py));
        }
        let subtype = npyffi::get_type_object(py, npyffi::NpyTypes::PyArray_Type);
        let arr = api.PyArray_NewFromDescr(
            py,
            subtype,
            descr,
            dims.len() as c_int,
            dims.as_mut_ptr(),
            strides.as_mut_ptr(),
            data as *mut c_void,
            flags,
            std::ptr::null_mut(),
        );
        if arr.is_null() {
            return Err(PyErr::fetch(py));
        }
        let arr_obj = Bound::from_owned_ptr(py, arr);
        if api.PyArray_SetBaseObject(py, arr as *mut npyffi::PyArrayObject, base.into_ptr()) < 0 {
            return Err(PyErr::fetch(py));
        }
        Ok(arr_obj)
    }
}

#[pymethods]
impl PyTensor {
    /// A numpy array sharing this CPU tensor's memory (a copy for other devices; see Note
    /// [numpy sharing]). Writes through the array are seen by the tensor.
    ///
    /// Raises RuntimeError for a tensor that requires grad (use `.detach().numpy()`).
    #[pyo3(signature = (*, force = false))]
    fn numpy<'py>(slf: &Bound<'py, Self>, force: bool) -> PyResult<Bound<'py, PyAny>> {
        let t = &slf.get().inner;
        if t.requires_grad() && !force {
            return Err(crate::errors::runtime_error(
                "numpy",
                "can't call numpy() on a tensor that requires grad; use tensor.detach().numpy()",
            ));
        }
        tensor_to_array(slf.py(), t, slf.clone().into_any())
    }

    /// numpy's array protocol: `np.asarray(t)` (shares memory like `numpy()`, detached).
    #[pyo3(signature = (dtype = None, copy = None))]
    fn __array__<'py>(
        slf: &Bound<'py, Self>,
        dtype: Option<Bound<'py, PyAny>>,
        copy: Option<bool>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let t = &slf.get().inner;
        let a = tensor_to_array(slf.py(), t, slf.clone().into_any())?;
        let a = match dtype {
            Some(d) if !d.is_none() => a.call_method1("astype", (d,))?,
            _ => a,
        };
        if copy == Some(true) {
            return a.call_method0("copy");
        }
        Ok(a)
    }

    /// Address of the first element (PyTorch's `data_ptr()`); 0 off the CPU.
    fn data_ptr(&self) -> PyResult<usize> {
        data_ptr(&self.inner)
    }
}

/// `st.from_numpy(a)`: a tensor over the array's memory (no copy).
#[pyfunction]
fn from_numpy(a: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
    if !is_ndarray(a) {
        return Err(type_error(
            "from_numpy",
            format!("expected np.ndarray (got {})", a.get_type().name()?),
        ));
    }
    array_to_tensor(a, false).map(PyTensor::new)
}

/// Registers the numpy functions.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(from_numpy, m)?)?;
    Ok(())
}
