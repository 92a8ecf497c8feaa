//! Walking a module tree: [`Visitor`] for reading, [`VisitorMut`] for replacing tensors.
//!
//! A module lists what it owns (parameters, buffers, a training [`Mode`]) and its children;
//! the visitor builds PyTorch's dotted names (`layers.0.weight`) on the way down. Every
//! provided method of [`Module`](super::Module) is written with these two walks.

use st_core::Tensor;
use std::sync::atomic::{AtomicBool, Ordering};

/// What a visited tensor is to its module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// A trained weight: listed by `parameters()`, updated by optimizers.
    Parameter,
    /// State that is saved but not trained (BatchNorm's running statistics).
    Buffer,
}

/// A module's training flag (PyTorch's `module.training`); modules start in training mode.
#[derive(Debug)]
pub struct Mode(AtomicBool);

impl Default for Mode {
    fn default() -> Self {
        Mode(AtomicBool::new(true))
    }
}

impl Mode {
    /// Whether the module is in training mode.
    pub fn is_training(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Sets training mode on or off.
    pub fn set(&self, training: bool) {
        self.0.store(training, Ordering::Relaxed);
    }
}

/// One thing a module owns, as [`Visitor`] reports it.
pub enum Item<'t> {
    /// A parameter or buffer under its full dotted name.
    Tensor {
        /// The full dotted name (`layers.0.weight`).
        name: &'t str,
        /// The tensor itself (a handle sharing the module's storage).
        tensor: &'t Tensor,
        /// Parameter or buffer.
        slot: Slot,
    },
    /// A training flag.
    Mode(&'t Mode),
}

/// A read-only walk over a module tree.
pub struct Visitor<'a> {
    prefix: String,
    f: &'a mut dyn FnMut(Item<'_>),
}

impl<'a> Visitor<'a> {
    /// A walk that calls `f` for every item, in declaration order.
    pub fn new(f: &'a mut dyn FnMut(Item<'_>)) -> Self {
        Visitor {
            prefix: String::new(),
            f,
        }
    }

    fn tensor(&mut self, name: &str, tensor: &Tensor, slot: Slot) {
        let len = self.prefix.len();
        self.prefix.push_str(name);
        (self.f)(Item::Tensor {
            name: &self.prefix,
            tensor,
            slot,
        });
        self.prefix.truncate(len);
    }

    /// Reports a parameter named `name`.
    pub fn param(&mut self, name: &str, tensor: &Tensor) {
        self.tensor(name, tensor, Slot::Parameter);
    }

    /// Reports a buffer named `name`.
    pub fn buffer(&mut self, name: &str, tensor: &Tensor) {
        self.tensor(name, tensor, Slot::Buffer);
    }

    /// Reports the module's training flag.
    pub fn mode(&mut self, mode: &Mode) {
        (self.f)(Item::Mode(mode));
    }

    /// Walks child `module` under `name`.
    pub fn child(&mut self, name: &str, module: &dyn super::Module) {
        let len = self.prefix.len();
        self.prefix.push_str(name);
        self.prefix.push('.');
        module.visit(self);
        self.prefix.truncate(len);
    }
}

/// A walk that may replace each tensor of a module tree (`to(device)`, `to_dtype`).
///
/// It names tensors as [`Visitor`] does, so a caller can compute every replacement first
/// with a read-only walk and then install them by name, all or none.
pub struct VisitorMut<'a> {
    prefix: String,
    f: &'a mut dyn FnMut(&str, &mut Tensor, Slot),
}

impl<'a> VisitorMut<'a> {
    /// A walk that calls `f` for every parameter and buffer, in declaration order.
    pub fn new(f: &'a mut dyn FnMut(&str, &mut Tensor, Slot)) -> Self {
        VisitorMut {
            prefix: String::new(),
            f,
        }
    }

    fn tensor(&mut self, name: &str, tensor: &mut Tensor, slot: Slot) {
        let len = self.prefix.len();
        self.prefix.push_str(name);
        (self.f)(&self.prefix, tensor, slot);
        self.prefix.truncate(len);
    }

    /// Visits a parameter named `name`.
    pub fn param(&mut self, name: &str, tensor: &mut Tensor) {
        self.tensor(name, tensor, Slot::Parameter);
    }

    /// Visits a buffer named `name`.
    pub fn buffer(&mut self, name: &str, tensor: &mut Tensor) {
        self.tensor(name, tensor, Slot::Buffer);
    }

    /// Walks child `module` under `name`.
    pub fn child(&mut self, name: &str, module: &mut dyn super::Module) {
        let len = self.prefix.len();
        self.prefix.push_str(name);
        self.prefix.push('.');
        module.visit_mut(self);
        self.prefix.truncate(len);
    }
}
