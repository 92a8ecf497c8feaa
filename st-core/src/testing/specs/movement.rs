//! Specs of cast, copy, fill and the view ops (reshape, permute, slice, expand).

use super::{error, f64_input, gen, grad, layouts, rand, sample};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::op::OpId;
use crate::tensor::Tensor;
use crate::testing::reference::RefTensor;
use crate::testing::{Domain, ErrKind, ErrorCase, GradCase, Input, Sample};

fn fill_value(dt: DType) -> f64 {
    match dt {
        DType::U8 => 7.0,
        DType::Bool => 1.0,
        d if d.is_int() => -3.0,
        _ => 2.5,
    }
}

/// Source values that every target can hold: no negatives when casting to u8.
fn cast_domain(to: DType) -> Domain {
    if to == DType::U8 {
        Domain::Range(0.0, 10.9)
    } else {
        Domain::Range(-5.9, 5.9)
    }
}

/// `(name, input, op call, reference)` of one view case.
type ViewCase = (
    String,
    Input,
    Box<dyn Fn(&Tensor) -> Result<Tensor> + Send + Sync>,
    Box<dyn Fn(&RefTensor) -> Result<RefTensor> + Send + Sync>,
);

fn view_cases(op: OpId, dt: DType) -> Result<Vec<ViewCase>> {
    let mut g = gen(op, dt, "fwd");
    let d = Domain::Any;
    let mut x = |s: &[usize]| rand(&mut g, s, dt, d);
    let mut out: Vec<ViewCase> = Vec::new();
    match op {
        OpId::Reshape => {
            let cases: Vec<(&str, Input, Vec<isize>, Vec<usize>)> = vec![
                ("[2, 3, 4] to [4, 6]", x(&[2, 3, 4]), vec![4, 6], vec![4, 6]),
                ("flatten with -1", x(&[2, 3, 4]), vec![-1], vec![24]),
                (
                    "transposed (copies)",
                    x(&[3, 4]).transposed(),
                    vec![2, 6],
                    vec![2, 6],
                ),
                ("0-d to [1, 1]", x(&[]), vec![1, 1], vec![1, 1]),
                ("empty", x(&[0, 3]), vec![3, 0], vec![3, 0]),
                ("strided", x(&[2, 4]).strided(), vec![8], vec![8]),
            ];
            for (name, i, dims, shape) in cases {
                out.push((
                    name.into(),
                    i,
                    Box::new(move |t| t.reshape(&dims)),
                    Box::new(move |v| v.reshape(&shape)),
                ));
            }
        }
        OpId::Permute => {
            let cases: Vec<(&str, Input, Vec<isize>, Vec<usize>)> = vec![
                ("rotate", x(&[2, 3, 4]), vec![2, 0, 1], vec![2, 0, 1]),
                (
                    "negative dims",
                    x(&[2, 3, 4]),
                    vec![-1, 0, 1],
                    vec![2, 0, 1],
                ),
                (
                    "transposed back",
                    x(&[3, 4]).transposed(),
                    vec![1, 0],
                    vec![1, 0],
                ),
                ("0-d", x(&[]), vec![], vec![]),
                ("empty", x(&[0, 2, 3]), vec![1, 2, 0], vec![1, 2, 0]),
            ];
            for (name, i, p, q) in cases {
                out.push((
                    name.into(),
                    i,
                    Box::new(move |t| t.permute(&p)),
                    Box::new(move |v| v.permute(&q)),
                ));
            }
        }
        OpId::Slice => {
            // (dim, start, end, step) with the equivalent (start, len, step) for the reference.
            let cases: Vec<(
                &str,
                Input,
                (isize, isize, isize, usize),
                (usize, usize, usize, usize),
            )> = vec![
                ("step 2 along dim 0", x(&[5, 4]), (0, 1, 5, 2), (0, 1, 2, 2)),
                ("negative bounds", x(&[3, 6]), (-1, -4, -1, 1), (1, 2, 3, 1)),
                (
                    "step 3 of strided",
                    x(&[2, 7]).strided(),
                    (1, 0, 7, 3),
                    (1, 0, 3, 3),
                ),
                ("empty result", x(&[4, 2]), (0, 3, 1, 1), (0, 3, 0, 1)),
                (
                    "transposed",
                    x(&[4, 5]).transposed(),
                    (0, 1, 4, 2),
                    (0, 1, 2, 2),
                ),
            ];
            for (name, i, (d, s, e, st), (rd, rs, rl, rst)) in cases {
                out.push((
                    name.into(),
                    i,
                    Box::new(move |t| t.slice(d, s, e, st)),
                    Box::new(move |v| v.slice(rd, rs, rl, rst)),
                ));
            }
        }
        _ => {
            let cases: Vec<(&str, Input, Vec<usize>)> = vec![
                ("[3, 1] to [2, 3, 4]", x(&[3, 1]), vec![2, 3, 4]),
                ("0-d to [2, 2]", x(&[]), vec![2, 2]),
                ("transposed", x(&[3, 1]).transposed(), vec![2, 3, 5]),
                ("empty", x(&[0, 1]), vec![0, 3]),
            ];
            for (name, i, shape) in cases {
                let s2 = shape.clone();
                out.push((
                    name.into(),
                    i,
                    Box::new(move |t| t.broadcast_to(&shape)),
                    Box::new(move |v| v.broadcast_to(&s2)),
                ));
            }
        }
    }
    Ok(out)
}

