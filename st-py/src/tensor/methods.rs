//! Elementwise, reduction, matmul/softmax and in-place methods under their PyTorch names,
//! and the module functions that take several tensors (`cat`, `stack`, `where`).

use super::convert::Operand;
use super::handle::PyTensor;
use super::ops::{apply, Bin};
use crate::dtype::extract_opt_dtype;
use crate::errors::{type_error, IntoPyResult};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use st_core::{DType, Tensor};

/// A `dim` argument: `None` (all dims), an int or a sequence of ints.
fn dims_arg(op: &str, dim: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<isize>> {
    match dim {
        None => Ok(Vec::new()),
        Some(d) if d.is_none() => Ok(Vec::new()),
        Some(d) => {
            if let Ok(i) = d.extract::<isize>() {
                return Ok(vec![i]);
            }
            d.extract::<Vec<isize>>()
                .map_err(|_| type_error(op, "dim must be an int, a sequence of ints or None"))
        }
    }
}

/// A tensor operand (a tensor, number or array), shaped like `like` for scalars.
fn operand(op: &str, like: &Tensor, other: &Bound<'_, PyAny>) -> PyResult<Tensor> {
    match Operand::extract(other)? {
        Some(o) => o.into_tensor(like),
        None => Err(type_error(
            op,
            format!(
                "expected a Tensor or a number as the other operand, got {}",
                other.get_type().name()?
            ),
        )),
    }
}

fn wrap(r: st_core::Result<Tensor>) -> PyResult<PyTensor> {
    r.py().map(PyTensor::new)
}

macro_rules! unary_methods {
    ($($name:ident => $core:ident;)*) => {
        #[pymethods]
        impl PyTensor {$(
            #[doc = concat!("Elementwise `", stringify!($name), "` (st-core `", stringify!($core), "`).")]
            fn $name(&self, py: Python<'_>) -> PyResult<PyTensor> {
                let t = self.inner.clone();
                wrap(py.detach(move || t.$core()))
            }
        )*}
    };
}

unary_methods! {
    neg => neg; negative => neg; abs => abs; absolute => abs; exp => exp; log => log;
    sqrt => sqrt; rsqrt => rsqrt; sin => sin; cos => cos; tanh => tanh; sigmoid => sigmoid;
    relu => relu; silu => silu; erf => erf; floor => floor; ceil => ceil;
    round => round; sign => sign; reciprocal => reciprocal; logical_not => logical_not;
}

macro_rules! unary_inplace {
    ($($name:ident => $core:ident;)*) => {
        #[pymethods]
        impl PyTensor {$(
            #[doc = concat!("In-place `", stringify!($core), "`.")]
            fn $name(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
                let t = slf.get().inner.clone();
                slf.py().detach(move || t.copy_(&t.$core()?)).py()?;
                Ok(slf.clone().into_any().unbind())
            }
        )*}
    };
}

unary_inplace! {
    neg_ => neg; abs_ => abs; exp_ => exp; log_ => log; sqrt_ => sqrt; sin_ => sin;
    cos_ => cos; tanh_ => tanh; sigmoid_ => sigmoid; relu_ => relu; floor_ => floor;
    ceil_ => ceil; round_ => round; sign_ => sign; reciprocal_ => reciprocal;
}

macro_rules! binary_methods {
    ($($name:ident => $op:ident;)*) => {
        #[pymethods]
        impl PyTensor {$(
            #[doc = concat!("Elementwise `", stringify!($name), "` with broadcasting.")]
            fn $name(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
                let b = operand(stringify!($name), &self.inner, other)?;
                apply(py, Bin::$op, &self.inner, &b).map(PyTensor::new)
            }
        )*}
    };
}

binary_methods! {
    mul => Mul; multiply => Mul; div => Div; divide => Div; true_divide => Div;
    floor_divide => FloorDiv; remainder => Rem; pow => Pow; matmul => MatMul; mm => MatMul;
    eq => Eq; ne => Ne; lt => Lt; le => Le; gt => Gt; ge => Ge; maximum => Maximum;
    minimum => Minimum; bitwise_and => And; bitwise_or => Or; bitwise_xor => Xor;
}

#[pymethods]
impl PyTensor {
    /// Elementwise logical and (nonzero is true), as bool.
    fn logical_and(&self, other: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        let b = operand("logical_and", &self.inner, other)?;
        wrap(self.inner.logical_and(&b))
    }

    /// Elementwise logical or (nonzero is true), as bool.
    fn logical_or(&self, other: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        let b = operand("logical_or", &self.inner, other)?;
        wrap(self.inner.logical_or(&b))
    }

    /// Elementwise logical xor (nonzero is true), as bool.
    fn logical_xor(&self, other: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        let b = operand("logical_xor", &self.inner, other)?;
        let (a, b) = (self.inner.to_dtype(DType::Bool), b.to_dtype(DType::Bool));
        wrap(a.and_then(|a| a.ne(&b?)))
    }
}

#[pymethods]
impl PyTensor {
    /// `self + alpha * other`.
    #[pyo3(signature = (other, *, alpha = 1.0))]
    fn add(&self, py: Python<'_>, other: &Bound<'_, PyAny>, alpha: f64) -> PyResult<PyTensor> {
        let mut b = operand("add", &self.inner, other)?;
        if alpha != 1.0 {
            b = b.mul_scalar(alpha).py()?;
        }
        apply(py, Bin::Add, &self.inner, &b).map(PyTensor::new)
    }

    /// `self - alpha * other`.
    #[pyo3(signature = (other, *, alpha = 1.0))]
    fn sub(&self, py: Python<'_>, other: &Bound<'_, PyAny>, alpha: f64) -> PyResult<PyTensor> {
        let mut b = operand("sub", &self.inner, other)?;
        if alpha != 1.0 {
            b = b.mul_scalar(alpha).py()?;
        }
        apply(py, Bin::Sub, &self.inner, &b).map(PyTensor::new)
    }

    /// Clamps into `[min, max]` (either optional).
    #[pyo3(signature = (min = None, max = None))]
    fn clamp(&self, py: Python<'_>, min: Option<f64>, max: Option<f64>) -> PyResult<PyTensor> {
        let t = self.inner.clone();
        wrap(py.detach(move || t.clamp(min, max)))
    }

    /// Alias of `clamp`.
    #[pyo3(signature = (min = None, max = None))]
    fn clip(&self, py: Python<'_>, min: Option<f64>, max: Option<f64>) -> PyResult<PyTensor> {
        self.clamp(py, min, max)
    }

    /// GELU; `approximate="tanh"` for the tanh form.
    #[pyo3(signature = (approximate = "none"))]
    fn gelu(&self, approximate: &str) -> PyResult<PyTensor> {
        match approximate {
            "none" => wrap(self.inner.gelu()),
            "tanh" => wrap(self.inner.gelu_tanh()),
            o => Err(crate::errors::value_error(
                "gelu",
                format!("approximate must be 'none' or 'tanh', got {o:?}"),
            )),
        }
    }

    /// Softmax along `dim`.
    fn softmax(&self, py: Python<'_>, dim: isize) -> PyResult<PyTensor> {
        let t = self.inner.clone();
        wrap(py.detach(move || t.softmax(dim)))
    }

    /// Log-softmax along `dim`.
    fn log_softmax(&self, py: Python<'_>, dim: isize) -> PyResult<PyTensor> {
        let t = self.inner.clone();
        wrap(py.detach(move || t.log_softmax(dim)))
    }

    /// Sum over `dim` (all when None); `dtype` casts first.
    #[pyo3(signature = (dim = None, keepdim = false, *, dtype = None))]
    fn sum(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let dims = dims_arg("sum", dim)?;
        let dt = extract_opt_dtype("sum", dtype)?;
        let t = self.inner.clone();
        wrap(py.detach(move || t.to_dtype(dt.unwrap_or(t.dtype()))?.sum(&dims, keepdim)))
    }

    /// Mean over `dim` (float dtypes).
    #[pyo3(signature = (dim = None, keepdim = false, *, dtype = None))]
    fn mean(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let dims = dims_arg("mean", dim)?;
        let dt = extract_opt_dtype("mean", dtype)?;
        let t = self.inner.clone();
        wrap(py.detach(move || t.to_dtype(dt.unwrap_or(t.dtype()))?.mean(&dims, keepdim)))
    }

    /// Product over `dim`.
    #[pyo3(signature = (dim = None, keepdim = false))]
    fn prod(&self, dim: Option<&Bound<'_, PyAny>>, keepdim: bool) -> PyResult<PyTensor> {
        wrap(self.inner.prod(&dims_arg("prod", dim)?, keepdim))
    }

    /// Maximum over `dim` (all when None).
    #[pyo3(signature = (dim = None, keepdim = false))]
    fn amax(&self, dim: Option<&Bound<'_, PyAny>>, keepdim: bool) -> PyResult<PyTensor> {
        wrap(self.inner.amax(&dims_arg("amax", dim)?, keepdim))
    }

    /// Minimum over `dim` (all when None).
    #[pyo3(signature = (dim = None, keepdim = false))]
    fn amin(&self, dim: Option<&Bound<'_, PyAny>>, keepdim: bool) -> PyResult<PyTensor> {
        wrap(self.inner.amin(&dims_arg("amin", dim)?, keepdim))
    }

    /// `max()` of all elements; `max(dim)` → `(values, indices)`; `max(other)` elementwise.
    #[pyo3(signature = (dim = None, keepdim = false))]
    fn max<'py>(
        &self,
        py: Python<'py>,
        dim: Option<&Bound<'py, PyAny>>,
        keepdim: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.extremum(py, dim, keepdim, true)
    }

    /// `min()` of all elements; `min(dim)` → `(values, indices)`; `min(other)` elementwise.
    #[pyo3(signature = (dim = None, keepdim = false))]
    fn min<'py>(
        &self,
        py: Python<'py>,
        dim: Option<&Bound<'py, PyAny>>,
        keepdim: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.extremum(py, dim, keepdim, false)
    }

    /// Index of the first maximum (flattened when `dim` is None).
    #[pyo3(signature = (dim = None, keepdim = false))]
    fn argmax(&self, dim: Option<isize>, keepdim: bool) -> PyResult<PyTensor> {
        wrap(self.inner.argmax(dim, keepdim))
    }

    /// Index of the first minimum (flattened when `dim` is None).
    #[pyo3(signature = (dim = None, keepdim = false))]
    fn argmin(&self, dim: Option<isize>, keepdim: bool) -> PyResult<PyTensor> {
        wrap(self.inner.argmin(dim, keepdim))
    }

    /// Variance over `dim`; `correction=1` (or `unbiased=True`) is Bessel's correction.
    #[pyo3(signature = (dim = None, unbiased = None, keepdim = false, *, correction = None))]
    fn var(
        &self,
        dim: Option<&Bound<'_, PyAny>>,
        unbiased: Option<bool>,
        keepdim: bool,
        correction: Option<usize>,
    ) -> PyResult<PyTensor> {
        let c = correction.unwrap_or(usize::from(unbiased.unwrap_or(true)));
        wrap(self.inner.var(&dims_arg("var", dim)?, c, keepdim))
    }

    /// Standard deviation over `dim` (see `var`).
    #[pyo3(signature = (dim = None, unbiased = None, keepdim = false, *, correction = None))]
    fn std(
        &self,
        dim: Option<&Bound<'_, PyAny>>,
        unbiased: Option<bool>,
        keepdim: bool,
        correction: Option<usize>,
    ) -> PyResult<PyTensor> {
        let c = correction.unwrap_or(usize::from(unbiased.unwrap_or(true)));
        wrap(self.inner.std(&dims_arg("std", dim)?, c, keepdim))
    }

    /// log(sum(exp(x))) over `dim`, computed stably.
    #[pyo3(signature = (dim, keepdim = false))]
    fn logsumexp(&self, dim: &Bound<'_, PyAny>, keepdim: bool) -> PyResult<PyTensor> {
        wrap(
            self.inner
                .logsumexp(&dims_arg("logsumexp", Some(dim))?, keepdim),
        )
    }

    /// Splits into pieces of `split_size` along `dim`.
    #[pyo3(signature = (split_size, dim = 0))]
    fn split(&self, split_size: usize, dim: isize) -> PyResult<Vec<PyTensor>> {
        Ok(self
            .inner
            .split(split_size, dim)
            .py()?
            .into_iter()
            .map(PyTensor::new)
            .collect())
    }

    /// Splits into `chunks` pieces along `dim`.
    #[pyo3(signature = (chunks, dim = 0))]
    fn chunk(&self, chunks: usize, dim: isize) -> PyResult<Vec<PyTensor>> {
        Ok(self
            .inner
            .chunk(chunks, dim)
            .py()?
            .into_iter()
            .map(PyTensor::new)
            .collect())
    }

    /// Entries of `dim` at `index` (int64 or int32, 1-d).
    fn index_select(&self, dim: isize, index: &PyTensor) -> PyResult<PyTensor> {
        wrap(self.inner.index_select(dim, &index.inner))
    }

    /// PyTorch's `gather` along `dim`.
    fn gather(&self, dim: isize, index: &PyTensor) -> PyResult<PyTensor> {
        wrap(self.inner.gather(dim, &index.inner))
    }

    /// PyTorch's `scatter_add` (out of place).
    fn scatter_add(&self, dim: isize, index: &PyTensor, src: &PyTensor) -> PyResult<PyTensor> {
        wrap(self.inner.scatter_add(dim, &index.inner, &src.inner))
    }

    /// Elements where `mask` is true replaced by `value`.
    fn masked_fill(&self, mask: &PyTensor, value: f64) -> PyResult<PyTensor> {
        wrap(self.inner.masked_fill(&mask.inner, value))
    }

    /// `where(condition, self, other)` (PyTorch's `Tensor.where`).
    #[pyo3(name = "where")]
    fn where_(&self, condition: &PyTensor, other: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        let b = operand("where", &self.inner, other)?;
        wrap(condition.inner.where_cond(&self.inner, &b))
    }

    /// `self += alpha * other`, in place.
    #[pyo3(signature = (other, *, alpha = 1.0))]
    fn add_(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>, alpha: f64) -> PyResult<Py<PyAny>> {
        let a = slf.get().inner.clone();
        let b = operand("add_", &a, other)?;
        slf.py().detach(|| a.add_scaled_(&b, alpha)).py()?;
        Ok(slf.clone().into_any().unbind())
    }

    /// `self -= alpha * other`, in place.
    #[pyo3(signature = (other, *, alpha = 1.0))]
    fn sub_(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>, alpha: f64) -> PyResult<Py<PyAny>> {
        let a = slf.get().inner.clone();
        let b = operand("sub_", &a, other)?;
        slf.py().detach(|| a.add_scaled_(&b, -alpha)).py()?;
        Ok(slf.clone().into_any().unbind())
    }

    /// `self *= other`, in place.
    fn mul_(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        inplace_with(slf, other, "mul_", |a, b| a.mul_(b))
    }

    /// `self /= other`, in place.
    fn div_(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        inplace_with(slf, other, "div_", |a, b| a.div_(b))
    }

    /// `self **= other`, in place.
    fn pow_(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        inplace_with(slf, other, "pow_", |a, b| a.pow_(b))
    }

    /// Copies `src` (broadcast, cast, moved) into `self`.
    #[pyo3(signature = (src, non_blocking = false))]
    fn copy_(
        slf: &Bound<'_, Self>,
        src: &Bound<'_, PyAny>,
        non_blocking: bool,
    ) -> PyResult<Py<PyAny>> {
        let _ = non_blocking;
        inplace_with(slf, src, "copy_", |a, b| a.copy_(b))
    }

    /// Sets every element to `value`.
    fn fill_(slf: &Bound<'_, Self>, value: f64) -> PyResult<Py<PyAny>> {
        slf.get().inner.fill_(value).py()?;
        Ok(slf.clone().into_any().unbind())
    }

    /// Sets every element to zero.
    fn zero_(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        slf.get().inner.zero_().py()?;
        Ok(slf.clone().into_any().unbind())
    }

    /// Clamps in place.
    #[pyo3(signature = (min = None, max = None))]
    fn clamp_(slf: &Bound<'_, Self>, min: Option<f64>, max: Option<f64>) -> PyResult<Py<PyAny>> {
        let a = slf.get().inner.clone();
        slf.py().detach(|| a.clamp_(min, max)).py()?;
        Ok(slf.clone().into_any().unbind())
    }

    /// Alias of `clamp_`.
    #[pyo3(signature = (min = None, max = None))]
    fn clip_(slf: &Bound<'_, Self>, min: Option<f64>, max: Option<f64>) -> PyResult<Py<PyAny>> {
        Self::clamp_(slf, min, max)
    }

    /// Writes `value` where `mask` is true, in place.
    fn masked_fill_(slf: &Bound<'_, Self>, mask: &PyTensor, value: f64) -> PyResult<Py<PyAny>> {
        slf.get().inner.masked_fill_(&mask.inner, value).py()?;
        Ok(slf.clone().into_any().unbind())
    }

    /// `self[indices] = values` (or `+=` with `accumulate`), PyTorch's `index_put_`.
    #[pyo3(signature = (indices, values, accumulate = false))]
    fn index_put_(
        slf: &Bound<'_, Self>,
        indices: Vec<PyRef<'_, PyTensor>>,
        values: &PyTensor,
        accumulate: bool,
    ) -> PyResult<Py<PyAny>> {
        let idx: Vec<&Tensor> = indices.iter().map(|t| &t.inner).collect();
        slf.get()
            .inner
            .index_put_(&idx, &values.inner, accumulate)
            .py()?;
        Ok(slf.clone().into_any().unbind())
    }
}

