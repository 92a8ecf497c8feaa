//! Python values into tensors: operands of the operators (tensors, Python scalars, numpy
//! arrays) and the data of `st.tensor(...)` (nested sequences, scalars, arrays).

use super::handle::PyTensor;
use crate::errors::{type_error, value_error, IntoPyResult};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PySequence};
use st_core::{DType, Device, Tensor};

/// The right operand of a tensor operator.
pub enum Operand {
    /// A tensor (or a numpy array, converted).
    Tensor(Tensor),
    /// A Python bool.
    Bool(bool),
    /// A Python int.
    Int(i64),
    /// A Python float (or an int too large for i64).
    Float(f64),
}

impl Operand {
    /// Classifies `obj`; `None` for types the operators do not know (they return
    /// `NotImplemented`).
    pub fn extract(obj: &Bound<'_, PyAny>) -> PyResult<Option<Operand>> {
        if let Ok(t) = obj.cast::<PyTensor>() {
            return Ok(Some(Operand::Tensor(t.get().inner.clone())));
        }
        if obj.is_instance_of::<PyBool>() {
            return Ok(Some(Operand::Bool(obj.extract::<bool>()?)));
        }
        if obj.is_instance_of::<PyInt>() {
            return Ok(Some(match obj.extract::<i64>() {
                Ok(i) => Operand::Int(i),
                Err(_) => Operand::Float(obj.extract::<f64>()?),
            }));
        }
        if obj.is_instance_of::<PyFloat>() {
            return Ok(Some(Operand::Float(obj.extract::<f64>()?)));
        }
        if super::numpy::is_ndarray(obj) {
            return Ok(Some(Operand::Tensor(super::numpy::array_to_tensor(
                obj, true,
            )?)));
        }
        if super::numpy::is_numpy_scalar(obj) {
            let kind = super::numpy::scalar_kind(obj)?;
            return Ok(Some(match kind {
                b'b' => Operand::Bool(obj.is_truthy()?),
                b'i' | b'u' => Operand::Int(obj.extract::<i64>()?),
                _ => Operand::Float(obj.extract::<f64>()?),
            }));
        }
        Ok(None)
    }

    /// The operand as a tensor on `like`'s device; Python scalars become 0-d tensors with
    /// PyTorch's rules: `like`'s dtype when the scalar's kind fits it (a float tensor and any
    /// number, an integer tensor and an int), else the default dtype of the scalar's kind.
    pub fn into_tensor(self, like: &Tensor) -> PyResult<Tensor> {
        let dt = like.dtype();
        let dev = like.device();
        match self {
            Operand::Tensor(t) => Ok(t),
            Operand::Bool(b) => {
                let d = if dt == DType::Bool { DType::Bool } else { dt };
                Tensor::scalar(f64::from(u8::from(b)), d, &dev).py()
            }
            Operand::Int(i) => {
                if dt.is_float() {
                    Tensor::scalar(i as f64, dt, &dev).py()
                } else if dt.is_int() {
                    st_core::op::check_scalar("scalar", dt, i as f64).py()?;
                    let t = Tensor::from_vec(vec![i], [], &Device::cpu()).py()?;
                    t.to_dtype(dt).and_then(|t| t.to(&dev)).py()
                } else {
                    let t = Tensor::from_vec(vec![i], [], &Device::cpu()).py()?;
                    t.to(&dev).py()
                }
            }
            Operand::Float(f) => {
                let d = if dt.is_float() { dt } else { DType::F32 };
                Tensor::scalar(f, d, &dev).py()
            }
        }
    }
}

/// The data of a nested sequence: its shape and values of the widest kind seen.
enum Flat {
    Bool(Vec<u8>),
    Int(Vec<i64>),
    Float(Vec<f64>),
}

