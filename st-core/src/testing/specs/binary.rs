//! Specs of the broadcasting binary ops, comparisons, logical ops, `where` and `masked_fill`.

use super::{error, f64_input, gen, grad, rand, sample};
use crate::dispatch::dispatch;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::op::{OpId, OpParams};
use crate::tensor::Tensor;
use crate::testing::reference::{binary as r, RefTensor};
use crate::testing::{Domain, ErrKind, ErrorCase, Gen, GradCase, Input, Sample};

/// Calls the Tensor method of a binary op (logical ops: the kernel, on same-dtype inputs).
fn call(op: OpId, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    use OpId::*;
    match op {
        Add => a.add(b),
        Sub => a.sub(b),
        Mul => a.mul(b),
        Div => a.div(b),
        Pow => a.pow(b),
        Maximum => a.maximum(b),
        Minimum => a.minimum(b),
        Eq => a.eq(b),
        Ne => a.ne(b),
        Lt => a.lt(b),
        Le => a.le(b),
        Gt => a.gt(b),
        Ge => a.ge(b),
        LogicalAnd | LogicalOr => dispatch(op, &[a, b], &OpParams::None),
        _ => Err(Error::invalid(
            "testing",
            format!("{op} is not a binary op"),
        )),
    }
}

fn domains(op: OpId, dt: DType) -> (Domain, Domain) {
    match op {
        OpId::Div => (Domain::Any, Domain::NonZero),
        OpId::Pow if dt.is_float() => (Domain::Positive, Domain::Any),
        OpId::Pow => (Domain::Any, Domain::SmallNonNeg),
        _ => (Domain::Any, Domain::Any),
    }
}

/// Operand pairs: scalar, empty, same shape, broadcast, tensor with 0-d, transposed with
/// strided, expanded, and large ones that take parallel paths.
fn pairs(
    g: &mut Gen,
    dt: DType,
    (da, db): (Domain, Domain),
) -> Result<Vec<(&'static str, Input, Input)>> {
    Ok(vec![
        ("scalar", rand(g, &[], dt, da), rand(g, &[], dt, db)),
        ("empty", rand(g, &[0, 3], dt, da), rand(g, &[3], dt, db)),
        (
            "same shape",
            rand(g, &[2, 3, 4], dt, da),
            rand(g, &[2, 3, 4], dt, db),
        ),
        (
            "broadcast",
            rand(g, &[2, 1, 4], dt, da),
            rand(g, &[3, 1], dt, db),
        ),
        ("with 0-d", rand(g, &[3, 4], dt, da), rand(g, &[], dt, db)),
        (
            "transposed+strided",
            rand(g, &[4, 3], dt, da).transposed(),
            rand(g, &[4, 3], dt, db).strided(),
        ),
        (
            "expanded",
            Input::expanded(g.tensor(&[1, 4], dt, da), &[3, 4], dt)?,
            rand(g, &[3, 4], dt, db),
        ),
        (
            "large broadcast",
            rand(g, &[300, 256], dt, da),
            rand(g, &[256], dt, db),
        ),
        (
            "large transposed",
            rand(g, &[256, 300], dt, da).transposed(),
            rand(g, &[256, 300], dt, db),
        ),
    ])
}

fn is_compare(op: OpId) -> bool {
    use OpId::*;
    matches!(op, Eq | Ne | Lt | Le | Gt | Ge | LogicalAnd | LogicalOr)
}

fn binary_case(op: OpId, dt: DType, name: String, a: Input, b: Input) -> Sample {
    let int = dt.is_int();
    if op == OpId::Div && !dt.is_float() {
        // True division promotes integers (and bool) to f32, as in PyTorch.
        let name = format!("{name} (true division)");
        return sample(
            name,
            vec![a, b],
            DType::F32,
            |t| t[0].div(&t[1]),
            |v| r::binary(OpId::Div, &v[0], &v[1], false),
        );
    }
    let out = if is_compare(op) { DType::Bool } else { dt };
    sample(
        name,
        vec![a, b],
        out,
        move |t| call(op, &t[0], &t[1]),
        move |v| r::binary(op, &v[0], &v[1], int),
    )
}

fn fill_value(dt: DType) -> f64 {
    match dt {
        DType::U8 => 7.0,
        DType::Bool => 1.0,
        d if d.is_int() => -3.0,
        _ => -1.5,
    }
}

