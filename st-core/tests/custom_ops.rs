//! Custom ops and fused overrides: registration, the dispatcher path (promotion, broadcast,
//! events, autograd), errors, coverage, conformance, and plugin ownership.

#![cfg(feature = "testing")]

use st_core::dispatch::custom_op::CustomArgs;
use st_core::dispatch::{
    call_op, composite_only, custom_ops, register_fused, register_op, registry, unregister_fused,
    unregister_op, CustomOpTable, KernelCaps,
};
use st_core::events::{global_event_bus, PluginEvent};
use st_core::testing::{check_custom_op, run_fused_agreement};
use st_core::{Attrs, CustomOp, DType, Device, Element, Error, OpId, Result, Tensor};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

fn gelu(v: f64) -> f64 {
    0.5 * v * (1.0 + libm::erf(v / std::f64::consts::SQRT_2))
}

/// `out = gelu(x + bias)` over contiguous (already broadcast) inputs.
fn bias_gelu_cpu<T: Element>(
    a: &CustomArgs<'_>,
    out: &mut st_core::dispatch::KernelOut<'_>,
) -> Result<()> {
    let (x, b) = (&a.inputs[0], &a.inputs[1]);
    let (xs, bs) = (x.host_slice::<T>()?, b.host_slice::<T>()?);
    let (xo, bo) = (x.layout.offset(), b.layout.offset());
    let n = a.out_shape.numel();
    let o = out.layout.offset();
    let dst = &mut out.host_slice_mut::<T>()?[o..o + n];
    for (i, d) in dst.iter_mut().enumerate() {
        *d = T::from_f64(gelu(xs[xo + i].to_f64() + bs[bo + i].to_f64()));
    }
    Ok(())
}

fn bias_gelu(name: &str) -> CustomOp {
    CustomOp::new(name, 2)
        .elementwise()
        .kernel_with_caps(
            "cpu",
            &[DType::F32],
            KernelCaps::CONTIGUOUS,
            bias_gelu_cpu::<f32>,
        )
        .kernel_with_caps(
            "cpu",
            &[DType::F64],
            KernelCaps::CONTIGUOUS,
            bias_gelu_cpu::<f64>,
        )
        .reference(|x, _| x[0].add(&x[1])?.gelu())
        .samples(|| {
            let dev = Device::cpu();
            let x = Tensor::randn([4, 3], DType::F64, &dev)?;
            let b = Tensor::randn([3], DType::F64, &dev)?;
            let xt = Tensor::randn([3, 4], DType::F64, &dev)?.t()?;
            Ok(vec![
                (vec![x.clone(), b.clone()], Attrs::new()),
                (vec![xt, b], Attrs::new()),
                (vec![x.clone(), x], Attrs::new()),
            ])
        })
}

fn with_backward(op: CustomOp) -> CustomOp {
    op.backward(|a| {
        // d/du gelu(u) = Φ(u) + u·φ(u), u = x + b; the bias gradient sums the broadcast dims.
        let u = a.inputs[0].add(&a.inputs[1])?;
        let cdf = u
            .div_scalar(std::f64::consts::SQRT_2)?
            .erf()?
            .add_scalar(1.0)?
            .mul_scalar(0.5)?;
        let pdf = u
            .mul(&u)?
            .mul_scalar(-0.5)?
            .exp()?
            .mul_scalar(1.0 / (2.0 * std::f64::consts::PI).sqrt())?;
        let gu = a.grad.mul(&cdf.add(&u.mul(&pdf)?)?)?;
        let gx = gu.sum_to_size(a.inputs[0].shape().clone())?;
        let gb = gu.sum_to_size(a.inputs[1].shape().clone())?;
        Ok(vec![Some(gx), Some(gb)])
    })
}

