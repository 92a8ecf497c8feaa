//! Specs of the reductions (sum, prod, max, min), arg-reductions and the composites mean,
//! var, std and logsumexp.

use super::{error, f64_input, gen, grad, rand, sample};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::op::OpId;
use crate::tensor::Tensor;
use crate::testing::reference::reduce as r;
use crate::testing::reference::RefTensor;
use crate::testing::{Domain, ErrKind, ErrorCase, Gen, GradCase, Input, Sample};

/// Calls a dims-reduction (`correction` is used by var and std).
fn call(op: OpId, x: &Tensor, dims: &[isize], keepdim: bool, correction: usize) -> Result<Tensor> {
    use OpId::*;
    match op {
        Sum => x.sum(dims, keepdim),
        Prod => x.prod(dims, keepdim),
        Max => x.amax(dims, keepdim),
        Min => x.amin(dims, keepdim),
        Mean => x.mean(dims, keepdim),
        Var => x.var(dims, correction, keepdim),
        Std => x.std(dims, correction, keepdim),
        LogSumExp => x.logsumexp(dims, keepdim),
        _ => Err(Error::invalid(
            "testing",
            format!("{op} is not a dims reduction"),
        )),
    }
}

fn reference(
    op: OpId,
    x: &RefTensor,
    dims: &[isize],
    keepdim: bool,
    c: usize,
) -> Result<RefTensor> {
    use OpId::*;
    match op {
        Sum | Prod | Max | Min => r::reduce(op, x, dims, keepdim),
        Mean => r::mean(x, dims, keepdim),
        Var => r::var(x, dims, c, keepdim),
        Std => r::std(x, dims, c, keepdim),
        LogSumExp => r::logsumexp(x, dims, keepdim),
        _ => Err(Error::invalid(
            "testing",
            format!("{op} is not a dims reduction"),
        )),
    }
}

fn is_arg(op: OpId) -> bool {
    matches!(op, OpId::ArgMax | OpId::ArgMin)
}

fn arg_call(op: OpId, x: &Tensor, dim: Option<isize>, keepdim: bool) -> Result<Tensor> {
    if op == OpId::ArgMax {
        x.argmax(dim, keepdim)
    } else {
        x.argmin(dim, keepdim)
    }
}

