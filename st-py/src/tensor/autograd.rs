//! Autograd from Python: `requires_grad`, `backward`, `.grad`, `detach`, `is_leaf` and
//! `st.autograd.grad`.

use super::handle::PyTensor;
use crate::errors::{runtime_error, IntoPyResult};
use pyo3::prelude::*;
use st_core::autograd::{BackwardOptions, GradOptions};
use st_core::Tensor;

#[pymethods]
impl PyTensor {
    /// Whether gradients flow to this tensor (settable on leaves).
    #[getter]
    fn get_requires_grad(&self) -> bool {
        self.inner.requires_grad()
    }

    #[setter]
    fn set_requires_grad(&self, on: bool) -> PyResult<()> {
        self.inner.set_requires_grad(on).py()
    }

    /// Marks the tensor as requiring grad (in place); returns it.
    #[pyo3(signature = (requires_grad = true))]
    fn requires_grad_(slf: &Bound<'_, Self>, requires_grad: bool) -> PyResult<Py<PyAny>> {
        slf.get().inner.set_requires_grad(requires_grad).py()?;
        Ok(slf.clone().into_any().unbind())
    }

    /// True for tensors not produced by a recorded op.
    #[getter]
    fn is_leaf(&self) -> bool {
        self.inner.is_leaf()
    }

    /// The name of the op that produced this tensor, or None for a leaf.
    #[getter]
    fn grad_fn(&self) -> Option<String> {
        self.inner.grad_fn().map(|n| n.name().to_string())
    }

    /// The gradient accumulated by `backward()` (None before).
    #[getter]
    fn get_grad(&self) -> Option<PyTensor> {
        self.inner.grad().map(PyTensor::new)
    }

    /// `t.grad = None` clears the gradient; assigning a tensor copies it into the existing
    /// gradient (st-core has no way to install a new gradient tensor).
    #[setter]
    fn set_grad(&self, value: Option<PyRef<'_, PyTensor>>) -> PyResult<()> {
        match value {
            None => {
                self.inner.zero_grad();
                Ok(())
            }
            Some(v) => match self.inner.grad() {
                Some(g) if g.shape() == v.inner.shape() => {
                    let _g = st_core::no_grad();
                    g.copy_(&v.inner).py()
                }
                _ => Err(runtime_error(
                    "grad",
                    "assigning a gradient is only supported onto an existing gradient of the \
                     same shape (or None to clear it)",
                )),
            },
        }
    }

    /// Backpropagates from this tensor; `gradient` is required for non-scalar outputs.
    #[pyo3(signature = (gradient = None, retain_graph = None, create_graph = false))]
    fn backward(
        &self,
        py: Python<'_>,
        gradient: Option<PyRef<'_, PyTensor>>,
        retain_graph: Option<bool>,
        create_graph: bool,
    ) -> PyResult<()> {
        let opts = BackwardOptions::default()
            .retain_graph(retain_graph.unwrap_or(create_graph))
            .create_graph(create_graph);
        let seed = gradient.map(|g| g.inner.clone());
        let t = self.inner.clone();
        py.detach(move || t.backward_opts(seed.as_ref(), opts)).py()
    }

    /// A tensor sharing storage, cut from the graph.
    fn detach(&self) -> PyTensor {
        PyTensor::new(self.inner.detach())
    }

    /// Cuts this tensor from the graph in place.
    fn detach_(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        slf.get().inner.detach_().py()?;
        Ok(slf.clone().into_any().unbind())
    }

    /// The storage's in-place write counter (PyTorch's `_version`).
    #[getter]
    fn _version(&self) -> u64 {
        self.inner.version()
    }
}

fn tensors(op: &str, obj: &Bound<'_, PyAny>) -> PyResult<Vec<Tensor>> {
    if let Ok(t) = obj.cast::<PyTensor>() {
        return Ok(vec![t.get().inner.clone()]);
    }
    let mut out = Vec::new();
    for item in obj.try_iter()? {
        let item = item?;
        let t = item.cast::<PyTensor>().map_err(|_| {
            crate::errors::type_error(op, "expected a Tensor or a sequence of Tensors")
        })?;
        out.push(t.get().inner.clone());
    }
    Ok(out)
}

/// `st.autograd.grad(outputs, inputs, grad_outputs=None, retain_graph=None,
/// create_graph=False, allow_unused=False)`.
#[pyfunction]
#[pyo3(signature = (outputs, inputs, grad_outputs = None, retain_graph = None, create_graph = false, allow_unused = false))]
fn autograd_grad(
    py: Python<'_>,
    outputs: &Bound<'_, PyAny>,
    inputs: &Bound<'_, PyAny>,
    grad_outputs: Option<&Bound<'_, PyAny>>,
    retain_graph: Option<bool>,
    create_graph: bool,
    allow_unused: bool,
) -> PyResult<Vec<Option<PyTensor>>> {
    let outs = tensors("grad", outputs)?;
    let ins = tensors("grad", inputs)?;
    let gos = match grad_outputs {
        Some(g) if !g.is_none() => Some(tensors("grad", g)?),
        _ => None,
    };
    let opts = GradOptions::default()
        .retain_graph(retain_graph.unwrap_or(create_graph))
        .create_graph(create_graph)
        .allow_unused(allow_unused);
    let r = py
        .detach(move || {
            let o: Vec<&Tensor> = outs.iter().collect();
            let i: Vec<&Tensor> = ins.iter().collect();
            let g: Option<Vec<&Tensor>> = gos.as_ref().map(|g| g.iter().collect());
            st_core::autograd::grad(&o, &i, g.as_deref(), opts)
        })
        .py()?;
    Ok(r.into_iter().map(|t| t.map(PyTensor::new)).collect())
}

/// Registers the autograd functions.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(autograd_grad, m)?)?;
    Ok(())
}
