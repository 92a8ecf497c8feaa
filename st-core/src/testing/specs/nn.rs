//! Specs of matmul, softmax / log_softmax and cross_entropy.

use super::{error, f64_input, gen, grad, index_input, rand, sample};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::op::OpId;
use crate::tensor::Tensor;
use crate::testing::reference::nn as r;
use crate::testing::{Domain, ErrKind, ErrorCase, Gen, GradCase, Input, Sample};

fn matmul_cases(g: &mut Gen, dt: DType) -> Result<Vec<(&'static str, Input, Input)>> {
    let d = Domain::Any;
    let mut c = vec![
        (
            "2-d @ 2-d",
            rand(g, &[3, 4], dt, d),
            rand(g, &[4, 5], dt, d),
        ),
        ("1-d @ 1-d", rand(g, &[4], dt, d), rand(g, &[4], dt, d)),
        ("1-d @ 2-d", rand(g, &[4], dt, d), rand(g, &[4, 3], dt, d)),
        ("2-d @ 1-d", rand(g, &[3, 4], dt, d), rand(g, &[4], dt, d)),
        (
            "broadcast batch",
            rand(g, &[2, 1, 3, 4], dt, d),
            rand(g, &[3, 4, 2], dt, d),
        ),
        (
            "transposed @ strided",
            rand(g, &[3, 4], dt, d).transposed(),
            rand(g, &[4, 5], dt, d).strided(),
        ),
        (
            "2-d @ transposed",
            rand(g, &[3, 4], dt, d),
            rand(g, &[4, 5], dt, d).transposed(),
        ),
        (
            "expanded batch",
            Input::expanded(g.tensor(&[1, 3, 4], dt, d), &[2, 3, 4], dt)?,
            rand(g, &[4, 2], dt, d),
        ),
        (
            "empty inner dim",
            rand(g, &[3, 0], dt, d),
            rand(g, &[0, 2], dt, d),
        ),
        (
            "empty rows",
            rand(g, &[0, 4], dt, d),
            rand(g, &[4, 2], dt, d),
        ),
    ];
    c.push((
        "larger",
        rand(g, &[33, 65], dt, d),
        rand(g, &[65, 17], dt, d),
    ));
    Ok(c)
}

fn soft(op: OpId, x: &Tensor, dim: isize) -> Result<Tensor> {
    match op {
        OpId::Softmax => x.softmax(dim),
        OpId::LogSoftmax => x.log_softmax(dim),
        _ => Err(Error::invalid("testing", format!("{op} is not softmax"))),
    }
}

fn soft_cases(g: &mut Gen, dt: DType) -> Result<Vec<(&'static str, Input, isize)>> {
    let d = Domain::Any;
    Ok(vec![
        ("last dim", rand(g, &[2, 3, 4], dt, d), -1),
        ("dim 0", rand(g, &[3, 4], dt, d), 0),
        (
            "dim 1 of transposed",
            rand(g, &[4, 5], dt, d).transposed(),
            1,
        ),
        ("strided", rand(g, &[3, 4], dt, d).strided(), -1),
        ("scalar", rand(g, &[], dt, d), 0),
        ("empty batch", rand(g, &[0, 3], dt, d), 1),
        ("empty lanes", rand(g, &[3, 0], dt, d), 1),
        (
            "large values",
            rand(g, &[2, 6], dt, Domain::Range(50.0, 60.0)),
            1,
        ),
        ("long rows", rand(g, &[3, 700], dt, d), 1),
        ("large rows", rand(g, &[300, 256], dt, d), 1),
        ("large columns", rand(g, &[300, 256], dt, d), 0),
        (
            "expanded",
            Input::expanded(g.tensor(&[1, 4], dt, d), &[3, 4], dt)?,
            0,
        ),
    ])
}

fn targets(g: &mut Gen, n: usize, c: usize, dt: DType) -> Input {
    let shape: &[usize] = if n == 0 { &[] } else { &[n] };
    rand(g, shape, dt, Domain::Range(0.0, (c - 1) as f64))
}

/// Forward cases.
pub(crate) fn samples(op: OpId, dt: DType) -> Result<Vec<Sample>> {
    let mut g = gen(op, dt, "fwd");
    let mut out = Vec::new();
    match op {
        OpId::Matmul => {
            for (name, a, b) in matmul_cases(&mut g, dt)? {
                out.push(sample(
                    name,
                    vec![a, b],
                    dt,
                    |t| t[0].matmul(&t[1]),
                    |v| r::matmul(&v[0], &v[1]),
                ));
            }
        }
        OpId::Softmax | OpId::LogSoftmax => {
            for (name, x, dim) in soft_cases(&mut g, dt)? {
                let rf = move |v: &[crate::testing::reference::RefTensor]| {
                    if op == OpId::Softmax {
                        r::softmax(&v[0], dim)
                    } else {
                        r::log_softmax(&v[0], dim)
                    }
                };
                out.push(sample(
                    format!("{name} (dim {dim})"),
                    vec![x],
                    dt,
                    move |t| soft(op, &t[0], dim),
                    rf,
                ));
            }
        }
        _ => {
            let d = Domain::Any;
            let cases = vec![
                (
                    "[4, 5] logits",
                    rand(&mut g, &[4, 5], dt, d),
                    targets(&mut g, 4, 5, DType::I64),
                ),
                (
                    "1-d logits, 0-d target",
                    rand(&mut g, &[5], dt, d),
                    targets(&mut g, 0, 5, DType::I64),
                ),
                (
                    "transposed logits",
                    rand(&mut g, &[3, 6], dt, d).transposed(),
                    targets(&mut g, 3, 6, DType::I64),
                ),
                (
                    "i32 targets",
                    rand(&mut g, &[4, 3], dt, d),
                    targets(&mut g, 4, 3, DType::I32),
                ),
                (
                    "large logits",
                    rand(&mut g, &[2, 4], dt, Domain::Range(20.0, 30.0)),
                    targets(&mut g, 2, 4, DType::I64),
                ),
            ];
            for (name, x, t) in cases {
                out.push(sample(
                    name,
                    vec![x, t],
                    dt,
                    |t| t[0].cross_entropy(&t[1]),
                    |v| r::cross_entropy(&v[0], &v[1]),
                ));
            }
        }
    }
    Ok(out)
}

