//! One backward rule per differentiable op, written with tensor ops (tinygrad-style table).

use crate::error::{Error, Result};
use crate::op::{OpId, OpParams};
use crate::tensor::Tensor;

/// Gradients of the inputs of `op` given the output gradient `g`.
pub(crate) fn backward(
    op: OpId,
    _params: &OpParams,
    _inputs: &[&Tensor],
    _output: &Tensor,
    _g: &Tensor,
) -> Result<Vec<Option<Tensor>>> {
    Err(Error::Autograd(format!("no backward rule for {}", op.name())))
}