#[test]
fn a_custom_op_conforms_and_has_gradients() {
    register_op(with_backward(bias_gelu("test::bias_gelu"))).unwrap();
    check_custom_op("test::bias_gelu", "cpu").unwrap();
    // Promotion: an f32 bias with f64 x runs the f64 kernel.
    let dev = Device::cpu();
    let x = Tensor::randn([2, 3], DType::F64, &dev).unwrap();
    let b = Tensor::randn([3], DType::F32, &dev).unwrap();
    let y = call_op("test::bias_gelu", &[&x, &b], &Attrs::new()).unwrap();
    assert_eq!((y.dims(), y.dtype()), (&[2usize, 3][..], DType::F64));
    // Autograd reaches both inputs, with their shapes.
    let x = x.requires_grad_().unwrap();
    let b = b.requires_grad_().unwrap();
    let y = call_op("test::bias_gelu", &[&x, &b], &Attrs::new()).unwrap();
    assert_eq!(y.grad_fn().unwrap().name(), "test::bias_gelu");
    y.sum_all().unwrap().backward().unwrap();
    assert_eq!(x.grad().unwrap().dims(), &[2, 3]);
    assert_eq!(b.grad().unwrap().dims(), &[3]);
    assert_eq!(b.grad().unwrap().dtype(), DType::F32);
}

#[test]
fn an_op_without_backward_fails_backward_naming_it() {
    register_op(bias_gelu("test::no_grad_gelu")).unwrap();
    let dev = Device::cpu();
    let x = Tensor::randn([2, 3], DType::F32, &dev)
        .unwrap()
        .requires_grad_()
        .unwrap();
    let b = Tensor::randn([3], DType::F32, &dev).unwrap();
    let y = call_op("test::no_grad_gelu", &[&x, &b], &Attrs::new()).unwrap();
    let e = y.sum_all().unwrap().backward().unwrap_err();
    assert!(
        matches!(&e, Error::Autograd(m) if m.contains("test::no_grad_gelu")),
        "{e}"
    );
    // Without grad the op runs and records nothing.
    let _g = st_core::no_grad();
    let y = call_op("test::no_grad_gelu", &[&x, &b], &Attrs::new()).unwrap();
    assert!(y.grad_fn().is_none());
}

#[test]
fn errors_name_the_op() {
    register_op(bias_gelu("test::err_gelu")).unwrap();
    let dev = Device::cpu();
    let x = Tensor::randn([2, 3], DType::F32, &dev).unwrap();
    let i = Tensor::zeros([2, 3], DType::I32, &dev).unwrap();
    let e = call_op("test::nope", &[&x], &Attrs::new()).unwrap_err();
    assert!(
        e.to_string().contains("test::nope") && e.to_string().contains("test::err_gelu"),
        "{e}"
    );
    let e = call_op("test::err_gelu", &[&x], &Attrs::new()).unwrap_err();
    assert!(e.to_string().contains("takes 2 tensors"), "{e}");
    let e = call_op("test::err_gelu", &[&i, &i], &Attrs::new()).unwrap_err();
    assert!(
        matches!(&e, Error::KernelNotFound { op: "test::err_gelu", available, .. } if available.contains("f32")),
        "{e}"
    );
    let y = Tensor::randn([4], DType::F32, &dev).unwrap();
    let e = call_op("test::err_gelu", &[&x, &y], &Attrs::new()).unwrap_err();
    assert!(
        matches!(
            &e,
            Error::ShapeMismatch {
                op: "test::err_gelu",
                ..
            }
        ),
        "{e}"
    );
    // Registration errors.
    let e = register_op(bias_gelu("test::err_gelu")).unwrap_err();
    assert!(e.to_string().contains("already registered"), "{e}");
    for bad in ["nonamespace", "a::b::c", "ns::", "ns::1x", "ns::a-b"] {
        let e = register_op(bias_gelu(bad)).unwrap_err();
        assert!(matches!(e, Error::Registry(_)), "{bad}: {e}");
    }
    let e = register_op(CustomOp::new("test::no_kernel", 1).elementwise()).unwrap_err();
    assert!(e.to_string().contains("no kernel"), "{e}");
    // Unregistering: the name is free again.
    assert!(unregister_op("test::err_gelu"));
    assert!(!unregister_op("test::err_gelu"));
    register_op(bias_gelu("test::err_gelu")).unwrap();
}

