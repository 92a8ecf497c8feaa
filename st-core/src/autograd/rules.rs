//! One backward rule per differentiable op, written with tensor ops (tinygrad-style table).
//!
//! A rule gets the op's inputs exactly as the dispatcher got them (binary inputs already promoted
//! to one dtype but not yet broadcast), its output `y` and the output gradient `g`, and
//! returns one entry per input: the gradient, with the input's shape, or `None` for inputs that
//! carry no gradient (indices, masks, conditions) or that do not require one. Rules use only
//! public tensor ops, so every backend that has the forward kernels also has gradients.
//! Composite ops never get here: they are differentiated through their primitives.
//!
//! Rules normally run under `no_grad` with `y` detached. When the pass creates a graph they run
//! with grad mode on and `y` attached to its node (see Note [Double backward]), so each rule
//! must be differentiable as written: masks and other piecewise-constant factors are fine only
//! where the true derivative of the factor is zero (relu, max, clamp, ...).
//!
//! The rules live in four files by op family: `elementwise.rs` (unary, binary, where,
//! masked_fill), `reduce.rs` (sum, prod, max, min, softmax, log_softmax), `nn.rs` (matmul,
//! conv2d, im2col, col2im) and `movement.rs` (views, cat, the index ops, cast, copy).

mod elementwise;
mod movement;
mod nn;
mod reduce;

use crate::error::{Error, Result};
use crate::op::{OpId, OpParams};
use crate::shape::Shape;
use crate::tensor::Tensor;

/// Which saved tensors the backward rule of `op` reads the values of — `(inputs, output)` —
/// so that an in-place write to one of them since it was saved makes the gradient wrong (and
/// backward an error). Rules that use only shapes and dtypes need no check. View ops count as
/// reading their input: the output shares its storage, so a write through either changes what
/// the graph describes.
pub(crate) fn reads_saved(op: OpId) -> (bool, bool) {
    use OpId::*;
    let output_only = matches!(
        op,
        Exp | Sqrt | Rsqrt | Tanh | Sigmoid | Reciprocal | Softmax | LogSoftmax
    );
    let shapes_only = matches!(
        op,
        Add | Sub | Neg | Sum | Cat | Copy | Cast | Im2Col | Col2Im
    );
    let output = output_only || matches!(op, Pow | Prod | Max | Min);
    (!output_only && !shapes_only, output)
}