type Case = (&'static str, Input, Vec<isize>, bool);

fn cases(op: OpId, g: &mut Gen, dt: DType, dom: Domain) -> Result<Vec<Case>> {
    let mut c: Vec<Case> = vec![
        ("scalar", rand(g, &[], dt, dom), vec![], false),
        ("all dims", rand(g, &[2, 3, 4], dt, dom), vec![], false),
        ("dim 1", rand(g, &[2, 3, 4], dt, dom), vec![1], false),
        (
            "dims 0 and 2 keepdim",
            rand(g, &[2, 3, 4], dt, dom),
            vec![0, 2],
            true,
        ),
        (
            "last dim of transposed",
            rand(g, &[4, 5], dt, dom).transposed(),
            vec![-1],
            false,
        ),
        (
            "dim 0 of strided keepdim",
            rand(g, &[3, 4], dt, dom).strided(),
            vec![0],
            true,
        ),
        (
            "expanded",
            Input::expanded(g.tensor(&[1, 4], dt, dom), &[3, 4], dt)?,
            vec![0],
            false,
        ),
        ("empty kept dim", rand(g, &[0, 3], dt, dom), vec![1], false),
    ];
    if !matches!(op, OpId::Max | OpId::Min) {
        c.push((
            "empty reduced dim",
            rand(g, &[2, 0], dt, dom),
            vec![1],
            false,
        ));
    }
    if op != OpId::Prod {
        c.push(("long rows", rand(g, &[3, 700], dt, dom), vec![1], false));
        c.push(("long columns", rand(g, &[300, 3], dt, dom), vec![0], true));
        c.push(("large rows", rand(g, &[300, 256], dt, dom), vec![1], false));
        c.push((
            "large columns",
            rand(g, &[300, 256], dt, dom),
            vec![0],
            false,
        ));
        c.push((
            "large all",
            rand(g, &[256, 300], dt, dom).transposed(),
            vec![],
            false,
        ));
        let pos = rand(g, &[300, 256], dt, Domain::Positive);
        c.push(("large positive all", pos, vec![], false));
    }
    Ok(c)
}

type ArgCase = (&'static str, Input, Option<isize>, bool);

fn arg_cases(g: &mut Gen, dt: DType) -> Vec<ArgCase> {
    let d = Domain::Any;
    vec![
        ("flattened", rand(g, &[2, 3, 4], dt, d), None, false),
        ("flattened keepdim", rand(g, &[3, 4], dt, d), None, true),
        ("dim 1", rand(g, &[2, 3, 4], dt, d), Some(1), false),
        (
            "dim -1 of transposed keepdim",
            rand(g, &[4, 5], dt, d).transposed(),
            Some(-1),
            true,
        ),
        (
            "dim 0 of strided",
            rand(g, &[3, 4], dt, d).strided(),
            Some(0),
            false,
        ),
        ("scalar", rand(g, &[], dt, d), None, false),
        ("scalar dim 0", rand(g, &[], dt, d), Some(0), false),
        ("long rows", rand(g, &[3, 700], dt, d), Some(1), false),
        ("large columns", rand(g, &[300, 256], dt, d), Some(0), false),
    ]
}

/// Forward cases.
pub(crate) fn samples(op: OpId, dt: DType) -> Result<Vec<Sample>> {
    let mut g = gen(op, dt, "fwd");
    if is_arg(op) {
        return Ok(arg_cases(&mut g, dt)
            .into_iter()
            .map(|(name, x, dim, keep)| {
                let name = format!("{name} (dim {dim:?}, keepdim {keep})");
                sample(
                    name,
                    vec![x],
                    DType::I64,
                    move |t| arg_call(op, &t[0], dim, keep),
                    move |v| r::arg(op, &v[0], dim, keep),
                )
            })
            .collect());
    }
    let dom = if op == OpId::Prod {
        Domain::NearOne
    } else {
        Domain::Any
    };
    let out = match op {
        OpId::Sum | OpId::Prod if !dt.is_float() => DType::I64,
        _ => dt,
    };
    Ok(cases(op, &mut g, dt, dom)?
        .into_iter()
        .enumerate()
        .map(|(i, (name, x, dims, keep))| {
            let c = i % 2;
            let name = format!("{name} (dims {dims:?}, keepdim {keep}, correction {c})");
            let d2 = dims.clone();
            sample(
                name,
                vec![x],
                out,
                move |t| call(op, &t[0], &dims, keep, c),
                move |v| reference(op, &v[0], &d2, keep, c),
            )
        })
        .collect())
}

/// Error inputs.
pub(crate) fn errors(op: OpId) -> Result<Vec<ErrorCase>> {
    let mut g = gen(op, DType::F32, "err");
    let x = rand(&mut g, &[2, 3], DType::F32, Domain::Any);
    let mut out = Vec::new();
    if is_arg(op) {
        out.push(error(
            "dim 2 of a 2-d tensor",
            vec![x],
            ErrKind::DimOutOfRange,
            move |t| arg_call(op, &t[0], Some(2), false),
        ));
        let b = rand(&mut g, &[3], DType::Bool, Domain::Any);
        out.push(error(
            "bool input",
            vec![b],
            ErrKind::DTypeMismatch,
            move |t| arg_call(op, &t[0], None, false),
        ));
        let e = rand(&mut g, &[2, 0], DType::F32, Domain::Any);
        out.push(error(
            "empty dim",
            vec![e],
            ErrKind::InvalidShape,
            move |t| arg_call(op, &t[0], Some(1), false),
        ));
        return Ok(out);
    }
    out.push(error(
        "dim -3 of a 2-d tensor",
        vec![x],
        ErrKind::DimOutOfRange,
        move |t| call(op, &t[0], &[-3], false, 1),
    ));
    if matches!(op, OpId::Max | OpId::Min) {
        let e = rand(&mut g, &[2, 0], DType::F32, Domain::Any);
        out.push(error(
            "empty dim",
            vec![e],
            ErrKind::InvalidShape,
            move |t| call(op, &t[0], &[1], false, 1),
        ));
    }
    if matches!(op, OpId::Mean | OpId::Var | OpId::Std | OpId::LogSumExp) {
        let i = rand(&mut g, &[3], DType::I64, Domain::Any);
        out.push(error(
            "integer input",
            vec![i],
            ErrKind::DTypeMismatch,
            move |t| call(op, &t[0], &[], false, 1),
        ));
    }
    Ok(out)
}

/// Gradient checks over one dim, several dims and all dims.
pub(crate) fn grads(op: OpId) -> Result<Vec<GradCase>> {
    let mut g = gen(op, DType::F64, "grad");
    let dom = if op == OpId::Prod {
        Domain::NearOne
    } else {
        Domain::Any
    };
    let f = move |dims: &'static [isize], keep: bool| {
        move |t: &[Tensor]| call(op, &t[0], dims, keep, 1)
    };
    Ok(vec![
        grad(
            "dim 1",
            vec![f64_input(&mut g, &[3, 4], dom)],
            &[0],
            f(&[1], false),
        ),
        grad(
            "dims 0 and 2 keepdim",
            vec![f64_input(&mut g, &[2, 3, 4], dom)],
            &[0],
            f(&[0, 2], true),
        ),
        grad(
            "all dims of transposed",
            vec![f64_input(&mut g, &[3, 4], dom).transposed()],
            &[0],
            f(&[], false),
        ),
    ])
}