#[test]
fn events_and_coverage_show_the_op() {
    register_op(bias_gelu("test::seen_gelu")).unwrap();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let s = seen.clone();
    let id = global_event_bus().subscribe(
        "TensorOp",
        Arc::new(move |e: &PluginEvent| {
            if let PluginEvent::TensorOp { op, .. } = e {
                s.lock().unwrap().push(op.to_string());
            }
        }),
    );
    let dev = Device::cpu();
    let x = Tensor::randn([2, 3], DType::F32, &dev).unwrap();
    call_op("test::seen_gelu", &[&x, &x], &Attrs::new()).unwrap();
    global_event_bus().unsubscribe(id);
    assert!(seen.lock().unwrap().iter().any(|o| o == "test::seen_gelu"));
    let cov = custom_ops().coverage();
    assert_eq!(
        cov.get(&("test::seen_gelu".to_string(), "cpu".to_string())),
        Some(&vec![DType::F32, DType::F64])
    );
    let md = registry().unwrap().op_support_markdown();
    assert!(
        md.contains("| `test::seen_gelu` | f32 f64 · *into* |"),
        "{md}"
    );
}

#[test]
fn backward_ops_run_other_custom_ops() {
    // y = x * x with dy/dx given by the op "test::sq_grad" (inputs: x, grad).
    let sq = |a: &CustomArgs<'_>, out: &mut st_core::dispatch::KernelOut<'_>| -> Result<()> {
        let x = a.inputs[0].host_slice::<f64>()?;
        let off = a.inputs[0].layout.offset();
        let n = a.out_shape.numel();
        let g = a
            .inputs
            .get(1)
            .map(|g| (g.host_slice::<f64>(), g.layout.offset()));
        let dst = out.host_slice_mut::<f64>()?;
        for i in 0..n {
            dst[i] = match &g {
                None => x[off + i] * x[off + i],
                Some((Ok(gs), go)) => 2.0 * x[off + i] * gs[go + i],
                Some((Err(e), _)) => return Err(Error::Internal(e.to_string())),
            };
        }
        Ok(())
    };
    register_op(
        CustomOp::new("test::sq", 1)
            .elementwise()
            .kernel_with_caps("cpu", &[DType::F64], KernelCaps::CONTIGUOUS, sq)
            .backward_ops(&[Some("test::sq_grad")]),
    )
    .unwrap();
    let dev = Device::cpu();
    let x = Tensor::from_vec(vec![1.0f64, -2.0, 3.0], [3], &dev)
        .unwrap()
        .requires_grad_()
        .unwrap();
    let y = call_op("test::sq", &[&x], &Attrs::new()).unwrap();
    let e = y
        .sum_all()
        .unwrap()
        .backward_opts(
            None,
            st_core::autograd::BackwardOptions::default().retain_graph(true),
        )
        .unwrap_err();
    assert!(e.to_string().contains("test::sq_grad"), "{e}");
    register_op(
        CustomOp::new("test::sq_grad", 2)
            .elementwise()
            .kernel_with_caps("cpu", &[DType::F64], KernelCaps::CONTIGUOUS, sq),
    )
    .unwrap();
    y.sum_all().unwrap().backward().unwrap();
    assert_eq!(
        x.grad().unwrap().to_vec::<f64>().unwrap(),
        vec![2.0, -4.0, 6.0]
    );
}

static FUSED_CALLS: AtomicUsize = AtomicUsize::new(0);

/// A fused cross-entropy: log-sum-exp per row minus the target logit, averaged.
fn fused_ce(
    a: &st_core::dispatch::KernelArgs<'_>,
    out: &mut st_core::dispatch::KernelOut<'_>,
) -> Result<()> {
    FUSED_CALLS.fetch_add(1, Ordering::SeqCst);
    let (x, t) = (&a.inputs[0], &a.inputs[1]);
    let (n, c) = (x.layout.dims()[0], x.layout.dims()[1]);
    let xs = x.host_slice::<f64>()?;
    let ts: Vec<i64> = match t.dtype {
        DType::I64 => t.host_slice::<i64>()?.to_vec(),
        _ => t.host_slice::<i32>()?.iter().map(|&v| v as i64).collect(),
    };
    let (xst, tst) = (x.layout.strides(), t.layout.strides());
    let mut total = 0.0;
    for i in 0..n {
        let at = |j: usize| {
            xs[(x.layout.offset() as isize + i as isize * xst[0] + j as isize * xst[1]) as usize]
        };
        let m = (0..c).map(at).fold(f64::NEG_INFINITY, f64::max);
        let lse = m + (0..c).map(|j| (at(j) - m).exp()).sum::<f64>().ln();
        let k = ts[(t.layout.offset() as isize + i as isize * tst[0]) as usize];
        let k = usize::try_from(k).ok().filter(|&k| k < c).ok_or_else(|| {
            Error::invalid("cross_entropy", format!("target {k} outside [0, {c})"))
        })?;
        total += lse - at(k);
    }
    let at = out.layout.offset();
    out.host_slice_mut::<f64>()?[at] = total / n as f64;
    Ok(())
}

