//! Creation functions: `tensor`, `as_tensor`, `zeros`, `ones`, `full`, `empty`, `arange`,
//! `linspace`, `eye`, the `*_like` forms, `rand`, `randn`, `randint`, `manual_seed`.

use super::convert::to_tensor;
use super::handle::PyTensor;
use super::shape::sizes_arg;
use crate::device::extract_opt_device;
use crate::dtype::extract_opt_dtype;
use crate::errors::{value_error, IntoPyResult};
use pyo3::prelude::*;
use pyo3::types::{PyFloat, PyTuple};
use st_core::{DType, Device, Tensor};

fn finish(t: Tensor, requires_grad: bool) -> PyResult<PyTensor> {
    if requires_grad {
        t.set_requires_grad(true).py()?;
    }
    Ok(PyTensor::new(t))
}

fn dims(op: &str, size: &Bound<'_, PyTuple>) -> PyResult<Vec<usize>> {
    sizes_arg(op, size)?
        .into_iter()
        .map(|d| {
            usize::try_from(d).map_err(|_| {
                value_error(op, format!("negative dimension {d} in the requested size"))
            })
        })
        .collect()
}

/// `st.tensor(data, dtype=None, device=None, requires_grad=False)`: always copies.
#[pyfunction]
#[pyo3(signature = (data, *, dtype = None, device = None, requires_grad = false))]
fn tensor(
    data: &Bound<'_, PyAny>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<PyTensor> {
    let dt = extract_opt_dtype("tensor", dtype)?;
    let dev = extract_opt_device("tensor", device)?;
    finish(to_tensor("tensor", data, dt, &dev)?, requires_grad)
}

/// `st.as_tensor(data, dtype=None, device=None)`: shares memory with a tensor or numpy array
/// when dtype and device already match, copies otherwise.
#[pyfunction]
#[pyo3(signature = (data, dtype = None, device = None))]
fn as_tensor(
    data: &Bound<'_, PyAny>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyTensor> {
    let dt = extract_opt_dtype("as_tensor", dtype)?;
    let dev = match device {
        Some(d) if !d.is_none() => Some(crate::device::extract_device("as_tensor", d)?),
        _ => None,
    };
    let base = if let Ok(t) = data.cast::<PyTensor>() {
        t.get().inner.clone()
    } else if super::numpy::is_ndarray(data) {
        super::numpy::array_to_tensor(data, true)?
    } else {
        let d = dev.unwrap_or_else(st_core::default_device);
        return Ok(PyTensor::new(to_tensor("as_tensor", data, dt, &d)?));
    };
    let t = base.to_dtype(dt.unwrap_or(base.dtype())).py()?;
    let t = match dev {
        Some(d) => t.to(&d).py()?,
        None => t,
    };
    Ok(PyTensor::new(t))
}

macro_rules! filled {
    ($($name:ident => $value:expr, $doc:literal;)*) => {$(
        #[doc = $doc]
        #[pyfunction]
        #[pyo3(signature = (*size, dtype = None, device = None, requires_grad = false))]
        fn $name(
            size: &Bound<'_, PyTuple>,
            dtype: Option<&Bound<'_, PyAny>>,
            device: Option<&Bound<'_, PyAny>>,
            requires_grad: bool,
        ) -> PyResult<PyTensor> {
            let op = stringify!($name);
            let d = dims(op, size)?;
            let dt = extract_opt_dtype(op, dtype)?.unwrap_or(DType::F32);
            let dev = extract_opt_device(op, device)?;
            finish(Tensor::full(d, $value, dt, &dev).py()?, requires_grad)
        }
    )*};
}

filled! {
    zeros => 0.0, "`st.zeros(*size)`: a tensor of zeros (float32 unless `dtype`).";
    ones => 1.0, "`st.ones(*size)`: a tensor of ones.";
    empty => 0.0, "`st.empty(*size)`: an uninitialised tensor (zero-filled here).";
}

/// `st.full(size, fill_value)`: dtype inferred from the value as in PyTorch.
#[pyfunction]
#[pyo3(signature = (size, fill_value, *, dtype = None, device = None, requires_grad = false))]
fn full(
    size: Vec<usize>,
    fill_value: &Bound<'_, PyAny>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<PyTensor> {
    let dt = match extract_opt_dtype("full", dtype)? {
        Some(d) => d,
        None => value_dtype(fill_value),
    };
    let dev = extract_opt_device("full", device)?;
    let v: f64 = fill_value.extract()?;
    finish(Tensor::full(size, v, dt, &dev).py()?, requires_grad)
}

