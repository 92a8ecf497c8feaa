//! [`Reduction`] and the shape check every elementwise loss shares.

use st_core::{Error, Result, Tensor};

/// How per-element losses are combined (PyTorch's `reduction=`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reduction {
    /// The per-element losses, unreduced.
    None,
    /// Their mean (the default).
    #[default]
    Mean,
    /// Their sum.
    Sum,
}

impl Reduction {
    /// Applies the reduction to per-element losses.
    ///
    /// # Errors
    /// Errors of the reduction ops.
    pub fn apply(self, losses: &Tensor) -> Result<Tensor> {
        match self {
            Reduction::None => Ok(losses.clone()),
            Reduction::Mean => losses.mean(&[], false),
            Reduction::Sum => losses.sum_all(),
        }
    }
}

/// `input` and `target` must have one shape: PyTorch only warns when they broadcast, which
/// hides `[N, 1]` against `[N]` becoming `[N, N]`; here it is an error.
pub(crate) fn same_shape(op: &'static str, input: &Tensor, target: &Tensor) -> Result<()> {
    if input.shape() != target.shape() {
        return Err(Error::ShapeMismatch {
            op,
            lhs: Box::new(input.shape().clone()),
            rhs: Box::new(target.shape().clone()),
            detail: ": input and target must have the same shape".into(),
        });
    }
    Ok(())
}
