//! Conformance of what plugins add: custom ops against their own reference and samples, and
//! fused overrides of composite ops against the composite.

use super::run::compare;
use super::{spec, tolerance, Failure, Tol};
use crate::autograd::gradcheck::{gradcheck, GradcheckOptions};
use crate::device::Device;
use crate::dispatch::custom_op::Attrs;
use crate::dispatch::{call_op, composite_only, custom_ops, registry};
use crate::dtype::DType;
use crate::error::Result;
use crate::op::{OpId, OpKind};
use crate::tensor::Tensor;
use crate::testing::reference::RefTensor;

type Outcome = std::result::Result<(), Failure>;

fn finish(what: String, problems: Vec<String>) -> Outcome {
    if problems.is_empty() {
        return Ok(());
    }
    Err(Failure(format!(
        "{what}: {} problem(s)\n  - {}",
        problems.len(),
        problems.join("\n  - ")
    )))
}

fn device(backend: &str) -> std::result::Result<Device, Failure> {
    Device::new(backend, 0).map_err(|e| Failure(format!("cannot open backend {backend}: {e}")))
}

/// Float inputs cast to `dt`, others as they are.
fn cast_floats(inputs: &[Tensor], dt: DType) -> Result<Vec<Tensor>> {
    inputs
        .iter()
        .map(|t| {
            if t.dtype().is_float() {
                t.detach().to_dtype(dt)
            } else {
                Ok(t.detach())
            }
        })
        .collect()
}

fn on(inputs: &[Tensor], dev: &Device) -> Result<Vec<Tensor>> {
    inputs.iter().map(|t| t.to(dev)).collect()
}

fn refs(v: &[Tensor]) -> Vec<&Tensor> {
    v.iter().collect()
}

/// The op on `inputs`, or its reference, as exact values.
fn values(t: Result<Tensor>) -> Result<RefTensor> {
    RefTensor::from_tensor(&t?)
}

/// Checks custom op `name`'s kernels on `backend` with the samples the op supplies: for every
/// sample and every dtype it has a kernel for there, the output against the op's reference
/// (run on the CPU on the same dtype-rounded values, in f64) within [`tolerance`]; and when
/// the op has a backward, [`gradcheck`] of it on the CPU in f64, and (off the CPU) its
/// gradients on `backend` against the CPU's.
///
/// # Errors
/// A [`Failure`] listing every problem, or naming what the op lacks (samples, reference).
pub fn check_custom_op(name: &str, backend: &str) -> Outcome {
    let def = custom_ops()
        .definition(name)
        .ok_or_else(|| Failure(format!("custom op {name} is not registered")))?;
    if let Some((owner, true)) = custom_ops().owner(name) {
        return Err(Failure(format!(
            "custom op {name} comes from dynamic plugin {}: its samples and reference would \
             run in the plugin's copy of st-core (Note [Code of dynamic plugins]); check it \
             with the plugin linked statically",
            owner.unwrap_or_default()
        )));
    }
    let (Some(samples), Some(reference)) = (def.samples_fn(), def.reference_fn()) else {
        return Err(Failure(format!(
            "custom op {name} supplies no conformance samples or no reference"
        )));
    };
    let dev = device(backend)?;
    let cpu = Device::cpu();
    let samples = samples()?;
    let dtypes: Vec<DType> = def
        .kernels()
        .iter()
        .filter(|k| k.backend == backend)
        .flat_map(|k| k.dtypes.iter().copied())
        .collect();
    if dtypes.is_empty() {
        return Err(Failure(format!("custom op {name} has no {backend} kernel")));
    }
    let mut problems = Vec::new();
    for (i, (inputs, attrs)) in samples.iter().enumerate() {
        for &dt in &dtypes {
            let case = format!("sample {i} in {dt}");
            let run = || -> Result<Option<String>> {
                let x = cast_floats(inputs, dt)?;
                let want =
                    values(cast_floats(&x, DType::F64).and_then(|x64| reference(&x64, attrs)))?;
                let got = values(call_op(name, &refs(&on(&x, &dev)?), attrs))?;
                let tol = tolerance(dt);
                Ok(compare(&got, &want.round_to(dt), tol))
            };
            match run() {
                Ok(None) => {}
                Ok(Some(m)) => problems.push(format!("{case}: {m}")),
                Err(e) => problems.push(format!("{case}: {e}")),
            }
        }
        if def.has_backward() {
            if let Err(e) = check_grad(name, inputs, attrs, &dev, &cpu) {
                problems.push(format!("sample {i} gradient: {e}"));
            }
        }
    }
    finish(format!("custom op {name} on {backend}"), problems)
}