/// Forward cases.
pub(crate) fn samples(op: OpId, dt: DType) -> Result<Vec<Sample>> {
    let mut g = gen(op, dt, "fwd");
    let mut out = Vec::new();
    match op {
        OpId::Where => {
            let c = |g: &mut Gen, s: &[usize]| rand(g, s, DType::Bool, Domain::Any);
            let cases = vec![
                (
                    "scalar",
                    c(&mut g, &[]),
                    rand(&mut g, &[], dt, Domain::Any),
                    rand(&mut g, &[], dt, Domain::Any),
                ),
                (
                    "broadcast",
                    c(&mut g, &[3, 1]),
                    rand(&mut g, &[4], dt, Domain::Any),
                    rand(&mut g, &[], dt, Domain::Any),
                ),
                (
                    "transposed+strided",
                    c(&mut g, &[3, 4]),
                    rand(&mut g, &[3, 4], dt, Domain::Any).transposed(),
                    rand(&mut g, &[3, 4], dt, Domain::Any).strided(),
                ),
                (
                    "empty",
                    c(&mut g, &[0, 2]),
                    rand(&mut g, &[2], dt, Domain::Any),
                    rand(&mut g, &[0, 2], dt, Domain::Any),
                ),
            ];
            for (name, cond, a, b) in cases {
                out.push(sample(
                    name,
                    vec![cond, a, b],
                    dt,
                    |t| t[0].where_cond(&t[1], &t[2]),
                    |v| r::where_cond(&v[0], &v[1], &v[2]),
                ));
            }
        }
        OpId::MaskedFill => {
            let m = |g: &mut Gen, s: &[usize]| rand(g, s, DType::Bool, Domain::Any);
            let value = fill_value(dt);
            let cases = vec![
                ("scalar", rand(&mut g, &[], dt, Domain::Any), m(&mut g, &[])),
                (
                    "broadcast mask",
                    rand(&mut g, &[2, 3, 4], dt, Domain::Any),
                    m(&mut g, &[3, 1]),
                ),
                (
                    "transposed+strided",
                    rand(&mut g, &[4, 3], dt, Domain::Any).transposed(),
                    m(&mut g, &[4, 3]).strided(),
                ),
                (
                    "empty",
                    rand(&mut g, &[0, 3], dt, Domain::Any),
                    m(&mut g, &[3]),
                ),
            ];
            for (name, x, mask) in cases {
                out.push(sample(
                    name,
                    vec![x, mask],
                    dt,
                    move |t| t[0].masked_fill(&t[1], value),
                    move |v| {
                        r::masked_fill(&v[0], &v[1], crate::testing::reference::round_to(value, dt))
                    },
                ));
            }
        }
        _ => {
            for (name, a, b) in pairs(&mut g, dt, domains(op, dt))? {
                out.push(binary_case(op, dt, name.into(), a, b));
            }
            if op == OpId::Div && dt.is_int() {
                // The integer kernel itself (truncating), reached through the dispatcher.
                let (a, b) = (
                    rand(&mut g, &[3, 4], dt, Domain::Any),
                    rand(&mut g, &[4], dt, Domain::NonZero),
                );
                out.push(sample(
                    "integer kernel",
                    vec![a, b],
                    dt,
                    |t| dispatch(OpId::Div, &[&t[0], &t[1]], &OpParams::None),
                    |v| r::binary(OpId::Div, &v[0], &v[1], true),
                ));
            }
            if dt.is_float() && op != OpId::Div && op != OpId::Pow {
                let a = RefTensor::new(
                    &[6],
                    vec![f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1.0, 0.0, -0.0],
                )?;
                let b = RefTensor::new(&[6], vec![f64::NAN, f64::INFINITY, 1.0, 1.0, -0.0, 0.0])?;
                out.push(binary_case(
                    op,
                    dt,
                    "special values".into(),
                    Input::new(a, dt),
                    Input::new(b, dt),
                ));
            }
            if is_compare(op) && dt != DType::Bool {
                let a = g.tensor(&[3, 4], dt, Domain::Any);
                let b =
                    RefTensor::from_fn(&[3, 4], |i| a.data[i[0] * 4 + i[1]] + (i[1] % 2) as f64);
                out.push(binary_case(
                    op,
                    dt,
                    "ties".into(),
                    Input::new(a, dt),
                    Input::new(b, dt),
                ));
            }
            if matches!(op, OpId::LogicalAnd | OpId::LogicalOr) {
                let (a, b) = (
                    rand(&mut g, &[3, 4], dt, Domain::Any),
                    rand(&mut g, &[4], DType::Bool, Domain::Any),
                );
                let method = move |t: &[Tensor]| {
                    if op == OpId::LogicalAnd {
                        t[0].logical_and(&t[1])
                    } else {
                        t[0].logical_or(&t[1])
                    }
                };
                out.push(sample(
                    "mixed dtypes (public API)",
                    vec![a, b],
                    DType::Bool,
                    method,
                    move |v| r::binary(op, &v[0], &v[1], false),
                ));
            }
        }
    }
    Ok(out)
}

