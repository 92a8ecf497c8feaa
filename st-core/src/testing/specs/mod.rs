//! The [`OpSpec`] of every op (one exhaustive `match`), and helpers the family files share.

mod binary;
mod conv;
mod index;
mod movement;
mod nn;
mod reduce;
mod unary;

use super::{ErrKind, ErrorCase, GradCase, OpSpec, Sample};
use crate::autograd::gradcheck::GradcheckOptions;
use crate::dtype::DType;
use crate::error::Result;
use crate::op::OpId;
use crate::tensor::Tensor;
use crate::testing::reference::RefTensor;
use std::sync::Arc;

type SampleGen = fn(OpId, DType) -> Result<Vec<Sample>>;
type ErrorGen = fn(OpId) -> Result<Vec<ErrorCase>>;
type GradGen = fn(OpId) -> Result<Vec<GradCase>>;

/// The spec of `op`. The `match` is exhaustive: a new [`OpId`] does not compile until it has
/// a spec (and a row in the suite table).
pub fn spec(op: OpId) -> OpSpec {
    use OpId::*;
    let (samples, errors, grads): (SampleGen, ErrorGen, GradGen) = match op {
        Neg | Abs | Exp | Log | Sqrt | Rsqrt | Sin | Cos | Tanh | Sigmoid | Relu | Gelu
        | GeluTanh | Silu | Erf | Floor | Ceil | Round | Sign | Reciprocal | Clamp | LogicalNot => {
            (unary::samples, unary::errors, unary::grads)
        }
        Add | Sub | Mul | Div | Pow | Maximum | Minimum | Eq | Ne | Lt | Le | Gt | Ge
        | LogicalAnd | LogicalOr | Where | MaskedFill => {
            (binary::samples, binary::errors, binary::grads)
        }
        Sum | Prod | Max | Min | ArgMax | ArgMin | Mean | Var | Std | LogSumExp => {
            (reduce::samples, reduce::errors, reduce::grads)
        }
        Matmul | Softmax | LogSoftmax | CrossEntropy => (nn::samples, nn::errors, nn::grads),
        Conv2d | Im2Col | Col2Im | MaxPool2d | AvgPool2d => {
            (conv::samples, conv::errors, conv::grads)
        }
        Cat | Stack | Split | Chunk | IndexSelect | Gather | ScatterAdd | Embedding => {
            (index::samples, index::errors, index::grads)
        }
        Cast | Copy | Fill | Reshape | Permute | Slice | Expand => {
            (movement::samples, movement::errors, movement::grads)
        }
    };
    OpSpec {
        op,
        dtypes: op.def().dtypes,
        samples,
        errors,
        grad: op.def().differentiable,
        grads,
    }
}

/// A forward case with one output.
pub(crate) fn sample(
    name: impl Into<String>,
    inputs: Vec<super::Input>,
    out_dtype: DType,
    run: impl Fn(&[Tensor]) -> Result<Tensor> + Send + Sync + 'static,
    reference: impl Fn(&[RefTensor]) -> Result<RefTensor> + Send + Sync + 'static,
) -> Sample {
    Sample {
        name: name.into(),
        inputs,
        run: Arc::new(move |t| Ok(vec![run(t)?])),
        reference: Arc::new(move |v| Ok(vec![reference(v)?])),
        out_dtypes: vec![out_dtype],
        tol: None,
    }
}

/// An error case.
pub(crate) fn error(
    name: &str,
    inputs: Vec<super::Input>,
    expect: ErrKind,
    run: impl Fn(&[Tensor]) -> Result<Tensor> + Send + Sync + 'static,
) -> ErrorCase {
    ErrorCase {
        name: name.into(),
        inputs,
        run: Arc::new(move |t| Ok(vec![run(t)?])),
        expect,
    }
}

/// A gradient case with the default options.
pub(crate) fn grad(
    name: &str,
    inputs: Vec<super::Input>,
    wrt: &[usize],
    f: impl Fn(&[Tensor]) -> Result<Tensor> + Send + Sync + 'static,
) -> GradCase {
    GradCase {
        name: name.into(),
        inputs,
        wrt: wrt.to_vec(),
        f: Arc::new(f),
        opts: GradcheckOptions::default(),
    }
}

/// A generator for (op, dtype, purpose).
pub(crate) fn gen(op: OpId, dt: DType, what: &str) -> super::Gen {
    super::Gen::for_label(&format!("{}/{}/{what}", op.name(), dt))
}

/// A contiguous input of `shape` with values from `dom`.
pub(crate) fn rand(
    g: &mut super::Gen,
    shape: &[usize],
    dt: DType,
    dom: super::Domain,
) -> super::Input {
    super::Input::new(g.tensor(shape, dt, dom), dt)
}

/// The standard single-input layouts: scalar, empty, contiguous 3-d, transposed, strided
/// (inner stride 2 with an offset), expanded, and large ones that take parallel paths.
pub(crate) fn layouts(
    g: &mut super::Gen,
    dt: DType,
    dom: super::Domain,
) -> Result<Vec<(&'static str, super::Input)>> {
    Ok(vec![
        ("scalar", rand(g, &[], dt, dom)),
        ("empty", rand(g, &[0, 3], dt, dom)),
        ("contiguous", rand(g, &[2, 3, 4], dt, dom)),
        ("transposed", rand(g, &[3, 5], dt, dom).transposed()),
        ("strided", rand(g, &[4, 3], dt, dom).strided()),
        (
            "expanded",
            super::Input::expanded(g.tensor(&[1, 4], dt, dom), &[3, 4], dt)?,
        ),
        // Above the CPU's parallel threshold (65 536 elements).
        ("large", rand(g, &[300, 256], dt, dom)),
        ("large strided", rand(g, &[256, 300], dt, dom).strided()),
    ])
}

/// A small f64 input for gradient checks.
pub(crate) fn f64_input(g: &mut super::Gen, shape: &[usize], dom: super::Domain) -> super::Input {
    rand(g, shape, DType::F64, dom)
}

/// An i64 index input with the given values.
pub(crate) fn index_input(shape: &[usize], values: &[i64]) -> Result<super::Input> {
    let v = RefTensor::new(shape, values.iter().map(|&x| x as f64).collect())?;
    Ok(super::Input::new(v, DType::I64))
}
