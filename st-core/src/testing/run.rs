//! The runners behind the generated tests: forward cases against the reference (and, on
//! non-CPU backends, against the CPU), error inputs, gradient checks and coverage.

use super::{find_gap, spec, tolerance, GradCase, Input, KnownGap, OpSpec, Sample, Tol};
use crate::autograd::gradcheck::gradcheck;
use crate::device::Device;
use crate::dispatch::registry;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::op::OpId;
use crate::tensor::Tensor;
use crate::testing::reference::RefTensor;

/// A failed conformance test; `Debug` prints the report as is, so `cargo test` shows it
/// readably.
pub struct Failure(pub String);

impl std::fmt::Debug for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure(format!("setup failed: {e}"))
    }
}

type Outcome = std::result::Result<(), Failure>;

fn device(backend: &str) -> std::result::Result<Device, Failure> {
    if backend == "cpu" {
        return Ok(Device::cpu());
    }
    Device::new(backend, 0).map_err(|e| Failure(format!("cannot open backend {backend}: {e}")))
}

fn finish(what: String, problems: Vec<String>) -> Outcome {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Failure(format!(
            "{what}: {} problem(s)\n  - {}",
            problems.len(),
            problems.join("\n  - ")
        )))
    }
}

fn build_all(inputs: &[Input], dev: &Device) -> Result<Vec<Tensor>> {
    inputs.iter().map(|i| i.build(dev)).collect()
}

fn describe(s: &Sample) -> String {
    let ins: Vec<String> = s.inputs.iter().map(Input::describe).collect();
    format!("case '{}' ({})", s.name, ins.join(", "))
}

/// Compares values within `tol` (NaN equals NaN, infinities must match exactly). Returns the
/// first mismatches, described.
pub fn compare(got: &RefTensor, want: &RefTensor, tol: Tol) -> Option<String> {
    if got.shape != want.shape {
        return Some(format!("shape {:?}, expected {:?}", got.shape, want.shape));
    }
    let mut bad = Vec::new();
    let mut count = 0;
    for (i, (&g, &w)) in got.data.iter().zip(&want.data).enumerate() {
        let ok = (g.is_nan() && w.is_nan())
            || g == w
            || (w.is_finite() && (g - w).abs() <= tol.atol + tol.rtol * w.abs());
        if !ok {
            count += 1;
            if bad.len() < 4 {
                bad.push(format!("[{i}] got {g}, expected {w}"));
            }
        }
    }
    (count > 0).then(|| {
        format!(
            "{count}/{} elements differ: {}",
            got.numel(),
            bad.join("; ")
        )
    })
}

fn check_outputs(s: &Sample, outs: &[Tensor], want: &[RefTensor], vs: &str) -> Vec<String> {
    if outs.len() != want.len() {
        return vec![format!(
            "{}: {} outputs, expected {}",
            describe(s),
            outs.len(),
            want.len()
        )];
    }
    let mut p = Vec::new();
    for (k, (o, w)) in outs.iter().zip(want).enumerate() {
        let dt = s.out_dtypes.get(k).copied().unwrap_or(o.dtype());
        if o.dtype() != dt {
            p.push(format!(
                "{}: output {k} has dtype {}, expected {dt}",
                describe(s),
                o.dtype()
            ));
            continue;
        }
        // What the dtype can hold: ints wrap, floats round (and overflow to ±inf).
        let want = w.round_to(dt);
        match RefTensor::from_tensor(o) {
            Ok(g) => {
                if let Some(m) = compare(&g, &want, s.tol.unwrap_or(tolerance(dt))) {
                    p.push(format!("{}: output {k} vs {vs}: {m}", describe(s)));
                }
            }
            Err(e) => p.push(format!("{}: reading output {k} failed: {e}", describe(s))),
        }
    }
    p
}

fn parse_dtype(name: &str) -> std::result::Result<DType, Failure> {
    DType::parse(name).ok_or_else(|| Failure(format!("unknown dtype '{name}'")))
}

