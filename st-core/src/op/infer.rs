//! Shape and dtype inference for kernel ops: the checks every backend gets for free.
//!
//! Note [Dispatch dtype]: the registry key is (op, backend, *dispatch dtype*). It is the dtype
//! of input 0 by default; `where` uses its value inputs (input 1); `cast` uses the source dtype
//! (the target is in the params); `gather`/`index_select`/`scatter_add` use the data dtype, the
//! index dtype being fixed to i64; `fill` uses its output dtype. Binary ops see inputs already
//! promoted to one dtype (the tensor layer inserts casts), so kernels never mix dtypes.

use super::{OpId, OpParams};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::Shape;

/// What inference reads of an input: its shape and dtype. [`Tensor`](crate::Tensor) implements
/// it, so the dispatcher passes its input slice through without building another;
/// [`TensorMeta`] is an input without data (shape checks before anything is allocated).
pub trait InferInput {
    /// The input's shape.
    fn shape(&self) -> &Shape;
    /// The input's dtype.
    fn dtype(&self) -> DType;
    /// The input's dims.
    fn dims(&self) -> &[usize] {
        self.shape().dims()
    }
    /// The input's rank.
    fn rank(&self) -> usize {
        self.shape().rank()
    }
}

/// A shape and a dtype: an inference input without data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorMeta {
    /// Shape.
    pub shape: Shape,
    /// Element type.
    pub dtype: DType,
}

impl InferInput for TensorMeta {
    fn shape(&self) -> &Shape {
        &self.shape
    }
    fn dtype(&self) -> DType {
        self.dtype
    }
}

/// The dtype that selects the kernel. See Note [Dispatch dtype].
pub fn dispatch_dtype<I: InferInput>(op: OpId, inputs: &[&I], params: &OpParams) -> DType {
    match (op, params) {
        (OpId::Fill, OpParams::Fill { dtype, .. }) => *dtype,
        (OpId::Where, _) => inputs[1].dtype(),
        _ => inputs.first().map(|i| i.dtype()).unwrap_or(DType::F32),
    }
}

fn detail<I: InferInput>(inputs: &[&I]) -> String {
    let d: Vec<_> = inputs.iter().map(|i| i.dtype().as_str()).collect();
    format!(" (dtypes {})", d.join(", "))
}

fn require<I: InferInput>(op: OpId, ok: bool, inputs: &[&I], what: &str) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::DTypeMismatch {
            op: op.name(),
            got: inputs.iter().map(|i| i.dtype()).collect(),
            reason: what.to_string(),
        })
    }
}

fn same_shape(op: OpId, a: &Shape, b: &Shape, why: &str) -> Result<()> {
    if a == b {
        Ok(())
    } else {
        Err(Error::ShapeMismatch {
            op: op.name(),
            lhs: Box::new(a.clone()),
            rhs: Box::new(b.clone()),
            detail: why.into(),
        })
    }
}

fn reduced(shape: &Shape, dims: &[usize], keepdim: bool) -> Shape {
    let mut out = Vec::with_capacity(shape.rank());
    for (i, &d) in shape.dims().iter().enumerate() {
        if dims.contains(&i) {
            if keepdim {
                out.push(1);
            }
        } else {
            out.push(d);
        }
    }
    Shape::new(&out)
}

