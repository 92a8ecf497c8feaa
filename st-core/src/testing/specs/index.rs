//! Specs of cat, stack, split, chunk, index_select, gather, scatter_add and embedding.

use super::{error, f64_input, gen, grad, index_input, rand, sample};
use crate::dtype::DType;
use crate::error::Result;
use crate::op::OpId;
use crate::tensor::Tensor;
use crate::testing::reference::{index as r, RefTensor};
use crate::testing::{Domain, ErrKind, ErrorCase, GradCase, Input, Sample};
use std::sync::Arc;

fn refs(t: &[Tensor]) -> Vec<&Tensor> {
    t.iter().collect()
}

fn pieces(op: OpId, x: &Tensor, n: usize, dim: isize) -> Result<Vec<Tensor>> {
    if op == OpId::Split {
        x.split(n, dim)
    } else {
        x.chunk(n, dim)
    }
}

fn ref_pieces(op: OpId, x: &RefTensor, n: usize, dim: isize) -> Result<Vec<RefTensor>> {
    if op == OpId::Split {
        r::split(x, n, dim)
    } else {
        r::chunk(x, n, dim)
    }
}

/// Forward cases.
pub(crate) fn samples(op: OpId, dt: DType) -> Result<Vec<Sample>> {
    let mut g = gen(op, dt, "fwd");
    let d = Domain::Any;
    let mut x = |s: &[usize]| rand(&mut g, s, dt, d);
    let mut out = Vec::new();
    match op {
        OpId::Cat | OpId::Stack => {
            let cases: Vec<(&str, Vec<Input>, isize)> = if op == OpId::Cat {
                vec![
                    (
                        "dim 1 with an empty part",
                        vec![x(&[2, 1, 3]), x(&[2, 4, 3]).transposed(), x(&[2, 0, 3])],
                        1,
                    ),
                    (
                        "last dim, strided",
                        vec![x(&[3, 2]), x(&[3, 3]).strided()],
                        -1,
                    ),
                    ("dim 0", vec![x(&[1, 4]), x(&[2, 4]), x(&[3, 4])], 0),
                    ("one tensor", vec![x(&[5])], 0),
                    ("1-d", vec![x(&[2]), x(&[3])], 0),
                ]
            } else {
                vec![
                    (
                        "dim 0",
                        vec![x(&[2, 3]), x(&[2, 3]).transposed(), x(&[2, 3])],
                        0,
                    ),
                    (
                        "last dim, strided",
                        vec![x(&[3, 2]).strided(), x(&[3, 2])],
                        -1,
                    ),
                    ("0-d tensors", vec![x(&[]), x(&[]), x(&[])], 0),
                    ("empty tensors", vec![x(&[0, 2]), x(&[0, 2])], 1),
                ]
            };
            for (name, ins, dim) in cases {
                let run = move |t: &[Tensor]| {
                    if op == OpId::Cat {
                        Tensor::cat(&refs(t), dim)
                    } else {
                        Tensor::stack(&refs(t), dim)
                    }
                };
                let rf = move |v: &[RefTensor]| {
                    if op == OpId::Cat {
                        r::cat(v, dim)
                    } else {
                        r::stack(v, dim)
                    }
                };
                out.push(sample(format!("{name} (dim {dim})"), ins, dt, run, rf));
            }
        }
        OpId::Split | OpId::Chunk => {
            let cases: Vec<(&str, Input, usize, isize)> = vec![
                ("uneven along dim 1", x(&[3, 5]), 2, 1),
                ("along dim 0 of transposed", x(&[7, 2]).transposed(), 3, 0),
                ("exact along dim 0", x(&[6, 2]), 2, 0),
                ("strided", x(&[2, 7]).strided(), 3, 1),
                ("empty dim", x(&[0, 3]), 2, 0),
            ];
            for (name, input, n, dim) in cases {
                let np = ref_pieces(op, &input.value, n, dim)?.len();
                out.push(Sample {
                    name: format!("{name} (n {n}, dim {dim})"),
                    inputs: vec![input],
                    run: Arc::new(move |t| pieces(op, &t[0], n, dim)),
                    reference: Arc::new(move |v| ref_pieces(op, &v[0], n, dim)),
                    out_dtypes: vec![dt; np],
                    tol: None,
                });
            }
        }
        OpId::IndexSelect => {
            let cases = vec![
                (
                    "repeated rows",
                    x(&[4, 3]),
                    index_input(&[5], &[3, 0, 3, 1, 2])?,
                    0,
                ),
                (
                    "columns of transposed",
                    x(&[3, 4]).transposed(),
                    index_input(&[2], &[2, 0])?,
                    1,
                ),
                ("0-d index", x(&[2, 3, 2]), index_input(&[], &[1])?, 1),
                (
                    "empty index",
                    x(&[4, 2]).strided(),
                    index_input(&[0], &[])?,
                    -1,
                ),
                (
                    "1-d strided",
                    x(&[6]).strided(),
                    index_input(&[3], &[5, 5, 0])?,
                    0,
                ),
            ];
            for (name, data, idx, dim) in cases {
                out.push(sample(
                    name,
                    vec![data, idx],
                    dt,
                    move |t| t[0].index_select(dim, &t[1]),
                    move |v| r::index_select(&v[0], dim, &v[1]),
                ));
            }
        }
        OpId::Gather => {
            let cases = vec![
                (
                    "dim 1",
                    x(&[3, 4]),
                    index_input(&[3, 2], &[3, 0, 1, 1, 2, 0])?,
                    1,
                ),
                (
                    "dim 0",
                    x(&[3, 4]),
                    index_input(&[2, 4], &[2, 1, 0, 2, 0, 0, 1, 2])?,
                    0,
                ),
                (
                    "smaller index, transposed data",
                    x(&[4, 3]).transposed(),
                    index_input(&[2, 2], &[1, 0, 2, 2])?,
                    -1,
                ),
                (
                    "strided data",
                    x(&[2, 5]).strided(),
                    index_input(&[2, 3], &[4, 0, 1, 3, 3, 2])?,
                    1,
                ),
                ("empty index", x(&[3, 4]), index_input(&[0, 4], &[])?, 0),
            ];
            for (name, data, idx, dim) in cases {
                out.push(sample(
                    name,
                    vec![data, idx],
                    dt,
                    move |t| t[0].gather(dim, &t[1]),
                    move |v| r::gather(&v[0], dim, &v[1]),
                ));
            }
        }
        OpId::ScatterAdd => {
            let cases = vec![
                (
                    "dim 0 with repeats",
                    x(&[3, 4]),
                    index_input(&[2, 4], &[0, 1, 2, 0, 0, 1, 2, 0])?,
                    x(&[2, 4]),
                    0,
                ),
                (
                    "dim 1, larger src",
                    x(&[2, 5]),
                    index_input(&[2, 2], &[4, 4, 0, 1])?,
                    x(&[3, 3]),
                    1,
                ),
                (
                    "transposed input",
                    x(&[4, 3]).transposed(),
                    index_input(&[3, 2], &[1, 1, 0, 2, 2, 2])?,
                    x(&[3, 2]).strided(),
                    -1,
                ),
                (
                    "empty index",
                    x(&[2, 3]),
                    index_input(&[0, 3], &[])?,
                    x(&[1, 3]),
                    0,
                ),
            ];
            for (name, data, idx, src, dim) in cases {
                out.push(sample(
                    name,
                    vec![data, idx, src],
                    dt,
                    move |t| t[0].scatter_add(dim, &t[1], &t[2]),
                    move |v| r::scatter_add(&v[0], dim, &v[1], &v[2]),
                ));
            }
        }
        _ => {
            let i32_ids = Input::new(RefTensor::new(&[3], vec![4.0, 0.0, 4.0])?, DType::I32);
            let cases = vec![
                (
                    "[2, 3] ids",
                    x(&[5, 3]),
                    index_input(&[2, 3], &[0, 4, 2, 2, 1, 0])?,
                ),
                ("0-d id", x(&[5, 2]), index_input(&[], &[3])?),
                (
                    "i32 ids, transposed weight",
                    x(&[5, 4]).transposed(),
                    i32_ids,
                ),
                ("empty ids", x(&[5, 3]), index_input(&[0], &[])?),
            ];
            for (name, w, ids) in cases {
                out.push(sample(
                    name,
                    vec![w, ids],
                    dt,
                    |t| t[0].embedding(&t[1]),
                    |v| r::embedding(&v[0], &v[1]),
                ));
            }
        }
    }
    Ok(out)
}

