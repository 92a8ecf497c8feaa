//! The [`Module`] trait: `forward` plus one walk over what a module owns, from which every
//! other method (parameters, modes, devices, state dicts) is derived.

use super::state::{Incompatible, StateDict};
use super::visit::{Item, Slot, Visitor, VisitorMut};
use st_core::{DType, Device, Error, Result, Tensor};

/// A layer or a model: PyTorch's `nn.Module`.
///
/// Implementors write [`forward`](Module::forward) and the two walks: [`visit`](Module::visit)
/// reports parameters, buffers, the training [`Mode`](super::Mode) and children in declaration
/// order, and [`visit_mut`](Module::visit_mut) visits the same tensors (by the same names)
/// with mutable access. Everything else is provided.
///
/// ```
/// use st_core::{Result, Tensor};
/// use st_nn::{module::{Visitor, VisitorMut}, layers::Linear, Module};
///
/// struct TwoLayer { fc1: Linear, fc2: Linear }
///
/// impl Module for TwoLayer {
///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
///         self.fc2.forward(&self.fc1.forward(x)?.relu()?)
///     }
///     fn visit(&self, v: &mut Visitor<'_>) {
///         v.child("fc1", &self.fc1);
///         v.child("fc2", &self.fc2);
///     }
///     fn visit_mut(&mut self, v: &mut VisitorMut<'_>) {
///         v.child("fc1", &mut self.fc1);
///         v.child("fc2", &mut self.fc2);
///     }
/// }
///
/// let m = TwoLayer { fc1: Linear::new(4, 8)?, fc2: Linear::new(8, 2)? };
/// let names: Vec<String> = m.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]);
/// # Ok::<(), st_core::Error>(())
/// ```
pub trait Module: Send + Sync {
    /// Runs the module on `x`.
    ///
    /// # Errors
    /// Shape, dtype and device errors of the ops it runs, naming the op.
    fn forward(&self, x: &Tensor) -> Result<Tensor>;