/// Output shape and dtype of a kernel op, validating ranks, dims and dtypes.
///
/// # Errors
/// Shape, dtype and argument errors naming the op.
pub fn infer<I: InferInput>(op: OpId, inputs: &[&I], params: &OpParams) -> Result<(Shape, DType)> {
    use OpId::*;
    let name = op.name();
    let arity = op.def().arity as usize;
    if arity != 0 && inputs.len() != arity {
        return Err(Error::invalid(
            name,
            format!("expects {arity} inputs, got {}", inputs.len()),
        ));
    }
    let s = |i: usize| inputs[i].shape();
    let dt = |i: usize| inputs[i].dtype();
    match op {
        Neg | Abs | Sign | Clamp => {
            require(op, dt(0) != DType::Bool, inputs, "not defined for bool")?;
            Ok((s(0).clone(), dt(0)))
        }
        Floor | Ceil | Round => {
            require(op, dt(0) != DType::Bool, inputs, "not defined for bool")?;
            Ok((s(0).clone(), dt(0)))
        }
        Exp | Log | Sqrt | Rsqrt | Sin | Cos | Tanh | Sigmoid | Gelu | GeluTanh | Silu | Erf
        | Reciprocal => {
            require(
                op,
                dt(0).is_float(),
                inputs,
                "needs a floating-point input; cast first",
            )?;
            Ok((s(0).clone(), dt(0)))
        }
        Relu => {
            require(op, dt(0) != DType::Bool, inputs, "not defined for bool")?;
            Ok((s(0).clone(), dt(0)))
        }
        LogicalNot => Ok((s(0).clone(), DType::Bool)),
        Add | Sub | Mul | Div | Pow | Maximum | Minimum => {
            require(
                op,
                dt(0) == dt(1),
                inputs,
                "binary kernels take one dtype (promote first)",
            )?;
            require(
                op,
                dt(0) != DType::Bool || matches!(op, Add | Mul | Maximum | Minimum),
                inputs,
                "not defined for bool",
            )?;
            Ok((broadcast(op, inputs)?, dt(0)))
        }
        Eq | Ne | Lt | Le | Gt | Ge | LogicalAnd | LogicalOr => {
            require(
                op,
                dt(0) == dt(1),
                inputs,
                "comparison kernels take one dtype",
            )?;
            Ok((broadcast(op, inputs)?, DType::Bool))
        }
        Where => {
            require(op, dt(0) == DType::Bool, inputs, "condition must be bool")?;
            require(
                op,
                dt(1) == dt(2),
                inputs,
                "value inputs must share one dtype",
            )?;
            let ab = Shape::broadcast(name, s(1), s(2))?;
            Ok((Shape::broadcast(name, s(0), &ab)?, dt(1)))
        }
        MaskedFill => {
            require(op, dt(1) == DType::Bool, inputs, "mask must be bool")?;
            let OpParams::Scalar(value) = params else {
                return bad_params(op, params);
            };
            check_scalar(name, dt(0), *value)?;
            let out = Shape::broadcast(name, s(0), s(1))?;
            same_shape(
                op,
                &out,
                s(0),
                ": the mask must broadcast to the input shape",
            )?;
            Ok((out, dt(0)))
        }
        Sum | Prod | Max | Min => {
            let OpParams::Reduce { dims, keepdim } = params else {
                return bad_params(op, params);
            };
            check_reduce_dims(op, dims, s(0).rank())?;
            let out_dt = match op {
                Sum | Prod if !dt(0).is_float() => DType::I64,
                _ => dt(0),
            };
            if matches!(op, Max | Min) && s(0).numel() == 0 {
                let empty = dims.iter().any(|&d| s(0).dim(d) == 0) || s(0).rank() == 0;
                if empty {
                    return Err(Error::InvalidShape {
                        op: name,
                        shape: Box::new(s(0).clone()),
                        reason: "cannot reduce an empty dimension without an identity".into(),
                    });
                }
            }
            Ok((reduced(s(0), dims, *keepdim), out_dt))
        }
        ArgMax | ArgMin => {
            let OpParams::Arg { dim, keepdim } = params else {
                return bad_params(op, params);
            };
            require(op, dt(0) != DType::Bool, inputs, "not defined for bool")?;
            let shape = match dim {
                Some(d) => {
                    check_dim(op, *d, s(0).rank())?;
                    if s(0).rank() > 0 && s(0).dim(*d) == 0 {
                        return Err(Error::InvalidShape {
                            op: name,
                            shape: Box::new(s(0).clone()),
                            reason: format!("dim {d} is empty"),
                        });
                    }
                    if s(0).rank() == 0 {
                        Shape::scalar()
                    } else {
                        reduced(s(0), &[*d], *keepdim)
                    }
                }
                None => {
                    if s(0).numel() == 0 {
                        return Err(Error::InvalidShape {
                            op: name,
                            shape: Box::new(s(0).clone()),
                            reason: "cannot take the arg-extremum of an empty tensor".into(),
                        });
                    }
                    if *keepdim {
                        Shape::new(&vec![1; s(0).rank()])
                    } else {
                        Shape::scalar()
                    }
                }
            };
            Ok((shape, DType::I64))
        }
        Matmul => matmul_shape(op, inputs),
        Softmax | LogSoftmax => {
            let OpParams::Dim(d) = params else {
                return bad_params(op, params);
            };
            check_dim(op, *d, s(0).rank())?;
            require(op, dt(0).is_float(), inputs, "needs a floating-point input")?;
            Ok((s(0).clone(), dt(0)))
        }
        Cat => {
            let OpParams::Dim(d) = params else {
                return bad_params(op, params);
            };
            if inputs.is_empty() {
                return Err(Error::invalid(name, "needs at least one tensor"));
            }
            let first = s(0);
            if first.rank() == 0 {
                return Err(Error::InvalidShape {
                    op: name,
                    shape: Box::new(first.clone()),
                    reason: "zero-dimensional tensors cannot be concatenated".into(),
                });
            }
            check_dim(op, *d, first.rank())?;
            let mut total = 0;
            for (i, inp) in inputs.iter().enumerate() {
                require(
                    op,
                    inp.dtype() == dt(0),
                    inputs,
                    "all tensors must share one dtype",
                )?;
                let sh = inp.shape();
                let ok = sh.rank() == first.rank()
                    && (0..sh.rank()).all(|k| k == *d || sh.dim(k) == first.dim(k));
                if !ok {
                    return Err(Error::ShapeMismatch {
                        op: name,
                        lhs: Box::new(first.clone()),
                        rhs: Box::new(sh.clone()),
                        detail: format!(": tensor {i} differs outside dim {d}"),
                    });
                }
                total = sh.dim(*d).checked_add(total).ok_or_else(|| {
                    Error::invalid(name, format!("the sizes along dim {d} overflow"))
                })?;
            }
            let mut out = first.dims().to_vec();
            out[*d] = total;
            Ok((Shape::new(&out), dt(0)))
        }
        IndexSelect => {
            let OpParams::Dim(d) = params else {
                return bad_params(op, params);
            };
            check_dim(op, *d, s(0).rank())?;
            require(op, dt(1) == DType::I64, inputs, "index must be i64")?;
            if s(1).rank() > 1 {
                return Err(Error::InvalidShape {
                    op: name,
                    shape: Box::new(s(1).clone()),
                    reason: "index must be 0-d or 1-d".into(),
                });
            }
            let mut out = s(0).dims().to_vec();
            if !out.is_empty() {
                out[*d] = s(1).numel();
            }
            Ok((Shape::new(&out), dt(0)))
        }
        Gather => {
            let OpParams::Dim(d) = params else {
                return bad_params(op, params);
            };
            check_dim(op, *d, s(0).rank())?;
            require(op, dt(1) == DType::I64, inputs, "index must be i64")?;
            index_rank_check(op, s(0), s(1), *d)?;
            Ok((s(1).clone(), dt(0)))
        }
        ScatterAdd => {
            let OpParams::Dim(d) = params else {
                return bad_params(op, params);
            };
            check_dim(op, *d, s(0).rank())?;
            require(op, dt(1) == DType::I64, inputs, "index must be i64")?;
            require(
                op,
                dt(2) == dt(0),
                inputs,
                "src must have the input's dtype",
            )?;
            index_rank_check(op, s(0), s(1), *d)?;
            index_rank_check(op, s(2), s(1), usize::MAX)?;
            Ok((s(0).clone(), dt(0)))
        }
        Conv2d => conv_shape(op, inputs, params),
        Im2Col | Col2Im => window_shape(op, inputs, params),
        Cast => {
            let OpParams::Cast(to) = params else {
                return bad_params(op, params);
            };
            Ok((s(0).clone(), *to))
        }
        Copy => Ok((s(0).clone(), dt(0))),
        Fill => {
            let OpParams::Fill {
                shape,
                dtype,
                value,
            } = params
            else {
                return bad_params(op, params);
            };
            check_scalar(name, *dtype, *value)?;
            Ok((shape.clone(), *dtype))
        }
        _ => Err(Error::Internal(format!(
            "infer called for non-kernel op {name}"
        ))),
    }
    .map_err(|e| add_detail(e, inputs))
}

