//! Gradient hooks (PyTorch's `Tensor.register_hook`): functions called with the gradient of a
//! tensor when the backward pass has computed it, which may replace that gradient.
//!
//! Note [Where hooks live]: a non-leaf tensor is the only output of its [`Node`], so its hooks
//! are stored on the node, where the engine finds them when the node's total gradient is
//! ready (the tensor handle itself is not part of the graph: nodes save a detached copy of
//! their output). A leaf has no node, so its hooks are stored on the tensor. Either way a
//! hook sees the gradient summed over every path of one backward pass, once per pass.

use super::engine::Node;
use crate::error::{Error, Result};
use crate::tensor::{Tensor, TensorImpl};
use parking_lot::Mutex;
use smallvec::SmallVec;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

/// The function type of a gradient hook.
type HookFn = dyn Fn(&Tensor) -> Result<Option<Tensor>> + Send + Sync;

/// The hooks of one tensor, in registration order. Empty (no allocation) until a hook is
/// registered.
#[derive(Default)]
pub(crate) struct HookList(Mutex<Vec<(u64, Arc<HookFn>)>>);

impl HookList {
    fn add(&self, f: Arc<HookFn>) -> u64 {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        self.0.lock().push((id, f));
        id
    }

    fn remove(&self, id: u64) -> bool {
        let mut v = self.0.lock();
        let before = v.len();
        v.retain(|(i, _)| *i != id);
        v.len() != before
    }

    /// Runs every hook on `grad` in registration order; a hook returning `Some(t)` replaces
    /// the gradient the later hooks (and the backward pass) see. The list is copied first, so
    /// a hook may register or remove hooks without deadlocking.
    ///
    /// # Errors
    /// Errors of the hooks; [`Error::Autograd`] when a hook returns a gradient whose shape,
    /// dtype or device differs from the one it was given.
    pub(crate) fn run(&self, grad: Tensor) -> Result<Tensor> {
        let hooks: SmallVec<[Arc<HookFn>; 2]> = {
            let v = self.0.lock();
            if v.is_empty() {
                return Ok(grad);
            }
            v.iter().map(|(_, f)| f.clone()).collect()
        };
        let mut grad = grad;
        for f in hooks {
            if let Some(new) = f(&grad)? {
                if new.shape() != grad.shape()
                    || new.dtype() != grad.dtype()
                    || new.device() != grad.device()
                {
                    return Err(Error::Autograd(format!(
                        "a gradient hook returned a gradient {:?}, expected shape {}, dtype {} \
                         and device {}",
                        new,
                        grad.shape(),
                        grad.dtype(),
                        grad.device()
                    )));
                }
                grad = new;
            }
        }
        Ok(grad)
    }
}

/// Where a registered hook lives; weak, so a handle never keeps a tensor or graph alive.
enum Owner {
    Leaf(Weak<TensorImpl>),
    Node(Weak<Node>),
}

/// Removes a hook registered with [`Tensor::register_hook`] (PyTorch's `RemovableHandle`).
/// Dropping the handle leaves the hook in place.
pub struct HookHandle {
    owner: Owner,
    id: u64,
}

impl HookHandle {
    /// Removes the hook. Returns whether it was still registered (false after an earlier
    /// `remove`, or when its tensor no longer exists).
    pub fn remove(&self) -> bool {
        match &self.owner {
            Owner::Leaf(w) => w.upgrade().is_some_and(|t| t.hooks.remove(self.id)),
            Owner::Node(w) => w.upgrade().is_some_and(|n| n.hooks().remove(self.id)),
        }
    }
}

impl std::fmt::Debug for HookHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HookHandle({})", self.id)
    }
}

impl Tensor {
    /// Registers `f` to be called with the gradient with respect to this tensor each time a
    /// backward pass (or [`crate::autograd::grad`]) computes it; returning `Some(t)` replaces
    /// the gradient by `t` (same shape, dtype and device), `None` keeps it. Works on leaves
    /// (before the gradient is accumulated into [`Tensor::grad`]) and on intermediate tensors
    /// (before it flows further back). Hooks run in registration order; with
    /// `create_graph` they run with grad mode on. See Note [Where hooks live].
    ///
    /// ```
    /// use st_core::{Tensor, Device};
    /// let x = Tensor::from_vec(vec![1.0f64, 2.0], [2], &Device::cpu())?.requires_grad_()?;
    /// let h = x.register_hook(|g| Ok(Some(g.mul_scalar(10.0)?)))?;
    /// x.mul_scalar(3.0)?.sum_all()?.backward()?;
    /// assert_eq!(x.grad().unwrap().to_vec::<f64>()?, vec![30.0, 30.0]);
    /// assert!(h.remove());
    /// # Ok::<(), st_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Autograd`] when the tensor does not require grad (no gradient is ever computed
    /// for it).
    pub fn register_hook(
        &self,
        f: impl Fn(&Tensor) -> Result<Option<Tensor>> + Send + Sync + 'static,
    ) -> Result<HookHandle> {
        if !self.requires_grad() {
            return Err(Error::Autograd(
                "cannot register a hook on a tensor that does not require grad".into(),
            ));
        }
        let f: Arc<HookFn> = Arc::new(f);
        Ok(match self.grad_fn() {
            Some(node) => HookHandle {
                id: node.hooks().add(f),
                owner: Owner::Node(Arc::downgrade(&node)),
            },
            None => HookHandle {
                id: self.0.hooks.add(f),
                owner: Owner::Leaf(Arc::downgrade(&self.0)),
            },
        })
    }
}
