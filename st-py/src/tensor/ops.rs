//! The Python operators: arithmetic, comparisons, bitwise/logical and `@`, with reflected and
//! in-place forms. An operand of an unknown type gives `NotImplemented`.

use super::convert::Operand;
use super::handle::PyTensor;
use crate::errors::{type_error, IntoPyResult};
use pyo3::exceptions::PyZeroDivisionError;
use pyo3::prelude::*;
use st_core::{DType, Device, Tensor};

/// A binary operator.
#[derive(Clone, Copy, Debug)]
pub enum Bin {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Rem,
    Pow,
    MatMul,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
    Xor,
    Maximum,
    Minimum,
}

impl Bin {
    fn name(self) -> &'static str {
        match self {
            Bin::Add => "add",
            Bin::Sub => "sub",
            Bin::Mul => "mul",
            Bin::Div => "div",
            Bin::FloorDiv => "floor_divide",
            Bin::Rem => "remainder",
            Bin::Pow => "pow",
            Bin::MatMul => "matmul",
            Bin::Eq => "eq",
            Bin::Ne => "ne",
            Bin::Lt => "lt",
            Bin::Le => "le",
            Bin::Gt => "gt",
            Bin::Ge => "ge",
            Bin::And => "bitwise_and",
            Bin::Or => "bitwise_or",
            Bin::Xor => "bitwise_xor",
            Bin::Maximum => "maximum",
            Bin::Minimum => "minimum",
        }
    }
}

fn check_no_zero(op: &str, b: &Tensor) -> PyResult<()> {
    let zero = b.eq_scalar(0.0).and_then(|z| z.sum_all()).py()?;
    if zero.to_f64_vec().py()?[0] != 0.0 {
        return Err(PyZeroDivisionError::new_err(format!(
            "{op}: integer division by zero"
        )));
    }
    Ok(())
}

/// `floor(a / b)`, in the promoted dtype (integers stay integers, as in PyTorch).
fn floor_divide(a: &Tensor, b: &Tensor) -> PyResult<Tensor> {
    let dt = DType::result_type(a.dtype(), a.rank() == 0, b.dtype(), b.rank() == 0);
    if dt.is_float() {
        return a
            .to_dtype(dt)
            .and_then(|a| a.div(b))
            .and_then(|q| q.floor())
            .py();
    }
    if dt == DType::Bool {
        return Err(type_error("floor_divide", "not defined for bool tensors"));
    }
    check_no_zero("floor_divide", b)?;
    // Exact for |values| < 2^53: the quotient is computed in f64.
    let q = a
        .to_dtype(DType::F64)
        .and_then(|a| a.div(&b.to_dtype(DType::F64)?))
        .and_then(|q| q.floor())
        .and_then(|q| q.to_dtype(dt))
        .py()?;
    Ok(q)
}

/// `a - floor(a / b) * b` (Python's and PyTorch's `%`: the sign of the divisor).
fn remainder(a: &Tensor, b: &Tensor) -> PyResult<Tensor> {
    let q = floor_divide(a, b)?;
    let dt = q.dtype();
    a.to_dtype(dt)
        .and_then(|a| a.sub(&q.mul(&b.to_dtype(dt)?)?))
        .py()
}

/// Bitwise ops: logical on bool; on integers computed on the host (st-core has no bitwise
/// kernels), then moved back to the operands' device.
fn bitwise(op: Bin, a: &Tensor, b: &Tensor) -> PyResult<Tensor> {
    let name = op.name();
    let (ad, bd) = (a.dtype(), b.dtype());
    if ad == DType::Bool && bd == DType::Bool {
        return match op {
            Bin::And => a.logical_and(b),
            Bin::Or => a.logical_or(b),
            _ => a.ne(b),
        }
        .py();
    }
    if ad.is_float() || bd.is_float() {
        return Err(type_error(
            name,
            format!(
                "not implemented for {} and {} (integer or bool tensors only)",
                crate::dtype::torch_name(ad),
                crate::dtype::torch_name(bd)
            ),
        ));
    }
    let dt = DType::result_type(ad, a.rank() == 0, bd, b.rank() == 0);
    let dev = a.device();
    let a = a.to_dtype(DType::I64).py()?;
    let b = b.to_dtype(DType::I64).py()?;
    let out = st_core::Shape::broadcast(name, a.shape(), b.shape()).py()?;
    let av = a.expand(&out).and_then(|t| t.to_vec_i64_any()).py()?;
    let bv = b.expand(&out).and_then(|t| t.to_vec_i64_any()).py()?;
    let r: Vec<i64> = av
        .iter()
        .zip(&bv)
        .map(|(&x, &y)| match op {
            Bin::And => x & y,
            Bin::Or => x | y,
            _ => x ^ y,
        })
        .collect();
    Tensor::from_vec(r, out, &Device::cpu())
        .and_then(|t| t.to_dtype(dt))
        .and_then(|t| t.to(&dev))
        .py()
}