fn add_detail<I: InferInput>(e: Error, inputs: &[&I]) -> Error {
    match e {
        Error::ShapeMismatch {
            op,
            lhs,
            rhs,
            detail: d,
        } if !d.contains("dtypes") => Error::ShapeMismatch {
            op,
            lhs,
            rhs,
            detail: format!("{d}{}", detail(inputs)),
        },
        e => e,
    }
}

/// Checks that the scalar `value` converts to `dtype` without overflow, as PyTorch does for
/// scalar operands and fill values ("value cannot be converted to type int32 without
/// overflow"). Integer dtypes take finite values whose integral part lies in their range
/// (the fraction is truncated, as in a cast); float and bool dtypes take any value (floats
/// round, possibly to infinity; bool tests `!= 0`).
///
/// # Errors
/// [`Error::InvalidArgument`] naming `op`, the value and the dtype.
pub fn check_scalar(op: &'static str, dtype: DType, value: f64) -> Result<()> {
    // Exclusive upper bounds, exact in f64.
    let (lo, hi) = match dtype {
        DType::I32 => (-2_147_483_648.0, 2_147_483_648.0),
        DType::I64 => (-9_223_372_036_854_775_808.0, 9_223_372_036_854_775_808.0),
        DType::U8 => (0.0, 256.0),
        _ => return Ok(()),
    };
    let t = value.trunc();
    if t >= lo && t < hi {
        Ok(())
    } else {
        Err(Error::invalid(
            op,
            format!("value {value} cannot be converted to {dtype} without overflow"),
        ))
    }
}

