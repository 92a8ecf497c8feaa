//! The output-buffer conformance check (`into_forms_<backend>`): every elementwise, copy/fill
//! and matmul kernel a backend registers, written into existing tensors through
//! [`dispatch_into`] — a fresh contiguous tensor, a permuted, stepped view with an offset into
//! a larger buffer, and in place (input 0 as the destination, contiguous and as that view) —
//! must agree with the out-of-place op on the same backend (which the forward tests check
//! against the reference; within the dtype's tolerance, exactly for integers and bool), and
//! must leave every element outside the view as it was. Kernels with an output-buffer form are checked through it; the others through the
//! dispatcher's compute-and-copy fallback, so both paths are covered.

use super::run::compare;
use super::{tolerance, Failure};
use crate::device::Device;
use crate::dispatch::{dispatch_into, dispatch_on, registry};
use crate::dtype::DType;
use crate::error::Result;
use crate::op::{OpId, OpParams};
use crate::tensor::Tensor;
use crate::testing::reference::RefTensor;

/// Zeros made on the CPU and moved (a backend may store dtypes it has no fill for).
fn zeros(shape: &[usize], dt: DType, dev: &Device) -> Result<Tensor> {
    Tensor::zeros(shape.to_vec(), dt, &Device::cpu())?.to(dev)
}

/// One call: the op's inputs (on the device) and parameters.
struct Case {
    op: OpId,
    inputs: Vec<Tensor>,
    params: OpParams,
    what: String,
}

/// Deterministic values of `dt` valid for every op of the families checked: positive divisors
/// and exponents (`positive`), small magnitudes otherwise.
fn values(shape: &[usize], dt: DType, seed: usize, positive: bool, dev: &Device) -> Result<Tensor> {
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n)
        .map(|i| {
            let k = (i * 7 + seed * 3) % 11;
            match dt {
                DType::Bool => (k % 2) as f64,
                DType::U8 | DType::I32 | DType::I64 if positive => (k % 4 + 1) as f64,
                DType::U8 => k as f64,
                DType::I32 | DType::I64 => k as f64 - 5.0,
                _ if positive => 0.25 + k as f64 * 0.2,
                _ => k as f64 * 0.35 - 1.7,
            }
        })
        .collect();
    Tensor::from_slice(&v, shape.to_vec(), &Device::cpu())?
        .to_dtype(dt)?
        .to(dev)
}

fn cases(op: OpId, dt: DType, dev: &Device) -> Result<Vec<Case>> {
    let v = |shape: &[usize], seed, pos| values(shape, dt, seed, pos, dev);
    let mask = |shape: &[usize], seed| values(shape, DType::Bool, seed, false, dev);
    let case = |inputs, params, what: &str| Case {
        op,
        inputs,
        params,
        what: what.to_string(),
    };
    let positive = matches!(op, OpId::Log | OpId::Sqrt | OpId::Rsqrt | OpId::Reciprocal);
    Ok(match op.def().family {
        "unary" => {
            let params = if op == OpId::Clamp {
                OpParams::Clamp {
                    min: Some(-0.5),
                    max: Some(1.5),
                }
            } else {
                OpParams::None
            };
            vec![case(vec![v(&[3, 4], 0, positive)?], params, "x [3, 4]")]
        }
        "binary" | "compare" => {
            let pos = matches!(op, OpId::Div | OpId::Pow);
            vec![case(
                vec![v(&[3, 4], 0, false)?, v(&[4], 1, pos)?],
                OpParams::None,
                "a [3, 4], b [4]",
            )]
        }
        "ternary" if op == OpId::Where => vec![case(
            vec![mask(&[3, 4], 2)?, v(&[3, 4], 0, false)?, v(&[4], 1, false)?],
            OpParams::None,
            "cond [3, 4], x [3, 4], y [4]",
        )],
        "ternary" => vec![case(
            vec![v(&[3, 4], 0, false)?, mask(&[4], 2)?],
            OpParams::Scalar(2.0),
            "x [3, 4], mask [4], value 2",
        )],
        "copy" if op == OpId::Fill => vec![case(
            vec![],
            OpParams::Fill {
                shape: vec![3, 4].into(),
                dtype: dt,
                value: 3.0,
            },
            "fill [3, 4] with 3",
        )],
        "copy" if op == OpId::Cast => DType::ALL
            .iter()
            .map(|&to| -> Result<Case> {
                Ok(case(
                    vec![v(&[3, 4], 0, false)?],
                    OpParams::Cast(to),
                    &format!("x [3, 4] to {to}"),
                ))
            })
            .collect::<Result<_>>()?,
        "copy" => vec![case(
            vec![v(&[3, 4], 0, false)?],
            OpParams::None,
            "x [3, 4]",
        )],
        "matmul" => vec![
            case(
                vec![v(&[2, 3, 5], 0, false)?, v(&[5, 4], 1, false)?],
                OpParams::None,
                "[2, 3, 5] @ [5, 4]",
            ),
            case(
                vec![v(&[5], 0, false)?, v(&[5, 4], 1, false)?],
                OpParams::None,
                "[5] @ [5, 4]",
            ),
        ],
        _ => vec![],
    })
}