fn value_dtype(v: &Bound<'_, PyAny>) -> DType {
    if v.is_instance_of::<pyo3::types::PyBool>() {
        DType::Bool
    } else if v.is_instance_of::<pyo3::types::PyInt>() {
        DType::I64
    } else {
        DType::F32
    }
}

fn like_args(
    op: &str,
    input: &PyTensor,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
) -> PyResult<(Vec<usize>, DType, Device)> {
    let dt = extract_opt_dtype(op, dtype)?.unwrap_or(input.inner.dtype());
    let dev = match device {
        Some(d) if !d.is_none() => crate::device::extract_device(op, d)?,
        _ => input.inner.device(),
    };
    Ok((input.inner.dims().to_vec(), dt, dev))
}

macro_rules! like {
    ($($name:ident => |$s:ident, $dt:ident, $dev:ident| $make:expr, $doc:literal;)*) => {$(
        #[doc = $doc]
        #[pyfunction]
        #[pyo3(signature = (input, *, dtype = None, device = None, requires_grad = false))]
        fn $name(
            input: &PyTensor,
            dtype: Option<&Bound<'_, PyAny>>,
            device: Option<&Bound<'_, PyAny>>,
            requires_grad: bool,
        ) -> PyResult<PyTensor> {
            let ($s, $dt, $dev) = like_args(stringify!($name), input, dtype, device)?;
            finish($make.py()?, requires_grad)
        }
    )*};
}

like! {
    zeros_like => |s, dt, dev| Tensor::zeros(s, dt, &dev), "Zeros shaped like `input`.";
    ones_like => |s, dt, dev| Tensor::ones(s, dt, &dev), "Ones shaped like `input`.";
    empty_like => |s, dt, dev| Tensor::zeros(s, dt, &dev), "Uninitialised (zero) like `input`.";
    rand_like => |s, dt, dev| Tensor::rand(s, dt, &dev), "Uniform [0, 1) like `input`.";
    randn_like => |s, dt, dev| Tensor::randn(s, dt, &dev), "Standard normal like `input`.";
}