/// Forward cases.
pub(crate) fn samples(op: OpId, dt: DType) -> Result<Vec<Sample>> {
    let mut g = gen(op, dt, "fwd");
    let mut out = Vec::new();
    match op {
        OpId::Cast => {
            for (k, &to) in DType::ALL.iter().enumerate() {
                let x = rand(&mut g, &[3, 4], dt, cast_domain(to));
                let x = if k % 2 == 0 {
                    x.strided()
                } else {
                    x.transposed()
                };
                out.push(sample(
                    format!("to {to}"),
                    vec![x],
                    to,
                    move |t| t[0].to_dtype(to),
                    move |v| Ok(v[0].round_to(to)),
                ));
            }
            for (name, x) in [
                ("scalar", rand(&mut g, &[], dt, Domain::Any)),
                ("empty", rand(&mut g, &[0, 2], dt, Domain::Any)),
            ] {
                let to = if dt == DType::F32 {
                    DType::I64
                } else {
                    DType::F32
                };
                out.push(sample(
                    name,
                    vec![x],
                    to,
                    move |t| t[0].to_dtype(to),
                    move |v| Ok(v[0].round_to(to)),
                ));
            }
        }
        OpId::Copy => {
            for (name, x) in layouts(&mut g, dt, Domain::Any)? {
                out.push(sample(
                    name,
                    vec![x],
                    dt,
                    |t| t[0].copy(),
                    |v| Ok(v[0].clone()),
                ));
            }
        }
        OpId::Fill => {
            let v = fill_value(dt);
            for (name, shape) in [
                ("scalar", vec![]),
                ("empty", vec![0, 2]),
                ("[3, 4]", vec![3, 4]),
            ] {
                let like = rand(&mut g, &shape, dt, Domain::Any);
                let want = crate::testing::reference::round_to(v, dt);
                out.push(sample(
                    format!("{name} full_like {v}"),
                    vec![like],
                    dt,
                    move |t| Tensor::full_like(&t[0], v),
                    move |x| Ok(x[0].map(|_| want)),
                ));
            }
        }
        _ => {
            for (name, x, run, rf) in view_cases(op, dt)? {
                // Read back through a contiguous copy as well as directly.
                out.push(sample(
                    name,
                    vec![x],
                    dt,
                    move |t| run(&t[0])?.contiguous(),
                    move |v| rf(&v[0]),
                ));
            }
        }
    }
    Ok(out)
}

/// Error inputs (cast, copy and fill accept every input).
pub(crate) fn errors(op: OpId) -> Result<Vec<ErrorCase>> {
    let mut g = gen(op, DType::F32, "err");
    let x = rand(&mut g, &[2, 3], DType::F32, Domain::Any);
    Ok(match op {
        OpId::Cast | OpId::Copy | OpId::Fill => vec![],
        OpId::Reshape => vec![error(
            "6 elements into [4]",
            vec![x],
            ErrKind::ElementCount,
            |t| t[0].reshape(&[4]),
        )],
        OpId::Permute => vec![error(
            "dim 2 of a 2-d tensor",
            vec![x],
            ErrKind::DimOutOfRange,
            |t| t[0].permute(&[0, 2]),
        )],
        OpId::Slice => vec![
            error("step 0", vec![x.clone()], ErrKind::InvalidArgument, |t| {
                t[0].slice(0, 0, 1, 0)
            }),
            error(
                "dim 2 of a 2-d tensor",
                vec![x],
                ErrKind::DimOutOfRange,
                |t| t[0].slice(2, 0, 1, 1),
            ),
        ],
        OpId::Expand => vec![error(
            "[2, 3] to [4, 3]",
            vec![x],
            ErrKind::ShapeMismatch,
            |t| t[0].broadcast_to(&[4, 3]),
        )],
        _ => {
            return Err(Error::invalid(
                "testing",
                format!("{op} is not a movement op"),
            ))
        }
    })
}

/// Gradient checks.
pub(crate) fn grads(op: OpId) -> Result<Vec<GradCase>> {
    let mut g = gen(op, DType::F64, "grad");
    let mut x = |s: &[usize]| f64_input(&mut g, s, Domain::Any);
    Ok(match op {
        OpId::Cast => {
            let mut c = grad("f64 to f32", vec![x(&[2, 3])], &[0], |t| {
                t[0].to_dtype(DType::F32)
            });
            c.opts = crate::autograd::gradcheck::GradcheckOptions {
                eps: 1e-3,
                atol: 1e-3,
                rtol: 1e-3,
            };
            vec![c]
        }
        OpId::Copy => vec![grad(
            "transposed",
            vec![x(&[3, 4]).transposed()],
            &[0],
            |t| t[0].copy(),
        )],
        OpId::Reshape => vec![grad(
            "transposed",
            vec![x(&[3, 4]).transposed()],
            &[0],
            |t| t[0].reshape(&[2, 6]),
        )],
        OpId::Permute => vec![grad("rotate", vec![x(&[2, 3, 4])], &[0], |t| {
            t[0].permute(&[2, 0, 1])
        })],
        OpId::Slice => vec![grad("step 2", vec![x(&[5, 3])], &[0], |t| {
            t[0].slice(0, 1, 5, 2)
        })],
        OpId::Expand => vec![grad("[3, 1] to [2, 3, 4]", vec![x(&[3, 1])], &[0], |t| {
            t[0].broadcast_to(&[2, 3, 4])
        })],
        _ => vec![],
    })
}