trait ToVecI64 {
    fn to_vec_i64_any(&self) -> st_core::Result<Vec<i64>>;
}

impl ToVecI64 for Tensor {
    fn to_vec_i64_any(&self) -> st_core::Result<Vec<i64>> {
        self.to_dtype(DType::I64)?.to_vec::<i64>()
    }
}

/// Applies `op` to two tensors, with the GIL released around the kernels.
pub fn apply(py: Python<'_>, op: Bin, a: &Tensor, b: &Tensor) -> PyResult<Tensor> {
    let (a, b) = (a.clone(), b.clone());
    match op {
        Bin::FloorDiv => return floor_divide(&a, &b),
        Bin::Rem => return remainder(&a, &b),
        Bin::And | Bin::Or | Bin::Xor => return bitwise(op, &a, &b),
        _ => {}
    }
    py.detach(move || match op {
        Bin::Add => a.add(&b),
        Bin::Sub => a.sub(&b),
        Bin::Mul => a.mul(&b),
        Bin::Div => a.div(&b),
        Bin::Pow => a.pow(&b),
        Bin::MatMul => a.matmul(&b),
        Bin::Eq => a.eq(&b),
        Bin::Ne => a.ne(&b),
        Bin::Lt => a.lt(&b),
        Bin::Le => a.le(&b),
        Bin::Gt => a.gt(&b),
        Bin::Ge => a.ge(&b),
        Bin::Maximum => a.maximum(&b),
        Bin::Minimum => a.minimum(&b),
        Bin::FloorDiv | Bin::Rem | Bin::And | Bin::Or | Bin::Xor => {
            Err(st_core::Error::Internal("handled above".into()))
        }
    })
    .py()
}

/// `self <op> other` (or `other <op> self` when `reflected`); `NotImplemented` for unknown
/// operand types.
fn binary(
    slf: &Bound<'_, PyTensor>,
    other: &Bound<'_, PyAny>,
    op: Bin,
    reflected: bool,
) -> PyResult<Py<PyAny>> {
    let py = slf.py();
    let Some(o) = Operand::extract(other)? else {
        return Ok(py.NotImplemented());
    };
    let a = &slf.get().inner;
    if matches!(op, Bin::MatMul) && !matches!(o, Operand::Tensor(_)) {
        return Ok(py.NotImplemented());
    }
    let b = o.into_tensor(a)?;
    let r = if reflected {
        apply(py, op, &b, a)?
    } else {
        apply(py, op, a, &b)?
    };
    Ok(Bound::new(py, PyTensor::new(r))?.into_any().unbind())
}

/// `self <op>= other`: the result is written into `self` (cast to its dtype when PyTorch
/// allows it), then `self` is returned.
fn inplace(slf: &Bound<'_, PyTensor>, other: &Bound<'_, PyAny>, op: Bin) -> PyResult<()> {
    let py = slf.py();
    let Some(o) = Operand::extract(other)? else {
        return Err(type_error(
            op.name(),
            format!(
                "unsupported operand type for an in-place operator: {}",
                other.get_type().name()?
            ),
        ));
    };
    let a = slf.get().inner.clone();
    let b = o.into_tensor(&a)?;
    match op {
        Bin::Add => py.detach(|| a.add_(&b)).py()?,
        Bin::Sub => py.detach(|| a.sub_(&b)).py()?,
        Bin::Mul => py.detach(|| a.mul_(&b)).py()?,
        Bin::Div => py.detach(|| a.div_(&b)).py()?,
        Bin::Pow => py.detach(|| a.pow_(&b)).py()?,
        _ => {
            let r = apply(py, op, &a, &b)?;
            let rt = r.dtype();
            if rt != a.dtype() && !st_core::DType::can_cast(rt, a.dtype()) {
                return Err(type_error(
                    op.name(),
                    format!(
                        "result type {} can't be cast to the desired output type {}",
                        crate::dtype::torch_name(rt),
                        crate::dtype::torch_name(a.dtype())
                    ),
                ));
            }
            py.detach(|| a.copy_(&r)).py()?
        }
    }
    Ok(())
}