/// Runs every forward case of `op` at `dtype` on `backend` against the reference (and, for
/// a non-CPU backend, against the CPU's results). A gap the backend declares in `gaps` must
/// still fail with `KernelNotFound`.
///
/// # Errors
/// A [`Failure`] listing every mismatching case.
pub fn run_forward(op: OpId, dtype: &str, backend: &str, gaps: &[KnownGap]) -> Outcome {
    let dt = parse_dtype(dtype)?;
    let sp = spec(op);
    if !sp.dtypes.contains(&dt) {
        return Err(Failure(format!("{op}: dtype {dt} is not in the spec")));
    }
    let dev = device(backend)?;
    let samples = (sp.samples)(op, dt)?;
    if let Some(gap) = find_gap(gaps, op, dt) {
        return expect_gap(op, dt, backend, gap.reason, &samples, &dev);
    }
    if let Some(reason) = unsupported_here(&dev, dt) {
        return expect_unsupported(op, dt, backend, &reason, &samples, &dev);
    }
    let problems = samples.iter().flat_map(|s| check_sample(s, &dev)).collect();
    finish(format!("{op} {dt} on {backend}"), problems)
}

/// Runs one forward case on `dev` and returns its problems (empty when it conforms): values
/// against the reference, and, off the CPU, against the CPU's results.
pub fn check_sample(s: &Sample, dev: &Device) -> Vec<String> {
    let values: Vec<RefTensor> = s.inputs.iter().map(|i| i.value.clone()).collect();
    let want = match (s.reference)(&values) {
        Ok(w) => w,
        Err(e) => return vec![format!("{}: the reference failed: {e}", describe(s))],
    };
    let outs = match build_all(&s.inputs, dev).and_then(|t| (s.run)(&t)) {
        Ok(o) => o,
        Err(e) => return vec![format!("{}: {e}", describe(s))],
    };
    let mut problems = check_outputs(s, &outs, &want, "reference");
    if !dev.is_cpu() {
        let cpu = build_all(&s.inputs, &Device::cpu()).and_then(|t| (s.run)(&t));
        let cpu: Result<Vec<RefTensor>> =
            cpu.and_then(|c| c.iter().map(RefTensor::from_tensor).collect());
        // The CPU may lack a kernel the backend has; the reference comparison above still
        // applies in that case.
        if let Ok(c) = cpu {
            problems.extend(check_outputs(s, &outs, &c, "cpu"));
        }
    }
    problems
}

fn expect_gap(
    op: OpId,
    dt: DType,
    be: &str,
    why: &str,
    samples: &[Sample],
    dev: &Device,
) -> Outcome {
    // The gap holds when some non-empty sample still misses a kernel (view-only samples of a
    // view op may run without one); it is stale when every sample runs.
    let mut probed = false;
    for s in samples
        .iter()
        .filter(|s| s.inputs.iter().all(|i| i.value.numel() > 0))
    {
        probed = true;
        // Reading the result back counts too: a strided view needs the backend's copy kernel.
        let probe = build_all(&s.inputs, dev)
            .and_then(|t| (s.run)(&t))
            .and_then(|outs| outs.iter().try_for_each(|o| o.to_bytes().map(drop)));
        match probe {
            Err(Error::KernelNotFound { .. }) => return Ok(()),
            Err(e) => {
                return Err(Failure(format!(
                    "{op} {dt} on {be}: declared gap ({why}) fails with {e}"
                )))
            }
            Ok(_) => {}
        }
    }
    if !probed {
        return Err(Failure(format!("{op} {dt}: no sample to probe the gap")));
    }
    Err(Failure(format!(
        "{op} {dt} on {be}: declared known gap ({why}) now runs; remove it from the backend's gap table"
    )))
}

