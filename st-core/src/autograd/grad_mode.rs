//! Thread-local grad mode and the [`no_grad`] guard.

use std::cell::Cell;

thread_local! {
    static ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// Whether ops on this thread record the autograd graph.
#[inline]
pub fn is_grad_enabled() -> bool {
    ENABLED.with(|e| e.get())
}

/// Restores the previous grad mode when dropped.
#[must_use = "grad mode is restored when the guard is dropped"]
pub struct NoGradGuard {
    prev: bool,
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        ENABLED.with(|e| e.set(self.prev));
    }
}

/// Disables graph recording on this thread until the guard drops (PyTorch's `torch.no_grad()`).
///
/// ```
/// use st_core::{no_grad, Tensor, Device, DType};
/// let w = Tensor::ones([2], DType::F32, &Device::cpu())?.requires_grad_()?;
/// let y = {
///     let _g = no_grad();
///     w.mul_scalar(2.0)?
/// };
/// assert!(!y.requires_grad());
/// # Ok::<(), st_core::Error>(())
/// ```
pub fn no_grad() -> NoGradGuard {
    let prev = ENABLED.with(|e| e.replace(false));
    NoGradGuard { prev }
}

/// Sets grad mode on this thread to `on` until the guard drops (the backward pass runs its
/// rules with grad mode on exactly when it creates a graph).
pub(crate) fn set_grad_enabled(on: bool) -> NoGradGuard {
    let prev = ENABLED.with(|e| e.replace(on));
    NoGradGuard { prev }
}