fn walk<'py>(
    op: &str,
    obj: &Bound<'py, PyAny>,
    depth: usize,
    shape: &mut Vec<usize>,
    out: &mut Vec<Bound<'py, PyAny>>,
) -> PyResult<()> {
    let is_leaf = obj.is_instance_of::<PyBool>()
        || obj.is_instance_of::<PyInt>()
        || obj.is_instance_of::<PyFloat>()
        || obj.cast::<PyTensor>().is_ok()
        || super::numpy::is_numpy_scalar(obj);
    if is_leaf {
        if depth != shape.len() {
            return Err(value_error(
                op,
                format!("expected a sequence at depth {depth}, found a number"),
            ));
        }
        out.push(obj.clone());
        return Ok(());
    }
    let seq = obj.cast::<PySequence>().map_err(|_| {
        type_error(
            op,
            format!(
                "could not convert an object of type {} to a tensor element",
                obj.get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ),
        )
    })?;
    let n = seq.len()?;
    if depth == shape.len() {
        if !out.is_empty() {
            return Err(value_error(
                op,
                format!("expected a number at depth {depth}"),
            ));
        }
        shape.push(n);
    } else if shape[depth] != n {
        return Err(value_error(
            op,
            format!(
                "expected sequence of length {} at dim {depth} (got {n})",
                shape[depth]
            ),
        ));
    }
    for i in 0..n {
        walk(op, &seq.get_item(i)?, depth + 1, shape, out)?;
    }
    Ok(())
}

fn flatten_values<'py>(op: &str, leaves: &[Bound<'py, PyAny>]) -> PyResult<Flat> {
    if leaves.is_empty() {
        return Ok(Flat::Float(Vec::new()));
    }
    let mut kind = 0u8; // 0 bool, 1 int, 2 float
    for l in leaves {
        let k = if l.is_instance_of::<PyBool>() {
            0
        } else if l.is_instance_of::<PyInt>() {
            1
        } else if let Ok(t) = l.cast::<PyTensor>() {
            let d = t.get().inner.dtype();
            if d.is_float() {
                2
            } else if d == DType::Bool {
                0
            } else {
                1
            }
        } else if super::numpy::is_numpy_scalar(l) {
            match super::numpy::scalar_kind(l)? {
                b'b' => 0,
                b'i' | b'u' => 1,
                _ => 2,
            }
        } else {
            2
        };
        kind = kind.max(k);
    }
    let one = |l: &Bound<'py, PyAny>| -> PyResult<Bound<'py, PyAny>> {
        if let Ok(t) = l.cast::<PyTensor>() {
            if t.get().inner.numel() != 1 {
                return Err(value_error(
                    op,
                    "only one-element tensors can be converted to Python scalars",
                ));
            }
            return t.call_method0("item");
        }
        Ok(l.clone())
    };
    Ok(match kind {
        0 => Flat::Bool(
            leaves
                .iter()
                .map(|l| Ok(u8::from(one(l)?.is_truthy()?)))
                .collect::<PyResult<_>>()?,
        ),
        1 => Flat::Int(
            leaves
                .iter()
                .map(|l| one(l)?.extract::<i64>())
                .collect::<PyResult<_>>()?,
        ),
        _ => Flat::Float(
            leaves
                .iter()
                .map(|l| one(l)?.extract::<f64>())
                .collect::<PyResult<_>>()?,
        ),
    })
}

/// `st.tensor(data)`: a new tensor holding a copy of `data` (nested sequences, numbers, numpy
/// arrays or tensors), with PyTorch's dtype inference (floats → float32, ints → int64, bools
/// → bool) unless `dtype` is given.
pub fn to_tensor(
    op: &str,
    data: &Bound<'_, PyAny>,
    dtype: Option<DType>,
    device: &Device,
) -> PyResult<Tensor> {
    if let Ok(t) = data.cast::<PyTensor>() {
        let t = t.get().inner.detach();
        let t = t.to_dtype(dtype.unwrap_or(t.dtype())).py()?;
        return t.to(device).and_then(|t| t.copy()).py();
    }
    if super::numpy::is_ndarray(data) {
        let t = super::numpy::array_to_tensor(data, true)?;
        let t = t.to_dtype(dtype.unwrap_or(t.dtype())).py()?;
        return t.to(device).py();
    }
    let mut shape = Vec::new();
    let mut leaves = Vec::new();
    walk(op, data, 0, &mut shape, &mut leaves)?;
    let cpu = Device::cpu();
    let t = match flatten_values(op, &leaves)? {
        Flat::Bool(v) => Tensor::from_bytes(&v, DType::Bool, shape, &cpu),
        Flat::Int(v) => Tensor::from_vec(v, shape, &cpu),
        Flat::Float(v) => {
            Tensor::from_vec(v, shape, &cpu).and_then(|t| t.to_dtype(dtype.unwrap_or(DType::F32)))
        }
    }
    .py()?;
    let t = match dtype {
        Some(d) => t.to_dtype(d).py()?,
        None => t,
    };
    t.to(device).py()
}