/// The backend's reason why its `dt` kernels cannot run on `dev` (a missing device feature,
/// such as wgpu's `SHADER_F16`), if any.
pub(super) fn unsupported_here(dev: &Device, dt: DType) -> Option<String> {
    crate::backend::backend(dev.backend())
        .ok()?
        .dtype_unsupported(dev.ordinal(), dt)
}

/// `dt` has kernels on `be` but this device cannot run them (`reason`): every sample must fail
/// with the backend's error carrying that reason, except samples that need no `dt` kernel
/// (views), which must still match the reference; at least one sample must hit the error.
fn expect_unsupported(
    op: OpId,
    dt: DType,
    be: &str,
    reason: &str,
    samples: &[Sample],
    dev: &Device,
) -> Outcome {
    let mut hit = false;
    let mut problems = Vec::new();
    for s in samples {
        let probe = build_all(&s.inputs, dev)
            .and_then(|t| (s.run)(&t))
            .and_then(|outs| outs.iter().try_for_each(|o| o.to_bytes().map(drop)));
        match probe {
            Err(Error::Backend { backend, source })
                if backend == be && {
                    let msg = source.to_string();
                    msg.contains(reason) && msg.contains(dt.as_str())
                } =>
            {
                hit = true;
            }
            Err(e) => problems.push(format!(
                "{}: expected the '{reason}' error of {be}, got {e}",
                describe(s)
            )),
            Ok(()) => problems.extend(check_sample(s, dev)),
        }
    }
    if !hit {
        problems.push(format!(
            "{be} reports that {dt} cannot run here ({reason}), yet no sample failed with that \
             error"
        ));
    }
    finish(format!("{op} {dt} on {be} without {dt} support"), problems)
}

/// Runs the `errors` or `grad` test of `op` on `backend`.
///
/// # Errors
/// A [`Failure`] describing what went wrong.
pub fn run_flag(op: OpId, flag: &str, backend: &str) -> Outcome {
    match flag {
        "errors" => run_errors(op, backend),
        "grad" => run_grad(op, backend),
        _ => Err(Failure(format!("unknown suite flag '{flag}'"))),
    }
}

/// Every error input of `op` must return its declared [`Error`] variant on `backend`.
///
/// # Errors
/// A [`Failure`] listing the inputs that succeeded or returned another variant.
pub fn run_errors(op: OpId, backend: &str) -> Outcome {
    let dev = device(backend)?;
    let cases = (spec(op).errors)(op)?;
    if cases.is_empty() {
        return Err(Failure(format!("{op}: the spec declares no error inputs")));
    }
    let mut problems = Vec::new();
    for c in &cases {
        match build_all(&c.inputs, &dev).and_then(|t| (c.run)(&t)) {
            Ok(_) => problems.push(format!("'{}' succeeded; expected {:?}", c.name, c.expect)),
            Err(e) if c.expect.matches(&e) => {}
            Err(e) => problems.push(format!("'{}': expected {:?}, got {e:?}", c.name, c.expect)),
        }
    }
    finish(format!("{op} errors on {backend}"), problems)
}

fn grad_inputs(case: &GradCase, dt: DType, dev: &Device) -> Result<Vec<Tensor>> {
    let mut out = Vec::with_capacity(case.inputs.len());
    for (k, inp) in case.inputs.iter().enumerate() {
        let t = if case.wrt.contains(&k) {
            inp.with_dtype(dt).build(dev)?
        } else {
            inp.build(dev)?
        };
        out.push(if case.wrt.contains(&k) {
            t.detach().requires_grad_()?
        } else {
            t
        });
    }
    Ok(out)
}