// Written out rather than generated by a macro: pyo3's slot wrappers expanded inside
// `macro_rules!` trip the workspace's `unsafe_op_in_unsafe_fn` lint.
#[pymethods]
impl PyTensor {
    fn __add__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binary(slf, other, Bin::Add, false)
    }
    fn __radd__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binary(slf, other, Bin::Add, true)
    }
    fn __iadd__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<()> {
        inplace(slf, other, Bin::Add)
    }
    fn __sub__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binary(slf, other, Bin::Sub, false)
    }
    fn __rsub__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binary(slf, other, Bin::Sub, true)
    }
    fn __isub__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<()> {
        inplace(slf, other, Bin::Sub)
    }
    fn __mul__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binary(slf, other, Bin::Mul, false)
    }
    fn __rmul__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binary(slf, other, Bin::Mul, true)
    }
    fn __imul__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<()> {
        inplace(slf, other, Bin::Mul)
    }
    fn __truediv__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binary(slf, other, Bin::Div, false)
    }
    fn __rtruediv__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binary(slf, other, Bin::Div, true)
    }
    fn __itruediv__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<()> {
        inplace(slf, other, Bin::Div)
    }
    fn __floordiv__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binary(slf, other, Bin::FloorDiv, false)
    }
    fn __rfloordiv__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binary(slf, other, Bin::FloorDiv, true)
    }
    fn __ifloordiv__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<()> {
        inplace(slf, other, Bin::FloorDiv)
    }
    fn __mod__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binary(slf, other, Bin::Rem, false)
    }
    fn __rmod__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binary(slf, other, Bin::Rem, true)
    }
    fn __imod__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<()> {
        inplace(slf, other, Bin::Rem)
    }
    fn __matmul__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binary(slf, other, Bin::MatMul, false)
    }
    fn __rmatmul__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binary(slf, other, Bin::MatMul, true)
    }
    fn __imatmul__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<()> {
        inplace(slf, other, Bin::MatMul)
    }
    fn __and__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binary(slf, other, Bin::And, false)
    }
    fn __rand__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binary(slf, other, Bin::And, true)
    }
    fn __iand__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<()> {
        inplace(slf, other, Bin::And)
    }
    fn __or__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binary(slf, other, Bin::Or, false)
    }
    fn __ror__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binary(slf, other, Bin::Or, true)
    }
    fn __ior__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<()> {
        inplace(slf, other, Bin::Or)
    }
    fn __xor__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binary(slf, other, Bin::Xor, false)
    }
    fn __rxor__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binary(slf, other, Bin::Xor, true)
    }
    fn __ixor__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<()> {
        inplace(slf, other, Bin::Xor)
    }
}

#[pymethods]
impl PyTensor {
    fn __pow__(
        slf: &Bound<'_, Self>,
        other: &Bound<'_, PyAny>,
        modulo: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        if !modulo.is_none() {
            return Ok(slf.py().NotImplemented());
        }
        binary(slf, other, Bin::Pow, false)
    }

    fn __rpow__(
        slf: &Bound<'_, Self>,
        other: &Bound<'_, PyAny>,
        modulo: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        if !modulo.is_none() {
            return Ok(slf.py().NotImplemented());
        }
        binary(slf, other, Bin::Pow, true)
    }

    fn __ipow__(
        slf: &Bound<'_, Self>,
        other: &Bound<'_, PyAny>,
        _modulo: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        inplace(slf, other, Bin::Pow)
    }

    fn __eq__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binary(slf, other, Bin::Eq, false)
    }
    fn __ne__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binary(slf, other, Bin::Ne, false)
    }
    fn __lt__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binary(slf, other, Bin::Lt, false)
    }
    fn __le__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binary(slf, other, Bin::Le, false)
    }
    fn __gt__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binary(slf, other, Bin::Gt, false)
    }
    fn __ge__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binary(slf, other, Bin::Ge, false)
    }

    fn __neg__(&self, py: Python<'_>) -> PyResult<PyTensor> {
        let t = self.inner.clone();
        if t.dtype() == DType::Bool {
            return Err(type_error(
                "neg",
                "negation, the `-` operator, on a bool tensor is not supported; use `~` or \
                 logical_not()",
            ));
        }
        py.detach(move || t.neg()).py().map(PyTensor::new)
    }

    fn __pos__(&self) -> PyTensor {
        PyTensor::new(self.inner.clone())
    }

    fn __abs__(&self, py: Python<'_>) -> PyResult<PyTensor> {
        let t = self.inner.clone();
        py.detach(move || t.abs()).py().map(PyTensor::new)
    }

    fn __invert__(&self) -> PyResult<PyTensor> {
        let t = &self.inner;
        match t.dtype() {
            DType::Bool => t.logical_not().py().map(PyTensor::new),
            d if d.is_int() => {
                // ~x == -x - 1 for two's complement integers; u8 wraps as in PyTorch.
                let r = if d == DType::U8 {
                    t.to_dtype(DType::I64)
                        .and_then(|x| x.neg()?.sub_scalar(1.0)?.add_scalar(256.0))
                        .and_then(|x| x.to_dtype(DType::U8))
                } else {
                    t.neg().and_then(|x| x.sub_scalar(1.0))
                };
                r.py().map(PyTensor::new)
            }
            d => Err(type_error(
                "bitwise_not",
                format!(
                    "not implemented for {} (integer or bool tensors only)",
                    crate::dtype::torch_name(d)
                ),
            )),
        }
    }
}
