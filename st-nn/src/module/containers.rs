//! [`Sequential`] and [`ModuleList`]: children named `0`, `1`, … as in PyTorch.

use super::module_trait::Module;
use super::visit::{Visitor, VisitorMut};
use st_core::{Error, Result, Tensor};

/// Modules applied one after another (`nn.Sequential`).
#[derive(Default)]
pub struct Sequential {
    layers: Vec<Box<dyn Module>>,
}

impl Sequential {
    /// An empty sequence: the identity.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `m` (builder style).
    #[allow(clippy::should_implement_trait)]
    pub fn push(mut self, m: impl Module + 'static) -> Self {
        self.layers.push(Box::new(m));
        self
    }

    /// Appends a boxed module.
    pub fn push_boxed(&mut self, m: Box<dyn Module>) {
        self.layers.push(m);
    }

    /// The number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether there are no layers.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// Layer `i`.
    pub fn get(&self, i: usize) -> Option<&dyn Module> {
        self.layers.get(i).map(|m| &**m)
    }
}

impl Module for Sequential {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut y = x.clone();
        for m in &self.layers {
            y = m.forward(&y)?;
        }
        Ok(y)
    }

    fn visit(&self, v: &mut Visitor<'_>) {
        for (i, m) in self.layers.iter().enumerate() {
            v.child(&i.to_string(), &**m);
        }
    }

    fn visit_mut(&mut self, v: &mut VisitorMut<'_>) {
        for (i, m) in self.layers.iter_mut().enumerate() {
            v.child(&i.to_string(), &mut **m);
        }
    }
}

/// A list of modules that registers their parameters but has no `forward` of its own
/// (`nn.ModuleList`): index it and call the layers yourself.
#[derive(Default)]
pub struct ModuleList {
    items: Vec<Box<dyn Module>>,
}

impl ModuleList {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `m`.
    pub fn push(&mut self, m: impl Module + 'static) {
        self.items.push(Box::new(m));
    }

    /// The number of modules.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Module `i`.
    pub fn get(&self, i: usize) -> Option<&dyn Module> {
        self.items.get(i).map(|m| &**m)
    }

    /// The modules, in order.
    pub fn iter(&self) -> impl Iterator<Item = &dyn Module> {
        self.items.iter().map(|m| &**m)
    }
}

impl Module for ModuleList {
    /// A `ModuleList` is not callable, as in PyTorch.
    ///
    /// # Errors
    /// Always [`Error::InvalidArgument`].
    fn forward(&self, _x: &Tensor) -> Result<Tensor> {
        Err(Error::invalid(
            "ModuleList.forward",
            "a ModuleList has no forward; call its modules (list.get(i)) in your own forward",
        ))
    }

    fn visit(&self, v: &mut Visitor<'_>) {
        for (i, m) in self.items.iter().enumerate() {
            v.child(&i.to_string(), &**m);
        }
    }

    fn visit_mut(&mut self, v: &mut VisitorMut<'_>) {
        for (i, m) in self.items.iter_mut().enumerate() {
            v.child(&i.to_string(), &mut **m);
        }
    }
}