/// Error inputs: shapes that do not broadcast, and dtypes the op rejects.
pub(crate) fn errors(op: OpId) -> Result<Vec<ErrorCase>> {
    let mut g = gen(op, DType::F32, "err");
    let f = |g: &mut Gen, s: &[usize]| rand(g, s, DType::F32, Domain::Any);
    let b = |g: &mut Gen, s: &[usize]| rand(g, s, DType::Bool, Domain::Any);
    let mut out = Vec::new();
    match op {
        OpId::Where => {
            let run = |t: &[Tensor]| t[0].where_cond(&t[1], &t[2]);
            out.push(error(
                "f32 condition",
                vec![f(&mut g, &[3]), f(&mut g, &[3]), f(&mut g, &[3])],
                ErrKind::DTypeMismatch,
                run,
            ));
            out.push(error(
                "shapes [2, 3] and [4]",
                vec![b(&mut g, &[2, 3]), f(&mut g, &[4]), f(&mut g, &[2, 3])],
                ErrKind::ShapeMismatch,
                run,
            ));
        }
        OpId::MaskedFill => {
            let run = |t: &[Tensor]| t[0].masked_fill(&t[1], 0.0);
            out.push(error(
                "f32 mask",
                vec![f(&mut g, &[3]), f(&mut g, &[3])],
                ErrKind::DTypeMismatch,
                run,
            ));
            out.push(error(
                "mask larger than input",
                vec![f(&mut g, &[3]), b(&mut g, &[2, 3])],
                ErrKind::ShapeMismatch,
                run,
            ));
        }
        _ => {
            let run = move |t: &[Tensor]| call(op, &t[0], &t[1]);
            out.push(error(
                "shapes [2, 3] and [4]",
                vec![f(&mut g, &[2, 3]), f(&mut g, &[4])],
                ErrKind::ShapeMismatch,
                run,
            ));
            if matches!(op, OpId::Sub | OpId::Pow) {
                out.push(error(
                    "bool inputs",
                    vec![b(&mut g, &[3]), b(&mut g, &[3])],
                    ErrKind::DTypeMismatch,
                    run,
                ));
            }
            if is_compare(op) {
                let i = rand(&mut g, &[3], DType::I32, Domain::Any);
                let run = move |t: &[Tensor]| dispatch(op, &[&t[0], &t[1]], &OpParams::None);
                out.push(error(
                    "kernel with mixed dtypes",
                    vec![f(&mut g, &[3]), i],
                    ErrKind::DTypeMismatch,
                    run,
                ));
            }
        }
    }
    Ok(out)
}

/// Gradient checks, including gradients reduced over broadcast dims.
pub(crate) fn grads(op: OpId) -> Result<Vec<GradCase>> {
    let mut g = gen(op, DType::F64, "grad");
    let mut out = Vec::new();
    match op {
        OpId::Where => {
            let cond = rand(&mut g, &[3, 1], DType::Bool, Domain::Any);
            let (a, b) = (
                f64_input(&mut g, &[3, 4], Domain::Any),
                f64_input(&mut g, &[4], Domain::Any),
            );
            out.push(grad(
                "broadcast",
                vec![cond, a.transposed(), b],
                &[1, 2],
                |t| t[0].where_cond(&t[1], &t[2]),
            ));
        }
        OpId::MaskedFill => {
            let (x, m) = (
                f64_input(&mut g, &[3, 4], Domain::Any),
                rand(&mut g, &[4], DType::Bool, Domain::Any),
            );
            out.push(grad("broadcast mask", vec![x, m], &[0], |t| {
                t[0].masked_fill(&t[1], 2.0)
            }));
        }
        _ => {
            let (da, db) = domains(op, DType::F64);
            let run = move |t: &[Tensor]| call(op, &t[0], &t[1]);
            let (a, b) = (f64_input(&mut g, &[2, 3], da), f64_input(&mut g, &[3], db));
            out.push(grad("broadcast", vec![a, b], &[0, 1], run));
            let (a, b) = (
                f64_input(&mut g, &[3, 4], da).transposed(),
                f64_input(&mut g, &[3, 4], db).strided(),
            );
            out.push(grad("transposed+strided", vec![a, b], &[0, 1], run));
        }
    }
    Ok(out)
}
