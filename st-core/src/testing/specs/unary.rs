//! Specs of the elementwise unary ops and clamp.

use super::{error, f64_input, gen, grad, layouts, rand, sample};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::op::OpId;
use crate::tensor::Tensor;
use crate::testing::reference::{unary as r, RefTensor};
use crate::testing::{Domain, ErrKind, ErrorCase, GradCase, Input, Sample};

/// Calls the Tensor method of a parameterless unary op.
pub(crate) fn call(op: OpId, x: &Tensor) -> Result<Tensor> {
    use OpId::*;
    match op {
        Neg => x.neg(),
        Abs => x.abs(),
        Exp => x.exp(),
        Log => x.log(),
        Sqrt => x.sqrt(),
        Rsqrt => x.rsqrt(),
        Sin => x.sin(),
        Cos => x.cos(),
        Tanh => x.tanh(),
        Sigmoid => x.sigmoid(),
        Relu => x.relu(),
        Gelu => x.gelu(),
        GeluTanh => x.gelu_tanh(),
        Silu => x.silu(),
        Erf => x.erf(),
        Floor => x.floor(),
        Ceil => x.ceil(),
        Round => x.round(),
        Sign => x.sign(),
        Reciprocal => x.reciprocal(),
        LogicalNot => x.logical_not(),
        _ => Err(Error::invalid(
            "testing",
            format!("{op} is not a parameterless unary op"),
        )),
    }
}

fn domain(op: OpId) -> Domain {
    match op {
        OpId::Log | OpId::Sqrt | OpId::Rsqrt => Domain::Positive,
        OpId::Reciprocal => Domain::NonZero,
        _ => Domain::Any,
    }
}

/// Clamp bounds that cut into the test range of `dt`.
fn bounds(dt: DType, variant: usize) -> (Option<f64>, Option<f64>) {
    let (lo, hi) = match dt {
        DType::U8 => (2.0, 7.0),
        d if d.is_int() => (-2.0, 3.0),
        _ => (-0.5, 1.0),
    };
    match variant % 3 {
        0 => (Some(lo), Some(hi)),
        1 => (Some(lo), None),
        _ => (None, Some(hi)),
    }
}

fn case(op: OpId, dt: DType, name: String, x: Input, variant: usize) -> Sample {
    let out = if op == OpId::LogicalNot {
        DType::Bool
    } else {
        dt
    };
    if op == OpId::Clamp {
        let (lo, hi) = bounds(dt, variant);
        let name = format!("{name} min={lo:?} max={hi:?}");
        return sample(
            name,
            vec![x],
            out,
            move |t| t[0].clamp(lo, hi),
            move |v| Ok(v[0].map(|e| r::clamp(e, lo, hi))),
        );
    }
    sample(
        name,
        vec![x],
        out,
        move |t| call(op, &t[0]),
        move |v| r::unary(op, &v[0]),
    )
}

/// Forward cases: the standard layouts, plus exact halves for `round`.
pub(crate) fn samples(op: OpId, dt: DType) -> Result<Vec<Sample>> {
    let mut g = gen(op, dt, "fwd");
    let mut out: Vec<Sample> = layouts(&mut g, dt, domain(op))?
        .into_iter()
        .enumerate()
        .map(|(i, (name, x))| case(op, dt, name.to_string(), x, i))
        .collect();
    if dt.is_float() && matches!(op, OpId::Round | OpId::Floor | OpId::Ceil | OpId::Sign) {
        let halves = RefTensor::new(&[8], vec![-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.0, -3.0])?;
        out.push(case(op, dt, "halves".into(), Input::new(halves, dt), 0));
    }
    if dt.is_float() && op == OpId::Clamp {
        for v in 1..3 {
            out.push(case(
                op,
                dt,
                "more bounds".into(),
                rand(&mut g, &[5], dt, Domain::Any),
                v,
            ));
        }
    }
    Ok(out)
}

/// Error inputs: dtypes the op is not defined on.
pub(crate) fn errors(op: OpId) -> Result<Vec<ErrorCase>> {
    let mut g = gen(op, DType::F32, "err");
    let float_only = !matches!(
        op,
        OpId::Neg
            | OpId::Abs
            | OpId::Relu
            | OpId::Floor
            | OpId::Ceil
            | OpId::Round
            | OpId::Sign
            | OpId::Clamp
            | OpId::LogicalNot
    );
    let mut out = Vec::new();
    if op == OpId::LogicalNot {
        return Ok(out);
    }
    let run = move |t: &[Tensor]| {
        if op == OpId::Clamp {
            t[0].clamp(Some(0.0), Some(1.0))
        } else {
            call(op, &t[0])
        }
    };
    out.push(error(
        "bool input",
        vec![rand(&mut g, &[3], DType::Bool, Domain::Any)],
        ErrKind::DTypeMismatch,
        run,
    ));
    if float_only {
        let x = rand(&mut g, &[2, 2], DType::I64, Domain::Positive);
        out.push(error("integer input", vec![x], ErrKind::DTypeMismatch, run));
    }
    Ok(out)
}

/// Gradient checks: a contiguous and a transposed input.
pub(crate) fn grads(op: OpId) -> Result<Vec<GradCase>> {
    let mut g = gen(op, DType::F64, "grad");
    let dom = domain(op);
    let f = move |t: &[Tensor]| {
        if op == OpId::Clamp {
            t[0].clamp(Some(-0.5), Some(1.0))
        } else {
            call(op, &t[0])
        }
    };
    Ok(vec![
        grad("contiguous", vec![f64_input(&mut g, &[2, 3], dom)], &[0], f),
        grad(
            "transposed",
            vec![f64_input(&mut g, &[3, 4], dom).transposed()],
            &[0],
            f,
        ),
    ])
}
