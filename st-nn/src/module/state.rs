//! [`StateDict`]: named tensors in declaration order, and loading one into a module.

use super::visit::Slot;
use st_core::{no_grad, Error, Result, Tensor};
use std::collections::HashMap;

/// Named tensors in order: PyTorch's `state_dict()` (an `OrderedDict[str, Tensor]`).
#[derive(Clone, Default)]
pub struct StateDict {
    entries: Vec<(String, Tensor)>,
}

impl std::fmt::Debug for StateDict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(
                self.entries
                    .iter()
                    .map(|(n, t)| (n, format!("{:?}{:?}", t.dtype(), t.dims()))),
            )
            .finish()
    }
}

impl StateDict {
    /// An empty state dict.
    pub fn new() -> Self {
        Self::default()
    }

    /// A state dict of `entries`, in their order.
    pub fn from_entries(entries: Vec<(String, Tensor)>) -> Self {
        StateDict { entries }
    }

    /// Inserts or replaces `name`.
    pub fn insert(&mut self, name: impl Into<String>, t: Tensor) {
        let name = name.into();
        match self.entries.iter_mut().find(|(n, _)| *n == name) {
            Some(e) => e.1 = t,
            None => self.entries.push((name, t)),
        }
    }

    /// The tensor named `name`.
    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }

    /// Removes and returns `name`.
    pub fn remove(&mut self, name: &str) -> Option<Tensor> {
        let i = self.entries.iter().position(|(n, _)| n == name)?;
        Some(self.entries.remove(i).1)
    }

    /// The names, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(n, _)| n.as_str())
    }

    /// The entries, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Tensor)> {
        self.entries.iter().map(|(n, t)| (n.as_str(), t))
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries under `prefix` with the prefix removed (a child's state dict).
    pub fn sub(&self, prefix: &str) -> StateDict {
        let p = format!("{prefix}.");
        StateDict::from_entries(
            self.entries
                .iter()
                .filter_map(|(n, t)| n.strip_prefix(&p).map(|s| (s.to_string(), t.clone())))
                .collect(),
        )
    }

    /// Deep copies of every tensor, so later training does not change the saved values
    /// (`copy.deepcopy(model.state_dict())`).
    ///
    /// # Errors
    /// Errors of the copies (out of memory).
    pub fn deep_clone(&self) -> Result<StateDict> {
        let _g = no_grad();
        Ok(StateDict::from_entries(
            self.entries
                .iter()
                .map(|(n, t)| Ok((n.clone(), t.copy()?)))
                .collect::<Result<_>>()?,
        ))
    }
}

impl IntoIterator for StateDict {
    type Item = (String, Tensor);
    type IntoIter = std::vec::IntoIter<(String, Tensor)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

/// The keys a non-strict [`load_state_dict`](super::Module::load_state_dict) skipped
/// (PyTorch's `_IncompatibleKeys`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Incompatible {
    /// Keys of the module that the state dict lacks.
    pub missing: Vec<String>,
    /// Keys of the state dict that the module lacks.
    pub unexpected: Vec<String>,
}

/// Checks `state` against `own` and copies it in; see `Module::load_state_dict`.
pub(super) fn load(
    own: &[(String, Tensor, Slot)],
    state: &StateDict,
    strict: bool,
) -> Result<Incompatible> {
    let given: HashMap<&str, &Tensor> = state.iter().collect();
    let mut missing = Vec::new();
    let mut mismatched = Vec::new();
    let mut pairs = Vec::new();
    for (name, t, _) in own {
        match given.get(name.as_str()) {
            None => missing.push(name.clone()),
            Some(src) if src.dims() != t.dims() => mismatched.push(format!(
                "{name}: checkpoint {:?}, model {:?}",
                src.dims(),
                t.dims()
            )),
            Some(src) => pairs.push((t, *src)),
        }
    }
    let own_names: std::collections::HashSet<&str> =
        own.iter().map(|(n, _, _)| n.as_str()).collect();
    let unexpected: Vec<String> = state
        .keys()
        .filter(|k| !own_names.contains(k))
        .map(str::to_string)
        .collect();
    if !mismatched.is_empty() || (strict && !(missing.is_empty() && unexpected.is_empty())) {
        return Err(Error::state_dict(
            if strict { missing } else { Vec::new() },
            if strict { unexpected } else { Vec::new() },
            mismatched,
        ));
    }
    // Move and cast first, so a failing conversion writes nothing.
    let _g = no_grad();
    let converted: Vec<Tensor> = pairs
        .iter()
        .map(|(dst, src)| src.to(&dst.device())?.to_dtype(dst.dtype()))
        .collect::<Result<_>>()?;
    for ((dst, _), src) in pairs.iter().zip(&converted) {
        dst.copy_(src)?;
    }
    Ok(Incompatible {
        missing,
        unexpected,
    })
}