fn bad_params(op: OpId, params: &OpParams) -> Result<(Shape, DType)> {
    Err(Error::invalid(
        op.name(),
        format!("takes other parameters than {params:?}"),
    ))
}

/// Checks a normalized dim parameter (`dispatch_on` is public: params may come unchecked).
/// A 0-d tensor accepts dim 0, as its dim helpers do.
fn check_dim(op: OpId, dim: usize, rank: usize) -> Result<()> {
    if dim < rank.max(1) {
        Ok(())
    } else {
        Err(Error::DimOutOfRange {
            op: op.name(),
            dim: isize::try_from(dim).unwrap_or(isize::MAX),
            rank,
        })
    }
}

/// Checks reduction dims: each in range, strictly increasing (normalized and sorted); a 0-d
/// input takes none (the tensor API normalizes its dim 0 away).
fn check_reduce_dims(op: OpId, dims: &[usize], rank: usize) -> Result<()> {
    for (i, &d) in dims.iter().enumerate() {
        check_dim(op, d, rank)?;
        if rank == 0 || i > 0 && dims[i - 1] >= d {
            return Err(Error::invalid(
                op.name(),
                format!("reduction dims {dims:?} must be distinct and sorted"),
            ));
        }
    }
    Ok(())
}

fn broadcast<I: InferInput>(op: OpId, inputs: &[&I]) -> Result<Shape> {
    Shape::broadcast(op.name(), inputs[0].shape(), inputs[1].shape())
}

fn index_rank_check(op: OpId, data: &Shape, index: &Shape, dim: usize) -> Result<()> {
    let ok = data.rank() == index.rank()
        && (0..data.rank()).all(|k| k == dim || index.dim(k) <= data.dim(k));
    if ok {
        Ok(())
    } else {
        Err(Error::ShapeMismatch {
            op: op.name(),
            lhs: Box::new(data.clone()),
            rhs: Box::new(index.clone()),
            detail: ": index must have the same rank and be no larger outside the indexed dim"
                .into(),
        })
    }
}

fn matmul_shape<I: InferInput>(op: OpId, inputs: &[&I]) -> Result<(Shape, DType)> {
    let (a, b) = (inputs[0].shape(), inputs[1].shape());
    require(
        op,
        inputs[0].dtype() == inputs[1].dtype(),
        inputs,
        "both operands must share one dtype",
    )?;
    require(
        op,
        inputs[0].dtype() != DType::Bool,
        inputs,
        "not defined for bool",
    )?;
    let mismatch = |why: &str| Error::ShapeMismatch {
        op: op.name(),
        lhs: Box::new(a.clone()),
        rhs: Box::new(b.clone()),
        detail: format!(": {why}{}", detail(inputs)),
    };
    if a.rank() == 0 || b.rank() == 0 {
        return Err(mismatch("both arguments need at least 1 dimension"));
    }
    let k_a = a.dim(a.rank() - 1);
    let k_b = if b.rank() == 1 {
        b.dim(0)
    } else {
        b.dim(b.rank() - 2)
    };
    if k_a != k_b {
        return Err(mismatch(&format!(
            "inner dimensions {k_a} and {k_b} differ"
        )));
    }
    let batch_a = Shape::new(&a.dims()[..a.rank().saturating_sub(2)]);
    let batch_b = Shape::new(&b.dims()[..b.rank().saturating_sub(2)]);
    let batch = Shape::broadcast(op.name(), &batch_a, &batch_b).map_err(|_| {
        mismatch(&format!(
            "batch dims {batch_a} and {batch_b} cannot be broadcast"
        ))
    })?;
    let mut out = batch.dims().to_vec();
    if a.rank() >= 2 {
        out.push(a.dim(a.rank() - 2));
    }
    if b.rank() >= 2 {
        out.push(b.dim(b.rank() - 1));
    }
    Ok((Shape::new(&out), inputs[0].dtype()))
}