/// Gradient checks of `op`: finite differences in f64 on the CPU; on another backend, its
/// gradients (f32) against the CPU's.
///
/// # Errors
/// A [`Failure`] listing the failing cases.
pub fn run_grad(op: OpId, backend: &str) -> Outcome {
    let dev = device(backend)?;
    let sp: OpSpec = spec(op);
    if !sp.grad {
        return Err(Failure(format!(
            "{op}: not differentiable, no gradient test"
        )));
    }
    let mut problems = Vec::new();
    for case in (sp.grads)(op)? {
        let r = if dev.is_cpu() {
            grad_inputs(&case, DType::F64, &dev)
                .and_then(|inputs| gradcheck(&*case.f, &inputs, case.opts))
                .map_err(|e| e.to_string())
        } else {
            compare_grads(&case, &dev)
        };
        if let Err(e) = r {
            problems.push(format!("'{}': {e}", case.name));
        }
    }
    finish(format!("{op} gradients on {backend}"), problems)
}

fn grads_on(case: &GradCase, dev: &Device) -> Result<Vec<RefTensor>> {
    let inputs = grad_inputs(case, DType::F32, dev)?;
    let y = (case.f)(&inputs)?;
    let w: Vec<f64> = (0..y.numel())
        .map(|i| 0.25 + (i % 7) as f64 * 0.125)
        .collect();
    let w = Tensor::from_f64_slice(&w, y.shape().clone(), y.dtype(), dev)?;
    y.mul(&w)?.sum_all()?.backward()?;
    case.wrt
        .iter()
        .map(|&k| match inputs[k].grad() {
            Some(g) => RefTensor::from_tensor(&g),
            None => Ok(RefTensor::from_fn(inputs[k].dims(), |_| 0.0)),
        })
        .collect()
}

fn compare_grads(case: &GradCase, dev: &Device) -> std::result::Result<(), String> {
    let got = grads_on(case, dev).map_err(|e| e.to_string())?;
    let want = grads_on(case, &Device::cpu()).map_err(|e| format!("cpu: {e}"))?;
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        if let Some(m) = compare(
            g,
            w,
            Tol {
                atol: 1e-4,
                rtol: 1e-3,
            },
        ) {
            return Err(format!("gradient of input {} vs cpu: {m}", case.wrt[k]));
        }
    }
    Ok(())
}