fn inplace_with(
    slf: &Bound<'_, PyTensor>,
    other: &Bound<'_, PyAny>,
    op: &str,
    f: impl FnOnce(&Tensor, &Tensor) -> st_core::Result<()> + Send,
) -> PyResult<Py<PyAny>> {
    let a = slf.get().inner.clone();
    let b = operand(op, &a, other)?;
    slf.py().detach(|| f(&a, &b)).py()?;
    Ok(slf.clone().into_any().unbind())
}

impl PyTensor {
    fn extremum<'py>(
        &self,
        py: Python<'py>,
        dim: Option<&Bound<'py, PyAny>>,
        keepdim: bool,
        is_max: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let t = &self.inner;
        match dim {
            None => {
                let r = if is_max {
                    t.amax(&[], false)
                } else {
                    t.amin(&[], false)
                };
                Ok(Bound::new(py, PyTensor::new(r.py()?))?.into_any())
            }
            Some(d) if d.cast::<PyTensor>().is_ok() => {
                let op = if is_max { Bin::Maximum } else { Bin::Minimum };
                let o = d.cast::<PyTensor>()?.get().inner.clone();
                Ok(Bound::new(py, PyTensor::new(apply(py, op, t, &o)?))?.into_any())
            }
            Some(d) => {
                let dim: isize = d.extract()?;
                let (v, i) = if is_max {
                    t.max_dim(dim, keepdim)
                } else {
                    t.min_dim(dim, keepdim)
                }
                .py()?;
                let tuple = PyTuple::new(py, [PyTensor::new(v), PyTensor::new(i)])?;
                Ok(tuple.into_any())
            }
        }
    }
}