/// Error inputs.
pub(crate) fn errors(op: OpId) -> Result<Vec<ErrorCase>> {
    let mut g = gen(op, DType::F32, "err");
    let mut f = |s: &[usize]| rand(&mut g, s, DType::F32, Domain::Any);
    let k = ErrKind::IndexOutOfRange;
    Ok(match op {
        OpId::Cat => vec![
            error(
                "shapes differ outside dim",
                vec![f(&[2, 3]), f(&[3, 3])],
                ErrKind::ShapeMismatch,
                |t| Tensor::cat(&refs(t), 1),
            ),
            error(
                "dim 2 of 2-d tensors",
                vec![f(&[2, 3]), f(&[2, 3])],
                ErrKind::DimOutOfRange,
                |t| Tensor::cat(&refs(t), 2),
            ),
            error("no tensors", vec![], ErrKind::InvalidArgument, |_| {
                Tensor::cat(&[], 0)
            }),
            error(
                "f32 with i64",
                vec![f(&[2]), index_input(&[2], &[0, 1])?],
                ErrKind::DTypeMismatch,
                |t| Tensor::cat(&refs(t), 0),
            ),
        ],
        OpId::Stack => vec![
            error(
                "different shapes",
                vec![f(&[2, 3]), f(&[3, 2])],
                ErrKind::ShapeMismatch,
                |t| Tensor::stack(&refs(t), 0),
            ),
            error(
                "dim 3 for 2-d tensors",
                vec![f(&[2, 3])],
                ErrKind::DimOutOfRange,
                |t| Tensor::stack(&refs(t), 3),
            ),
        ],
        OpId::Split | OpId::Chunk => vec![
            error(
                "size 0",
                vec![f(&[4])],
                ErrKind::InvalidArgument,
                move |t| Ok(pieces(op, &t[0], 0, 0)?.remove(0)),
            ),
            error(
                "dim 1 of a 1-d tensor",
                vec![f(&[4])],
                ErrKind::DimOutOfRange,
                move |t| Ok(pieces(op, &t[0], 2, 1)?.remove(0)),
            ),
        ],
        OpId::IndexSelect => vec![
            error(
                "index 3 of 3",
                vec![f(&[3, 2]), index_input(&[2], &[0, 3])?],
                k,
                |t| t[0].index_select(0, &t[1]),
            ),
            error(
                "negative index",
                vec![f(&[3, 2]), index_input(&[1], &[-1])?],
                k,
                |t| t[0].index_select(0, &t[1]),
            ),
            error(
                "f32 index",
                vec![f(&[3, 2]), f(&[2])],
                ErrKind::DTypeMismatch,
                |t| t[0].index_select(0, &t[1]),
            ),
            error(
                "2-d index",
                vec![f(&[3, 2]), index_input(&[1, 1], &[0])?],
                ErrKind::InvalidShape,
                |t| t[0].index_select(0, &t[1]),
            ),
            error(
                "dim 2 of a 2-d tensor",
                vec![f(&[3, 2]), index_input(&[1], &[0])?],
                ErrKind::DimOutOfRange,
                |t| t[0].index_select(2, &t[1]),
            ),
        ],
        OpId::Gather => vec![
            error(
                "index 4 of 4",
                vec![f(&[2, 4]), index_input(&[2, 1], &[0, 4])?],
                k,
                |t| t[0].gather(1, &t[1]),
            ),
            error(
                "index of rank 1 for rank 2",
                vec![f(&[2, 4]), index_input(&[2], &[0, 1])?],
                ErrKind::ShapeMismatch,
                |t| t[0].gather(1, &t[1]),
            ),
            error(
                "f32 index",
                vec![f(&[2, 4]), f(&[2, 1])],
                ErrKind::DTypeMismatch,
                |t| t[0].gather(1, &t[1]),
            ),
        ],
        OpId::ScatterAdd => vec![
            error(
                "index 3 of 3",
                vec![f(&[3, 2]), index_input(&[1, 2], &[3, 0])?, f(&[1, 2])],
                k,
                |t| t[0].scatter_add(0, &t[1], &t[2]),
            ),
            error(
                "src smaller than index",
                vec![f(&[3, 2]), index_input(&[2, 2], &[0, 0, 1, 1])?, f(&[1, 2])],
                ErrKind::ShapeMismatch,
                |t| t[0].scatter_add(0, &t[1], &t[2]),
            ),
        ],
        _ => vec![
            error(
                "id 5 of 5",
                vec![f(&[5, 2]), index_input(&[2], &[1, 5])?],
                k,
                |t| t[0].embedding(&t[1]),
            ),
            error(
                "1-d weight",
                vec![f(&[5]), index_input(&[1], &[0])?],
                ErrKind::InvalidShape,
                |t| t[0].embedding(&t[1]),
            ),
        ],
    })
}