/// Every kernel `backend` registers must be exercised by a spec dtype, the linked registry
/// must have no dangling registrations, and each declared gap must name a spec dtype of its
/// op, once.
///
/// # Errors
/// A [`Failure`] listing untested kernels and bad gap declarations.
pub fn run_coverage(backend: &str, gaps: &[KnownGap]) -> Outcome {
    let reg = registry()?;
    let mut problems: Vec<String> = reg.dangling().to_vec();
    let mut seen = std::collections::BTreeSet::new();
    for g in gaps {
        for &dt in g.dtypes {
            if !spec(g.op).dtypes.contains(&dt) {
                problems.push(format!("gap {} {dt}: not a dtype of the spec", g.op));
            }
            if !seen.insert((g.op, dt)) {
                problems.push(format!("gap {} {dt}: declared twice", g.op));
            }
        }
    }
    for ((op, b), dts) in reg.coverage() {
        if b.name() != backend {
            continue;
        }
        let sp = spec(op);
        for dt in dts {
            if !sp.dtypes.contains(&dt) {
                problems.push(format!(
                    "{op} {dt} has a {backend} kernel but no conformance test"
                ));
            }
        }
    }
    finish(format!("coverage of {backend}"), problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ErrKind, Input};
    use std::sync::Arc;

    #[test]
    fn a_wrong_reference_is_reported() {
        let samples = (spec(OpId::Exp).samples)(OpId::Exp, DType::F32).unwrap();
        let dev = Device::cpu();
        for s in &samples {
            assert!(
                check_sample(s, &dev).is_empty(),
                "{:?}",
                check_sample(s, &dev)
            );
        }
        let mut wrong = samples[2].clone();
        wrong.reference = Arc::new(|v| Ok(vec![v[0].map(|x| x.exp() * (1.0 + 1e-4))]));
        let p = check_sample(&wrong, &dev);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("24/24 elements differ"), "{p:?}");
        wrong.out_dtypes = vec![DType::F64];
        assert!(check_sample(&wrong, &dev)[0].contains("dtype f32, expected f64"));
    }

    #[test]
    fn compare_handles_nan_inf_and_shapes() {
        let t = |d: Vec<f64>| RefTensor::new(&[d.len()], d).unwrap();
        let tol = Tol {
            atol: 0.0,
            rtol: 1e-3,
        };
        assert!(compare(
            &t(vec![f64::NAN, f64::INFINITY]),
            &t(vec![f64::NAN, f64::INFINITY]),
            tol
        )
        .is_none());
        assert!(compare(&t(vec![f64::NEG_INFINITY]), &t(vec![f64::INFINITY]), tol).is_some());
        assert!(compare(&t(vec![1.0]), &t(vec![f64::NAN]), tol).is_some());
        assert!(compare(&t(vec![1.0005]), &t(vec![1.0]), tol).is_none());
        assert!(compare(&t(vec![1.002]), &t(vec![1.0]), tol).is_some());
        assert!(compare(&t(vec![1.0]), &RefTensor::scalar(1.0), tol).is_some());
    }

    #[test]
    fn layouts_build_the_logical_values() {
        let v = RefTensor::from_fn(&[3, 4], |i| (i[0] * 4 + i[1]) as f64);
        let dev = Device::cpu();
        let inputs = [
            Input::new(v.clone(), DType::F32),
            Input::new(v.clone(), DType::F32).transposed(),
            Input::new(v.clone(), DType::I64).strided(),
            Input::expanded(
                RefTensor::new(&[1, 4], v.data[..4].to_vec()).unwrap(),
                &[3, 4],
                DType::F16,
            )
            .unwrap(),
        ];
        for (k, i) in inputs.iter().enumerate() {
            let t = i.build(&dev).unwrap();
            assert_eq!(
                RefTensor::from_tensor(&t).unwrap(),
                i.value,
                "{}",
                i.describe()
            );
            assert_eq!(t.is_contiguous(), k == 0, "{}", i.describe());
        }
        assert!(inputs[2].build(&dev).unwrap().layout().offset() > 0);
    }

    #[test]
    fn an_unsupported_dtype_must_fail_with_the_backends_reason() {
        let dev = Device::cpu();
        let ok = (spec(OpId::Exp).samples)(OpId::Exp, DType::F32).unwrap()[2].clone();
        let failing = |msg: &'static str| {
            let mut s = ok.clone();
            s.run = Arc::new(move |_| Err(Error::backend("cpu", msg)));
            s
        };
        let right = failing("exp: dtype f32 cannot run: lacks FEATURE_X");
        let run = |samples: &[Sample]| {
            expect_unsupported(
                OpId::Exp,
                DType::F32,
                "cpu",
                "lacks FEATURE_X",
                samples,
                &dev,
            )
        };
        assert!(run(std::slice::from_ref(&right)).is_ok());
        // A sample that needs no kernel of the dtype is fine when it is right.
        assert!(run(&[right.clone(), ok.clone()]).is_ok());
        // Another error, the reason without the dtype, or no sample hitting the error: fail.
        assert!(run(&[right.clone(), failing("exp: shader did not compile")]).is_err());
        assert!(run(&[failing("exp: lacks FEATURE_X")]).is_err());
        assert!(run(std::slice::from_ref(&ok)).is_err());
        let mut wrong = ok;
        wrong.reference = Arc::new(|v| Ok(vec![v[0].map(|x| x.exp() + 1.0)]));
        assert!(run(&[right, wrong]).is_err());
    }

    #[test]
    fn a_wrong_error_variant_is_reported() {
        let cases = (spec(OpId::Matmul).errors)(OpId::Matmul).unwrap();
        let mut c = cases[0].clone();
        let dev = Device::cpu();
        let got = build_all(&c.inputs, &dev)
            .and_then(|t| (c.run)(&t))
            .unwrap_err();
        assert!(c.expect.matches(&got));
        c.expect = ErrKind::DTypeMismatch;
        assert!(!c.expect.matches(&got));
    }
}