    /// Reports this module's parameters, buffers, training flag and children.
    fn visit(&self, v: &mut Visitor<'_>);

    /// Visits, mutably and under the same names, the tensors of [`visit`](Module::visit)
    /// that move with the module in [`to`](Module::to) and [`to_dtype`](Module::to_dtype).
    /// A tensor it leaves out stays where it is (BatchNorm's host-side batch counter).
    fn visit_mut(&mut self, v: &mut VisitorMut<'_>);

    /// Every parameter and buffer with its dotted name and slot, in declaration order.
    fn named_tensors(&self) -> Vec<(String, Tensor, Slot)> {
        let mut out = Vec::new();
        self.visit(&mut Visitor::new(&mut |item| {
            if let Item::Tensor { name, tensor, slot } = item {
                out.push((name.to_string(), tensor.clone(), slot));
            }
        }));
        out
    }

    /// Parameters with their dotted names (`0.weight`), in declaration order.
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        self.named_tensors()
            .into_iter()
            .filter(|(_, _, s)| *s == Slot::Parameter)
            .map(|(n, t, _)| (n, t))
            .collect()
    }

    /// Parameters, in declaration order: handles that share the module's storage, so an
    /// optimizer holding them updates the module.
    fn parameters(&self) -> Vec<Tensor> {
        self.named_parameters()
            .into_iter()
            .map(|(_, t)| t)
            .collect()
    }

    /// Buffers with their dotted names.
    fn named_buffers(&self) -> Vec<(String, Tensor)> {
        self.named_tensors()
            .into_iter()
            .filter(|(_, _, s)| *s == Slot::Buffer)
            .map(|(n, t, _)| (n, t))
            .collect()
    }

    /// The number of parameter elements.
    fn num_parameters(&self) -> usize {
        self.parameters().iter().map(Tensor::numel).sum()
    }

    /// Sets training mode on this module and every descendant (PyTorch's `train(mode)`).
    fn set_training(&self, training: bool) {
        self.visit(&mut Visitor::new(&mut |item| {
            if let Item::Mode(m) = item {
                m.set(training);
            }
        }));
    }

    /// Training mode (`train()`): Dropout drops, BatchNorm uses and updates batch statistics.
    fn train(&self) {
        self.set_training(true);
    }

    /// Evaluation mode (`eval()`): Dropout is the identity, BatchNorm uses running statistics.
    fn eval(&self) {
        self.set_training(false);
    }

    /// Whether the first module with a training flag is in training mode (`true` when none
    /// has one).
    fn is_training(&self) -> bool {
        let mut first = None;
        self.visit(&mut Visitor::new(&mut |item| {
            if let (Item::Mode(m), None) = (item, first) {
                first = Some(m.is_training());
            }
        }));
        first.unwrap_or(true)
    }

    /// Clears the gradient of every parameter (PyTorch's `zero_grad(set_to_none=True)`).
    fn zero_grad(&self) {
        for p in self.parameters() {
            p.zero_grad();
        }
    }

    /// Moves every parameter and buffer to `device`, keeping `requires_grad`. Gradients are
    /// cleared. All tensors are copied before any is replaced, so an error leaves the module
    /// as it was. Create optimizers after moving, as with PyTorch.
    ///
    /// # Errors
    /// Errors of the copy ([`Error::BackendUnavailable`], out of memory).
    fn to(&mut self, device: &Device) -> Result<()> {
        let device = *device;
        replace_all(self, &|t| t.to(&device))
    }

    /// Casts every floating-point parameter and buffer to `dtype` (integer buffers such as
    /// `num_batches_tracked` keep theirs), keeping `requires_grad`; all or none, as
    /// [`to`](Module::to).
    ///
    /// # Errors
    /// [`Error::DTypeMismatch`] when `dtype` is not a floating-point dtype.
    fn to_dtype(&mut self, dtype: DType) -> Result<()> {
        if !dtype.is_float() {
            return Err(Error::DTypeMismatch {
                op: "Module::to_dtype",
                got: vec![dtype],
                reason: "modules cast their floating-point tensors to a floating-point dtype"
                    .into(),
            });
        }
        replace_all(self, &|t| {
            if t.dtype().is_float() {
                t.to_dtype(dtype)
            } else {
                Ok(t.clone())
            }
        })
    }

    /// Every parameter and buffer under its dotted name, as detached handles that share the
    /// module's storage (PyTorch's `state_dict()`).
    fn state_dict(&self) -> StateDict {
        StateDict::from_entries(
            self.named_tensors()
                .into_iter()
                .map(|(n, t, _)| (n, t.detach()))
                .collect(),
        )
    }

    /// Copies `state` into the module's tensors (casting dtype and moving device as needed).
    /// Every key is checked before anything is written.
    ///
    /// Returns the missing and unexpected keys, which are empty when `strict`.
    ///
    /// # Errors
    /// [`Error::StateDict`] listing the mis-shaped keys, and with `strict` also the missing
    /// and unexpected ones.
    fn load_state_dict(&self, state: &StateDict, strict: bool) -> Result<Incompatible> {
        super::state::load(&self.named_tensors(), state, strict)
    }
}

/// Computes `f(t)` for every tensor that [`Module::visit_mut`] visits, then installs the
/// results by name, keeping `requires_grad`: all or none.
fn replace_all<M: Module + ?Sized>(m: &mut M, f: &dyn Fn(&Tensor) -> Result<Tensor>) -> Result<()> {
    let mut movable = std::collections::HashSet::new();
    m.visit_mut(&mut VisitorMut::new(&mut |name, _, _| {
        movable.insert(name.to_string());
    }));
    let mut new = std::collections::HashMap::new();
    for (name, t, _) in m.named_tensors() {
        if !movable.contains(&name) {
            continue;
        }
        let n = f(&t)?.detach();
        if t.requires_grad() {
            n.set_requires_grad(true)?;
        }
        new.insert(name, n);
    }
    m.visit_mut(&mut VisitorMut::new(&mut |name, t, _| {
        if let Some(n) = new.remove(name) {
            *t = n;
        }
    }));
    Ok(())
}

impl<M: Module + ?Sized> Module for Box<M> {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        (**self).forward(x)
    }
    fn visit(&self, v: &mut Visitor<'_>) {
        (**self).visit(v);
    }
    fn visit_mut(&mut self, v: &mut VisitorMut<'_>) {
        (**self).visit_mut(v);
    }
}