/// A view of `shape` into a larger buffer filled with `sentinel`: the buffer has the dims
/// reversed and the (original) last dim `2n + 1` long; the view permutes them back and takes
/// every other element of that dim from offset 1. Returns (buffer, view).
fn strided_view(
    shape: &[usize],
    dt: DType,
    sentinel: f64,
    dev: &Device,
) -> Result<(Tensor, Tensor)> {
    let r = shape.len();
    let mut dims: Vec<usize> = shape.iter().rev().copied().collect();
    dims[0] = 2 * dims[0] + 1;
    let base = Tensor::full(dims, sentinel, dt, &Device::cpu())?.to(dev)?;
    let perm: Vec<isize> = (0..r as isize).rev().collect();
    let last = r as isize - 1;
    let view = base
        .permute(&perm)?
        .slice(last, 1, 1 + 2 * shape[r - 1] as isize, 2)?;
    Ok((base, view))
}

/// The values `base` must hold after `want` was written into `view` (a view of `base`'s
/// storage, `base` contiguous from offset 0).
fn expected_base(base: &Tensor, view: &Tensor, want: &RefTensor) -> Result<RefTensor> {
    let mut out = RefTensor::from_tensor(base)?;
    let dims = view.dims().to_vec();
    let strides = view.strides().to_vec();
    for (flat, &w) in want.data.iter().enumerate() {
        let mut rem = flat;
        let mut pos = view.layout().offset() as isize;
        for d in (0..dims.len()).rev() {
            pos += (rem % dims[d]) as isize * strides[d];
            rem /= dims[d];
        }
        out.data[pos as usize] = w;
    }
    Ok(out)
}

/// The elements of `view` (a view of `base`'s storage, `base` contiguous from offset 0), read
/// through `base` (the backend may have no copy kernel to make a view of its dtype contiguous).
fn read_view(base: &Tensor, view: &Tensor) -> Result<RefTensor> {
    let all = RefTensor::from_tensor(base)?;
    let (dims, strides) = (view.dims(), view.strides());
    let data = (0..view.numel())
        .map(|flat| {
            let mut rem = flat;
            let mut pos = view.layout().offset() as isize;
            for d in (0..dims.len()).rev() {
                pos += (rem % dims[d]) as isize * strides[d];
                rem /= dims[d];
            }
            all.data[pos as usize]
        })
        .collect();
    RefTensor::new(dims, data)
}