/// Gradients of the inputs of `op` given the output gradient `g` (one entry per input).
///
/// # Errors
/// [`Error::Autograd`] for ops without a gradient; [`Error::Internal`] when the node does not
/// have the inputs or params its op records; errors of the tensor ops the rule runs.
pub(crate) fn backward(
    op: OpId,
    params: &OpParams,
    inputs: &[&Tensor],
    output: &Tensor,
    g: &Tensor,
) -> Result<Vec<Option<Tensor>>> {
    use OpId::*;
    let arity = op.def().arity as usize;
    if (arity != 0 && inputs.len() != arity) || inputs.is_empty() {
        return Err(Error::Internal(format!(
            "backward of {}: node has {} inputs, the op takes {}",
            op.name(),
            inputs.len(),
            arity
        )));
    }
    let x = inputs[0];
    match op {
        Neg | Abs | Exp | Log | Sqrt | Rsqrt | Sin | Cos | Tanh | Sigmoid | Relu | Gelu
        | GeluTanh | Silu | Erf | Floor | Ceil | Round | Sign | Reciprocal | Clamp => {
            Ok(vec![Some(elementwise::unary(op, params, x, output, g)?)])
        }
        Add | Sub | Mul | Div | Pow | Maximum | Minimum => {
            elementwise::binary(op, x, inputs[1], output, g)
        }
        Where => elementwise::where_cond(inputs[0], inputs[1], inputs[2], g),
        MaskedFill => elementwise::masked_fill(x, inputs[1], g),
        Sum | Prod | Max | Min => {
            let OpParams::Reduce { dims, .. } = params else {
                return bad_params(op, params);
            };
            Ok(vec![Some(reduce::reduction(op, dims, x, output, g)?)])
        }
        Softmax | LogSoftmax => {
            let OpParams::Dim(d) = params else {
                return bad_params(op, params);
            };
            Ok(vec![Some(reduce::softmax(op, *d, output, g)?)])
        }
        Matmul => nn::matmul(x, inputs[1], g),
        Conv2d => {
            let OpParams::Conv2d(p) = params else {
                return bad_params(op, params);
            };
            nn::conv2d(x, inputs[1], p, g)
        }
        Im2Col | Col2Im => {
            let OpParams::Window(p) = params else {
                return bad_params(op, params);
            };
            Ok(vec![Some(nn::window(op, p, g)?)])
        }
        Cat => {
            let OpParams::Dim(d) = params else {
                return bad_params(op, params);
            };
            movement::cat(inputs, *d, g)
        }
        IndexSelect | Gather | ScatterAdd => {
            let OpParams::Dim(d) = params else {
                return bad_params(op, params);
            };
            movement::index(op, inputs, *d, g)
        }
        Reshape | Permute | Expand | Slice => Ok(vec![Some(movement::view(op, params, x, g)?)]),
        Cast => Ok(vec![Some(g.to_dtype(x.dtype())?)]),
        Copy => match params {
            OpParams::Device(src) => Ok(vec![Some(g.to(src)?)]),
            _ => Ok(vec![Some(g.clone())]),
        },
        LogicalNot | Eq | Ne | Lt | Le | Gt | Ge | LogicalAnd | LogicalOr | ArgMax | ArgMin
        | Fill => Err(Error::Autograd(format!(
            "{} is not differentiable",
            op.name()
        ))),
        Mean | Var | Std | LogSumExp | CrossEntropy | Stack | Split | Chunk | Embedding
        | MaxPool2d | AvgPool2d => Err(Error::Internal(format!(
            "composite op {} reached the autograd engine; it is differentiated through its \
             primitives",
            op.name()
        ))),
    }
}

fn bad_params<T>(op: OpId, params: &OpParams) -> Result<T> {
    Err(Error::Internal(format!(
        "backward of {}: unexpected params {params:?}",
        op.name()
    )))
}

/// Sums `g` over the dims that broadcasting added or stretched, so it gets `shape`: the
/// gradient of a tensor of `shape` that was broadcast to `g`'s shape.
///
/// # Errors
/// [`Error::ShapeMismatch`] when `shape` does not broadcast to `g`'s shape.
pub(crate) fn sum_to_shape(g: &Tensor, shape: &Shape) -> Result<Tensor> {
    if g.shape() == shape {
        return Ok(g.clone());
    }
    if !shape.broadcasts_to(g.shape()) {
        return Err(Error::ShapeMismatch {
            op: "sum_to_shape",
            lhs: Box::new(g.shape().clone()),
            rhs: Box::new(shape.clone()),
            detail: ": the target shape does not broadcast to the gradient's shape".into(),
        });
    }
    let lead = g.rank() - shape.rank();
    let dims: Vec<isize> = (0..g.rank())
        .filter(|&i| i < lead || (shape.dim(i - lead) == 1 && g.dims()[i] != 1))
        .map(|i| i as isize)
        .collect();
    if dims.is_empty() {
        // Only leading size-1 dims were added: nothing to sum.
        return g.reshape_to(shape);
    }
    g.sum(&dims, true)?.reshape_to(shape)
}

/// A 0-d tensor holding `v` with `like`'s dtype and device.
fn scalar_like(like: &Tensor, v: f64) -> Result<Tensor> {
    Tensor::scalar(v, like.dtype(), &like.device())
}

/// A bool mask as 0/1 in `like`'s dtype.
fn mask_as(mask: &Tensor, like: &Tensor) -> Result<Tensor> {
    mask.to_dtype(like.dtype())
}

/// `shape` with `dims` set to 1: the keepdim shape of a reduction.
fn keepdim_shape(shape: &Shape, dims: &[usize]) -> Shape {
    let d: Vec<usize> = shape
        .dims()
        .iter()
        .enumerate()
        .map(|(i, &s)| if dims.contains(&i) { 1 } else { s })
        .collect();
    Shape::new(&d)
}