/// Float inputs as f64 leaves that require grad.
fn leaves(inputs: &[Tensor], dt: DType) -> Result<Vec<Tensor>> {
    cast_floats(inputs, dt)?
        .into_iter()
        .map(|t| {
            if t.dtype().is_float() {
                t.requires_grad_()
            } else {
                Ok(t)
            }
        })
        .collect()
}

fn check_grad(
    name: &str,
    inputs: &[Tensor],
    attrs: &Attrs,
    dev: &Device,
    cpu: &Device,
) -> Result<()> {
    let x = leaves(inputs, DType::F64)?;
    let f = |t: &[Tensor]| call_op(name, &refs(t), attrs);
    gradcheck(&f, &x, GradcheckOptions::default())?;
    if dev == cpu {
        return Ok(());
    }
    // The backend's gradients (f32) against the CPU's.
    let grads = |d: &Device| -> Result<Vec<Option<RefTensor>>> {
        let x = leaves(inputs, DType::F32)?;
        let xd: Vec<Tensor> = x.iter().map(|t| t.to(d)).collect::<Result<_>>()?;
        let y = call_op(name, &refs(&xd), attrs)?;
        y.sum_all()?.backward()?;
        x.iter()
            .map(|t| t.grad().map(|g| RefTensor::from_tensor(&g)).transpose())
            .collect()
    };
    let (want, got) = (grads(cpu)?, grads(dev)?);
    for (k, (w, g)) in want.iter().zip(&got).enumerate() {
        if let (Some(w), Some(g)) = (w, g) {
            if let Some(m) = compare(g, w, tolerance(DType::F32)) {
                return Err(crate::Error::Autograd(format!(
                    "gradient of input {k} on {dev} vs the CPU: {m}"
                )));
            }
        }
    }
    Ok(())
}

/// Composite ops that have a fused override on `backend` (link-time or run-time).
pub fn fused_ops(backend: &str) -> Vec<OpId> {
    let linked = registry().map(|r| r.coverage()).unwrap_or_default();
    let runtime = custom_ops()
        .fused
        .read()
        .map(|t| t.keys().cloned().collect::<Vec<_>>());
    let runtime = runtime.unwrap_or_default();
    OpId::ALL
        .iter()
        .copied()
        .filter(|op| op.def().kind == OpKind::Composite)
        .filter(|op| {
            linked.keys().any(|(o, b)| o == op && b.name() == backend)
                || runtime.iter().any(|(o, b, _)| o == op && b == backend)
        })
        .collect()
}

/// Every fused override on `backend` against its composite: each conformance sample of the
/// op (all its dtypes) is run with the override and under [`composite_only`], and the two
/// outputs must agree within the dtype's tolerance. Returns the ops checked.
///
/// # Errors
/// A [`Failure`] listing every disagreement.
pub fn run_fused_agreement(backend: &str) -> std::result::Result<Vec<OpId>, Failure> {
    let dev = device(backend)?;
    let ops = fused_ops(backend);
    let mut problems = Vec::new();
    for &op in &ops {
        let sp = spec(op);
        for &dt in sp.dtypes {
            for s in (sp.samples)(op, dt)? {
                let inputs: Vec<Tensor> = s
                    .inputs
                    .iter()
                    .map(|i| i.build(&dev))
                    .collect::<Result<_>>()?;
                let fused = (s.run)(&inputs);
                let plain = composite_only(|| (s.run)(&inputs));
                let case = format!("{op} {dt} case '{}'", s.name);
                match (fused, plain) {
                    (Ok(f), Ok(p)) => {
                        for (a, b) in f.iter().zip(&p) {
                            let (a, b) = (RefTensor::from_tensor(a)?, RefTensor::from_tensor(b)?);
                            let tol = s.tol.unwrap_or(tolerance(dt));
                            let tol = Tol {
                                atol: tol.atol * 4.0,
                                rtol: tol.rtol * 4.0,
                            };
                            if let Some(m) = compare(&a, &b, tol) {
                                problems.push(format!("{case}: fused vs composite: {m}"));
                            }
                        }
                    }
                    (Err(_), Err(_)) => {}
                    (Ok(_), Err(e)) => {
                        problems.push(format!("{case}: only the composite failed: {e}"))
                    }
                    (Err(e), Ok(_)) => {
                        problems.push(format!("{case}: only the fused kernel failed: {e}"))
                    }
                }
            }
        }
    }
    finish(format!("fused overrides on {backend}"), problems).map(|()| ops)
}
