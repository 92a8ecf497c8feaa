//! A plugin crate (`examples/plugins/fused-ops`) adds a fused op, `fused::bias_gelu`
//! (`gelu(x + bias)` in one pass), with CPU kernels and, here, a WGPU kernel; the example
//! uses it with autograd, gradchecks it, runs the conformance check the op supplies samples
//! for, and shows it in the op profiler's trace.
//!
//! `cargo run -p st-examples --example custom_op` (the trace goes to
//! `target/custom_op_trace.json`; open it in Perfetto or `chrome://tracing`).

use fused_ops::{bias_gelu_grad_op, bias_gelu_op, FusedOps, BIAS_GELU, BIAS_GELU_GRAD};
use st_core::autograd::gradcheck::{gradcheck, GradcheckOptions};
use st_core::events::global_event_bus;
use st_core::plugin::telemetry::{OpProfiler, ProfilerHandle};
use st_core::plugin::PluginRegistry;
use st_core::testing::check_custom_op;
use st_core::{call_op, Attrs, CustomOp, DType, Device, Result, Tensor};

/// The WGSL of both ops: `x0 = x`, `x1 = bias`, `x2 = grad_out` (f32).
const WGSL_LIB: &str = "
// Abramowitz-Stegun 7.1.26: |error| < 1.5e-7, below f32's tolerance.
fn fo_erf(x: f32) -> f32 {
    let t = 1.0 / (1.0 + 0.3275911 * abs(x));
    let p = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741
        + t * (-1.453152027 + t * 1.061405429))));
    return sign(x) * (1.0 - p * exp(-x * x));
}
fn fo_gelu(u: f32) -> f32 { return 0.5 * u * (1.0 + fo_erf(u * 0.70710678118654752)); }
fn fo_gelu_grad(u: f32) -> f32 {
    return 0.5 * (1.0 + fo_erf(u * 0.70710678118654752))
        + u * 0.39894228040143268 * exp(-0.5 * u * u);
}
";

/// Adds the WGPU kernels to the plugin's definitions.
fn with_wgpu(op: CustomOp, expr: &'static str) -> CustomOp {
    op.kernel("wgpu", &[DType::F32], move |a, out| {
        st_backend_wgpu::custom::elementwise_into(a, out, WGSL_LIB, expr)
    })
}

fn main() -> Result<()> {
    let registry = PluginRegistry::with_event_bus(global_event_bus().clone());
    let profiler = OpProfiler::new();
    let trace: ProfilerHandle = profiler.handle();
    registry.register(Box::new(profiler))?;
    registry.register(Box::new(FusedOps::with_ops(
        with_wgpu(bias_gelu_op(), "fo_gelu(x0 + x1)"),
        with_wgpu(bias_gelu_grad_op(), "x2 * fo_gelu_grad(x0 + x1)"),
    )))?;
    registry.initialize_all()?;
    println!("custom ops: {:?}", st_core::dispatch::custom_ops().names());

    // Forward and backward on the CPU.
    let cpu = Device::cpu();
    st_core::manual_seed(7);
    let x = Tensor::randn([64, 256], DType::F32, &cpu)?.requires_grad_()?;
    let bias = Tensor::randn([256], DType::F32, &cpu)?.requires_grad_()?;
    let y = call_op(BIAS_GELU, &[&x, &bias], &Attrs::new())?;
    y.sum_all()?.backward()?;
    let unfused = x.detach().add(&bias.detach())?.gelu()?;
    let diff = y
        .sub(&unfused)?
        .abs()?
        .amax(&[], false)?
        .to_scalar::<f32>()?;
    println!("cpu: y {:?}, max |fused - unfused| = {diff:e}", y.dims());
    println!(
        "cpu: grad x {:?}, grad bias {:?}",
        x.grad().map(|g| g.dims().to_vec()),
        bias.grad().map(|g| g.dims().to_vec())
    );

    // Finite differences of the fused op's gradient, in f64.
    let xs = Tensor::randn([3, 4], DType::F64, &cpu)?.requires_grad_()?;
    let bs = Tensor::randn([4], DType::F64, &cpu)?.requires_grad_()?;
    let f = |t: &[Tensor]| call_op(BIAS_GELU, &[&t[0], &t[1]], &Attrs::new());
    gradcheck(&f, &[xs, bs], GradcheckOptions::default())?;
    println!("gradcheck: ok");

    // The conformance check, with the samples the op supplies.
    let check = |name: &str, backend: &str| {
        check_custom_op(name, backend).map_err(|e| st_core::Error::Internal(format!("{e:?}")))
    };
    check(BIAS_GELU, "cpu")?;
    check(BIAS_GELU_GRAD, "cpu")?;
    println!("conformance (cpu): ok");
    if st_backend_wgpu::is_available() {
        check(BIAS_GELU, "wgpu")?;
        check(BIAS_GELU_GRAD, "wgpu")?;
        println!("conformance (wgpu, against the cpu and the reference): ok");
    } else {
        println!("wgpu: no adapter, skipped");
    }

    // The profiler saw the fused op and its gradient op by name.
    let names: Vec<&str> = trace.records().iter().map(|r| r.op).collect();
    for want in [BIAS_GELU, BIAS_GELU_GRAD] {
        let n = names.iter().filter(|n| **n == want).count();
        println!("profiler: {want} x{n}");
        if n == 0 {
            return Err(st_core::Error::Internal(format!(
                "{want} missing from the trace"
            )));
        }
    }
    // target/<profile>/examples/custom_op → target/custom_op_trace.json (any CARGO_TARGET_DIR).
    let exe = std::env::current_exe().map_err(|e| st_core::Error::Internal(e.to_string()))?;
    let target = exe.ancestors().nth(3).unwrap_or(std::path::Path::new("."));
    let out = target.join("custom_op_trace.json");
    trace.write_chrome_trace(&out)?;
    println!("trace: {}", out.display());
    registry.unload("fused_ops")?;
    println!(
        "unloaded: custom ops now {:?}",
        st_core::dispatch::custom_ops().names()
    );
    Ok(())
}