/// `fill_value` shaped like `input`.
#[pyfunction]
#[pyo3(signature = (input, fill_value, *, dtype = None, device = None, requires_grad = false))]
fn full_like(
    input: &PyTensor,
    fill_value: f64,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<PyTensor> {
    let (s, dt, dev) = like_args("full_like", input, dtype, device)?;
    finish(Tensor::full(s, fill_value, dt, &dev).py()?, requires_grad)
}

/// `st.arange(end)`, `st.arange(start, end, step=1)`: int64 for int arguments, else float32.
#[pyfunction]
#[pyo3(signature = (start, end = None, step = None, *, dtype = None, device = None, requires_grad = false))]
fn arange(
    start: &Bound<'_, PyAny>,
    end: Option<&Bound<'_, PyAny>>,
    step: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<PyTensor> {
    let (s, e) = match end {
        Some(e) if !e.is_none() => (start.clone(), e.clone()),
        _ => (PyFloat::new(start.py(), 0.0).into_any(), start.clone()),
    };
    let all_int = [Some(start), end, step]
        .into_iter()
        .flatten()
        .all(|v| v.is_none() || v.is_instance_of::<pyo3::types::PyInt>());
    let dt = extract_opt_dtype("arange", dtype)?.unwrap_or(if all_int {
        DType::I64
    } else {
        DType::F32
    });
    let st = match step {
        Some(v) if !v.is_none() => v.extract::<f64>()?,
        _ => 1.0,
    };
    let dev = extract_opt_device("arange", device)?;
    finish(
        Tensor::arange(s.extract()?, e.extract()?, st, dt, &dev).py()?,
        requires_grad,
    )
}

/// `st.linspace(start, end, steps)`.
#[pyfunction]
#[pyo3(signature = (start, end, steps, *, dtype = None, device = None, requires_grad = false))]
fn linspace(
    start: f64,
    end: f64,
    steps: usize,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<PyTensor> {
    let dt = extract_opt_dtype("linspace", dtype)?.unwrap_or(DType::F32);
    let dev = extract_opt_device("linspace", device)?;
    finish(
        Tensor::linspace(start, end, steps, dt, &dev).py()?,
        requires_grad,
    )
}

/// `st.eye(n, m=None)`.
#[pyfunction]
#[pyo3(signature = (n, m = None, *, dtype = None, device = None, requires_grad = false))]
fn eye(
    n: usize,
    m: Option<usize>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<PyTensor> {
    let dt = extract_opt_dtype("eye", dtype)?.unwrap_or(DType::F32);
    let dev = extract_opt_device("eye", device)?;
    let m = m.unwrap_or(n);
    let k = n.max(m);
    let t = Tensor::eye(k, dt, &dev)
        .and_then(|t| t.narrow(0, 0, n)?.narrow(1, 0, m)?.contiguous())
        .py()?;
    finish(t, requires_grad)
}

macro_rules! random {
    ($($name:ident => $core:ident, $doc:literal;)*) => {$(
        #[doc = $doc]
        #[pyfunction]
        #[pyo3(signature = (*size, dtype = None, device = None, requires_grad = false))]
        fn $name(
            py: Python<'_>,
            size: &Bound<'_, PyTuple>,
            dtype: Option<&Bound<'_, PyAny>>,
            device: Option<&Bound<'_, PyAny>>,
            requires_grad: bool,
        ) -> PyResult<PyTensor> {
            let op = stringify!($name);
            let d = dims(op, size)?;
            let dt = extract_opt_dtype(op, dtype)?.unwrap_or(DType::F32);
            let dev = extract_opt_device(op, device)?;
            finish(py.detach(move || Tensor::$core(d, dt, &dev)).py()?, requires_grad)
        }
    )*};
}

random! {
    rand => rand, "`st.rand(*size)`: uniform in [0, 1).";
    randn => randn, "`st.randn(*size)`: standard normal.";
}

/// `st.randint(low=0, high, size)`: uniform integers in [low, high) (int64 by default).
#[pyfunction]
#[pyo3(signature = (*args, size = None, dtype = None, device = None))]
fn randint(
    args: &Bound<'_, PyTuple>,
    size: Option<Vec<usize>>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyTensor> {
    let mut nums: Vec<i64> = Vec::new();
    let mut shape = size;
    for a in args.iter() {
        if let Ok(i) = a.extract::<i64>() {
            nums.push(i);
        } else if shape.is_none() {
            shape = Some(a.extract()?);
        } else {
            return Err(value_error(
                "randint",
                "expected randint(low=0, high, size)",
            ));
        }
    }
    let (low, high) = match nums.as_slice() {
        [h] => (0, *h),
        [l, h] => (*l, *h),
        _ => {
            return Err(value_error(
                "randint",
                "expected randint(low=0, high, size)",
            ))
        }
    };
    let shape = shape.ok_or_else(|| value_error("randint", "missing the size argument"))?;
    let dt = extract_opt_dtype("randint", dtype)?.unwrap_or(DType::I64);
    let dev = extract_opt_device("randint", device)?;
    Tensor::randint(low, high, shape, dt, &dev)
        .py()
        .map(PyTensor::new)
}

/// `st.manual_seed(seed)`: reseeds the default generator.
#[pyfunction]
fn manual_seed(seed: u64) {
    st_core::manual_seed(seed);
}

/// Registers the creation functions.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(tensor, m)?)?;
    m.add_function(wrap_pyfunction!(as_tensor, m)?)?;
    m.add_function(wrap_pyfunction!(zeros, m)?)?;
    m.add_function(wrap_pyfunction!(ones, m)?)?;
    m.add_function(wrap_pyfunction!(empty, m)?)?;
    m.add_function(wrap_pyfunction!(full, m)?)?;
    m.add_function(wrap_pyfunction!(zeros_like, m)?)?;
    m.add_function(wrap_pyfunction!(ones_like, m)?)?;
    m.add_function(wrap_pyfunction!(empty_like, m)?)?;
    m.add_function(wrap_pyfunction!(full_like, m)?)?;
    m.add_function(wrap_pyfunction!(rand_like, m)?)?;
    m.add_function(wrap_pyfunction!(randn_like, m)?)?;
    m.add_function(wrap_pyfunction!(arange, m)?)?;
    m.add_function(wrap_pyfunction!(linspace, m)?)?;
    m.add_function(wrap_pyfunction!(eye, m)?)?;
    m.add_function(wrap_pyfunction!(rand, m)?)?;
    m.add_function(wrap_pyfunction!(randn, m)?)?;
    m.add_function(wrap_pyfunction!(randint, m)?)?;
    m.add_function(wrap_pyfunction!(manual_seed, m)?)?;
    Ok(())
}