/// Gradient checks (repeated indices accumulate).
pub(crate) fn grads(op: OpId) -> Result<Vec<GradCase>> {
    let mut g = gen(op, DType::F64, "grad");
    let mut x = |s: &[usize]| f64_input(&mut g, s, Domain::Any);
    Ok(match op {
        OpId::Cat => vec![grad(
            "dim 1",
            vec![x(&[2, 1]), x(&[2, 3]).transposed()],
            &[0, 1],
            |t| Tensor::cat(&refs(t), 1),
        )],
        OpId::Stack => vec![grad(
            "dim 1",
            vec![x(&[2, 3]), x(&[2, 3]).strided()],
            &[0, 1],
            |t| Tensor::stack(&refs(t), 1),
        )],
        OpId::Split | OpId::Chunk => {
            vec![grad("weighted pieces", vec![x(&[3, 5])], &[0], move |t| {
                let ps = pieces(op, &t[0], 2, 1)?;
                let scaled: Vec<Tensor> = ps
                    .iter()
                    .enumerate()
                    .map(|(i, p)| p.mul_scalar(i as f64 + 1.0))
                    .collect::<Result<_>>()?;
                Tensor::cat(&scaled.iter().collect::<Vec<_>>(), 1)
            })]
        }
        OpId::IndexSelect => vec![grad(
            "repeats",
            vec![x(&[4, 3]), index_input(&[5], &[3, 0, 3, 1, 3])?],
            &[0],
            |t| t[0].index_select(0, &t[1]),
        )],
        OpId::Gather => vec![grad(
            "dim 1",
            vec![x(&[3, 4]), index_input(&[3, 2], &[3, 3, 1, 0, 2, 2])?],
            &[0],
            |t| t[0].gather(1, &t[1]),
        )],
        OpId::ScatterAdd => vec![grad(
            "dim 0",
            vec![
                x(&[3, 4]),
                index_input(&[2, 4], &[0, 1, 2, 0, 0, 1, 2, 0])?,
                x(&[2, 4]),
            ],
            &[0, 2],
            |t| t[0].scatter_add(0, &t[1], &t[2]),
        )],
        _ => vec![grad(
            "repeated ids",
            vec![x(&[5, 3]), index_input(&[2, 2], &[4, 0, 4, 2])?],
            &[0],
            |t| t[0].embedding(&t[1]),
        )],
    })
}