fn tensor_list(op: &str, tensors: &Bound<'_, PyAny>) -> PyResult<Vec<Tensor>> {
    let mut out = Vec::new();
    for item in tensors.try_iter()? {
        let item = item?;
        let t = item.cast::<PyTensor>().map_err(|_| {
            type_error(
                op,
                format!(
                    "expected a sequence of Tensors, found {}",
                    item.get_type()
                        .name()
                        .map(|n| n.to_string())
                        .unwrap_or_default()
                ),
            )
        })?;
        out.push(t.get().inner.clone());
    }
    Ok(out)
}

/// `st.cat(tensors, dim=0)`.
#[pyfunction]
#[pyo3(signature = (tensors, dim = 0))]
fn cat(py: Python<'_>, tensors: &Bound<'_, PyAny>, dim: isize) -> PyResult<PyTensor> {
    let ts = tensor_list("cat", tensors)?;
    wrap(py.detach(move || Tensor::cat(&ts.iter().collect::<Vec<_>>(), dim)))
}

/// `st.stack(tensors, dim=0)`.
#[pyfunction]
#[pyo3(signature = (tensors, dim = 0))]
fn stack(py: Python<'_>, tensors: &Bound<'_, PyAny>, dim: isize) -> PyResult<PyTensor> {
    let ts = tensor_list("stack", tensors)?;
    wrap(py.detach(move || Tensor::stack(&ts.iter().collect::<Vec<_>>(), dim)))
}

/// `st.where(condition, input, other)`: `input` where `condition`, else `other` (either may
/// be a number).
#[pyfunction]
#[pyo3(name = "where")]
fn where_fn(
    condition: &PyTensor,
    input: &Bound<'_, PyAny>,
    other: &Bound<'_, PyAny>,
) -> PyResult<PyTensor> {
    let c = &condition.inner;
    if c.dtype() != DType::Bool {
        return Err(type_error(
            "where",
            format!(
                "condition must be a bool tensor, got {}",
                crate::dtype::torch_name(c.dtype())
            ),
        ));
    }
    let a = match input.cast::<PyTensor>() {
        Ok(t) => t.get().inner.clone(),
        Err(_) => {
            let like = match other.cast::<PyTensor>() {
                Ok(t) => t.get().inner.clone(),
                Err(_) => Tensor::scalar(0.0, DType::F32, &c.device()).py()?,
            };
            operand("where", &like, input)?
        }
    };
    let b = operand("where", &a, other)?;
    wrap(c.where_cond(&a, &b))
}

/// Registers the module functions.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(cat, m)?)?;
    m.add_function(wrap_pyfunction!(stack, m)?)?;
    m.add_function(wrap_pyfunction!(where_fn, m)?)?;
    Ok(())
}