fn conv_shape<I: InferInput>(op: OpId, inputs: &[&I], params: &OpParams) -> Result<(Shape, DType)> {
    let OpParams::Conv2d(p) = params else {
        return bad_params(op, params);
    };
    let (x, w) = (inputs[0].shape(), inputs[1].shape());
    require(
        op,
        inputs[0].dtype().is_float() && inputs[0].dtype() == inputs[1].dtype(),
        inputs,
        "needs one float dtype",
    )?;
    let bad = |why: String| Error::ShapeMismatch {
        op: op.name(),
        lhs: Box::new(x.clone()),
        rhs: Box::new(w.clone()),
        detail: format!(": {why}{}", detail(inputs)),
    };
    if x.rank() != 4 || w.rank() != 4 {
        return Err(bad(
            "input must be [N, C, H, W] and weight [O, C/groups, kh, kw]".into(),
        ));
    }
    if p.groups == 0 || x.dim(1) % p.groups != 0 || w.dim(0) % p.groups != 0 {
        return Err(bad(format!(
            "groups {} must divide in and out channels",
            p.groups
        )));
    }
    if x.dim(1) / p.groups != w.dim(1) {
        return Err(bad(format!(
            "weight expects {} input channels per group, input has {} / {} groups",
            w.dim(1),
            x.dim(1),
            p.groups
        )));
    }
    if p.stride.contains(&0) || p.dilation.contains(&0) {
        return Err(Error::invalid(
            op.name(),
            "stride and dilation must be positive",
        ));
    }
    let win = WindowParams {
        kernel: [w.dim(2), w.dim(3)],
        stride: p.stride,
        padding: p.padding,
        dilation: p.dilation,
        pad_value: 0.0,
        image: [x.dim(2), x.dim(3)],
    };
    if win.kernel.contains(&0) {
        return Err(bad("the kernel has a zero-size spatial dim".into()));
    }
    let [oh, ow] = win.checked_out_hw(op.name())?;
    if oh == 0 || ow == 0 {
        return Err(bad(
            "kernel (after dilation) is larger than the padded input".into(),
        ));
    }
    Ok((Shape::new(&[x.dim(0), w.dim(0), oh, ow]), inputs[0].dtype()))
}

use super::WindowParams;

fn window_shape<I: InferInput>(
    op: OpId,
    inputs: &[&I],
    params: &OpParams,
) -> Result<(Shape, DType)> {
    let OpParams::Window(p) = params else {
        return bad_params(op, params);
    };
    let x = inputs[0].shape();
    if p.stride.contains(&0) || p.dilation.contains(&0) || p.kernel.contains(&0) {
        return Err(Error::invalid(
            op.name(),
            "kernel, stride and dilation must be positive",
        ));
    }
    let [oh, ow] = p.checked_out_hw(op.name())?;
    if oh == 0 || ow == 0 {
        return Err(Error::InvalidShape {
            op: op.name(),
            shape: Box::new(x.clone()),
            reason: format!(
                "window {:?} (dilation {:?}) is larger than the padded image {:?} (padding {:?})",
                p.kernel, p.dilation, p.image, p.padding
            ),
        });
    }
    let too_big = || Error::invalid(op.name(), format!("window {:?} is too large", p.kernel));
    let kk = p.kernel[0].checked_mul(p.kernel[1]).ok_or_else(too_big)?;
    if op == OpId::Im2Col {
        if x.rank() != 4 || [x.dim(2), x.dim(3)] != p.image {
            return Err(Error::InvalidShape {
                op: op.name(),
                shape: Box::new(x.clone()),
                reason: format!("expected [N, C, {}, {}]", p.image[0], p.image[1]),
            });
        }
        let cols = x.dim(1).checked_mul(kk).ok_or_else(too_big)?;
        Ok((Shape::new(&[x.dim(0), cols, oh * ow]), inputs[0].dtype()))
    } else {
        if x.rank() != 3 || !x.dim(1).is_multiple_of(kk) || x.dim(2) != oh * ow {
            return Err(Error::InvalidShape {
                op: op.name(),
                shape: Box::new(x.clone()),
                reason: format!("expected [N, C*{kk}, {}]", oh * ow),
            });
        }
        Ok((
            Shape::new(&[x.dim(0), x.dim(1) / kk, p.image[0], p.image[1]]),
            inputs[0].dtype(),
        ))
    }
}