#[test]
fn fused_overrides_are_preferred_and_agree_with_the_composite() {
    register_fused(
        OpId::CrossEntropy,
        "cpu",
        &[DType::F64],
        KernelCaps::STRIDED,
        fused_ce,
    )
    .unwrap();
    let e = register_fused(
        OpId::Add,
        "cpu",
        &[DType::F64],
        KernelCaps::STRIDED,
        fused_ce,
    )
    .unwrap_err();
    assert!(e.to_string().contains("composite"), "{e}");
    let dev = Device::cpu();
    let x = Tensor::randn([5, 4], DType::F64, &dev)
        .unwrap()
        .requires_grad_()
        .unwrap();
    let t = Tensor::from_vec(vec![0i64, 3, 1, 2, 3], [5], &dev).unwrap();
    let before = FUSED_CALLS.load(Ordering::SeqCst);
    let fused = x.cross_entropy(&t).unwrap();
    assert_eq!(FUSED_CALLS.load(Ordering::SeqCst), before + 1);
    let plain = composite_only(|| x.cross_entropy(&t)).unwrap();
    assert_eq!(FUSED_CALLS.load(Ordering::SeqCst), before + 1);
    let (f, p) = (
        fused.to_scalar::<f64>().unwrap(),
        plain.to_scalar::<f64>().unwrap(),
    );
    assert!((f - p).abs() < 1e-12, "{f} vs {p}");
    // The gradient is the composite's (recomputed).
    fused.backward().unwrap();
    let gf = x.grad().unwrap().to_vec::<f64>().unwrap();
    x.zero_grad();
    plain.backward().unwrap();
    let gp = x.grad().unwrap().to_vec::<f64>().unwrap();
    for (a, b) in gf.iter().zip(&gp) {
        assert!((a - b).abs() < 1e-12);
    }
    // The conformance runner compares every sample of the op's spec both ways.
    let checked = run_fused_agreement("cpu").unwrap();
    assert!(checked.contains(&OpId::CrossEntropy));
    assert!(FUSED_CALLS.load(Ordering::SeqCst) > before + 2);
    assert!(unregister_fused(OpId::CrossEntropy, "cpu") > 0);
}

#[test]
fn plugin_registrations_go_with_the_plugin() {
    use st_core::plugin::{Plugin, PluginContext, PluginMetadata, PluginRegistry};
    struct OpsPlugin;
    impl Plugin for OpsPlugin {
        fn metadata(&self) -> PluginMetadata {
            PluginMetadata::new("ops_plugin", "1.0.0")
        }
        fn on_load(&mut self, ctx: &mut PluginContext) -> Result<()> {
            ctx.register_op(bias_gelu("plug::gelu"))
        }
        fn on_unload(&mut self, _ctx: &mut PluginContext) -> Result<()> {
            Ok(())
        }
        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
        fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
            self
        }
    }
    let reg = PluginRegistry::new();
    reg.register(Box::new(OpsPlugin)).unwrap();
    reg.initialize_all().unwrap();
    let table: &Arc<CustomOpTable> = custom_ops();
    assert!(table.names().contains(&"plug::gelu".to_string()));
    let dev = Device::cpu();
    let x = Tensor::randn([2], DType::F32, &dev).unwrap();
    call_op("plug::gelu", &[&x, &x], &Attrs::new()).unwrap();
    reg.unload("ops_plugin").unwrap();
    assert!(!table.names().contains(&"plug::gelu".to_string()));
    assert!(call_op("plug::gelu", &[&x, &x], &Attrs::new()).is_err());
}