/// Checks one case; returns its problems.
fn check_case(c: &Case, dev: &Device, path: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let refs: Vec<&Tensor> = c.inputs.iter().collect();
    let label = format!("{} ({}, {path})", c.op, c.what);
    let want = match dispatch_on(*dev, c.op, &refs, &c.params) {
        Ok(t) => t,
        Err(_) => {
            // No out-of-place result (a conversion the backend lacks): the output-buffer
            // form must refuse too, and write nothing.
            let Some(dst) = c.inputs.first() else {
                return problems;
            };
            let Ok(z) = zeros(dst.dims(), dst.dtype(), dev) else {
                return problems;
            };
            if dispatch_into(c.op, &refs, &c.params, &z).is_ok() {
                problems.push(format!("{label}: out of place fails but into succeeds"));
            }
            return problems;
        }
    };
    let (shape, dt) = (want.dims().to_vec(), want.dtype());
    let want_ref = match RefTensor::from_tensor(&want) {
        Ok(w) => w,
        Err(e) => return vec![format!("{label}: reading the result: {e}")],
    };
    let tol = tolerance(dt);
    let verdict = |what: &str, got: Result<RefTensor>, want: &RefTensor| match got {
        Ok(g) => compare(&g, want, tol).map(|p| format!("{label} into {what}: {p}")),
        Err(e) => Some(format!("{label} into {what}: {e}")),
    };
    // A: a fresh contiguous tensor.
    let got = zeros(&shape, dt, dev).and_then(|z| {
        dispatch_into(c.op, &refs, &c.params, &z)?;
        RefTensor::from_tensor(&z)
    });
    problems.extend(verdict("a contiguous tensor", got, &want_ref));
    if shape.is_empty() {
        return problems;
    }
    // B: a permuted, stepped view with an offset; the rest of the buffer is untouched.
    let sentinel = if dt == DType::Bool { 1.0 } else { 7.0 };
    let into_view = |what: &str, write: &dyn Fn(&Tensor) -> Result<()>| -> Vec<String> {
        let (base, view) = match strided_view(&shape, dt, sentinel, dev) {
            Ok(bv) => bv,
            Err(e) => return vec![format!("{label}: building the view: {e}")],
        };
        let got = write(&view).and_then(|()| read_view(&base, &view));
        let mut out: Vec<String> = verdict(what, got, &want_ref).into_iter().collect();
        // The whole buffer: the view's elements as written, the others untouched.
        let whole = format!("{what} (whole buffer)");
        match strided_view(&shape, dt, sentinel, dev)
            .and_then(|(b, v)| expected_base(&b, &v, &want_ref))
        {
            Ok(exp) => out.extend(verdict(&whole, RefTensor::from_tensor(&base), &exp)),
            Err(e) => out.push(format!("{label}: {e}")),
        }
        out
    };
    problems.extend(into_view("a strided view", &|v| {
        dispatch_into(c.op, &refs, &c.params, v)
    }));
    // C, D: in place on input 0, when the result fits it.
    let Some(first) = c.inputs.first() else {
        return problems;
    };
    if first.dims() != shape.as_slice() || first.dtype() != dt || c.op.def().family == "matmul" {
        return problems;
    }
    let in_place = |dst: &Tensor| -> Result<()> {
        dst.copy_(first)?;
        let mut ins: Vec<&Tensor> = vec![dst];
        ins.extend(&refs[1..]);
        dispatch_into(c.op, &ins, &c.params, dst)
    };
    problems.extend(verdict(
        "input 0 (in place)",
        zeros(&shape, dt, dev).and_then(|z| {
            in_place(&z)?;
            RefTensor::from_tensor(&z)
        }),
        &want_ref,
    ));
    problems.extend(into_view("input 0 as a strided view (in place)", &in_place));
    problems
}

/// Runs the output-buffer check for every elementwise, copy/fill and matmul kernel `backend`
/// registers (see the module docs).
///
/// # Errors
/// A [`Failure`] listing every case that differs, naming op, inputs, destination and path
/// (`into` or `fallback`).
pub fn run_into_forms(backend: &str) -> std::result::Result<(), Failure> {
    let dev = if backend == "cpu" {
        Device::cpu()
    } else {
        Device::new(backend, 0).map_err(|e| Failure(format!("cannot open {backend}: {e}")))?
    };
    let reg = registry()?;
    let mut problems = Vec::new();
    let mut checked = 0;
    for &op in OpId::ALL {
        if !matches!(
            op.def().family,
            "unary" | "binary" | "compare" | "ternary" | "copy" | "matmul"
        ) || op.def().kind != crate::op::OpKind::Kernel
        {
            continue;
        }
        for &dt in DType::ALL.iter() {
            let Some(entry) = reg.get(op, dev.backend(), dt) else {
                continue;
            };
            if super::run::unsupported_here(&dev, dt).is_some() {
                continue;
            }
            let path = if entry.into.is_some() {
                "into"
            } else {
                "fallback"
            };
            for c in cases(op, dt, &dev)? {
                checked += 1;
                problems.extend(check_case(&c, &dev, path));
            }
        }
    }
    if checked == 0 {
        return Err(Failure(format!("{backend}: no kernel to check")));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Failure(format!(
            "output-buffer forms on {backend}: {} problem(s) in {checked} cases\n  - {}",
            problems.len(),
            problems.join("\n  - ")
        )))
    }
}