/// Error inputs.
pub(crate) fn errors(op: OpId) -> Result<Vec<ErrorCase>> {
    let mut g = gen(op, DType::F32, "err");
    let mut f = |s: &[usize], dt: DType| rand(&mut g, s, dt, Domain::Any);
    let f32 = DType::F32;
    Ok(match op {
        OpId::Matmul => {
            let mm = |t: &[Tensor]| t[0].matmul(&t[1]);
            vec![
                error(
                    "inner dims 4 and 3",
                    vec![f(&[2, 4], f32), f(&[3, 2], f32)],
                    ErrKind::ShapeMismatch,
                    mm,
                ),
                error(
                    "0-d operand",
                    vec![f(&[], f32), f(&[3], f32)],
                    ErrKind::ShapeMismatch,
                    mm,
                ),
                error(
                    "batch dims 2 and 3",
                    vec![f(&[2, 3, 4], f32), f(&[3, 4, 5], f32)],
                    ErrKind::ShapeMismatch,
                    mm,
                ),
                error(
                    "f32 @ f64",
                    vec![f(&[2, 2], f32), f(&[2, 2], DType::F64)],
                    ErrKind::DTypeMismatch,
                    mm,
                ),
                error(
                    "bool operands",
                    vec![f(&[2, 2], DType::Bool), f(&[2, 2], DType::Bool)],
                    ErrKind::DTypeMismatch,
                    mm,
                ),
            ]
        }
        OpId::Softmax | OpId::LogSoftmax => vec![
            error(
                "dim 2 of a 2-d tensor",
                vec![f(&[2, 3], f32)],
                ErrKind::DimOutOfRange,
                move |t| soft(op, &t[0], 2),
            ),
            error(
                "integer input",
                vec![f(&[2, 3], DType::I64)],
                ErrKind::DTypeMismatch,
                move |t| soft(op, &t[0], 1),
            ),
        ],
        _ => {
            let ce = |t: &[Tensor]| t[0].cross_entropy(&t[1]);
            vec![
                error(
                    "float target",
                    vec![f(&[2, 3], f32), f(&[2], f32)],
                    ErrKind::DTypeMismatch,
                    ce,
                ),
                error(
                    "batch 2 vs 3",
                    vec![f(&[2, 3], f32), index_input(&[3], &[0, 1, 2])?],
                    ErrKind::ShapeMismatch,
                    ce,
                ),
                error(
                    "class 3 of 3",
                    vec![f(&[2, 3], f32), index_input(&[2], &[0, 3])?],
                    ErrKind::IndexOutOfRange,
                    ce,
                ),
                error(
                    "negative class",
                    vec![f(&[2, 3], f32), index_input(&[2], &[-1, 0])?],
                    ErrKind::IndexOutOfRange,
                    ce,
                ),
            ]
        }
    })
}

/// Gradient checks.
pub(crate) fn grads(op: OpId) -> Result<Vec<GradCase>> {
    let mut g = gen(op, DType::F64, "grad");
    let d = Domain::Any;
    let mut x = |s: &[usize]| f64_input(&mut g, s, d);
    Ok(match op {
        OpId::Matmul => {
            let mm = |t: &[Tensor]| t[0].matmul(&t[1]);
            vec![
                grad("2-d @ 2-d", vec![x(&[3, 4]), x(&[4, 2])], &[0, 1], mm),
                grad("1-d @ 2-d", vec![x(&[4]), x(&[4, 3])], &[0, 1], mm),
                grad("2-d @ 1-d", vec![x(&[3, 4]), x(&[4])], &[0, 1], mm),
                grad(
                    "broadcast batch",
                    vec![x(&[2, 1, 3, 4]), x(&[3, 4, 2])],
                    &[0, 1],
                    mm,
                ),
                grad(
                    "transposed",
                    vec![x(&[3, 4]).transposed(), x(&[4, 2]).strided()],
                    &[0, 1],
                    mm,
                ),
            ]
        }
        OpId::Softmax | OpId::LogSoftmax => vec![
            grad("dim 1", vec![x(&[3, 4])], &[0], move |t| soft(op, &t[0], 1)),
            grad(
                "dim 0 of transposed",
                vec![x(&[2, 3, 4]).transposed()],
                &[0],
                move |t| soft(op, &t[0], 0),
            ),
        ],
        _ => {
            let ce = |t: &[Tensor]| t[0].cross_entropy(&t[1]);
            vec![
                grad(
                    "[4, 5] logits",
                    vec![x(&[4, 5]), index_input(&[4], &[1, 0, 4, 1])?],
                    &[0],
                    ce,
                ),
                grad(
                    "1-d logits",
                    vec![x(&[3]), index_input(&[], &[2])?],
                    &[0],
                    ce,
                ),
            ]
        }
    })
}
